// Wall-clock helpers. Stored times are Unix seconds (UTC).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace berth::core {

std::int64_t unix_now();

// RFC 3339 in UTC with a Z suffix, such as 2026-12-04T20:52:45Z.
std::string format_rfc3339(std::int64_t unix_seconds);
// Formats a Unix time in UTC with a strftime(3) format of at most 63
// characters of output.
std::string format_utc(std::int64_t unix_seconds, const char* format);

// Parses an RFC 3339 date-time such as 2023-06-10T00:00:00Z or
// 2023-06-10T02:00:00.123456789+02:00 into Unix seconds; the fraction is
// dropped. Returns nullopt for any other text.
std::optional<std::int64_t> parse_rfc3339(std::string_view text);

}  // namespace berth::core
