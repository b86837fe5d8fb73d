// Slows down password guessing: after `max_failures` failed logins within
// `window_seconds`, a client address or identity is refused until the
// oldest of those failures leaves the window.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

namespace berth::auth {

class LoginLimiter {
 public:
  LoginLimiter(std::size_t max_failures, std::int64_t window_seconds);

  // Seconds until `key` may try again; 0 if it may try now.
  std::int64_t retry_after(const std::string& key, std::int64_t now);
  void record_failure(const std::string& key, std::int64_t now);

 private:
  void prune_locked(std::int64_t now);

  std::size_t max_failures_;
  std::int64_t window_seconds_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::deque<std::int64_t>> failures_;
  std::int64_t last_prune_ = 0;
};

}  // namespace berth::auth
