#include "core/keyed_mutex.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <optional>
#include <thread>
#include <vector>

namespace berth::core {
namespace {

using namespace std::chrono_literals;

TEST(KeyedMutex, SameKeyWaits) {
  KeyedMutex locks;
  std::optional<KeyedMutex::Guard> held;
  held.emplace(locks, "upload-1");

  std::promise<void> acquired;
  std::thread waiter([&] {
    auto guard = locks.lock("upload-1");
    acquired.set_value();
  });
  std::future<void> acquired_future = acquired.get_future();

  // The waiter must not get the lock while it is held. A correct lock never
  // lets it in, so this wait cannot fail a correct lock.
  EXPECT_EQ(acquired_future.wait_for(200ms), std::future_status::timeout);

  held.reset();
  EXPECT_EQ(acquired_future.wait_for(10s), std::future_status::ready);
  waiter.join();
}

TEST(KeyedMutex, DifferentKeysDoNotBlock) {
  KeyedMutex locks;
  std::optional<KeyedMutex::Guard> held;
  held.emplace(locks, "upload-1");

  std::future<void> other = std::async(std::launch::async, [&] { auto guard = locks.lock("upload-2"); });

  EXPECT_EQ(other.wait_for(10s), std::future_status::ready);
  // Released before `other` is destroyed, so a failing run ends instead of hanging.
  held.reset();
}

TEST(KeyedMutex, ExcludesAcrossThreads) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 2000;
  KeyedMutex locks;
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  long counter = 0;  // guarded by the lock on "shared", not atomic on purpose

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        auto guard = locks.lock("shared");
        if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
        ++counter;
        inside.fetch_sub(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();

  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(counter, static_cast<long>(kThreads) * kRounds);
}

TEST(KeyedMutex, KeysRunInParallel) {
  // Two threads each hold their own key and wait until the other holds its
  // key too. With a lock that excluded across keys, neither would finish.
  KeyedMutex locks;
  std::promise<void> first_holds;
  std::promise<void> second_holds;
  std::shared_future<void> first_ready = first_holds.get_future().share();
  std::shared_future<void> second_ready = second_holds.get_future().share();

  auto first = std::async(std::launch::async, [&] {
    auto guard = locks.lock("a");
    first_holds.set_value();
    return second_ready.wait_for(10s) == std::future_status::ready;
  });
  auto second = std::async(std::launch::async, [&] {
    auto guard = locks.lock("b");
    second_holds.set_value();
    return first_ready.wait_for(10s) == std::future_status::ready;
  });

  EXPECT_TRUE(first.get());
  EXPECT_TRUE(second.get());
}

TEST(KeyedMutex, RelockAfterRelease) {
  KeyedMutex locks;
  {
    auto guard = locks.lock("upload-1");
  }

  std::future<void> again = std::async(std::launch::async, [&] { auto guard = locks.lock("upload-1"); });

  EXPECT_EQ(again.wait_for(10s), std::future_status::ready);
}

}  // namespace
}  // namespace berth::core
