// Validation shared by the /v2/ handlers; each check throws the spec's
// error with a message that names the bad value.
#pragma once

#include "core/digest.h"
#include "http/url.h"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace berth::api {

// Throws NAME_INVALID unless `name` is a valid repository name.
void require_valid_name(const std::string& name);

// Parses a digest from a URL or parameter; throws DIGEST_INVALID.
core::Digest require_digest(std::string_view text);

// The "n" parameter of a listing: nullopt when absent, else its value
// reduced to `maximum`. Throws UNSUPPORTED (400) when it is not a
// non-negative integer.
std::optional<std::size_t> page_size(const http::Query& query, std::size_t maximum);

// Relative URL of an upload session, used in Location headers.
std::string upload_location(const std::string& name, const std::string& id);

// Value of the Range header of upload responses: "0-<last byte>", no unit.
// An empty upload gives "0-0", as Docker's registry sends.
std::string upload_range(std::uint64_t received_bytes);

}  // namespace berth::api
