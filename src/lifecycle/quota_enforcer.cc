#include "lifecycle/quota_enforcer.h"

#include "core/error.h"
#include "core/time.h"

#include <spdlog/spdlog.h>

namespace berth::lifecycle {

std::optional<AccountQuotaState> QuotaEnforcer::state(const std::string& account_id) {
  auto account = metadata_.find_account(account_id);
  if (!account) return std::nullopt;
  std::int64_t now = core::unix_now();
  flush_if_due(now);
  std::string month = usage_month(now);
  AccountQuotaState state{.account_id = account_id,
                          .plan = account->plan,
                          .limits = effective_limits(account->plan, metadata_.account_quota(account_id)),
                          .usage = metadata_.account_usage(account_id, month)};
  state.usage.traffic_bytes += buffered(account_id, month);
  return state;
}

std::uint64_t QuotaEnforcer::buffered(const std::string& account_id, const std::string& month) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = buffer_.find({account_id, month});
  return it == buffer_.end() ? 0 : it->second;
}

void QuotaEnforcer::flush_if_due(std::int64_t now) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (buffer_.empty() || now - last_flush_ < buffer_seconds_) return;
  }
  flush();
}

void QuotaEnforcer::flush() {
  std::map<AccountMonth, std::uint64_t> pending;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending.swap(buffer_);
    last_flush_ = core::unix_now();
  }
  for (auto it = pending.begin(); it != pending.end(); ++it) {
    try {
      metadata_.add_pull_traffic(it->first.first, it->first.second, it->second);
    } catch (const std::exception& error) {
      // Keep what was not written for the next attempt.
      spdlog::error("traffic_flush_failed account={} error={}", it->first.first, error.what());
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto rest = it; rest != pending.end(); ++rest) buffer_[rest->first] += rest->second;
      return;
    }
  }
}

void QuotaEnforcer::require_room(const std::string& repository, bool storage) {
  auto account = metadata_.repository_account(repository);
  if (!account) return;
  auto current = state(*account);
  if (!current) return;
  std::int64_t limit = storage ? current->limits.storage_bytes : current->limits.traffic_bytes;
  std::uint64_t used = storage ? current->usage.storage_bytes : current->usage.traffic_bytes;
  if (!limit_reached(limit, used)) return;
  spdlog::info("quota_reached quota={} account={} repository={} used={} limit={}", storage ? "storage" : "traffic",
               *account, repository, used, limit);
  throw core::Error(core::ErrorCode::kDenied,
                    std::string(storage ? kStorageQuotaExceeded : kTrafficQuotaExceeded));
}

void QuotaEnforcer::require_storage_room(const std::string& repository) { require_room(repository, true); }

void QuotaEnforcer::require_traffic_room(const std::string& repository) { require_room(repository, false); }

void QuotaEnforcer::record_pull(const std::string& repository, std::uint64_t bytes) {
  if (bytes == 0) return;
  auto account = metadata_.repository_account(repository);
  if (!account) return;
  std::int64_t now = core::unix_now();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    buffer_[{*account, usage_month(now)}] += bytes;
  }
  flush_if_due(now);
}

}  // namespace berth::lifecycle
