#include "oci/name.h"

namespace berth::oci {

namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
std::optional<std::string> component_problem(std::string_view component) {
  if (component.empty()) return "it has an empty path component (two slashes in a row, or a leading or trailing slash)";

  std::size_t i = 0;
  while (i < component.size()) {
    if (!is_lower_alnum(component[i])) {
      char c = component[i];
      if (c >= 'A' && c <= 'Z') return "it contains the upper-case letter '" + std::string(1, c) + "'; names are lower case";
      if (c != '.' && c != '_' && c != '-') return "it contains the character '" + std::string(1, c) + "'";
      // A separator run: ".", "_", "__" or one or more "-", between alphanumerics.
      if (i == 0) return "path component \"" + std::string(component) + "\" starts with a separator";
      std::size_t run = i;
      while (run < component.size() && !is_lower_alnum(component[run])) ++run;
      std::string_view separator = component.substr(i, run - i);
      bool dashes = separator.find_first_not_of('-') == std::string_view::npos;
      if (!(separator == "." || separator == "_" || separator == "__" || dashes)) {
        return "path component \"" + std::string(component) + "\" has the separator \"" + std::string(separator) +
               "\"; only \".\", \"_\", \"__\" or dashes may separate letters and digits";
      }
      if (run == component.size()) return "path component \"" + std::string(component) + "\" ends with a separator";
      i = run;
      continue;
    }
    ++i;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> repository_name_problem(std::string_view name) {
  if (name.empty()) return "the repository name is empty";
  if (name.size() > kMaxRepositoryNameLength) {
    return "the repository name is " + std::to_string(name.size()) + " characters long; the maximum is " +
           std::to_string(kMaxRepositoryNameLength);
  }
  std::size_t start = 0;
  while (true) {
    std::size_t slash = name.find('/', start);
    std::string_view component = name.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (auto problem = component_problem(component)) return problem;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return std::nullopt;
}

std::optional<std::string> tag_problem(std::string_view tag) {
  if (tag.empty()) return "the tag is empty";
  if (tag.size() > kMaxTagLength) {
    return "the tag is " + std::to_string(tag.size()) + " characters long; the maximum is " + std::to_string(kMaxTagLength);
  }
  auto word = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; };
  if (!word(tag[0])) return "the tag starts with '" + std::string(1, tag[0]) + "'; it must start with a letter, digit or underscore";
  for (char c : tag.substr(1)) {
    if (!word(c) && c != '.' && c != '-') {
      return "the tag contains the character '" + std::string(1, c) + "'; allowed are letters, digits, '_', '.' and '-'";
    }
  }
  return std::nullopt;
}

}  // namespace berth::oci
