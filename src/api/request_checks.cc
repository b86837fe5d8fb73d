#include "api/request_checks.h"

#include "core/error.h"
#include "oci/name.h"

#include <charconv>

namespace berth::api {

using core::Error;
using core::ErrorCode;

void require_valid_name(const std::string& name) {
  if (auto problem = oci::repository_name_problem(name)) {
    throw Error(ErrorCode::kNameInvalid, "invalid repository name \"" + name + "\": " + *problem, {{"name", name}});
  }
}

core::Digest require_digest(std::string_view text) {
  std::string problem;
  auto digest = core::Digest::parse(text, &problem);
  if (!digest) throw Error(ErrorCode::kDigestInvalid, problem, {{"digest", std::string(text)}});
  return *digest;
}

std::optional<std::size_t> page_size(const http::Query& query, std::size_t maximum) {
  auto text = query.get("n");
  if (!text) return std::nullopt;
  std::size_t value = 0;
  auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (text->empty() || end != text->data() + text->size() || error == std::errc::invalid_argument) {
    throw Error(ErrorCode::kUnsupported, "the page size n=\"" + *text + "\" is not a non-negative integer",
                {{"n", *text}})
        .with_status(400);
  }
  // Out of range means larger than size_t: clamp like any large value.
  if (error == std::errc::result_out_of_range || value > maximum) return maximum;
  return value;
}

std::string upload_location(const std::string& name, const std::string& id) {
  return "/v2/" + name + "/blobs/uploads/" + id;
}

std::string upload_range(std::uint64_t received_bytes) {
  return "0-" + std::to_string(received_bytes == 0 ? 0 : received_bytes - 1);
}

}  // namespace berth::api
