// Cache invalidation between nodes over a real PostgreSQL. Two CachedStores
// on one schema, each with the publisher and listener that a berthd node
// runs, must see what the other writes: tags at once, because they are not
// cached, and other entries once the notification arrives. Those entries
// would otherwise live for an hour.
#include "core/digest.h"
#include "metadata/cached_store.h"
#include "metadata/pg_cache_notifier.h"
#include "metadata/pg_connection.h"
#include "metadata/pg_store.h"
#include "oci/media_types.h"
#include "support/services.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace berth::metadata {
namespace {

using std::chrono::steady_clock;

// How long a test waits for a notification or a reconnection. Generous,
// because it bounds a wait, not a speed.
constexpr auto kPatience = std::chrono::seconds(2);
constexpr auto kReconnectPatience = std::chrono::seconds(10);

// Polls `done` until it returns true or `patience` has passed; returns its last result.
bool eventually(const std::function<bool()>& done, steady_clock::duration patience = kPatience) {
  auto deadline = steady_clock::now() + patience;
  while (!done()) {
    if (steady_clock::now() >= deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

ManifestWrite image_manifest(const std::string& repository, const std::string& label,
                             std::optional<std::string> tag = std::nullopt) {
  std::string content = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","label":")" +
                        label + R"("})";
  return ManifestWrite{.repository = repository,
                       .digest = core::digest_of(core::DigestAlgorithm::kSha256, content),
                       .media_type = std::string(oci::media_type::kOciManifest),
                       .content = content,
                       .tag = std::move(tag)};
}

// `conninfo` with an application_name, so that a test can find the
// listener's session in pg_stat_activity.
std::string with_application_name(const std::string& conninfo, const std::string& name) {
  bool uri = conninfo.starts_with("postgres://") || conninfo.starts_with("postgresql://");
  if (!uri) return conninfo + " application_name=" + name;
  return conninfo + (conninfo.find('?') == std::string::npos ? "?" : "&") + "application_name=" + name;
}

// One berthd node's metadata stack.
struct Node {
  std::unique_ptr<CachedStore> cache;
  std::unique_ptr<PgInvalidationListener> listener;  // after `cache`: stops first
  std::string listener_name;                         // its application_name
};

// The parameter is the name of the setting with the PostgreSQL conninfo.
class CacheInvalidation : public ::testing::TestWithParam<std::string> {
 protected:
  CacheInvalidation()
      : conninfo_(test_support::service_setting(GetParam())),
        schema_("berth_cache_test_" + std::to_string(::getpid()) + "_" + std::to_string(next_++)) {}

  ~CacheInvalidation() override {
    nodes_.clear();
    behind_.reset();
    try {
      PgConnection connection(conninfo_);
      connection.exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
    } catch (const std::exception& error) {
      ADD_FAILURE() << "cannot drop test schema " << schema_ << ": " << error.what();
    }
  }

  PgOptions options() const { return PgOptions{.conninfo = conninfo_, .schema = schema_, .connections = 4}; }

  // Starts a node and waits until it listens.
  Node& start_node(const std::string& name) {
    auto node = std::make_unique<Node>();
    node->listener_name = schema_ + "_" + name;
    PgNotifierOptions publisher{.conninfo = conninfo_, .schema = schema_, .node = name};
    PgNotifierOptions listener = publisher;
    listener.conninfo = with_application_name(conninfo_, node->listener_name);
    // As berthd sets it up on PostgreSQL: tags are not cached.
    node->cache = std::make_unique<CachedStore>(std::make_unique<PgStore>(options()), 1 << 20, std::chrono::hours(1),
                                                std::make_shared<PgInvalidationPublisher>(publisher),
                                                /*cache_tags=*/false);
    node->listener = std::make_unique<PgInvalidationListener>(listener, *node->cache);
    node->listener->start();
    EXPECT_TRUE(eventually([&] { return node->listener->listening(); }, kReconnectPatience)) << name;
    nodes_.push_back(std::move(node));
    return *nodes_.back();
  }

  // A store without cache or publisher, for writes that notify no node.
  PgStore& behind() {
    if (!behind_) behind_ = std::make_unique<PgStore>(options());
    return *behind_;
  }

  static std::string tagged(Node& node, const std::string& repository, const std::string& tag) {
    auto manifest = node.cache->find_tagged_manifest(repository, tag);
    return manifest ? manifest->digest.str() : "none";
  }

  // The process id of the node's listening session, 0 if none.
  std::int64_t listener_pid(const Node& node) {
    PgConnection connection(conninfo_);
    auto query = connection.prepare("SELECT pid FROM pg_stat_activity WHERE application_name = $1");
    query.bind(1, node.listener_name);
    return query.step() ? query.column_int(0) : 0;
  }

  std::string conninfo_;
  std::string schema_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::unique_ptr<PgStore> behind_;

 private:
  static inline std::atomic<int> next_{0};
};

TEST_P(CacheInvalidation, TagMoveSeenAtOnceByOtherNode) {
  Node& first = start_node("first");
  Node& second = start_node("second");
  auto one = image_manifest("team/app", "one", "latest");
  auto two = image_manifest("team/app", "two", "latest");
  auto three = image_manifest("team/app", "three", "latest");
  ASSERT_TRUE(behind().put_manifest(one).stored);
  ASSERT_EQ(tagged(second, "team/app", "latest"), one.digest.str());

  // Tags are never served from the cache of a node that shares its
  // database, so a move is seen at once, even one that sends no
  // notification, without waiting for one.
  ASSERT_TRUE(behind().put_manifest(two).stored);
  EXPECT_EQ(tagged(second, "team/app", "latest"), two.digest.str());
  ASSERT_TRUE(first.cache->put_manifest(three).stored);
  EXPECT_EQ(tagged(second, "team/app", "latest"), three.digest.str());
}

TEST_P(CacheInvalidation, DeletionsSeenByOtherNode) {
  Node& first = start_node("first");
  Node& second = start_node("second");
  auto one = image_manifest("team/app", "one", "latest");
  auto other = image_manifest("team/other", "one", "latest");
  ASSERT_TRUE(behind().put_manifest(one).stored);
  ASSERT_TRUE(behind().put_manifest(other).stored);
  ASSERT_EQ(tagged(second, "team/app", "latest"), one.digest.str());
  ASSERT_TRUE(second.cache->find_manifest("team/app", one.digest).has_value());
  ASSERT_EQ(tagged(second, "team/other", "latest"), other.digest.str());

  ASSERT_TRUE(first.cache->delete_manifest("team/app", one.digest));
  EXPECT_TRUE(eventually([&] { return !second.cache->find_manifest("team/app", one.digest).has_value(); }));
  EXPECT_EQ(tagged(second, "team/app", "latest"), "none");

  ASSERT_TRUE(first.cache->delete_tag("team/other", "latest"));
  EXPECT_TRUE(eventually([&] { return tagged(second, "team/other", "latest") == "none"; }));
}

TEST_P(CacheInvalidation, AccessChangeSeenAtOnceByOtherNode) {
  Node& node = start_node("node");
  PgStore& store = behind();
  ASSERT_TRUE(store.create_account({.id = "acct", .name = "acme", .created_at = 1}));
  ASSERT_TRUE(store.create_identity({.id = "user", .account_id = "acct", .kind = IdentityKind::kUser, .name = "u"}));
  ASSERT_TRUE(store.create_api_key({.id = "key", .identity_id = "user", .account_id = "acct", .secret_hash = "h"}));
  std::uint64_t before = node.cache->access_generation();

  // Recording a key's use changes nothing a node caches.
  store.touch_api_key("key", 100);
  EXPECT_EQ(node.cache->access_generation(), before);

  // A write that sends no notification still changes the generation in
  // its own transaction, so the node reads the new one without waiting.
  ASSERT_TRUE(store.delete_api_key("key"));
  std::uint64_t after_delete = node.cache->access_generation();
  EXPECT_NE(after_delete, before);
  ASSERT_TRUE(store.create_policy({.id = "p", .account_id = "acct", .identity_id = "user", .role = "Reader"}));
  std::uint64_t after_policy = node.cache->access_generation();
  EXPECT_NE(after_policy, after_delete);
  ASSERT_EQ(store.create_namespace({.name = "team", .account_id = "acct"}, 100), CreateNamespaceResult::kCreated);
  std::uint64_t after_namespace = node.cache->access_generation();
  EXPECT_NE(after_namespace, after_policy);
  ASSERT_TRUE(store.set_namespace_public("team", true));
  EXPECT_NE(node.cache->access_generation(), after_namespace);
}

TEST_P(CacheInvalidation, ListenerReconnects) {
  Node& first = start_node("first");
  Node& second = start_node("second");
  auto one = image_manifest("team/app", "one", "latest");
  ASSERT_TRUE(behind().put_manifest(one).stored);
  ASSERT_EQ(tagged(second, "team/app", "latest"), one.digest.str());
  std::int64_t lost = listener_pid(second);
  ASSERT_NE(lost, 0);

  {
    PgConnection connection(conninfo_);
    auto terminate = connection.prepare("SELECT pg_terminate_backend($1::integer)");
    terminate.bind(1, lost).run();
  }

  ASSERT_TRUE(eventually(
      [&] {
        std::int64_t pid = listener_pid(second);
        return pid != 0 && pid != lost && second.listener->listening();
      },
      kReconnectPatience));
  // The cache serves again: a deletion behind the nodes' backs stays
  // unseen. And notifications reach it again: the same deletion through
  // the first node drops the entry.
  ASSERT_TRUE(second.cache->find_manifest("team/app", one.digest).has_value());
  ASSERT_TRUE(behind().delete_manifest("team/app", one.digest));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_TRUE(second.cache->find_manifest("team/app", one.digest).has_value());
  first.cache->delete_manifest("team/app", one.digest);
  EXPECT_TRUE(eventually([&] { return !second.cache->find_manifest("team/app", one.digest).has_value(); }));
}

// Named Postgres/... like the store suites, so that ctest runs it with the
// services fixture that starts PostgreSQL.
INSTANTIATE_TEST_SUITE_P(Postgres, CacheInvalidation, ::testing::Values(std::string("BERTH_TEST_POSTGRES")),
                         [](const ::testing::TestParamInfo<std::string>&) { return std::string("services"); });

}  // namespace
}  // namespace berth::metadata
