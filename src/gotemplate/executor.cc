// Execution of a parsed template, following Go 1.19's text/template/exec.go:
// the same evaluation order, the same node blamed in errors, and the same
// handling of missing and nil values.
#include <algorithm>
#include <optional>

#include "gotemplate/builtins.h"
#include "gotemplate/go_format.h"
#include "gotemplate/go_strconv.h"
#include "gotemplate/parser.h"

namespace berth::gotemplate {

namespace {

// Go's maxExecDepth is 100000; a C++ stack runs out long before that.
// NOTE: deep {{template}} recursion therefore fails sooner than in Go.
constexpr int kMaxTemplateDepth = 1000;

// The end of a walk: normal, or at {{break}} or {{continue}}.
enum class Flow { kNormal, kBreak, kContinue };

struct Variable {
  std::string name;
  Ref value;
};

class Executor {
 public:
  Executor(const Template::Tree& tree, std::string template_name)
      : tree_(tree), template_name_(std::move(template_name)) {}

  std::string run(const Value& data) {
    Ref dot;
    if (data.kind() != Value::Kind::kNil) dot = Ref{&data, nullptr, false};
    variables_.push_back({"$", dot});
    auto root = tree_.templates.find(template_name_);
    if (root == tree_.templates.end()) fail(quote(template_name_) + " is an incomplete or empty template");
    walk(dot, *root->second);
    return std::move(out_);
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    if (node_ == nullptr) throw TemplateError("template: " + template_name_ + ": " + message);
    std::string_view before = std::string_view(tree_.text).substr(0, node_->pos);
    std::size_t newline = before.rfind('\n');
    std::size_t column = newline == std::string_view::npos ? node_->pos : node_->pos - newline - 1;
    auto line = 1 + std::count(before.begin(), before.end(), '\n');
    throw TemplateError("template: " + tree_.name + ":" + std::to_string(line) + ":" + std::to_string(column) +
                        ": executing " + quote(template_name_) + " at <" + node_->to_string() + ">: " + message);
  }

  void at(const Node& node) { node_ = &node; }

  Flow walk(const Ref& dot, const Node& node) {
    at(node);
    switch (node.type) {
      case NodeType::kAction: {
        const auto& action = static_cast<const ActionNode&>(node);
        Ref value = eval_pipeline(dot, action.pipe.get());
        if (action.pipe->decl.empty()) print_value(node, value);
        return Flow::kNormal;
      }
      case NodeType::kBreak: return Flow::kBreak;
      case NodeType::kContinue: return Flow::kContinue;
      case NodeType::kComment: return Flow::kNormal;
      case NodeType::kIf:
      case NodeType::kWith: return walk_if_or_with(dot, static_cast<const BranchNode&>(node));
      case NodeType::kList:
        for (const auto& child : static_cast<const ListNode&>(node).nodes) {
          Flow flow = walk(dot, *child);
          if (flow != Flow::kNormal) return flow;
        }
        return Flow::kNormal;
      case NodeType::kRange: return walk_range(dot, static_cast<const BranchNode&>(node));
      case NodeType::kTemplate: walk_template(dot, static_cast<const TemplateNode&>(node)); return Flow::kNormal;
      case NodeType::kText: out_ += static_cast<const TextNode&>(node).text; return Flow::kNormal;
      default: fail("unknown node: " + node.to_string());
    }
  }

  Flow walk_if_or_with(const Ref& dot, const BranchNode& branch) {
    std::size_t mark = variables_.size();
    Ref value = eval_pipeline(dot, branch.pipe.get());
    Flow flow = Flow::kNormal;
    if (is_true(value)) {
      flow = walk(branch.type == NodeType::kWith ? value : dot, *branch.list);
    } else if (branch.else_list) {
      flow = walk(dot, *branch.else_list);
    }
    variables_.resize(mark);
    return flow;
  }

  Flow walk_range(const Ref& dot, const BranchNode& range) {
    at(range);
    std::size_t outer_mark = variables_.size();
    Ref value = eval_pipeline(dot, range.pipe.get());
    std::size_t mark = variables_.size();
    std::size_t declared = range.pipe->decl.size();

    // Runs the body once; returns false when {{break}} ends the loop.
    auto iterate = [&](const Ref& index, const Ref& element) {
      if (declared > 0) variables_[variables_.size() - 1].value = element;
      if (declared > 1) variables_[variables_.size() - 2].value = index;
      Flow flow = walk(element, *range.list);
      variables_.resize(mark);
      return flow != Flow::kBreak;
    };

    bool iterated = false;
    if (value.valid()) {
      const Value& container = *value.value;
      switch (container.kind()) {
        case Value::Kind::kList: {
          bool boxed = holds_interfaces(container);
          for (std::size_t i = 0; i < container.items().size(); ++i) {
            iterated = true;
            Ref index = make_ref(Value::integer(static_cast<std::int64_t>(i)));
            if (!iterate(index, child_ref(value, container.items()[i], boxed))) break;
          }
          break;
        }
        case Value::Kind::kMap: {
          bool boxed = holds_interfaces(container);
          for (const auto& [key, element] : container.fields()) {
            iterated = true;
            if (!iterate(make_ref(Value::string(key)), child_ref(value, element, boxed))) break;
          }
          break;
        }
        default: fail("range can't iterate over " + go_sprint({value.value}));
      }
    }

    Flow flow = Flow::kNormal;
    if (!iterated && range.else_list) {
      flow = walk(dot, *range.else_list);
      // Go's range recovers a {{break}} from anywhere inside it, the else
      // part included; a {{continue}} there reaches the enclosing range.
      if (flow == Flow::kBreak) flow = Flow::kNormal;
    }
    variables_.resize(outer_mark);
    return flow;
  }

  void walk_template(const Ref& dot, const TemplateNode& node) {
    at(node);
    auto found = tree_.templates.find(node.name);
    if (found == tree_.templates.end()) fail("template " + quote(node.name) + " not defined");
    if (depth_ == kMaxTemplateDepth)
      fail("exceeded maximum template depth (" + std::to_string(kMaxTemplateDepth) + ")");
    // Variables that the pipeline declares stay in the caller's scope.
    Ref new_dot = eval_pipeline(dot, node.pipe.get());

    // The called template gets no variables but $, bound to its dot.
    std::vector<Variable> saved_variables = std::exchange(variables_, {Variable{"$", new_dot}});
    std::string saved_name = std::exchange(template_name_, node.name);
    const Node* saved_node = node_;
    ++depth_;
    walk(new_dot, *found->second);
    --depth_;
    node_ = saved_node;
    template_name_ = std::move(saved_name);
    variables_ = std::move(saved_variables);
  }

  void print_value(const Node& node, const Ref& value) {
    at(node);
    if (!value.valid()) {
      out_ += "<no value>";
      return;
    }
    out_ += go_sprint({value.value});
  }

  Ref eval_pipeline(const Ref& dot, const PipeNode* pipe) {
    if (pipe == nullptr) return {};
    at(*pipe);
    std::optional<Ref> value;
    for (const auto& command : pipe->cmds) {
      // The previous command's result is the next one's final argument; an
      // interface{} result gives way to the value inside it.
      value = unbox(eval_command(dot, *command, value));
    }
    for (const auto& variable : pipe->decl) {
      if (pipe->is_assign) {
        set_variable(variable->idents[0], *value);
      } else {
        variables_.push_back({variable->idents[0], *value});
      }
    }
    return *value;
  }

  void set_variable(const std::string& name, const Ref& value) {
    for (auto it = variables_.rbegin(); it != variables_.rend(); ++it) {
      if (it->name == name) {
        it->value = value;
        return;
      }
    }
    fail("undefined variable: " + name);
  }

  Ref variable_value(const std::string& name) {
    for (auto it = variables_.rbegin(); it != variables_.rend(); ++it) {
      if (it->name == name) return it->value;
    }
    fail("undefined variable: " + name);
  }

  void not_a_function(const std::vector<NodePtr>& args, const std::optional<Ref>& final) {
    if (args.size() > 1 || final) fail("can't give argument to non-function " + args[0]->to_string());
  }

  Ref eval_command(const Ref& dot, const CommandNode& command, const std::optional<Ref>& final) {
    const Node& first = *command.args[0];
    switch (first.type) {
      case NodeType::kField: return eval_field_node(dot, static_cast<const FieldNode&>(first), &command.args, final);
      case NodeType::kChain: return eval_chain_node(dot, static_cast<const ChainNode&>(first), &command.args, final);
      case NodeType::kIdentifier:
        return eval_function(dot, static_cast<const IdentifierNode&>(first), command, &command.args, final);
      case NodeType::kPipe:
        not_a_function(command.args, final);
        return eval_pipeline(dot, static_cast<const PipeNode*>(&first));
      case NodeType::kVariable:
        return eval_variable_node(static_cast<const VariableNode&>(first), &command.args, final);
      default: break;
    }
    at(first);
    not_a_function(command.args, final);
    switch (first.type) {
      case NodeType::kBool: return make_ref(Value::boolean(static_cast<const BoolNode&>(first).value));
      case NodeType::kDot: return dot;
      case NodeType::kNil: fail("nil is not a command");
      case NodeType::kNumber: return ideal_constant(static_cast<const NumberNode&>(first));
      case NodeType::kString: return make_ref(Value::string(static_cast<const StringNode&>(first).text));
      default: fail("can't evaluate command " + quote(first.to_string()));
    }
  }

  // A number whose type the context does not fix: float64 when written
  // with a point or an exponent, int otherwise.
  Ref ideal_constant(const NumberNode& number) {
    at(number);
    const std::string& text = number.text;
    bool hex_int = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X') &&
                   text.find_first_of("pP") == std::string::npos;
    bool rune = !text.empty() && text[0] == '\'';
    if (number.is_float && !hex_int && !rune && text.find_first_of(".eEpP") != std::string::npos) {
      return make_ref(Value::floating(number.float_value));
    }
    if (number.is_int) return make_ref(Value::integer(number.int_value));
    if (number.is_uint) fail(text + " overflows int");
    return {};
  }

  Ref eval_field_node(const Ref& dot, const FieldNode& field, const std::vector<NodePtr>* args,
                      const std::optional<Ref>& final) {
    at(field);
    return eval_field_chain(dot, field.idents, 0, args, final);
  }

  Ref eval_chain_node(const Ref& dot, const ChainNode& chain, const std::vector<NodePtr>* args,
                      const std::optional<Ref>& final) {
    at(chain);
    if (chain.node->type == NodeType::kNil) fail("indirection through explicit nil in " + chain.to_string());
    Ref receiver = eval_arg(dot, std::nullopt, *chain.node);
    return eval_field_chain(receiver, chain.fields, 0, args, final);
  }

  Ref eval_variable_node(const VariableNode& variable, const std::vector<NodePtr>* args,
                         const std::optional<Ref>& final) {
    at(variable);
    Ref value = variable_value(variable.idents[0]);
    if (variable.idents.size() == 1) {
      if (args != nullptr) not_a_function(*args, final);
      return value;
    }
    return eval_field_chain(value, variable.idents, 1, args, final);
  }

  // Walks .X.Y.Z from `receiver`, starting at idents[first].
  Ref eval_field_chain(Ref receiver, const std::vector<std::string>& idents, std::size_t first,
                       const std::vector<NodePtr>* args, const std::optional<Ref>& final) {
    for (std::size_t i = first; i + 1 < idents.size(); ++i) {
      receiver = eval_field(idents[i], nullptr, std::nullopt, receiver);
    }
    return eval_field(idents.back(), args, final, receiver);
  }

  Ref eval_field(const std::string& name, const std::vector<NodePtr>* args, const std::optional<Ref>& final,
                 const Ref& receiver) {
    if (!receiver.valid()) return {};  // missing values stay missing
    std::string type = receiver.static_type();
    if (receiver.is_nil()) fail("nil pointer evaluating " + type + "." + name);
    bool has_args = (args != nullptr && args->size() > 1) || final.has_value();
    const Value& value = *receiver.value;
    if (value.kind() == Value::Kind::kStruct) {
      if (const Value* field = value.find(name)) {
        // Go cannot read a struct field whose name starts in lower case.
        std::size_t width = 0;
        if (!is_upper_case(decode_rune(name, 0, width))) fail(name + " is an unexported field of struct type " + type);
        if (has_args) fail(name + " has arguments but cannot be invoked as function");
        return child_ref(receiver, *field, false);
      }
    } else if (value.kind() == Value::Kind::kMap) {
      if (has_args) fail(name + " is not a method but has arguments");
      if (const Value* entry = value.find(name)) return child_ref(receiver, *entry, holds_interfaces(value));
      return {};  // a missing key prints as <no value>
    }
    fail("can't evaluate field " + name + " in type " + type);
  }

  static bool is_upper_case(char32_t rune) {
    if (rune < 0x80) return rune >= 'A' && rune <= 'Z';
    return is_letter(rune);  // NOTE: approximates unicode.IsUpper outside ASCII
  }

  Ref eval_function(const Ref& dot, const IdentifierNode& identifier, const Node& command,
                    const std::vector<NodePtr>* args, const std::optional<Ref>& final) {
    at(identifier);
    return eval_call(dot, identifier.name, command, args, final);
  }

  // Calls builtin `name`. `args` contains the command's words, the
  // function's own name first, or is null when the function is an argument.
  Ref eval_call(const Ref& dot, const std::string& name, const Node& node, const std::vector<NodePtr>* args,
                const std::optional<Ref>& final) {
    std::vector<const Node*> operands;
    if (args != nullptr) {
      for (std::size_t i = 1; i < args->size(); ++i) operands.push_back((*args)[i].get());
    }
    const Signature& signature = builtin_signature(name);
    std::size_t count = operands.size() + (final ? 1 : 0);
    std::size_t fixed = signature.fixed.size();
    if (signature.variadic) {
      if (count < fixed) {
        fail("wrong number of args for " + name + ": want at least " + std::to_string(fixed) + " got " +
             std::to_string(operands.size()));
      }
    } else if (count != fixed) {
      fail("wrong number of args for " + name + ": want " + std::to_string(fixed) + " got " + std::to_string(count));
    }

    if (name == "and" || name == "or") {
      // and and or evaluate their arguments only as far as needed.
      Ref value;
      for (const Node* operand : operands) {
        value = eval_arg(dot, ParamKind::kReflectValue, *operand);
        if (is_true(value) == (name == "or")) return value;
      }
      if (final) value = validate(*final, ParamKind::kReflectValue);
      return value;
    }

    auto param = [&](std::size_t i) { return i < fixed ? signature.fixed[i] : *signature.variadic; };
    std::vector<Ref> values;
    for (std::size_t i = 0; i < operands.size(); ++i) values.push_back(eval_arg(dot, param(i), *operands[i]));
    if (final) values.push_back(validate(*final, param(values.size())));

    std::string error;
    Ref result = call_builtin(name, values, error);
    if (!error.empty()) {
      at(node);
      fail("error calling " + name + ": " + error);
    }
    return result;
  }

  // Checks that `value` suits a parameter of kind `param` (none: any).
  Ref validate(const Ref& value, std::optional<ParamKind> param) {
    if (!value.valid()) {
      if (!param || *param == ParamKind::kReflectValue) return {};
      if (*param == ParamKind::kInterface) return make_ref(Value());
      fail("invalid value; expected string");
    }
    if (param == ParamKind::kString) {
      Ref inner = unbox(value);
      if (inner.valid() && inner.value->kind() == Value::Kind::kString && inner.value->type_name() == "string") {
        return inner;
      }
      fail("wrong type for value; expected string; got " + (inner.valid() ? inner.value->type_name() : "interface {}"));
    }
    return value;
  }

  Ref eval_arg(const Ref& dot, std::optional<ParamKind> param, const Node& node) {
    at(node);
    switch (node.type) {
      case NodeType::kDot: return validate(dot, param);
      case NodeType::kNil:
        if (param == ParamKind::kInterface) return make_ref(Value());
        if (param == ParamKind::kReflectValue) return {};
        fail("cannot assign nil to string");
      case NodeType::kField:
        return validate(eval_field_node(dot, static_cast<const FieldNode&>(node), nullptr, std::nullopt), param);
      case NodeType::kVariable:
        return validate(eval_variable_node(static_cast<const VariableNode&>(node), nullptr, std::nullopt), param);
      case NodeType::kPipe: return validate(eval_pipeline(dot, static_cast<const PipeNode*>(&node)), param);
      case NodeType::kIdentifier: {
        const auto& identifier = static_cast<const IdentifierNode&>(node);
        return validate(eval_function(dot, identifier, identifier, nullptr, std::nullopt), param);
      }
      case NodeType::kChain:
        return validate(eval_chain_node(dot, static_cast<const ChainNode&>(node), nullptr, std::nullopt), param);
      default: break;
    }
    if (param == ParamKind::kString) {
      if (node.type == NodeType::kString) return make_ref(Value::string(static_cast<const StringNode&>(node).text));
      fail("expected string; found " + node.to_string());
    }
    // An interface{} or reflect.Value parameter takes any constant.
    switch (node.type) {
      case NodeType::kBool: return make_ref(Value::boolean(static_cast<const BoolNode&>(node).value));
      case NodeType::kNumber: return ideal_constant(static_cast<const NumberNode&>(node));
      case NodeType::kString: return make_ref(Value::string(static_cast<const StringNode&>(node).text));
      default: fail("can't handle assignment of " + node.to_string() + " to empty interface argument");
    }
  }

  const Template::Tree& tree_;
  std::string template_name_;  // the template being executed
  std::vector<Variable> variables_;
  std::string out_;
  const Node* node_ = nullptr;  // the node that errors blame
  int depth_ = 0;
};

}  // namespace

std::string Template::execute(const Value& data) const {
  if (!tree_) throw TemplateError("template: the template was not parsed");
  return Executor(*tree_, tree_->name).run(data);
}

}  // namespace berth::gotemplate
