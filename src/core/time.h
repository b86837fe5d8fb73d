// Wall-clock helpers. Stored times are Unix seconds (UTC).
#pragma once

#include <cstdint>
#include <string>

namespace berth::core {

std::int64_t unix_now();

// RFC 3339 in UTC with a Z suffix, such as 2026-12-04T20:52:45Z.
std::string format_rfc3339(std::int64_t unix_seconds);

}  // namespace berth::core
