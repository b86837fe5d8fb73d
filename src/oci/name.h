// Repository name and tag grammar of the OCI distribution spec.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace berth::oci {

// Maximum repository name length, in bytes. Clients limit "host/name" to
// 255 characters, and the name alone may use all 255.
inline constexpr std::size_t kMaxRepositoryNameLength = 255;
inline constexpr std::size_t kMaxTagLength = 128;

// Returns nullopt if `name` is a valid repository name, else the reason
// it is not (for the error message). The grammar is path components of
// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* joined by "/".
std::optional<std::string> repository_name_problem(std::string_view name);

// Returns nullopt if `tag` matches [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}, else the reason.
std::optional<std::string> tag_problem(std::string_view tag);

inline bool is_valid_repository_name(std::string_view name) { return !repository_name_problem(name); }
inline bool is_valid_tag(std::string_view tag) { return !tag_problem(tag); }

}  // namespace berth::oci
