#include "gotemplate/parser.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <vector>

#include "gotemplate/go_strconv.h"
#include "gotemplate/lexer.h"

namespace berth::gotemplate {

namespace {

constexpr std::array<std::string_view, 19> kBuiltinFunctions = {
    "and",    "call",    "html",     "index", "slice", "js", "len", "not", "or", "print",
    "printf", "println", "urlquery", "eq",    "ge",    "gt", "le",  "lt",  "ne",
};

// Splits "a.b.c" at the dots.
std::vector<std::string> split_dots(std::string_view text) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = text.find('.', start);
    parts.emplace_back(text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts;
}

// Go allows '_' only between digits, or after a base prefix.
bool underscores_ok(std::string_view s) {
  if (s.empty()) return true;
  if (s[0] == '+' || s[0] == '-') s.remove_prefix(1);
  bool hex = false;
  char saw = '^';  // '^' start, '0' digit or prefix, '_' underscore, '!' other
  if (s.size() >= 2 && s[0] == '0') {
    char base = static_cast<char>(std::tolower(static_cast<unsigned char>(s[1])));
    if (base == 'x' || base == 'o' || base == 'b') {
      hex = base == 'x';
      saw = '0';
      s.remove_prefix(2);
    }
  }
  for (char c : s) {
    bool digit = (c >= '0' && c <= '9') || (hex && std::isxdigit(static_cast<unsigned char>(c)));
    if (digit) {
      saw = '0';
      continue;
    }
    if (c == '_') {
      if (saw != '0') return false;
      saw = '_';
      continue;
    }
    if (saw == '_') return false;
    saw = '!';
  }
  return saw != '_';
}

// strconv.ParseUint(text, 0, 64), with a sign allowed when `allow_sign`;
// returns the magnitude and whether a '-' sign was present.
std::optional<std::pair<std::uint64_t, bool>> parse_integer(std::string_view text, bool allow_sign) {
  bool negative = false;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    if (!allow_sign) return std::nullopt;
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (text.empty()) return std::nullopt;
  unsigned base = 10;
  bool prefixed = false;
  if (text[0] == '0' && text.size() > 1) {
    char b = static_cast<char>(std::tolower(static_cast<unsigned char>(text[1])));
    if (b == 'x' || b == 'o' || b == 'b') {
      base = 2;
      if (b == 'x') base = 16;
      if (b == 'o') base = 8;
      text.remove_prefix(2);
      prefixed = true;
    } else {
      base = 8;
      text.remove_prefix(1);
    }
  }
  std::uint64_t value = 0;
  bool any_digit = !prefixed && base == 8;  // the leading 0 counts as a digit
  for (char c : text) {
    if (c == '_') continue;
    unsigned digit;
    if (c >= '0' && c <= '9') {
      digit = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'z') {
      digit = static_cast<unsigned>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'Z') {
      digit = static_cast<unsigned>(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
    if (digit >= base) return std::nullopt;
    if (value > (UINT64_MAX - digit) / base) return std::nullopt;
    value = value * base + digit;
    any_digit = true;
  }
  if (!any_digit) return std::nullopt;
  return std::make_pair(value, negative);
}

std::optional<double> parse_float(std::string_view text) {
  std::string cleaned;
  for (char c : text) {
    if (c != '_') cleaned += c;
  }
  if (cleaned.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  double value = std::strtod(cleaned.c_str(), &end);
  if (end != cleaned.c_str() + cleaned.size()) return std::nullopt;
  if (errno == ERANGE && std::isinf(value)) return std::nullopt;
  return value;
}

// The state of one tree being parsed; {{define}} and {{block}} start a new one.
struct Scope {
  std::vector<std::string> vars{"$"};
  int range_depth = 0;
  int action_line = 0;
};

class Parser {
 public:
  explicit Parser(Template::Tree& tree) : tree_(tree), items_(lex(tree.text)) {}

  void parse() {
    auto root = std::make_unique<ListNode>(peek().pos);
    while (peek().type != ItemType::kEof) {
      if (peek().type == ItemType::kLeftDelim) {
        std::size_t delim = cursor_;
        next();
        if (next_non_space().type == ItemType::kDefine) {
          parse_definition();
          continue;
        }
        cursor_ = delim;
      }
      NodePtr node = text_or_action();
      if (node->type == NodeType::kEnd || node->type == NodeType::kElse) fail("unexpected " + node->to_string());
      root->nodes.push_back(std::move(node));
    }
    add(tree_.name, std::move(root));
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    int line = items_.empty() ? 1 : items_[std::min(furthest_, items_.size() - 1)].line;
    throw TemplateError("template: " + tree_.name + ":" + std::to_string(line) + ": " + message);
  }

  const Item& next() {
    std::size_t index = std::min(cursor_, items_.size() - 1);
    furthest_ = std::max(furthest_, index);
    cursor_ = index + 1;
    return items_[index];
  }

  void backup() { --cursor_; }

  const Item& peek() {
    const Item& item = next();
    backup();
    return item;
  }

  const Item& next_non_space() {
    while (true) {
      const Item& item = next();
      if (item.type != ItemType::kSpace) return item;
    }
  }

  const Item& peek_non_space() {
    const Item& item = next_non_space();
    backup();
    return item;
  }

  const Item& expect(ItemType expected, const std::string& context) {
    const Item& token = next_non_space();
    if (token.type != expected) unexpected(token, context);
    return token;
  }

  [[noreturn]] void unexpected(const Item& token, const std::string& context) const {
    if (token.type == ItemType::kError) {
      std::string extra;
      if (scope_.action_line != 0 && scope_.action_line != token.line) {
        extra = " in action started at " + tree_.name + ":" + std::to_string(scope_.action_line);
        if (token.text.ends_with(" action")) extra = extra.substr(std::string_view(" in action").size());
      }
      fail(token.text + extra);
    }
    fail("unexpected " + describe(token) + " in " + context);
  }

  // Adds a template; an empty one never replaces a non-empty one.
  void add(const std::string& name, std::unique_ptr<ListNode> root) {
    auto existing = tree_.templates.find(name);
    if (existing == tree_.templates.end() || is_empty_tree(*existing->second)) {
      tree_.templates[name] = std::move(root);
      return;
    }
    if (!is_empty_tree(*root)) fail("template: multiple definition of template " + quote(name));
  }

  static bool is_empty_tree(const Node& node) {
    switch (node.type) {
      case NodeType::kComment: return true;
      case NodeType::kList: {
        const auto& list = static_cast<const ListNode&>(node);
        return std::all_of(list.nodes.begin(), list.nodes.end(), [](const NodePtr& n) { return is_empty_tree(*n); });
      }
      case NodeType::kText: {
        const std::string& text = static_cast<const TextNode&>(node).text;
        return text.find_first_not_of(" \t\n\v\f\r") == std::string::npos;
      }
      default: return false;
    }
  }

  // {{define "name"}} ... {{end}}, after the define keyword.
  void parse_definition() {
    const std::string context = "define clause";
    const Item& token = next_non_space();
    if (token.type != ItemType::kString && token.type != ItemType::kRawString) unexpected(token, context);
    std::string name = unquote_or_fail(token.text);
    expect(ItemType::kRightDelim, context);
    Scope saved = std::exchange(scope_, Scope{});
    auto [root, end] = item_list();
    if (end->type != NodeType::kEnd) fail("unexpected " + end->to_string() + " in " + context);
    add(name, std::move(root));
    scope_ = std::move(saved);
  }

  std::string unquote_or_fail(std::string_view literal) const {
    auto value = unquote(literal);
    if (!value) fail("invalid syntax");
    return *value;
  }

  // Nodes up to {{end}} or {{else}}, which is returned as the second value.
  std::pair<std::unique_ptr<ListNode>, NodePtr> item_list() {
    auto list = std::make_unique<ListNode>(peek_non_space().pos);
    while (peek_non_space().type != ItemType::kEof) {
      NodePtr node = text_or_action();
      if (node->type == NodeType::kEnd || node->type == NodeType::kElse) return {std::move(list), std::move(node)};
      list->nodes.push_back(std::move(node));
    }
    fail("unexpected EOF");
  }

  NodePtr text_or_action() {
    const Item& token = next_non_space();
    if (token.type == ItemType::kText) return std::make_unique<TextNode>(token.pos, token.text);
    if (token.type == ItemType::kLeftDelim) {
      scope_.action_line = token.line;
      NodePtr node = action();
      scope_.action_line = 0;
      return node;
    }
    unexpected(token, "input");
  }

  NodePtr action() {
    const Item& token = next_non_space();
    switch (token.type) {
      case ItemType::kBlock: return block_control();
      case ItemType::kBreak:
      case ItemType::kContinue: return break_or_continue(token);
      case ItemType::kElse: return else_control();
      case ItemType::kEnd: return std::make_unique<LeafNode>(NodeType::kEnd, expect(ItemType::kRightDelim, "end").pos);
      case ItemType::kIf: return control(NodeType::kIf);
      case ItemType::kRange: return control(NodeType::kRange);
      case ItemType::kTemplate: return template_control();
      case ItemType::kWith: return control(NodeType::kWith);
      default: break;
    }
    backup();
    const Item& first = peek();
    std::size_t pos = first.pos;
    return std::make_unique<ActionNode>(pos, pipeline("command", ItemType::kRightDelim));
  }

  NodePtr break_or_continue(const Item& keyword) {
    bool is_break = keyword.type == ItemType::kBreak;
    std::size_t pos = keyword.pos;
    const Item& token = next_non_space();
    if (token.type != ItemType::kRightDelim) unexpected(token, is_break ? "{{break}}" : "{{continue}}");
    if (scope_.range_depth == 0) fail(is_break ? "{{break}} outside {{range}}" : "{{continue}} outside {{range}}");
    return std::make_unique<LeafNode>(is_break ? NodeType::kBreak : NodeType::kContinue, pos);
  }

  NodePtr else_control() {
    const Item& peeked = peek_non_space();
    if (peeked.type == ItemType::kIf) return std::make_unique<LeafNode>(NodeType::kElse, peeked.pos);
    return std::make_unique<LeafNode>(NodeType::kElse, expect(ItemType::kRightDelim, "else").pos);
  }

  // if, range and with: the pipeline, the body, and an optional else part.
  std::unique_ptr<BranchNode> control(NodeType type) {
    std::string context = "with";
    if (type == NodeType::kIf) context = "if";
    if (type == NodeType::kRange) context = "range";
    std::size_t vars_mark = scope_.vars.size();
    auto pipe = pipeline(context, ItemType::kRightDelim);
    if (type == NodeType::kRange) ++scope_.range_depth;
    auto [list, end] = item_list();
    if (type == NodeType::kRange) --scope_.range_depth;
    std::unique_ptr<ListNode> else_list;
    if (end->type == NodeType::kElse) {
      if (type == NodeType::kIf && peek().type == ItemType::kIf) {
        next();  // the "if" of "else if"
        else_list = std::make_unique<ListNode>(end->pos);
        else_list->nodes.push_back(control(NodeType::kIf));
      } else {
        auto [rest, rest_end] = item_list();
        if (rest_end->type != NodeType::kEnd) fail("expected end; found " + rest_end->to_string());
        else_list = std::move(rest);
      }
    }
    scope_.vars.resize(vars_mark);
    auto node = std::make_unique<BranchNode>(type, pipe->pos, pipe->line);
    node->pipe = std::move(pipe);
    node->list = std::move(list);
    node->else_list = std::move(else_list);
    return node;
  }

  std::string template_name(const Item& token, const std::string& context) {
    if (token.type != ItemType::kString && token.type != ItemType::kRawString) unexpected(token, context);
    return unquote_or_fail(token.text);
  }

  NodePtr block_control() {
    const std::string context = "block clause";
    const Item& token = next_non_space();
    std::size_t pos = token.pos;
    int line = token.line;
    std::string name = template_name(token, context);
    auto pipe = pipeline(context, ItemType::kRightDelim);

    Scope saved = std::exchange(scope_, Scope{});
    auto [root, end] = item_list();
    scope_ = std::move(saved);
    if (end->type != NodeType::kEnd) fail("unexpected " + end->to_string() + " in " + context);
    add(name, std::move(root));

    auto node = std::make_unique<TemplateNode>(pos, line, name);
    node->pipe = std::move(pipe);
    return node;
  }

  NodePtr template_control() {
    const std::string context = "template clause";
    const Item& token = next_non_space();
    std::size_t pos = token.pos;
    int line = token.line;
    auto node = std::make_unique<TemplateNode>(pos, line, template_name(token, context));
    if (next_non_space().type != ItemType::kRightDelim) {
      backup();
      node->pipe = pipeline(context, ItemType::kRightDelim);
    }
    return node;
  }

  std::unique_ptr<PipeNode> pipeline(const std::string& context, ItemType end) {
    const Item& first = peek_non_space();
    auto pipe = std::make_unique<PipeNode>(first.pos, first.line);
    parse_declarations(*pipe, context);
    while (true) {
      const Item& token = next_non_space();
      if (token.type == end) {
        check_pipeline(*pipe, context);
        return pipe;
      }
      switch (token.type) {
        case ItemType::kBool:
        case ItemType::kCharConstant:
        case ItemType::kComplex:
        case ItemType::kDot:
        case ItemType::kField:
        case ItemType::kIdentifier:
        case ItemType::kNumber:
        case ItemType::kNil:
        case ItemType::kRawString:
        case ItemType::kString:
        case ItemType::kVariable:
        case ItemType::kLeftParen:
          backup();
          pipe->cmds.push_back(command());
          break;
        default: unexpected(token, context);
      }
    }
  }

  // `$x :=`, `$x =`, or for range `$i, $v :=`, at the start of a pipeline.
  void parse_declarations(PipeNode& pipe, const std::string& context) {
    while (true) {
      std::size_t start = cursor_;
      const Item variable = peek_non_space();
      if (variable.type != ItemType::kVariable) return;
      next_non_space();
      ItemType after_variable = peek().type;
      const Item following = peek_non_space();
      if (following.type == ItemType::kAssign || following.type == ItemType::kDeclare) {
        pipe.is_assign = following.type == ItemType::kAssign;
        next_non_space();
        declare(pipe, variable);
        return;
      }
      if (following.type == ItemType::kChar && following.text == ",") {
        next_non_space();
        declare(pipe, variable);
        if (context == "range" && pipe.decl.size() < 2) {
          ItemType type = peek_non_space().type;
          if (type == ItemType::kVariable || type == ItemType::kRightDelim || type == ItemType::kRightParen) continue;
          fail("range can only initialize variables");
        }
        fail("too many declarations in " + context);
      }
      (void)after_variable;
      cursor_ = start;  // not a declaration: the variable starts a command
      return;
    }
  }

  void declare(PipeNode& pipe, const Item& variable) {
    pipe.decl.push_back(std::make_unique<VariableNode>(variable.pos, std::vector<std::string>{variable.text}));
    scope_.vars.push_back(variable.text);
  }

  void check_pipeline(const PipeNode& pipe, const std::string& context) const {
    if (pipe.cmds.empty()) fail("missing value for " + context);
    for (std::size_t i = 1; i < pipe.cmds.size(); ++i) {
      switch (pipe.cmds[i]->args[0]->type) {
        case NodeType::kBool:
        case NodeType::kDot:
        case NodeType::kNil:
        case NodeType::kNumber:
        case NodeType::kString: fail("non executable command in pipeline stage " + std::to_string(i + 1));
        default: break;
      }
    }
  }

  std::unique_ptr<CommandNode> command() {
    auto cmd = std::make_unique<CommandNode>(peek_non_space().pos);
    while (true) {
      peek_non_space();
      if (NodePtr node = operand()) cmd->args.push_back(std::move(node));
      const Item& token = next();
      if (token.type == ItemType::kSpace) continue;
      if (token.type == ItemType::kRightDelim || token.type == ItemType::kRightParen) {
        backup();
      } else if (token.type != ItemType::kPipe) {
        unexpected(token, "operand");
      }
      break;
    }
    if (cmd->args.empty()) fail("empty command");
    return cmd;
  }

  NodePtr operand() {
    NodePtr node = term();
    if (!node) return nullptr;
    if (peek().type != ItemType::kField) return node;

    auto chain = std::make_unique<ChainNode>(peek().pos, nullptr);
    while (peek().type == ItemType::kField) chain->fields.push_back(next().text.substr(1));
    switch (node->type) {
      case NodeType::kField: {
        auto& field = static_cast<FieldNode&>(*node);
        std::vector<std::string> idents = field.idents;
        idents.insert(idents.end(), chain->fields.begin(), chain->fields.end());
        return std::make_unique<FieldNode>(chain->pos, std::move(idents));
      }
      case NodeType::kVariable: {
        auto& variable = static_cast<VariableNode&>(*node);
        std::vector<std::string> idents = variable.idents;
        idents.insert(idents.end(), chain->fields.begin(), chain->fields.end());
        return std::make_unique<VariableNode>(chain->pos, std::move(idents));
      }
      case NodeType::kBool:
      case NodeType::kString:
      case NodeType::kNumber:
      case NodeType::kNil:
      case NodeType::kDot: fail("unexpected . after term " + quote(node->to_string()));
      default: chain->node = std::move(node); return chain;
    }
  }

  NodePtr term() {
    const Item& token = next_non_space();
    switch (token.type) {
      case ItemType::kIdentifier:
        if (!is_builtin_function(token.text)) fail("function " + quote(token.text) + " not defined");
        return std::make_unique<IdentifierNode>(token.pos, token.text);
      case ItemType::kDot: return std::make_unique<DotNode>(token.pos);
      case ItemType::kNil: return std::make_unique<NilNode>(token.pos);
      case ItemType::kVariable: {
        auto node = std::make_unique<VariableNode>(token.pos, split_dots(token.text));
        if (std::find(scope_.vars.begin(), scope_.vars.end(), node->idents[0]) == scope_.vars.end()) {
          fail("undefined variable " + quote(node->idents[0]));
        }
        return node;
      }
      case ItemType::kField:
        return std::make_unique<FieldNode>(token.pos, split_dots(std::string_view(token.text).substr(1)));
      case ItemType::kBool: return std::make_unique<BoolNode>(token.pos, token.text == "true");
      case ItemType::kCharConstant:
      case ItemType::kComplex:
      case ItemType::kNumber: return number(token);
      case ItemType::kLeftParen: return pipeline("parenthesized pipeline", ItemType::kRightParen);
      case ItemType::kString:
      case ItemType::kRawString:
        return std::make_unique<StringNode>(token.pos, token.text, unquote_or_fail(token.text));
      default: backup(); return nullptr;
    }
  }

  NodePtr number(const Item& token) {
    auto node = std::make_unique<NumberNode>(token.pos, token.text);
    const std::string& text = token.text;
    if (token.type == ItemType::kCharConstant) {
      bool malformed = false;
      auto rune = unquote_char_constant(text, malformed);
      if (!rune) fail(malformed ? "malformed character constant: " + text : "invalid syntax");
      node->is_int = node->is_uint = node->is_float = true;
      node->int_value = static_cast<std::int64_t>(*rune);
      node->uint_value = *rune;
      node->float_value = static_cast<double>(*rune);
      return node;
    }
    // NOTE: Go also accepts complex constants (1i, 1+2i); they are rejected here.
    if (token.type == ItemType::kComplex ||
        (!text.empty() && text.back() == 'i' && parse_float(text.substr(0, text.size() - 1)))) {
      fail("complex constants are not supported: " + quote(text));
    }
    if (!underscores_ok(text)) fail("illegal number syntax: " + quote(text));
    if (auto u = parse_integer(text, false)) {
      node->is_uint = true;
      node->uint_value = u->first;
    }
    if (auto i = parse_integer(text, true)) {
      auto [magnitude, negative] = *i;
      bool fits = negative ? magnitude <= std::uint64_t{1} << 63 : magnitude <= static_cast<std::uint64_t>(INT64_MAX);
      if (fits) {
        node->is_int = true;
        node->int_value = negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude);
        if (node->int_value == 0) {
          node->is_uint = true;  // -0
          node->uint_value = 0;
        }
      }
    }
    if (node->is_int) {
      node->is_float = true;
      node->float_value = static_cast<double>(node->int_value);
    } else if (node->is_uint) {
      node->is_float = true;
      node->float_value = static_cast<double>(node->uint_value);
    } else if (auto f = parse_float(text)) {
      if (text.find_first_of(".eEpP") == std::string::npos) fail("integer overflow: " + quote(text));
      node->is_float = true;
      node->float_value = *f;
      if (*f >= -9223372036854775808.0 && *f < 9223372036854775808.0 && std::trunc(*f) == *f) {
        node->is_int = true;
        node->int_value = static_cast<std::int64_t>(*f);
      }
      if (*f >= 0 && *f < 18446744073709551616.0 && std::trunc(*f) == *f) {
        node->is_uint = true;
        node->uint_value = static_cast<std::uint64_t>(*f);
      }
    }
    if (!node->is_int && !node->is_uint && !node->is_float) fail("illegal number syntax: " + quote(text));
    return node;
  }

  Template::Tree& tree_;
  std::vector<Item> items_;
  std::size_t cursor_ = 0;
  std::size_t furthest_ = 0;  // the last item read from the lexer; errors report its line
  Scope scope_;
};

}  // namespace

bool is_builtin_function(std::string_view name) {
  return std::find(kBuiltinFunctions.begin(), kBuiltinFunctions.end(), name) != kBuiltinFunctions.end();
}

void parse_into(Template::Tree& tree) { Parser(tree).parse(); }

}  // namespace berth::gotemplate
