// The Range request header (RFC 9110 section 14), single ranges only.
#pragma once

#include <cstdint>
#include <string_view>

namespace berth::http {

struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
};

enum class RangeOutcome {
  kIgnore,         // no header, another unit, several ranges or bad syntax: send it all
  kSatisfiable,    // send `range` with 206
  kUnsatisfiable,  // send 416
};

// Parses `header` against a representation of `size` bytes.
RangeOutcome parse_range(std::string_view header, std::uint64_t size, ByteRange* range);

}  // namespace berth::http
