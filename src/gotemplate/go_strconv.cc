#include "gotemplate/go_strconv.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <utility>
#include <vector>

namespace berth::gotemplate {

namespace {

constexpr char kLowerHex[] = "0123456789abcdef";
constexpr char kUpperHex[] = "0123456789ABCDEF";

struct RuneRange {
  char32_t first;
  char32_t last;
};

// Letters of the common scripts beyond ASCII (a subset of Unicode's L*).
constexpr RuneRange kLetterRanges[] = {
    {0xAA, 0xAA},     {0xB5, 0xB5},     {0xBA, 0xBA},     {0xC0, 0xD6},     {0xD8, 0xF6},     {0xF8, 0x2C1},
    {0x370, 0x373},   {0x376, 0x377},   {0x37B, 0x37D},   {0x386, 0x386},   {0x388, 0x3FF},   {0x400, 0x481},
    {0x48A, 0x52F},   {0x531, 0x556},   {0x561, 0x587},   {0x5D0, 0x5EA},   {0x620, 0x64A},   {0x904, 0x939},
    {0xE01, 0xE30},   {0x10A0, 0x10FF}, {0x1E00, 0x1FFF}, {0x3041, 0x3096}, {0x30A1, 0x30FA}, {0x3400, 0x4DBF},
    {0x4E00, 0x9FFF}, {0xAC00, 0xD7A3}, {0xF900, 0xFAFF}, {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A},
};

// Decimal digits beyond ASCII (a subset of Unicode's Nd).
constexpr RuneRange kDigitRanges[] = {
    {0x660, 0x669},
    {0x6F0, 0x6F9},
    {0x966, 0x96F},
    {0xFF10, 0xFF19},
};

// Runes Go's strconv.IsPrint rejects above U+00A0: format characters,
// separators, surrogates, private use and non-characters.
constexpr RuneRange kNotPrintRanges[] = {
    {0xAD, 0xAD},     {0x600, 0x605},   {0x61C, 0x61C},   {0x6DD, 0x6DD},   {0x70F, 0x70F},     {0x1680, 0x1680},
    {0x180E, 0x180E}, {0x2000, 0x200F}, {0x2028, 0x202F}, {0x205F, 0x206F}, {0x3000, 0x3000},   {0xD800, 0xF8FF},
    {0xFDD0, 0xFDEF}, {0xFEFF, 0xFEFF}, {0xFFF0, 0xFFFB}, {0xFFFE, 0xFFFF}, {0xE0000, 0xE0FFF}, {0xF0000, 0x10FFFF},
};

template <std::size_t N>
bool in_ranges(const RuneRange (&ranges)[N], char32_t rune) {
  return std::any_of(std::begin(ranges), std::end(ranges),
                     [rune](const RuneRange& range) { return rune >= range.first && rune <= range.last; });
}

// Appends the escape sequence or the rune itself, as strconv.Quote does
// for one rune of a string quoted with `quote`.
void append_escaped_rune(std::string& out, char32_t rune, char quote, bool ascii_only) {
  if (rune == static_cast<char32_t>(quote) || rune == '\\') {
    out += '\\';
    out += static_cast<char>(rune);
    return;
  }
  if (ascii_only ? (rune < 0x80 && is_print(rune)) : is_print(rune)) {
    append_utf8(out, rune);
    return;
  }
  switch (rune) {
    case '\a': out += "\\a"; return;
    case '\b': out += "\\b"; return;
    case '\f': out += "\\f"; return;
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
    case '\v': out += "\\v"; return;
    default: break;
  }
  auto append_hex = [&out](std::uint32_t value, int digits) {
    for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) out += kLowerHex[(value >> shift) & 0xF];
  };
  if (rune < ' ' || rune == 0x7F) {
    out += "\\x";
    append_hex(rune, 2);
  } else if (rune < 0x10000) {
    out += "\\u";
    append_hex(rune, 4);
  } else {
    out += "\\U";
    append_hex(rune, 8);
  }
}

// Shortest or rounded decimal digits of |value|: value = 0.d1d2d3... * 10^point.
struct Decimal {
  std::string digits;  // no leading zeros; empty for zero
  int point = 0;
};

// The digits of |value| rounded to `significant` digits, or the shortest
// digits that read back as `value` when `significant` is negative.
Decimal decimal_digits(double value, int significant) {
  Decimal d;
  value = std::fabs(value);
  if (value == 0) return d;
  // Room for the digits, a point and an exponent such as e-324.
  std::vector<char> buffer(static_cast<std::size_t>(std::max(significant, 0)) + 32);
  char* first = buffer.data();
  char* last = first + buffer.size();
  std::to_chars_result result =
      significant < 0 ? std::to_chars(first, last, value, std::chars_format::scientific)
                      : std::to_chars(first, last, value, std::chars_format::scientific, significant - 1);
  std::string_view text(first, static_cast<std::size_t>(result.ptr - first));
  std::size_t e = text.find('e');
  for (char c : text.substr(0, e)) {
    if (c != '.') d.digits += c;
  }
  int exponent = 0;
  std::string_view exponent_text = text.substr(e + 1);
  if (!exponent_text.empty() && exponent_text[0] == '+') exponent_text.remove_prefix(1);
  std::from_chars(exponent_text.data(), exponent_text.data() + exponent_text.size(), exponent);
  d.point = exponent + 1;
  while (!d.digits.empty() && d.digits.back() == '0') d.digits.pop_back();
  return d;
}

// %e: d.ddddde±dd with `precision` digits after the point.
std::string format_exponent(const Decimal& d, bool negative, int precision, char e) {
  std::string out = negative ? "-" : "";
  out += d.digits.empty() ? '0' : d.digits[0];
  if (precision > 0) {
    out += '.';
    for (int i = 1; i <= precision; ++i) {
      out += i < static_cast<int>(d.digits.size()) ? d.digits[static_cast<std::size_t>(i)] : '0';
    }
  }
  out += e;
  int exponent = d.digits.empty() ? 0 : d.point - 1;
  out += exponent < 0 ? '-' : '+';
  exponent = std::abs(exponent);
  if (exponent < 10) out += '0';
  out += std::to_string(exponent);
  return out;
}

// %f: ddd.ddd with `precision` digits after the point.
std::string format_fixed(const Decimal& d, bool negative, int precision) {
  std::string out = negative ? "-" : "";
  int count = static_cast<int>(d.digits.size());
  if (d.point > 0) {
    int shown = std::min(count, d.point);
    out.append(d.digits, 0, static_cast<std::size_t>(shown));
    out.append(static_cast<std::size_t>(d.point - shown), '0');
  } else {
    out += '0';
  }
  if (precision > 0) {
    out += '.';
    for (int i = 1; i <= precision; ++i) {
      int j = d.point + i - 1;
      out += j >= 0 && j < count ? d.digits[static_cast<std::size_t>(j)] : '0';
    }
  }
  return out;
}

// %b: decimal mantissa "p" binary exponent.
std::string format_binary(double value) {
  std::uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  bool negative = bits >> 63;
  int exponent = static_cast<int>((bits >> 52) & 0x7FF);
  std::uint64_t mantissa = bits & ((std::uint64_t{1} << 52) - 1);
  if (exponent == 0) {
    exponent = 1;
  } else {
    mantissa |= std::uint64_t{1} << 52;
  }
  exponent -= 1023 + 52;
  std::string out = negative ? "-" : "";
  out += std::to_string(mantissa) + "p";
  if (exponent >= 0) out += '+';
  return out + std::to_string(exponent);
}

// %x: -0x1.hhhhp±dd, with `precision` hex digits or the fewest exact ones.
std::string format_hex(double value, int precision, char x) {
  std::uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  bool negative = bits >> 63;
  int exponent = static_cast<int>((bits >> 52) & 0x7FF);
  std::uint64_t mantissa = bits & ((std::uint64_t{1} << 52) - 1);
  if (exponent == 0) {
    exponent = 1;
  } else {
    mantissa |= std::uint64_t{1} << 52;
  }
  exponent -= 1023;
  if (mantissa == 0) exponent = 0;

  // Put the leading 1 at bit 60, so that 15 hex digits follow it.
  mantissa <<= 8;
  while (mantissa != 0 && (mantissa & (std::uint64_t{1} << 60)) == 0) {
    mantissa <<= 1;
    --exponent;
  }
  if (precision >= 0 && precision < 15) {
    // Round to `precision` hex digits, ties to even.
    unsigned shift = static_cast<unsigned>(precision * 4);
    std::uint64_t rest = (mantissa << shift) & ((std::uint64_t{1} << 60) - 1);
    mantissa >>= 60 - shift;
    if ((rest | (mantissa & 1)) > (std::uint64_t{1} << 59)) ++mantissa;
    mantissa <<= 60 - shift;
    if (mantissa & (std::uint64_t{1} << 61)) {
      mantissa >>= 1;
      ++exponent;
    }
  }
  const char* hex = x == 'X' ? kUpperHex : kLowerHex;
  std::string out = negative ? "-" : "";
  out += '0';
  out += x;
  out += static_cast<char>('0' + ((mantissa >> 60) & 1));
  mantissa <<= 4;
  if (precision < 0 && mantissa != 0) {
    out += '.';
    while (mantissa != 0) {
      out += hex[(mantissa >> 60) & 15];
      mantissa <<= 4;
    }
  } else if (precision > 0) {
    out += '.';
    for (int i = 0; i < precision; ++i) {
      out += hex[(mantissa >> 60) & 15];
      mantissa <<= 4;
    }
  }
  out += x == 'X' ? 'P' : 'p';
  out += exponent < 0 ? '-' : '+';
  exponent = std::abs(exponent);
  if (exponent < 10) out += '0';
  return out + std::to_string(exponent);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One character of a quoted literal, as strconv.UnquoteChar decodes it.
struct UnquotedChar {
  char32_t value = 0;
  bool is_byte = false;  // \x and octal escapes stand for one byte, not a rune
};

std::optional<UnquotedChar> unquote_one(std::string_view s, std::size_t& i, char quote) {
  if (i >= s.size()) return std::nullopt;
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c == static_cast<unsigned char>(quote) && (quote == '\'' || quote == '"')) return std::nullopt;
  if (c >= 0x80) {
    std::size_t width = 0;
    char32_t rune = decode_rune(s, i, width);
    i += width;
    return UnquotedChar{rune, false};
  }
  if (c != '\\') {
    ++i;
    return UnquotedChar{c, false};
  }
  if (i + 1 >= s.size()) return std::nullopt;
  char escape = s[i + 1];
  i += 2;
  switch (escape) {
    case 'a': return UnquotedChar{'\a', false};
    case 'b': return UnquotedChar{'\b', false};
    case 'f': return UnquotedChar{'\f', false};
    case 'n': return UnquotedChar{'\n', false};
    case 'r': return UnquotedChar{'\r', false};
    case 't': return UnquotedChar{'\t', false};
    case 'v': return UnquotedChar{'\v', false};
    case '\\': return UnquotedChar{'\\', false};
    case '\'':
    case '"':
      if (escape != quote) return std::nullopt;
      return UnquotedChar{static_cast<char32_t>(escape), false};
    case 'x':
    case 'u':
    case 'U': {
      std::size_t digits = 8;
      if (escape == 'x') digits = 2;
      if (escape == 'u') digits = 4;
      if (i + digits > s.size()) return std::nullopt;
      char32_t value = 0;
      for (std::size_t k = 0; k < digits; ++k) {
        int h = hex_value(s[i + k]);
        if (h < 0) return std::nullopt;
        value = value * 16 + static_cast<char32_t>(h);
      }
      i += digits;
      if (escape == 'x') return UnquotedChar{value, true};
      if (value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return std::nullopt;
      return UnquotedChar{value, false};
    }
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7': {
      if (i + 2 > s.size()) return std::nullopt;
      char32_t value = static_cast<char32_t>(escape - '0');
      for (std::size_t k = 0; k < 2; ++k) {
        char d = s[i + k];
        if (d < '0' || d > '7') return std::nullopt;
        value = value * 8 + static_cast<char32_t>(d - '0');
      }
      i += 2;
      if (value > 255) return std::nullopt;
      return UnquotedChar{value, true};
    }
    default: return std::nullopt;
  }
}

}  // namespace

char32_t decode_rune(std::string_view s, std::size_t i, std::size_t& width) {
  width = 1;
  if (i >= s.size()) return kRuneError;
  unsigned char c0 = static_cast<unsigned char>(s[i]);
  if (c0 < 0x80) return c0;

  // The lead byte gives the number of continuation bytes and the least
  // rune that needs that many (smaller ones are overlong encodings).
  std::size_t need;
  char32_t rune;
  char32_t minimum;
  if (c0 >= 0xC2 && c0 <= 0xDF) {
    need = 1;
    rune = c0 & 0x1F;
    minimum = 0x80;
  } else if (c0 >= 0xE0 && c0 <= 0xEF) {
    need = 2;
    rune = c0 & 0x0F;
    minimum = 0x800;
  } else if (c0 >= 0xF0 && c0 <= 0xF4) {
    need = 3;
    rune = c0 & 0x07;
    minimum = 0x10000;
  } else {
    return kRuneError;
  }
  if (i + need >= s.size()) return kRuneError;

  for (std::size_t k = 1; k <= need; ++k) {
    unsigned char c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return kRuneError;
    rune = (rune << 6) | (c & 0x3F);
  }
  if (rune < minimum || rune > 0x10FFFF || (rune >= 0xD800 && rune <= 0xDFFF)) return kRuneError;
  width = need + 1;
  return rune;
}

void append_utf8(std::string& out, char32_t rune) {
  if (rune > 0x10FFFF || (rune >= 0xD800 && rune <= 0xDFFF)) rune = kRuneError;
  if (rune < 0x80) {
    out += static_cast<char>(rune);
  } else if (rune < 0x800) {
    out += static_cast<char>(0xC0 | (rune >> 6));
    out += static_cast<char>(0x80 | (rune & 0x3F));
  } else if (rune < 0x10000) {
    out += static_cast<char>(0xE0 | (rune >> 12));
    out += static_cast<char>(0x80 | ((rune >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (rune & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (rune >> 18));
    out += static_cast<char>(0x80 | ((rune >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((rune >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (rune & 0x3F));
  }
}

std::size_t rune_count(std::string_view s) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < s.size();) {
    std::size_t width = 0;
    decode_rune(s, i, width);
    i += width;
    ++count;
  }
  return count;
}

bool is_letter(char32_t rune) {
  if (rune < 0x80) return (rune >= 'a' && rune <= 'z') || (rune >= 'A' && rune <= 'Z');
  return in_ranges(kLetterRanges, rune);
}

bool is_digit(char32_t rune) {
  if (rune < 0x80) return rune >= '0' && rune <= '9';
  return in_ranges(kDigitRanges, rune);
}

bool is_print(char32_t rune) {
  if (rune < 0x80) return rune >= 0x20 && rune < 0x7F;
  if (rune < 0xA1) return false;  // C1 controls and the no-break space
  if (rune > 0x10FFFF) return false;
  return !in_ranges(kNotPrintRanges, rune);
}

std::string quote(std::string_view s, bool ascii_only) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    std::size_t width = 0;
    char32_t rune = decode_rune(s, i, width);
    if (width == 1 && rune == kRuneError) {
      // An invalid byte is shown as \x escape of the byte itself.
      unsigned char byte = static_cast<unsigned char>(s[i]);
      out += "\\x";
      out += kLowerHex[byte >> 4];
      out += kLowerHex[byte & 0xF];
    } else {
      append_escaped_rune(out, rune, '"', ascii_only);
    }
    i += width;
  }
  return out + "\"";
}

std::string quote_rune(char32_t rune, bool ascii_only) {
  if (rune > 0x10FFFF || (rune >= 0xD800 && rune <= 0xDFFF)) rune = kRuneError;
  std::string out = "'";
  append_escaped_rune(out, rune, '\'', ascii_only);
  return out + "'";
}

bool can_backquote(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    std::size_t width = 0;
    char32_t rune = decode_rune(s, i, width);
    i += width;
    if (width > 1) {
      if (rune == 0xFEFF) return false;
      continue;
    }
    if (rune == kRuneError) return false;
    if ((rune < ' ' && rune != '\t') || rune == '`' || rune == 0x7F) return false;
  }
  return true;
}

std::string describe_rune(char32_t rune) {
  std::string out = "U+";
  char buffer[16];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, static_cast<std::uint32_t>(rune), 16);
  std::string digits(buffer, result.ptr);
  for (char& c : digits) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (digits.size() < 4) out.append(4 - digits.size(), '0');
  out += digits;
  if (is_print(rune)) {
    out += " '";
    append_utf8(out, rune);
    out += "'";
  }
  return out;
}

std::optional<std::string> unquote(std::string_view literal) {
  if (literal.size() < 2) return std::nullopt;
  char quote_char = literal.front();
  if (quote_char != literal.back()) return std::nullopt;
  std::string_view body = literal.substr(1, literal.size() - 2);
  if (quote_char == '`') {
    if (body.find('`') != std::string_view::npos) return std::nullopt;
    std::string out;
    for (char c : body) {
      if (c != '\r') out += c;
    }
    return out;
  }
  if (quote_char != '"') return std::nullopt;
  if (body.find('\n') != std::string_view::npos) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < body.size();) {
    auto c = unquote_one(body, i, '"');
    if (!c) return std::nullopt;
    if (c->is_byte) {
      out += static_cast<char>(c->value);
    } else {
      append_utf8(out, c->value);
    }
  }
  return out;
}

std::optional<char32_t> unquote_char_constant(std::string_view literal, bool& malformed) {
  malformed = false;
  if (literal.size() < 2 || literal.front() != '\'') return std::nullopt;
  std::string_view body = literal.substr(1);
  std::size_t i = 0;
  auto c = unquote_one(body, i, '\'');
  if (!c) return std::nullopt;
  if (body.substr(i) != "'") {
    malformed = true;
    return std::nullopt;
  }
  return c->value;
}

std::string format_float(double value, char format, int precision) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  bool negative = std::signbit(value);

  switch (format) {
    case 'b': return format_binary(value);
    case 'x':
    case 'X': return format_hex(value, precision, format);
    case 'e':
    case 'E': {
      Decimal d = decimal_digits(value, precision < 0 ? -1 : precision + 1);
      int shown = precision < 0 ? std::max(static_cast<int>(d.digits.size()) - 1, 0) : precision;
      return format_exponent(d, negative, shown, format);
    }
    case 'f': {
      if (precision >= 0) {
        // Room for the 309 integer digits of the largest double, a sign,
        // a point and the requested fraction digits.
        std::vector<char> buffer(static_cast<std::size_t>(precision) + 320);
        auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value, std::chars_format::fixed,
                                    precision);
        return std::string(buffer.data(), result.ptr);
      }
      Decimal d = decimal_digits(value, -1);
      return format_fixed(d, negative, std::max(static_cast<int>(d.digits.size()) - d.point, 0));
    }
    case 'g':
    case 'G': {
      bool shortest = precision < 0;
      if (precision == 0) precision = 1;
      Decimal d = decimal_digits(value, shortest ? -1 : precision);
      int count = static_cast<int>(d.digits.size());
      if (shortest) precision = count;
      // Go picks %e when the exponent is below -4 or at least the
      // precision (6 for the shortest form).
      int exponent_limit = precision;
      if (exponent_limit > count && count >= d.point) exponent_limit = count;
      if (shortest) exponent_limit = 6;
      int exponent = d.point - 1;
      if (exponent < -4 || exponent >= exponent_limit) {
        int shown = std::min(precision, count);
        return format_exponent(d, negative, std::max(shown - 1, 0), format == 'g' ? 'e' : 'E');
      }
      if (precision > d.point) precision = count;
      return format_fixed(d, negative, std::max(precision - d.point, 0));
    }
    default: {
      std::string unknown = "%";
      unknown += format;
      return unknown;
    }
  }
}

}  // namespace berth::gotemplate
