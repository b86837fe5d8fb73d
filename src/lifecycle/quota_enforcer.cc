#include "lifecycle/quota_enforcer.h"

#include "core/error.h"
#include "core/time.h"

#include <spdlog/spdlog.h>

namespace berth::lifecycle {

std::optional<AccountQuotaState> QuotaEnforcer::state(const std::string& account_id) {
  auto account = metadata_.find_account(account_id);
  if (!account) return std::nullopt;
  return AccountQuotaState{.account_id = account_id,
                           .plan = account->plan,
                           .limits = effective_limits(account->plan, metadata_.account_quota(account_id)),
                           .usage = metadata_.account_usage(account_id, usage_month(core::unix_now()))};
}

void QuotaEnforcer::require_storage_room(const std::string& repository) {
  auto account = metadata_.repository_account(repository);
  if (!account) return;
  auto current = state(*account);
  if (!current || !limit_reached(current->limits.storage_bytes, current->usage.storage_bytes)) return;
  spdlog::info("storage_quota_reached account={} repository={} used={} limit={}", *account, repository,
               current->usage.storage_bytes, current->limits.storage_bytes);
  throw core::Error(core::ErrorCode::kDenied, std::string(kStorageQuotaExceeded));
}

void QuotaEnforcer::require_traffic_room(const std::string& repository) {
  auto account = metadata_.repository_account(repository);
  if (!account) return;
  auto current = state(*account);
  if (!current || !limit_reached(current->limits.traffic_bytes, current->usage.traffic_bytes)) return;
  spdlog::info("traffic_quota_reached account={} repository={} used={} limit={}", *account, repository,
               current->usage.traffic_bytes, current->limits.traffic_bytes);
  throw core::Error(core::ErrorCode::kDenied, std::string(kTrafficQuotaExceeded));
}

void QuotaEnforcer::record_pull(const std::string& repository, std::uint64_t bytes) {
  if (bytes == 0) return;
  auto account = metadata_.repository_account(repository);
  if (!account) return;
  metadata_.add_pull_traffic(*account, usage_month(core::unix_now()), bytes);
}

}  // namespace berth::lifecycle
