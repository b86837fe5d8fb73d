#include "lifecycle/quota.h"

#include "core/time.h"

namespace berth::lifecycle {

namespace {

constexpr Limits kLite{.storage_bytes = 512 * kMegabyte, .traffic_bytes = 5120 * kMegabyte};
constexpr Limits kStandard{};

int plan_rank(std::string_view plan) { return plan == "standard" ? 1 : 0; }

}  // namespace

std::optional<Limits> plan_limits(std::string_view plan) {
  if (plan == "lite") return kLite;
  if (plan == "standard") return kStandard;
  return std::nullopt;
}

Limits effective_limits(std::string_view plan, const metadata::QuotaSettings& custom) {
  // An account whose stored plan is unknown gets the smallest limits.
  Limits limits = plan_limits(plan).value_or(kLite);
  if (custom.storage_bytes) limits.storage_bytes = *custom.storage_bytes;
  if (custom.traffic_bytes) limits.traffic_bytes = *custom.traffic_bytes;
  return limits;
}

std::optional<std::string> quota_problem(std::string_view plan, std::string_view what, std::int64_t bytes) {
  if (bytes < kUnlimited) {
    return "The " + std::string(what) + " quota must be a number of megabytes of 0 or more, or -1 for unlimited.";
  }
  Limits limits = plan_limits(plan).value_or(kLite);
  std::int64_t ceiling = what == "storage" ? limits.storage_bytes : limits.traffic_bytes;
  if (ceiling == kUnlimited) return std::nullopt;
  std::string advice = " plan's limit of " + std::to_string(ceiling / kMegabyte) +
                       " MB. Set a lower quota, or upgrade the plan with 'berth plan-upgrade'.";
  if (bytes == kUnlimited) return "An unlimited " + std::string(what) + " quota is above the " + std::string(plan) + advice;
  if (bytes > ceiling) {
    return "The " + std::string(what) + " quota of " + std::to_string(bytes / kMegabyte) + " MB is above the " +
           std::string(plan) + advice;
  }
  return std::nullopt;
}

bool is_upgrade_or_same(std::string_view from, std::string_view to) { return plan_rank(to) >= plan_rank(from); }

bool limit_reached(std::int64_t limit, std::uint64_t used) {
  return limit != kUnlimited && used >= static_cast<std::uint64_t>(limit < 0 ? 0 : limit);
}

std::string usage_month(std::int64_t unix_time) { return core::format_utc(unix_time, "%Y-%m"); }

}  // namespace berth::lifecycle
