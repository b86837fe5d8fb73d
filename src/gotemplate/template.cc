// Placeholder until the engine lands: every parse fails.
#include "gotemplate/template.h"

namespace berth::gotemplate {

Template Template::parse(std::string_view, std::string name) {
  throw TemplateError("template: " + name + ": the template engine is not built yet");
}

std::string Template::execute(const Value&) const { return {}; }

}  // namespace berth::gotemplate
