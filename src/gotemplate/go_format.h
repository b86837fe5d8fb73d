// Go's fmt.Sprint, fmt.Sprintln and fmt.Sprintf over template values, with
// fmt's %v rules, flags, widths and its %!verb(type=value) error forms.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "gotemplate/template.h"

namespace berth::gotemplate {

// An argument list; a Value of kind kNil is Go's nil interface value.
using FormatArgs = std::vector<const Value*>;

std::string go_sprint(const FormatArgs& args);
std::string go_sprintln(const FormatArgs& args);
std::string go_sprintf(std::string_view format, const FormatArgs& args);

}  // namespace berth::gotemplate
