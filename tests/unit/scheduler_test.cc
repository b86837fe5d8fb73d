// The Scheduler's job leases against a real SQLite store: one holder at a
// time, renewed while a run outlasts the lease, and released after it.
#include "core/time.h"
#include "lifecycle/scheduler.h"
#include "metadata/sqlite_store.h"
#include "support/temp_directory.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

namespace berth::lifecycle {
namespace {

class SchedulerLease : public ::testing::Test {
 protected:
  SchedulerLease() : store_(metadata::SqliteOptions{.path = (directory_.path() / "berth.db").string()}) {}

  // Whether another node could take the lease on `job` now.
  bool other_node_takes(const std::string& job) {
    std::int64_t now = core::unix_now();
    return store_.acquire_lease(job, "other-node", now, now + 60);
  }

  test_support::TempDirectory directory_;
  metadata::SqliteStore store_;
};

TEST_F(SchedulerLease, RenewedWhileRunOutlastsLease) {
  std::promise<void> started;
  std::promise<void> finish;
  std::shared_future<void> finished = finish.get_future().share();
  JobSpec job{.name = "gc", .interval_seconds = 0, .run = [&](std::int64_t) {
                started.set_value();
                finished.wait();
                return nlohmann::json::object();
              }};
  Scheduler scheduler(store_, "this-node", {job}, /*lease_seconds=*/3);
  std::future<JobResult> result = std::async(std::launch::async, [&] { return scheduler.run_now("gc"); });
  started.get_future().wait();

  // Past the end of the lease taken at the start, had it not been renewed.
  std::this_thread::sleep_for(std::chrono::seconds(4));
  bool taken_during_run = other_node_takes("gc");
  finish.set_value();

  EXPECT_FALSE(taken_during_run);
  EXPECT_EQ(result.get().outcome, JobOutcome::kFinished);
  EXPECT_TRUE(other_node_takes("gc"));
}

TEST_F(SchedulerLease, BusyWhileAnotherNodeHoldsLease) {
  ASSERT_TRUE(other_node_takes("gc"));
  bool ran = false;
  Scheduler scheduler(store_, "this-node",
                      {JobSpec{.name = "gc", .interval_seconds = 0, .run = [&](std::int64_t) {
                                 ran = true;
                                 return nlohmann::json::object();
                               }}});

  JobResult result = scheduler.run_now("gc");

  EXPECT_EQ(result.outcome, JobOutcome::kBusy);
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace berth::lifecycle
