// The pieces of Go's unicode/utf8, unicode and strconv packages that the
// template engine needs to print and parse exactly as Go does.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace berth::gotemplate {

inline constexpr char32_t kRuneError = 0xFFFD;

// Decodes the UTF-8 sequence at `s[i]`. An invalid or truncated sequence
// decodes to U+FFFD with a width of 1, as in Go's utf8.DecodeRuneInString.
char32_t decode_rune(std::string_view s, std::size_t i, std::size_t& width);
// Appends `rune` as UTF-8; surrogates and values past U+10FFFF become U+FFFD.
void append_utf8(std::string& out, char32_t rune);
std::size_t rune_count(std::string_view s);

// Go's unicode.IsLetter, unicode.IsDigit and strconv.IsPrint. Outside
// ASCII and Latin-1 they use a table of the common scripts, not the full
// Unicode database.
// NOTE: a rare letter (or non-printable rune) outside that table is
// classified differently from Go.
bool is_letter(char32_t rune);
bool is_digit(char32_t rune);
bool is_print(char32_t rune);

// strconv.Quote, or strconv.QuoteToASCII when `ascii_only` is set.
std::string quote(std::string_view s, bool ascii_only = false);
// strconv.QuoteRune, or strconv.QuoteRuneToASCII when `ascii_only` is set.
std::string quote_rune(char32_t rune, bool ascii_only = false);
bool can_backquote(std::string_view s);
// fmt's %#U form: "U+0041 'A'", or "U+0000" for a rune that is not printable.
std::string describe_rune(char32_t rune);

// strconv.Unquote for a "double-quoted" or `back-quoted` literal, or
// nullopt when the literal is invalid (Go then reports "invalid syntax").
std::optional<std::string> unquote(std::string_view literal);
// The value of a 'c' character constant, or nullopt when it is invalid.
// `malformed` is set when one character decoded but more text follows it.
std::optional<char32_t> unquote_char_constant(std::string_view literal, bool& malformed);

// strconv.FormatFloat(value, format, precision, 64) for the formats
// 'e', 'E', 'f', 'g', 'G', 'x', 'X' and 'b'; precision -1 selects the
// shortest representation that reads back as the same number.
std::string format_float(double value, char format, int precision);

}  // namespace berth::gotemplate
