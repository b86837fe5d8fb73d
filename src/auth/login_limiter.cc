#include "auth/login_limiter.h"

namespace berth::auth {

LoginLimiter::LoginLimiter(std::size_t max_failures, std::int64_t window_seconds)
    : max_failures_(max_failures), window_seconds_(window_seconds) {}

std::int64_t LoginLimiter::retry_after(const std::string& key, std::int64_t now) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = failures_.find(key);
  if (it == failures_.end() || max_failures_ == 0) return 0;
  auto& times = it->second;
  while (!times.empty() && times.front() + window_seconds_ <= now) times.pop_front();
  if (times.size() < max_failures_) return 0;
  return times.front() + window_seconds_ - now;
}

void LoginLimiter::record_failure(const std::string& key, std::int64_t now) {
  std::lock_guard<std::mutex> lock(mutex_);
  prune_locked(now);
  auto& times = failures_[key];
  times.push_back(now);
  // Only the newest max_failures entries decide; older ones are dropped so
  // a client that keeps failing uses bounded memory.
  while (times.size() > max_failures_ && !times.empty()) times.pop_front();
}

void LoginLimiter::prune_locked(std::int64_t now) {
  if (now - last_prune_ < window_seconds_) return;
  last_prune_ = now;
  for (auto it = failures_.begin(); it != failures_.end();) {
    if (it->second.empty() || it->second.back() + window_seconds_ <= now) {
      it = failures_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace berth::auth
