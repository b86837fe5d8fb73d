// Plans and quotas: the limits of each plan, the limits that apply to an
// account, and the checks that a push or pull makes before it starts.
#pragma once

#include "metadata/metadata_store.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace berth::lifecycle {

inline constexpr std::int64_t kMegabyte = 1048576;
inline constexpr std::int64_t kUnlimited = -1;

// Limits in bytes; kUnlimited where there is none.
struct Limits {
  std::int64_t storage_bytes = kUnlimited;
  std::int64_t traffic_bytes = kUnlimited;

  bool operator==(const Limits&) const = default;
};

// The limits of a plan ("lite" or "standard"); nullopt for another name.
std::optional<Limits> plan_limits(std::string_view plan);

// The limits that apply to an account: its custom quotas where set, else
// its plan's.
Limits effective_limits(std::string_view plan, const metadata::QuotaSettings& custom);

// Why a custom quota of `bytes` (kUnlimited allowed) cannot be set on
// `plan`, or nullopt if it can. `what` is "storage" or "traffic".
std::optional<std::string> quota_problem(std::string_view plan, std::string_view what, std::int64_t bytes);

// True if moving from plan `from` to plan `to` is an upgrade or no change.
bool is_upgrade_or_same(std::string_view from, std::string_view to);

// True once `used` has reached `limit`.
bool limit_reached(std::int64_t limit, std::uint64_t used);

// The calendar month of a Unix time in UTC, as "YYYY-MM": the period of
// pull traffic.
std::string usage_month(std::int64_t unix_time);

inline constexpr std::string_view kStorageQuotaExceeded =
    "Your account has exceeded its image storage quota for the current month.";
inline constexpr std::string_view kTrafficQuotaExceeded =
    "Your account has exceeded its pull traffic quota for the current month.";

}  // namespace berth::lifecycle
