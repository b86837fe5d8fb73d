#include "auth/scope.h"

#include <algorithm>

namespace berth::auth {

namespace {

bool is_action(std::string_view action) {
  if (action == "*") return true;
  return !action.empty() &&
         std::all_of(action.begin(), action.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

bool is_resource_type(std::string_view type) {
  // [a-z0-9]+, optionally followed by "(" [a-z0-9]+ ")".
  auto word = [](std::string_view text) {
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
  };
  std::size_t open = type.find('(');
  if (open == std::string_view::npos) return word(type);
  return type.back() == ')' && word(type.substr(0, open)) && word(type.substr(open + 1, type.size() - open - 2));
}

}  // namespace

std::optional<ResourceScope> parse_scope(std::string_view text) {
  std::size_t first = text.find(':');
  std::size_t last = text.rfind(':');
  if (first == std::string_view::npos || first == last) return std::nullopt;

  ResourceScope scope{.type = std::string(text.substr(0, first)),
                      .name = std::string(text.substr(first + 1, last - first - 1))};
  if (!is_resource_type(scope.type) || scope.name.empty()) return std::nullopt;

  std::string_view actions = text.substr(last + 1);
  while (true) {
    std::size_t comma = actions.find(',');
    std::string_view action = actions.substr(0, comma);
    if (!is_action(action)) return std::nullopt;
    if (std::find(scope.actions.begin(), scope.actions.end(), action) == scope.actions.end()) {
      scope.actions.emplace_back(action);
    }
    if (comma == std::string_view::npos) break;
    actions.remove_prefix(comma + 1);
  }
  return scope;
}

std::vector<ResourceScope> parse_scopes(const std::vector<std::string>& values) {
  std::vector<ResourceScope> scopes;
  for (const auto& value : values) {
    std::string_view rest = value;
    while (!rest.empty()) {
      std::size_t space = rest.find(' ');
      std::string_view item = rest.substr(0, space);
      if (auto scope = parse_scope(item)) scopes.push_back(std::move(*scope));
      if (space == std::string_view::npos) break;
      rest.remove_prefix(space + 1);
    }
  }
  return scopes;
}

std::string format_scope(const ResourceScope& scope) {
  std::string text = scope.type + ":" + scope.name + ":";
  for (std::size_t i = 0; i < scope.actions.size(); ++i) {
    if (i > 0) text += ",";
    text += scope.actions[i];
  }
  return text;
}

}  // namespace berth::auth
