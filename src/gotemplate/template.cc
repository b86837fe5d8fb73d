#include "gotemplate/template.h"

#include "gotemplate/parser.h"

namespace berth::gotemplate {

Template Template::parse(std::string_view text, std::string name) {
  auto tree = std::make_shared<Tree>();
  tree->name = std::move(name);
  tree->text = std::string(text);
  parse_into(*tree);
  Template result;
  result.tree_ = std::move(tree);
  return result;
}

}  // namespace berth::gotemplate
