#include "gotemplate/nodes.h"

#include "gotemplate/go_strconv.h"

namespace berth::gotemplate {

void ListNode::write(std::string& out) const {
  for (const auto& node : nodes) node->write(out);
}

void VariableNode::write(std::string& out) const {
  for (std::size_t i = 0; i < idents.size(); ++i) {
    if (i > 0) out += '.';
    out += idents[i];
  }
}

void PipeNode::write(std::string& out) const {
  if (!decl.empty()) {
    for (std::size_t i = 0; i < decl.size(); ++i) {
      if (i > 0) out += ", ";
      decl[i]->write(out);
    }
    out += " := ";
  }
  for (std::size_t i = 0; i < cmds.size(); ++i) {
    if (i > 0) out += " | ";
    cmds[i]->write(out);
  }
}

void ActionNode::write(std::string& out) const {
  out += "{{";
  pipe->write(out);
  out += "}}";
}

void CommandNode::write(std::string& out) const {
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (i > 0) out += ' ';
    if (args[i]->type == NodeType::kPipe) {
      out += '(';
      args[i]->write(out);
      out += ')';
    } else {
      args[i]->write(out);
    }
  }
}

void FieldNode::write(std::string& out) const {
  for (const auto& ident : idents) {
    out += '.';
    out += ident;
  }
}

void ChainNode::write(std::string& out) const {
  if (node->type == NodeType::kPipe) {
    out += '(';
    node->write(out);
    out += ')';
  } else {
    node->write(out);
  }
  for (const auto& field : fields) {
    out += '.';
    out += field;
  }
}

void BranchNode::write(std::string& out) const {
  out += "{{";
  if (type == NodeType::kIf) {
    out += "if";
  } else if (type == NodeType::kRange) {
    out += "range";
  } else {
    out += "with";
  }
  out += ' ';
  pipe->write(out);
  out += "}}";
  list->write(out);
  if (else_list) {
    out += "{{else}}";
    else_list->write(out);
  }
  out += "{{end}}";
}

void TemplateNode::write(std::string& out) const {
  out += "{{template " + quote(name);
  if (pipe) {
    out += ' ';
    pipe->write(out);
  }
  out += "}}";
}

void LeafNode::write(std::string& out) const {
  switch (type) {
    case NodeType::kBreak: out += "{{break}}"; break;
    case NodeType::kContinue: out += "{{continue}}"; break;
    case NodeType::kEnd: out += "{{end}}"; break;
    case NodeType::kElse: out += "{{else}}"; break;
    default: break;
  }
}

}  // namespace berth::gotemplate
