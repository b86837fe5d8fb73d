#include "gotemplate/go_format.h"

#include <cstdint>

#include "gotemplate/go_strconv.h"

namespace berth::gotemplate {

namespace {

constexpr std::string_view kLowerDigits = "0123456789abcdefx";
constexpr std::string_view kUpperDigits = "0123456789ABCDEFX";
constexpr int kMaxWidth = 1000000;  // fmt rejects larger widths and precisions

bool is_unsigned_type(const Value& value) { return value.type_name().starts_with("uint"); }

// fmt's flags for one verb.
struct Flags {
  bool width_present = false;
  bool precision_present = false;
  bool minus = false;
  bool plus = false;
  bool sharp = false;
  bool space = false;
  bool zero = false;
  bool plus_v = false;   // %+v
  bool sharp_v = false;  // %#v
  int width = 0;
  int precision = 0;
};

// One formatting run, like fmt's pp: an output buffer and current flags.
class Printer {
 public:
  std::string out;
  Flags f;

  void write_padding(int n) {
    if (n <= 0) return;
    out.append(static_cast<std::size_t>(n), f.zero ? '0' : ' ');
  }

  // Pads `s` to the width, counted in runes.
  void pad(std::string_view s) {
    if (!f.width_present || f.width == 0) {
      out += s;
      return;
    }
    int padding = f.width - static_cast<int>(rune_count(s));
    if (!f.minus) {
      write_padding(padding);
      out += s;
    } else {
      out += s;
      write_padding(padding);
    }
  }

  std::string truncate(std::string_view s) const {
    if (!f.precision_present) return std::string(s);
    std::size_t i = 0;
    for (int n = 0; n < f.precision && i < s.size(); ++n) {
      std::size_t width = 0;
      decode_rune(s, i, width);
      i += width;
    }
    return std::string(s.substr(0, i));
  }

  void format_s(std::string_view s) { pad(truncate(s)); }

  void format_boolean(bool v) { pad(v ? "true" : "false"); }

  void format_integer(std::uint64_t u, int base, bool is_signed, char verb, std::string_view digits) {
    bool negative = is_signed && static_cast<std::int64_t>(u) < 0;
    if (negative) u = 0 - u;

    int precision = 0;
    if (f.precision_present) {
      precision = f.precision;
      if (precision == 0 && u == 0) {
        bool old_zero = std::exchange(f.zero, false);
        write_padding(f.width);
        f.zero = old_zero;
        return;
      }
    } else if (f.zero && f.width_present) {
      precision = f.width;
      if (negative || f.plus || f.space) --precision;  // room for the sign
    }

    std::string body;  // built backwards
    unsigned ubase = static_cast<unsigned>(base);
    while (u >= ubase) {
      body += digits[u % ubase];
      u /= ubase;
    }
    body += digits[u];
    while (static_cast<int>(body.size()) < precision) body += '0';

    if (f.sharp) {
      if (base == 2) {
        body += "b0";
      } else if (base == 8) {
        if (body.back() != '0') body += '0';
      } else if (base == 16) {
        body += digits[16];
        body += '0';
      }
    }
    if (verb == 'O') body += "o0";
    if (negative) {
      body += '-';
    } else if (f.plus) {
      body += '+';
    } else if (f.space) {
      body += ' ';
    }
    std::string number(body.rbegin(), body.rend());
    bool old_zero = std::exchange(f.zero, false);
    pad(number);
    f.zero = old_zero;
  }

  void format_unicode(std::uint64_t u) {
    std::string hex;
    std::uint64_t v = u;
    do {
      hex.insert(hex.begin(), kUpperDigits[v & 0xF]);
      v >>= 4;
    } while (v != 0);
    int precision = f.precision_present && f.precision > 4 ? f.precision : 4;
    if (static_cast<int>(hex.size()) < precision) hex.insert(0, static_cast<std::size_t>(precision) - hex.size(), '0');
    std::string text = "U+" + hex;
    if (f.sharp && u <= 0x10FFFF && is_print(static_cast<char32_t>(u))) {
      text += " '";
      append_utf8(text, static_cast<char32_t>(u));
      text += "'";
    }
    bool old_zero = std::exchange(f.zero, false);
    pad(text);
    f.zero = old_zero;
  }

  void format_char(std::uint64_t c) {
    std::string text;
    append_utf8(text, c > 0x10FFFF ? kRuneError : static_cast<char32_t>(c));
    pad(text);
  }

  void format_quoted_char(std::uint64_t c) {
    char32_t rune = c > 0x10FFFF ? kRuneError : static_cast<char32_t>(c);
    pad(quote_rune(rune, f.plus));
  }

  void format_float(double v, char verb, int precision) {
    if (f.precision_present) precision = f.precision;
    std::string num = berth::gotemplate::format_float(v, verb, precision);
    if (num[0] != '-' && num[0] != '+') num.insert(num.begin(), '+');
    if (f.space && num[0] == '+' && !f.plus) num[0] = ' ';
    if (num[1] == 'I' || num[1] == 'N') {
      bool old_zero = std::exchange(f.zero, false);
      if (num[1] == 'N' && !f.space && !f.plus) num.erase(0, 1);
      pad(num);
      f.zero = old_zero;
      return;
    }
    if (f.sharp && verb != 'b') apply_sharp_float(num, verb, precision);
    if (f.plus || num[0] != '+') {
      if (f.zero && f.width_present && f.width > static_cast<int>(num.size())) {
        out += num[0];
        write_padding(f.width - static_cast<int>(num.size()));
        out.append(num, 1);
        return;
      }
      pad(num);
      return;
    }
    pad(std::string_view(num).substr(1));
  }

  // %#g and friends keep the decimal point and trailing zeros.
  void apply_sharp_float(std::string& num, char verb, int precision) {
    int digits = 0;
    if (verb == 'v' || verb == 'g' || verb == 'G' || verb == 'x') digits = precision == -1 ? 6 : precision;
    std::string tail;
    bool has_point = false;
    bool saw_nonzero = false;
    for (std::size_t i = 1; i < num.size(); ++i) {
      char c = num[i];
      if (c == '.') {
        has_point = true;
      } else if (c == 'p' || c == 'P' || ((c == 'e' || c == 'E') && verb != 'x' && verb != 'X')) {
        tail = num.substr(i);
        num.resize(i);
        break;
      } else {
        if (c != '0') saw_nonzero = true;
        if (saw_nonzero) --digits;
      }
    }
    if (!has_point) {
      if (num.size() == 2 && num[1] == '0') --digits;  // a lone zero counts as a digit
      num += '.';
    }
    while (digits > 0) {
      num += '0';
      --digits;
    }
    num += tail;
  }

  void format_hex_string(std::string_view s, std::string_view digits) {
    int length = static_cast<int>(s.size());
    if (f.precision_present && f.precision < length) length = f.precision;
    int width = 2 * length;
    if (width > 0) {
      if (f.space) {
        if (f.sharp) width *= 2;
        width += length - 1;
      } else if (f.sharp) {
        width += 2;
      }
    } else {
      if (f.width_present) write_padding(f.width);
      return;
    }
    if (f.width_present && f.width > width && !f.minus) write_padding(f.width - width);
    if (f.sharp) {
      out += '0';
      out += digits[16];
    }
    for (int i = 0; i < length; ++i) {
      if (f.space && i > 0) {
        out += ' ';
        if (f.sharp) {
          out += '0';
          out += digits[16];
        }
      }
      unsigned char c = static_cast<unsigned char>(s[static_cast<std::size_t>(i)]);
      out += digits[c >> 4];
      out += digits[c & 0xF];
    }
    if (f.width_present && f.width > width && f.minus) write_padding(f.width - width);
  }

  void format_quoted(std::string_view s) {
    std::string text = truncate(s);
    if (f.sharp && can_backquote(text)) {
      pad("`" + text + "`");
      return;
    }
    pad(quote(text, f.plus));
  }

  // `value` is the operand that a verb does not apply to; null means nil.
  void bad_verb(char32_t verb, const Value* value) {
    out += "%!";
    append_utf8(out, verb);
    out += '(';
    if (value != nullptr && value->kind() != Value::Kind::kNil) {
      out += value->type_name();
      out += '=';
      print_value(*value, 'v', 0);
    } else {
      out += "<nil>";
    }
    out += ')';
  }

  void print_integer(const Value& value, char32_t verb) {
    auto u = static_cast<std::uint64_t>(value.as_int());
    bool is_signed = !is_unsigned_type(value);
    switch (verb) {
      case 'v':
        if (f.sharp_v && !is_signed) {
          bool old_sharp = std::exchange(f.sharp, true);
          format_integer(u, 16, false, 'v', kLowerDigits);
          f.sharp = old_sharp;
        } else {
          format_integer(u, 10, is_signed, 'v', kLowerDigits);
        }
        return;
      case 'd': return format_integer(u, 10, is_signed, 'd', kLowerDigits);
      case 'b': return format_integer(u, 2, is_signed, 'b', kLowerDigits);
      case 'o':
      case 'O': return format_integer(u, 8, is_signed, static_cast<char>(verb), kLowerDigits);
      case 'x': return format_integer(u, 16, is_signed, 'x', kLowerDigits);
      case 'X': return format_integer(u, 16, is_signed, 'X', kUpperDigits);
      case 'c': return format_char(u);
      case 'q': return format_quoted_char(u);
      case 'U': return format_unicode(u);
      default: return bad_verb(verb, &value);
    }
  }

  void print_float(const Value& value, char32_t verb) {
    double v = value.as_float();
    switch (verb) {
      case 'v': return format_float(v, 'g', -1);
      case 'b':
      case 'g':
      case 'G':
      case 'x':
      case 'X': return format_float(v, static_cast<char>(verb), -1);
      case 'f':
      case 'e':
      case 'E': return format_float(v, static_cast<char>(verb), 6);
      case 'F': return format_float(v, 'f', 6);
      default: return bad_verb(verb, &value);
    }
  }

  void print_string(const Value& value, char32_t verb) {
    const std::string& s = value.as_string();
    switch (verb) {
      case 'v':
        if (f.sharp_v) return format_quoted(s);
        return format_s(s);
      case 's': return format_s(s);
      case 'x': return format_hex_string(s, kLowerDigits);
      case 'X': return format_hex_string(s, kUpperDigits);
      case 'q': return format_quoted(s);
      default: return bad_verb(verb, &value);
    }
  }

  // Prints a value met inside a container or struct, where a nil is an
  // interface{} slot and prints without padding.
  void print_element(const Value& value, char32_t verb, int depth) {
    if (value.kind() == Value::Kind::kNil) {
      out += f.sharp_v ? "interface {}(nil)" : "<nil>";
      return;
    }
    print_value(value, verb, depth);
  }

  void print_value(const Value& value, char32_t verb, int depth) {
    switch (value.kind()) {
      case Value::Kind::kNil:
        // Only reachable at depth 0 from bad_verb; print_arg handles nil.
        out += "<nil>";
        return;
      case Value::Kind::kBool:
        if (verb == 't' || verb == 'v') return format_boolean(value.as_bool());
        return bad_verb(verb, &value);
      case Value::Kind::kInt: return print_integer(value, verb);
      case Value::Kind::kFloat: return print_float(value, verb);
      case Value::Kind::kString: return print_string(value, verb);
      case Value::Kind::kMap: {
        if (f.sharp_v) {
          out += value.type_name();
          out += '{';
        } else {
          out += "map[";
        }
        bool first = true;
        for (const auto& [key, element] : value.fields()) {
          if (!first) out += f.sharp_v ? ", " : " ";
          first = false;
          print_value(Value::string(key), verb, depth + 1);
          out += ':';
          print_element(element, verb, depth + 1);
        }
        out += f.sharp_v ? '}' : ']';
        return;
      }
      case Value::Kind::kStruct: {
        if (f.sharp_v) out += value.type_name();
        out += '{';
        bool first = true;
        for (const auto& [name, field] : value.fields()) {
          if (!first) out += f.sharp_v ? ", " : " ";
          first = false;
          if (f.plus_v || f.sharp_v) {
            out += name;
            out += ':';
          }
          print_element(field, verb, depth + 1);
        }
        out += '}';
        return;
      }
      case Value::Kind::kList: {
        if (f.sharp_v) {
          out += value.type_name();
          out += '{';
        } else {
          out += '[';
        }
        bool first = true;
        for (const Value& item : value.items()) {
          if (!first) out += f.sharp_v ? ", " : " ";
          first = false;
          print_element(item, verb, depth + 1);
        }
        out += f.sharp_v ? '}' : ']';
        return;
      }
    }
  }

  void print_arg(const Value* arg, char32_t verb) {
    if (arg == nullptr || arg->kind() == Value::Kind::kNil) {
      if (verb == 'T' || verb == 'v') {
        pad("<nil>");
      } else {
        bad_verb(verb, nullptr);
      }
      return;
    }
    if (verb == 'T') {
      format_s(arg->type_name());
      return;
    }
    if (verb == 'p') {
      // Go prints the address of a slice or map here. Berth's values have
      // no addresses, so every kind gets the form Go uses for non-pointers.
      // NOTE: for lists and maps this differs from Go, which prints 0xc000….
      bad_verb(verb, arg);
      return;
    }
    print_value(*arg, verb, 0);
  }
};

bool is_string_arg(const Value* arg) { return arg != nullptr && arg->kind() == Value::Kind::kString; }

// Parses a decimal number at format[i]; returns false when there is none
// or it is too large.
bool parse_number(std::string_view format, std::size_t& i, int& number) {
  number = 0;
  bool found = false;
  while (i < format.size() && format[i] >= '0' && format[i] <= '9') {
    if (number > kMaxWidth || number < -kMaxWidth) {
      i = format.size();
      number = 0;
      return false;
    }
    number = number * 10 + (format[i] - '0');
    found = true;
    ++i;
  }
  return found;
}

}  // namespace

std::string go_sprint(const FormatArgs& args) {
  Printer p;
  bool previous_string = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    bool is_string = is_string_arg(args[i]);
    // Go adds a space between operands when neither is a string.
    if (i > 0 && !is_string && !previous_string) p.out += ' ';
    p.f = Flags{};
    p.print_arg(args[i], 'v');
    previous_string = is_string;
  }
  return p.out;
}

std::string go_sprintln(const FormatArgs& args) {
  Printer p;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (i > 0) p.out += ' ';
    p.f = Flags{};
    p.print_arg(args[i], 'v');
  }
  p.out += '\n';
  return p.out;
}

std::string go_sprintf(std::string_view format, const FormatArgs& args) {
  Printer p;
  std::size_t arg_index = 0;
  bool reordered = false;
  const std::size_t end = format.size();

  // An explicit argument index such as [2] at format[i].
  auto argument_number = [&](std::size_t& i, bool& good_index) -> bool {
    if (i >= end || format[i] != '[') return false;
    reordered = true;
    std::size_t close = format.find(']', i + 1);
    if (format.size() - i < 3 || close == std::string_view::npos) {
      good_index = false;
      i += 1;
      return false;
    }
    std::size_t j = i + 1;
    int number = 0;
    bool ok = parse_number(format, j, number) && j == close;
    i = close + 1;
    if (ok && number >= 1 && static_cast<std::size_t>(number) <= args.size()) {
      arg_index = static_cast<std::size_t>(number - 1);
      return true;
    }
    good_index = false;
    return ok;
  };

  // A width or precision taken from an int argument (the * form).
  auto int_from_arg = [&](int& value) -> bool {
    bool is_int = false;
    value = 0;
    if (arg_index < args.size()) {
      const Value* arg = args[arg_index];
      if (arg != nullptr && arg->kind() == Value::Kind::kInt) {
        value = static_cast<int>(arg->as_int());
        is_int = static_cast<std::int64_t>(value) == arg->as_int();
      }
      ++arg_index;
      if (value > kMaxWidth || value < -kMaxWidth) {
        value = 0;
        is_int = false;
      }
    }
    return is_int;
  };

  std::size_t i = 0;
  while (i < end) {
    std::size_t literal_start = i;
    while (i < end && format[i] != '%') ++i;
    p.out += format.substr(literal_start, i - literal_start);
    if (i >= end) break;
    ++i;  // the '%'

    p.f = Flags{};
    bool good_index = true;
    for (; i < end; ++i) {
      char c = format[i];
      if (c == '#') {
        p.f.sharp = true;
      } else if (c == '0') {
        p.f.zero = !p.f.minus;  // zero padding only on the left
      } else if (c == '+') {
        p.f.plus = true;
      } else if (c == '-') {
        p.f.minus = true;
        p.f.zero = false;
      } else if (c == ' ') {
        p.f.space = true;
      } else {
        break;
      }
    }

    bool after_index = argument_number(i, good_index);

    if (i < end && format[i] == '*') {
      ++i;
      p.f.width_present = int_from_arg(p.f.width);
      if (!p.f.width_present) p.out += "%!(BADWIDTH)";
      if (p.f.width < 0) {
        p.f.width = -p.f.width;
        p.f.minus = true;
        p.f.zero = false;
      }
      after_index = false;
    } else {
      p.f.width_present = parse_number(format, i, p.f.width);
      if (after_index && p.f.width_present) good_index = false;  // "%[3]2d"
    }

    if (i + 1 < end && format[i] == '.') {
      ++i;
      if (after_index) good_index = false;  // "%[3].2d"
      after_index = argument_number(i, good_index);
      if (i < end && format[i] == '*') {
        ++i;
        p.f.precision_present = int_from_arg(p.f.precision);
        if (p.f.precision < 0) {
          p.f.precision = 0;
          p.f.precision_present = false;
        }
        if (!p.f.precision_present) p.out += "%!(BADPREC)";
        after_index = false;
      } else {
        p.f.precision_present = parse_number(format, i, p.f.precision);
        if (!p.f.precision_present) {
          p.f.precision = 0;
          p.f.precision_present = true;
        }
      }
    }

    if (!after_index) after_index = argument_number(i, good_index);

    if (i >= end) {
      p.out += "%!(NOVERB)";
      break;
    }

    std::size_t width = 1;
    char32_t verb = static_cast<unsigned char>(format[i]);
    if (verb >= 0x80) verb = decode_rune(format, i, width);
    i += width;

    if (verb == '%') {
      p.out += '%';  // takes no operand and ignores width and precision
    } else if (!good_index) {
      p.out += "%!";
      append_utf8(p.out, verb);
      p.out += "(BADINDEX)";
    } else if (arg_index >= args.size()) {
      p.out += "%!";
      append_utf8(p.out, verb);
      p.out += "(MISSING)";
    } else {
      if (verb == 'v') {
        p.f.sharp_v = std::exchange(p.f.sharp, false);
        p.f.plus_v = std::exchange(p.f.plus, false);
      }
      p.print_arg(args[arg_index], verb);
      ++arg_index;
    }
  }

  if (!reordered && arg_index < args.size()) {
    p.f = Flags{};
    p.out += "%!(EXTRA ";
    for (std::size_t k = arg_index; k < args.size(); ++k) {
      if (k > arg_index) p.out += ", ";
      const Value* arg = args[k];
      if (arg == nullptr || arg->kind() == Value::Kind::kNil) {
        p.out += "<nil>";
      } else {
        p.out += arg->type_name();
        p.out += '=';
        p.print_arg(arg, 'v');
      }
    }
    p.out += ')';
  }
  return p.out;
}

}  // namespace berth::gotemplate
