// Mutual exclusion per key (one upload session, for example) without a
// lock per possible key: entries exist only while someone holds or waits.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <unordered_map>

namespace berth::core {

class KeyedMutex {
 public:
  // Holds the lock on one key until destroyed.
  class Guard {
   public:
    Guard(KeyedMutex& owner, std::string key);
    ~Guard();
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    KeyedMutex& owner_;
    std::string key_;
  };

  // Blocks until no other thread holds `key`.
  Guard lock(const std::string& key) { return Guard(*this, key); }

 private:
  struct Entry {
    bool held = false;
    int waiters = 0;
  };

  std::mutex mutex_;
  std::condition_variable released_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace berth::core
