// Token scopes of the Docker registry token specification:
//   repository:<name>:<action>[,<action>...]   registry:catalog:*
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::auth {

struct ResourceScope {
  std::string type;  // "repository" or "registry"
  std::string name;  // repository name, or "catalog"
  std::vector<std::string> actions;

  bool operator==(const ResourceScope&) const = default;
};

// Parses one resource scope. The actions start after the last ':' because
// a name may carry a host:port. Returns nullopt if the form is wrong; the
// name itself is not validated here.
std::optional<ResourceScope> parse_scope(std::string_view text);

// Parses scope parameters, each holding one or more scopes separated by
// spaces. Malformed scopes are skipped, as the token service ignores scopes
// it cannot grant.
std::vector<ResourceScope> parse_scopes(const std::vector<std::string>& values);

// "type:name:action,action".
std::string format_scope(const ResourceScope& scope);

}  // namespace berth::auth
