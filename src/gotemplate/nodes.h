// The parse tree of a template, with the node types of Go's
// text/template/parse. to_string() prints a node as Go's String() does,
// because execution errors quote it (`at <.Foo>`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace berth::gotemplate {

enum class NodeType {
  kText,
  kAction,
  kBool,
  kChain,
  kCommand,
  kDot,
  kField,
  kIdentifier,
  kIf,
  kList,
  kNil,
  kNumber,
  kPipe,
  kRange,
  kString,
  kTemplate,
  kVariable,
  kWith,
  kComment,
  kBreak,
  kContinue,
  kEnd,   // {{end}}; only seen while parsing
  kElse,  // {{else}}; only seen while parsing
};

struct Node {
  Node(NodeType node_type, std::size_t position) : type(node_type), pos(position) {}
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  virtual void write(std::string& out) const = 0;
  std::string to_string() const {
    std::string out;
    write(out);
    return out;
  }

  NodeType type;
  std::size_t pos;  // byte offset in the template text
};

using NodePtr = std::unique_ptr<Node>;

struct ListNode : Node {
  explicit ListNode(std::size_t p) : Node(NodeType::kList, p) {}
  void write(std::string& out) const override;
  std::vector<NodePtr> nodes;
};

struct TextNode : Node {
  TextNode(std::size_t p, std::string t) : Node(NodeType::kText, p), text(std::move(t)) {}
  void write(std::string& out) const override { out += text; }
  std::string text;
};

struct CommentNode : Node {
  CommentNode(std::size_t p, std::string t) : Node(NodeType::kComment, p), text(std::move(t)) {}
  void write(std::string& out) const override { out += "{{" + text + "}}"; }
  std::string text;
};

// $x, or $x.Field.Field. idents[0] is the variable's name with its '$'.
struct VariableNode : Node {
  VariableNode(std::size_t p, std::vector<std::string> names)
      : Node(NodeType::kVariable, p), idents(std::move(names)) {}
  void write(std::string& out) const override;
  std::vector<std::string> idents;
};

struct CommandNode;

struct PipeNode : Node {
  PipeNode(std::size_t p, int l) : Node(NodeType::kPipe, p), line(l) {}
  void write(std::string& out) const override;
  int line;
  bool is_assign = false;  // `$x = ...` rather than `$x := ...`
  std::vector<std::unique_ptr<VariableNode>> decl;
  std::vector<std::unique_ptr<CommandNode>> cmds;
};

struct ActionNode : Node {
  ActionNode(std::size_t p, std::unique_ptr<PipeNode> pp) : Node(NodeType::kAction, p), pipe(std::move(pp)) {}
  void write(std::string& out) const override;
  std::unique_ptr<PipeNode> pipe;
};

struct CommandNode : Node {
  explicit CommandNode(std::size_t p) : Node(NodeType::kCommand, p) {}
  void write(std::string& out) const override;
  std::vector<NodePtr> args;
};

struct IdentifierNode : Node {
  IdentifierNode(std::size_t p, std::string n) : Node(NodeType::kIdentifier, p), name(std::move(n)) {}
  void write(std::string& out) const override { out += name; }
  std::string name;
};

struct DotNode : Node {
  explicit DotNode(std::size_t p) : Node(NodeType::kDot, p) {}
  void write(std::string& out) const override { out += '.'; }
};

struct NilNode : Node {
  explicit NilNode(std::size_t p) : Node(NodeType::kNil, p) {}
  void write(std::string& out) const override { out += "nil"; }
};

// .A.B.C, with the names in idents and without their dots.
struct FieldNode : Node {
  FieldNode(std::size_t p, std::vector<std::string> names) : Node(NodeType::kField, p), idents(std::move(names)) {}
  void write(std::string& out) const override;
  std::vector<std::string> idents;
};

// (pipeline).A.B: field access on the result of a term.
struct ChainNode : Node {
  ChainNode(std::size_t p, NodePtr n) : Node(NodeType::kChain, p), node(std::move(n)) {}
  void write(std::string& out) const override;
  NodePtr node;
  std::vector<std::string> fields;
};

struct BoolNode : Node {
  BoolNode(std::size_t p, bool v) : Node(NodeType::kBool, p), value(v) {}
  void write(std::string& out) const override { out += value ? "true" : "false"; }
  bool value;
};

struct NumberNode : Node {
  NumberNode(std::size_t p, std::string t) : Node(NodeType::kNumber, p), text(std::move(t)) {}
  void write(std::string& out) const override { out += text; }
  bool is_int = false;    // fits an int64
  bool is_uint = false;   // fits a uint64
  bool is_float = false;  // has a float64 value
  std::int64_t int_value = 0;
  std::uint64_t uint_value = 0;
  double float_value = 0;
  std::string text;  // as written
};

struct StringNode : Node {
  StringNode(std::size_t p, std::string q, std::string t)
      : Node(NodeType::kString, p), quoted(std::move(q)), text(std::move(t)) {}
  void write(std::string& out) const override { out += quoted; }
  std::string quoted;  // as written, with quotes
  std::string text;    // the value
};

// if, range and with share one shape.
struct BranchNode : Node {
  BranchNode(NodeType t, std::size_t p, int l) : Node(t, p), line(l) {}
  void write(std::string& out) const override;
  int line;
  std::unique_ptr<PipeNode> pipe;
  std::unique_ptr<ListNode> list;
  std::unique_ptr<ListNode> else_list;  // may be null
};

struct TemplateNode : Node {
  TemplateNode(std::size_t p, int l, std::string n) : Node(NodeType::kTemplate, p), line(l), name(std::move(n)) {}
  void write(std::string& out) const override;
  int line;
  std::string name;
  std::unique_ptr<PipeNode> pipe;  // may be null
};

struct LeafNode : Node {
  LeafNode(NodeType t, std::size_t p) : Node(t, p) {}
  void write(std::string& out) const override;
};

}  // namespace berth::gotemplate
