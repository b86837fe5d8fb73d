#include "http/range.h"

#include <charconv>
#include <optional>

namespace berth::http {

namespace {

std::optional<std::uint64_t> parse_number(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

RangeOutcome parse_range(std::string_view header, std::uint64_t size, ByteRange* range) {
  constexpr std::string_view kUnit = "bytes=";
  if (!header.starts_with(kUnit)) return RangeOutcome::kIgnore;
  std::string_view spec = header.substr(kUnit.size());
  if (spec.find(',') != std::string_view::npos) return RangeOutcome::kIgnore;
  auto dash = spec.find('-');
  if (dash == std::string_view::npos) return RangeOutcome::kIgnore;

  std::string_view first_text = spec.substr(0, dash);
  std::string_view last_text = spec.substr(dash + 1);

  if (first_text.empty()) {
    // Suffix range "-N": the last N bytes.
    auto suffix = parse_number(last_text);
    if (!suffix) return RangeOutcome::kIgnore;
    if (*suffix == 0 || size == 0) return RangeOutcome::kUnsatisfiable;
    range->first = *suffix >= size ? 0 : size - *suffix;
    range->last = size - 1;
    return RangeOutcome::kSatisfiable;
  }

  auto first = parse_number(first_text);
  if (!first) return RangeOutcome::kIgnore;
  std::uint64_t last = UINT64_MAX;
  if (!last_text.empty()) {
    auto parsed = parse_number(last_text);
    if (!parsed || *parsed < *first) return RangeOutcome::kIgnore;
    last = *parsed;
  }
  if (*first >= size) return RangeOutcome::kUnsatisfiable;
  range->first = *first;
  range->last = last >= size ? size - 1 : last;
  return RangeOutcome::kSatisfiable;
}

}  // namespace berth::http
