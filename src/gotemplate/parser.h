// Parsing of template text into trees, as Go 1.19's text/template/parse
// does it, with the same error messages.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "gotemplate/nodes.h"
#include "gotemplate/template.h"

namespace berth::gotemplate {

// The result of Template::parse: the main template and every template that
// {{define}} or {{block}} declared, sharing one text.
struct Template::Tree {
  std::string name;  // the main template's name; also the name in positions
  std::string text;  // the parsed text, for line and column numbers
  std::map<std::string, std::unique_ptr<ListNode>, std::less<>> templates;
};

// Whether `name` is a function that templates may call.
bool is_builtin_function(std::string_view name);

// Parses `text` into `tree` (whose name and text are set). Throws
// TemplateError with Go's message when the text does not parse.
void parse_into(Template::Tree& tree);

}  // namespace berth::gotemplate
