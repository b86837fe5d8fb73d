// Percent-encoding and query strings (RFC 3986).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::http {

// Decodes %XX escapes; with `plus_is_space`, '+' becomes ' ' as in HTML
// forms. Returns nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space = false);

// Encodes everything except the unreserved characters A-Z a-z 0-9 - . _ ~
// and, when `keep_slash`, '/'.
std::string percent_encode(std::string_view text, bool keep_slash = false);

// The decoded parameters of a query string, in order, repeats kept.
class Query {
 public:
  Query() = default;
  // Parses "a=1&b=2&a=3". A parameter without '=' gets an empty value;
  // parameters with malformed escapes are kept undecoded.
  explicit Query(std::string_view raw);

  // The first value of `name`, or nullopt.
  std::optional<std::string> get(std::string_view name) const;
  std::vector<std::string> get_all(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }

 private:
  std::vector<std::pair<std::string, std::string>> parameters_;
};

}  // namespace berth::http
