// QuotaEnforcer's pull traffic: buffered for a second on a store of one
// process, written at once for nodes that share a database.
#include "core/time.h"
#include "lifecycle/quota.h"
#include "lifecycle/quota_enforcer.h"
#include "metadata/sqlite_store.h"
#include "support/temp_directory.h"

#include <gtest/gtest.h>

#include <string>

namespace berth::lifecycle {
namespace {

class QuotaEnforcerTraffic : public ::testing::Test {
 protected:
  QuotaEnforcerTraffic() : store_(metadata::SqliteOptions{.path = (directory_.path() / "berth.db").string()}) {
    store_.create_account({.id = "acct", .name = "acme", .created_at = 1});
    store_.create_namespace({.name = "team", .account_id = "acct"}, 100);
  }

  // The traffic of this month that the store holds, without any buffer.
  std::uint64_t stored_traffic() {
    return store_.account_usage("acct", usage_month(core::unix_now())).traffic_bytes;
  }

  test_support::TempDirectory directory_;
  metadata::SqliteStore store_;
};

TEST_F(QuotaEnforcerTraffic, WriteThroughStoresEachPull) {
  QuotaEnforcer quotas(store_, /*buffer_seconds=*/0);

  quotas.record_pull("team/app", 100);
  EXPECT_EQ(stored_traffic(), 100u);
  quotas.record_pull("team/app", 50);
  EXPECT_EQ(stored_traffic(), 150u);
}

TEST_F(QuotaEnforcerTraffic, BufferedPullsCountedBeforeTheyAreStored) {
  QuotaEnforcer quotas(store_, /*buffer_seconds=*/3600);
  // The first pull is written, because nothing was written before it.
  quotas.record_pull("team/app", 100);
  ASSERT_EQ(stored_traffic(), 100u);

  quotas.record_pull("team/app", 50);

  EXPECT_EQ(stored_traffic(), 100u);
  auto state = quotas.state("acct");
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->usage.traffic_bytes, 150u);
  quotas.flush();
  EXPECT_EQ(stored_traffic(), 150u);
}

TEST_F(QuotaEnforcerTraffic, PullOutsideAnyAccountNotCounted) {
  QuotaEnforcer quotas(store_, /*buffer_seconds=*/0);

  quotas.record_pull("nobody/app", 100);

  EXPECT_EQ(stored_traffic(), 0u);
}

}  // namespace
}  // namespace berth::lifecycle
