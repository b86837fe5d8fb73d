#include "gotemplate/lexer.h"

#include <algorithm>
#include <map>

#include "gotemplate/go_strconv.h"

namespace berth::gotemplate {

namespace {

constexpr std::string_view kLeftDelim = "{{";
constexpr std::string_view kRightDelim = "}}";
constexpr std::string_view kLeftComment = "/*";
constexpr std::string_view kRightComment = "*/";
constexpr std::size_t kTrimMarkerLength = 2;  // the '-' and the space beside it
constexpr char32_t kEndOfInput = 0xFFFFFFFF;

bool is_space(char32_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool is_alphanumeric(char32_t c) { return c == '_' || is_letter(c) || is_digit(c); }

// "{{- " trims the white space before the action.
bool has_left_trim_marker(std::string_view s) { return s.size() >= 2 && s[0] == '-' && is_space(s[1]); }

// " -}}" trims the white space after the action.
bool has_right_trim_marker(std::string_view s) { return s.size() >= 2 && is_space(s[0]) && s[1] == '-'; }

std::size_t trailing_space_length(std::string_view s) {
  std::size_t n = 0;
  while (n < s.size() && is_space(static_cast<unsigned char>(s[s.size() - 1 - n]))) ++n;
  return n;
}

std::size_t leading_space_length(std::string_view s) {
  std::size_t n = 0;
  while (n < s.size() && is_space(static_cast<unsigned char>(s[n]))) ++n;
  return n;
}

const std::map<std::string, ItemType, std::less<>>& keywords() {
  static const std::map<std::string, ItemType, std::less<>> table = {
      {".", ItemType::kDot},
      {"block", ItemType::kBlock},
      {"break", ItemType::kBreak},
      {"continue", ItemType::kContinue},
      {"define", ItemType::kDefine},
      {"else", ItemType::kElse},
      {"end", ItemType::kEnd},
      {"if", ItemType::kIf},
      {"range", ItemType::kRange},
      {"nil", ItemType::kNil},
      {"template", ItemType::kTemplate},
      {"with", ItemType::kWith},
  };
  return table;
}

// A hand-written scanner with the same states as Go's lexer: text, the
// inside of an action, comments, quotes and numbers.
class Lexer {
 public:
  explicit Lexer(std::string_view input) : input_(input) {}

  std::vector<Item> run() {
    while (lex_text() && lex_inside_action()) {
    }
    return std::move(items_);
  }

 private:
  char32_t next() {
    if (pos_ >= input_.size()) {
      at_eof_ = true;
      return kEndOfInput;
    }
    std::size_t width = 0;
    char32_t rune = decode_rune(input_, pos_, width);
    pos_ += width;
    if (rune == '\n') ++line_;
    return rune;
  }

  // Steps back over the rune that next() returned, unless that was the end.
  void backup() {
    if (at_eof_ || pos_ == 0) return;
    std::size_t start = pos_ - 1;
    while (start > 0 && (static_cast<unsigned char>(input_[start]) & 0xC0) == 0x80 && pos_ - start < 4) --start;
    std::size_t width = 0;
    decode_rune(input_, start, width);
    if (start + width != pos_) start = pos_ - 1;
    if (input_[start] == '\n') --line_;
    pos_ = start;
  }

  char32_t peek() {
    char32_t rune = next();
    backup();
    return rune;
  }

  void emit(ItemType type) {
    items_.push_back(Item{type, start_, std::string(input_.substr(start_, pos_ - start_)), start_line_});
    start_ = pos_;
    start_line_ = line_;
  }

  void ignore() {
    line_ += count_newlines(start_, pos_);
    start_ = pos_;
    start_line_ = line_;
  }

  bool error(std::string message) {
    items_.push_back(Item{ItemType::kError, start_, std::move(message), start_line_});
    return false;
  }

  bool accept(std::string_view valid) {
    char32_t rune = next();
    if (rune < 0x80 && valid.find(static_cast<char>(rune)) != std::string_view::npos) return true;
    backup();
    return false;
  }

  void accept_run(std::string_view valid) {
    while (accept(valid)) {
    }
  }

  std::string_view rest() const { return input_.substr(std::min(pos_, input_.size())); }

  // Emits the text up to the next action and its left delimiter; returns
  // false at the end of the input or after an error. Comments are skipped.
  bool lex_text() {
    while (true) {
      std::size_t found = input_.find(kLeftDelim, pos_);
      if (found == std::string_view::npos) break;
      pos_ = found;
      std::size_t trim = 0;
      if (has_left_trim_marker(input_.substr(pos_ + kLeftDelim.size()))) {
        trim = trailing_space_length(input_.substr(start_, pos_ - start_));
      }
      pos_ -= trim;
      if (pos_ > start_) {
        line_ += count_newlines(start_, pos_);
        emit(ItemType::kText);
      }
      pos_ += trim;
      ignore();

      pos_ += kLeftDelim.size();
      bool trim_after = has_left_trim_marker(rest());
      std::size_t after_marker = trim_after ? kTrimMarkerLength : 0;
      if (!input_.substr(pos_ + after_marker).starts_with(kLeftComment)) {
        emit(ItemType::kLeftDelim);
        pos_ += after_marker;
        ignore();
        paren_depth_ = 0;
        return true;
      }
      pos_ += after_marker;
      ignore();
      if (!lex_comment()) return false;
    }
    pos_ = input_.size();
    if (pos_ > start_) {
      line_ += count_newlines(start_, pos_);
      emit(ItemType::kText);
    }
    emit(ItemType::kEof);
    return false;
  }

  int count_newlines(std::size_t from, std::size_t to) const {
    return static_cast<int>(std::count(input_.begin() + static_cast<std::ptrdiff_t>(from),
                                       input_.begin() + static_cast<std::ptrdiff_t>(to), '\n'));
  }

  bool lex_comment() {
    pos_ += kLeftComment.size();
    std::size_t end = input_.find(kRightComment, pos_);
    if (end == std::string_view::npos) return error("unclosed comment");
    pos_ = end + kRightComment.size();
    auto [delim, trim] = at_right_delim();
    if (!delim) return error("comment ends before closing delimiter");
    if (trim) pos_ += kTrimMarkerLength;
    pos_ += kRightDelim.size();
    if (trim) pos_ += leading_space_length(rest());
    ignore();
    return true;
  }

  std::pair<bool, bool> at_right_delim() const {
    std::string_view here = rest();
    if (has_right_trim_marker(here) && here.substr(kTrimMarkerLength).starts_with(kRightDelim)) return {true, true};
    if (here.starts_with(kRightDelim)) return {true, false};
    return {false, false};
  }

  void lex_right_delim() {
    bool trim = has_right_trim_marker(rest());
    if (trim) {
      pos_ += kTrimMarkerLength;
      ignore();
    }
    pos_ += kRightDelim.size();
    emit(ItemType::kRightDelim);
    if (trim) {
      pos_ += leading_space_length(rest());
      ignore();
    }
  }

  // Scans the items of one action up to and including its right delimiter.
  bool lex_inside_action() {
    while (true) {
      auto [delim, trim] = at_right_delim();
      if (delim) {
        if (paren_depth_ != 0) return error("unclosed left paren");
        lex_right_delim();
        return true;
      }
      char32_t r = next();
      if (r == kEndOfInput) return error("unclosed action");
      if (is_space(r)) {
        backup();  // the space may belong to " -}}"
        if (lex_space()) {
          lex_right_delim();
          return true;
        }
        continue;
      }
      bool ok = true;
      if (r == '=') {
        emit(ItemType::kAssign);
      } else if (r == ':') {
        if (next() != '=') return error("expected :=");
        emit(ItemType::kDeclare);
      } else if (r == '|') {
        emit(ItemType::kPipe);
      } else if (r == '"') {
        ok = lex_quote();
      } else if (r == '`') {
        ok = lex_raw_quote();
      } else if (r == '$') {
        ok = lex_variable();
      } else if (r == '\'') {
        ok = lex_char();
      } else if (r == '.' && pos_ < input_.size() && (input_[pos_] < '0' || input_[pos_] > '9')) {
        ok = lex_field_or_variable(ItemType::kField);
      } else if (r == '.' || r == '+' || r == '-' || (r >= '0' && r <= '9')) {
        backup();
        ok = lex_number();
      } else if (is_alphanumeric(r)) {
        backup();
        ok = lex_identifier();
      } else if (r == '(') {
        emit(ItemType::kLeftParen);
        ++paren_depth_;
      } else if (r == ')') {
        emit(ItemType::kRightParen);
        --paren_depth_;
        if (paren_depth_ < 0) return error("unexpected right paren " + describe_rune(r));
      } else if (r < 0x80 && r >= 0x20 && r < 0x7F) {
        emit(ItemType::kChar);
      } else {
        return error("unrecognized character in action: " + describe_rune(r));
      }
      if (!ok) return false;
    }
  }

  // Emits a run of spaces; returns true when the run ends at " -}}", in
  // which case the last space is left for the right delimiter.
  bool lex_space() {
    std::size_t count = 0;
    while (is_space(peek())) {
      next();
      ++count;
    }
    if (has_right_trim_marker(input_.substr(pos_ - 1)) &&
        input_.substr(pos_ - 1 + kTrimMarkerLength).starts_with(kRightDelim)) {
      backup();
      if (count == 1) return true;
    }
    emit(ItemType::kSpace);
    return false;
  }

  bool at_terminator() {
    char32_t r = peek();
    if (is_space(r)) return true;
    switch (r) {
      case kEndOfInput:
      case '.':
      case ',':
      case '|':
      case ':':
      case ')':
      case '(': return true;
      default: return rest().starts_with(kRightDelim);
    }
  }

  bool lex_identifier() {
    char32_t r;
    do {
      r = next();
    } while (is_alphanumeric(r));
    backup();
    std::string_view word = input_.substr(start_, pos_ - start_);
    if (!at_terminator()) return error("bad character " + describe_rune(r));
    auto keyword = keywords().find(word);
    if (keyword != keywords().end() && keyword->second > ItemType::kKeyword) {
      emit(keyword->second);
    } else if (word[0] == '.') {
      emit(ItemType::kField);
    } else if (word == "true" || word == "false") {
      emit(ItemType::kBool);
    } else {
      emit(ItemType::kIdentifier);
    }
    return true;
  }

  bool lex_variable() {
    if (at_terminator()) {
      emit(ItemType::kVariable);  // "$" alone
      return true;
    }
    return lex_field_or_variable(ItemType::kVariable);
  }

  bool lex_field_or_variable(ItemType type) {
    if (at_terminator()) {
      emit(type == ItemType::kVariable ? ItemType::kVariable : ItemType::kDot);
      return true;
    }
    char32_t r;
    while (true) {
      r = next();
      if (!is_alphanumeric(r)) {
        backup();
        break;
      }
    }
    if (!at_terminator()) return error("bad character " + describe_rune(r));
    emit(type);
    return true;
  }

  bool lex_char() {
    while (true) {
      char32_t r = next();
      if (r == '\\') {
        char32_t escaped = next();
        if (escaped != kEndOfInput && escaped != '\n') continue;
        return error("unterminated character constant");
      }
      if (r == kEndOfInput || r == '\n') return error("unterminated character constant");
      if (r == '\'') break;
    }
    emit(ItemType::kCharConstant);
    return true;
  }

  bool scan_number() {
    accept("+-");
    std::string_view digits = "0123456789_";
    if (accept("0")) {
      if (accept("xX")) {
        digits = "0123456789abcdefABCDEF_";
      } else if (accept("oO")) {
        digits = "01234567_";
      } else if (accept("bB")) {
        digits = "01_";
      }
    }
    accept_run(digits);
    if (accept(".")) accept_run(digits);
    if (digits.size() == 11 && accept("eE")) {
      accept("+-");
      accept_run("0123456789_");
    }
    if (digits.size() == 23 && accept("pP")) {
      accept("+-");
      accept_run("0123456789_");
    }
    accept("i");
    if (is_alphanumeric(peek())) {
      next();
      return false;
    }
    return true;
  }

  bool lex_number() {
    if (!scan_number()) return error("bad number syntax: " + quote(input_.substr(start_, pos_ - start_)));
    char32_t sign = peek();
    if (sign == '+' || sign == '-') {
      if (!scan_number() || input_[pos_ - 1] != 'i') {
        return error("bad number syntax: " + quote(input_.substr(start_, pos_ - start_)));
      }
      emit(ItemType::kComplex);
    } else {
      emit(ItemType::kNumber);
    }
    return true;
  }

  bool lex_quote() {
    while (true) {
      char32_t r = next();
      if (r == '\\') {
        char32_t escaped = next();
        if (escaped != kEndOfInput && escaped != '\n') continue;
        return error("unterminated quoted string");
      }
      if (r == kEndOfInput || r == '\n') return error("unterminated quoted string");
      if (r == '"') break;
    }
    emit(ItemType::kString);
    return true;
  }

  bool lex_raw_quote() {
    while (true) {
      char32_t r = next();
      if (r == kEndOfInput) return error("unterminated raw quoted string");
      if (r == '`') break;
    }
    emit(ItemType::kRawString);
    return true;
  }

  std::string_view input_;
  std::vector<Item> items_;
  std::size_t pos_ = 0;
  std::size_t start_ = 0;
  bool at_eof_ = false;
  int paren_depth_ = 0;
  int line_ = 1;
  int start_line_ = 1;
};

}  // namespace

std::vector<Item> lex(std::string_view input) { return Lexer(input).run(); }

std::string describe(const Item& item) {
  if (item.type == ItemType::kEof) return "EOF";
  if (item.type == ItemType::kError) return item.text;
  if (item.type > ItemType::kKeyword) return "<" + item.text + ">";
  if (item.text.size() > 10) {
    // Go's %.10q: the first ten runes, quoted, then "...".
    std::size_t end = 0;
    for (int i = 0; i < 10; ++i) {
      std::size_t width = 0;
      decode_rune(item.text, end, width);
      end += width;
    }
    return quote(std::string_view(item.text).substr(0, end)) + "...";
  }
  return quote(item.text);
}

}  // namespace berth::gotemplate
