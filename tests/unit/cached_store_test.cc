// CachedStore's side of invalidation between nodes: what each write
// publishes, what an applied invalidation drops, and that a cache that may
// have missed invalidations serves nothing. Two stores on one SQLite file
// stand in for two nodes; a third, uncached, writes behind the cache's back.
#include "core/digest.h"
#include "metadata/cached_store.h"
#include "metadata/sqlite_store.h"
#include "oci/media_types.h"
#include "support/temp_directory.h"

#include <gmock/gmock.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace berth::metadata {

// Prints invalidations in failed assertions. GoogleTest finds it by
// argument-dependent lookup, so it is outside the unnamed namespace.
void PrintTo(const Invalidation& invalidation, std::ostream* out) {
  *out << "{scope " << static_cast<int>(invalidation.scope) << ", " << invalidation.name << ", " << invalidation.tag
       << "}";
}

namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class RecordingPublisher final : public InvalidationPublisher {
 public:
  void publish(const Invalidation& invalidation) override {
    std::lock_guard<std::mutex> lock(mutex_);
    sent_.push_back(invalidation);
  }
  std::vector<Invalidation> take() {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::exchange(sent_, {});
  }

 private:
  std::mutex mutex_;
  std::vector<Invalidation> sent_;
};

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

class CachedStoreInvalidation : public ::testing::Test {
 protected:
  CachedStoreInvalidation()
      : publisher_(std::make_shared<RecordingPublisher>()),
        cache_(std::make_unique<SqliteStore>(options()), 1 << 20, std::chrono::hours(1), publisher_),
        behind_(options()) {}

  SqliteOptions options() const { return SqliteOptions{.path = (directory_.path() / "berth.db").string()}; }

  // The digest that `tag` of `repository` names through the cache.
  std::string tagged(const std::string& repository, const std::string& tag) {
    auto manifest = cache_.find_tagged_manifest(repository, tag);
    return manifest ? manifest->digest.str() : "none";
  }

  test_support::TempDirectory directory_;
  std::shared_ptr<RecordingPublisher> publisher_;
  CachedStore cache_;
  SqliteStore behind_;  // for writes that bypass the cache
};

TEST_F(CachedStoreInvalidation, WritesPublishWhatTheyChange) {
  auto one = image_manifest("team/app", "one", "latest");
  ASSERT_TRUE(cache_.put_manifest(image_manifest("team/app", "untagged")).stored);
  EXPECT_THAT(publisher_->take(), IsEmpty());

  ASSERT_TRUE(cache_.put_manifest(one).stored);
  EXPECT_THAT(publisher_->take(),
              ElementsAre(Invalidation{.scope = Invalidation::Scope::kTag, .name = "team/app", .tag = "latest"}));

  cache_.delete_tag("team/app", "latest");
  EXPECT_THAT(publisher_->take(),
              ElementsAre(Invalidation{.scope = Invalidation::Scope::kTag, .name = "team/app", .tag = "latest"}));

  cache_.delete_manifest("team/app", one.digest);
  EXPECT_THAT(publisher_->take(),
              ElementsAre(Invalidation{.scope = Invalidation::Scope::kRepository, .name = "team/app"}));

  cache_.delete_namespace("team");
  EXPECT_THAT(publisher_->take(), ElementsAre(Invalidation{.scope = Invalidation::Scope::kNamespace, .name = "team"},
                                              Invalidation{.scope = Invalidation::Scope::kAccess}));
}

TEST_F(CachedStoreInvalidation, AccessWritesPublishAccess) {
  const Invalidation access{.scope = Invalidation::Scope::kAccess};
  ASSERT_TRUE(cache_.create_account({.id = "acct", .name = "acct", .created_at = 1}));
  ASSERT_TRUE(cache_.create_identity({.id = "user", .account_id = "acct", .kind = IdentityKind::kUser, .name = "u"}));
  ASSERT_TRUE(cache_.create_api_key({.id = "key", .identity_id = "user", .account_id = "acct", .secret_hash = "h"}));
  EXPECT_THAT(publisher_->take(), IsEmpty());

  ASSERT_TRUE(cache_.create_policy({.id = "p", .account_id = "acct", .identity_id = "user", .role = "Reader"}));
  EXPECT_THAT(publisher_->take(), ElementsAre(access));
  ASSERT_TRUE(cache_.delete_policy("p"));
  EXPECT_THAT(publisher_->take(), ElementsAre(access));
  ASSERT_EQ(cache_.create_namespace({.name = "team", .account_id = "acct"}, 100), CreateNamespaceResult::kCreated);
  EXPECT_THAT(publisher_->take(),
              ElementsAre(Invalidation{.scope = Invalidation::Scope::kNamespace, .name = "team"}, access));
  ASSERT_TRUE(cache_.set_namespace_public("team", true));
  EXPECT_THAT(publisher_->take(), ElementsAre(access));
  ASSERT_TRUE(cache_.delete_api_key("key"));
  EXPECT_THAT(publisher_->take(), ElementsAre(access));
  ASSERT_TRUE(cache_.delete_identity("user"));
  EXPECT_THAT(publisher_->take(), ElementsAre(access));
}

TEST_F(CachedStoreInvalidation, AccessGenerationChangesOnAccessInvalidation) {
  std::uint64_t before = cache_.access_generation();
  EXPECT_EQ(cache_.access_generation(), before);

  cache_.apply({.scope = Invalidation::Scope::kTag, .name = "team/app", .tag = "latest"});
  EXPECT_EQ(cache_.access_generation(), before);

  cache_.apply({.scope = Invalidation::Scope::kAccess});
  std::uint64_t after = cache_.access_generation();
  EXPECT_NE(after, before);
  EXPECT_EQ(cache_.access_generation(), after);
}

TEST_F(CachedStoreInvalidation, AccessGenerationNeverRepeatsWhileNotReceiving) {
  cache_.set_receiving(false);
  std::uint64_t first = cache_.access_generation();
  EXPECT_NE(cache_.access_generation(), first);

  cache_.set_receiving(true);
  std::uint64_t receiving = cache_.access_generation();
  EXPECT_EQ(cache_.access_generation(), receiving);
}

TEST_F(CachedStoreInvalidation, CacheServesUntilInvalidated) {
  auto one = image_manifest("team/app", "one", "latest");
  auto two = image_manifest("team/app", "two", "latest");
  ASSERT_TRUE(cache_.put_manifest(one).stored);
  ASSERT_EQ(tagged("team/app", "latest"), one.digest.str());

  ASSERT_TRUE(behind_.put_manifest(two).stored);

  EXPECT_EQ(tagged("team/app", "latest"), one.digest.str());
}

TEST_F(CachedStoreInvalidation, AppliedTagInvalidation) {
  auto one = image_manifest("team/app", "one", "latest");
  auto two = image_manifest("team/app", "two", "latest");
  ASSERT_TRUE(cache_.put_manifest(one).stored);
  ASSERT_TRUE(cache_.put_manifest(image_manifest("team/app", "stable-one", "stable")).stored);
  ASSERT_EQ(tagged("team/app", "latest"), one.digest.str());
  std::string stable = tagged("team/app", "stable");
  ASSERT_TRUE(behind_.put_manifest(two).stored);
  ASSERT_TRUE(behind_.put_manifest(image_manifest("team/app", "stable-two", "stable")).stored);

  cache_.apply({.scope = Invalidation::Scope::kTag, .name = "team/app", .tag = "latest"});

  EXPECT_EQ(tagged("team/app", "latest"), two.digest.str());
  EXPECT_EQ(tagged("team/app", "stable"), stable);
}

TEST_F(CachedStoreInvalidation, AppliedRepositoryInvalidation) {
  auto one = image_manifest("team/app", "one", "latest");
  auto other = image_manifest("team/other", "one", "latest");
  ASSERT_TRUE(cache_.put_manifest(one).stored);
  ASSERT_TRUE(cache_.put_manifest(other).stored);
  ASSERT_EQ(tagged("team/app", "latest"), one.digest.str());
  ASSERT_EQ(tagged("team/other", "latest"), other.digest.str());
  ASSERT_TRUE(cache_.find_manifest("team/app", one.digest).has_value());
  ASSERT_TRUE(behind_.delete_manifest("team/app", one.digest));
  ASSERT_TRUE(behind_.delete_manifest("team/other", other.digest));

  cache_.apply({.scope = Invalidation::Scope::kRepository, .name = "team/app"});

  EXPECT_EQ(tagged("team/app", "latest"), "none");
  EXPECT_FALSE(cache_.find_manifest("team/app", one.digest).has_value());
  EXPECT_EQ(tagged("team/other", "latest"), other.digest.str());
}

TEST_F(CachedStoreInvalidation, AppliedNamespaceInvalidation) {
  auto app = image_manifest("team/app", "one", "latest");
  auto teammate = image_manifest("teammate/app", "one", "latest");
  ASSERT_TRUE(cache_.put_manifest(app).stored);
  ASSERT_TRUE(cache_.put_manifest(teammate).stored);
  ASSERT_EQ(tagged("team/app", "latest"), app.digest.str());
  ASSERT_EQ(tagged("teammate/app", "latest"), teammate.digest.str());
  ASSERT_TRUE(behind_.delete_tag("team/app", "latest"));
  ASSERT_TRUE(behind_.delete_tag("teammate/app", "latest"));

  cache_.apply({.scope = Invalidation::Scope::kNamespace, .name = "team"});

  EXPECT_EQ(tagged("team/app", "latest"), "none");
  EXPECT_EQ(tagged("teammate/app", "latest"), teammate.digest.str());
}

TEST_F(CachedStoreInvalidation, AppliedBlobInvalidation) {
  auto layer = core::digest_of(core::DigestAlgorithm::kSha256, "layer");
  auto other = core::digest_of(core::DigestAlgorithm::kSha256, "other");
  cache_.link_blob("team/app", layer, 5);
  cache_.link_blob("team/app", other, 5);
  ASSERT_TRUE(cache_.find_repository_blob("team/app", layer).has_value());
  ASSERT_TRUE(cache_.find_repository_blob("team/app", other).has_value());
  ASSERT_TRUE(behind_.unlink_blob("team/app", layer).unlinked);
  ASSERT_TRUE(behind_.unlink_blob("team/app", other).unlinked);

  cache_.apply({.scope = Invalidation::Scope::kBlob, .name = layer.str()});

  EXPECT_FALSE(cache_.find_repository_blob("team/app", layer).has_value());
  EXPECT_TRUE(cache_.find_repository_blob("team/app", other).has_value());
}

TEST_F(CachedStoreInvalidation, NotReceivingServesNothing) {
  auto one = image_manifest("team/app", "one", "latest");
  auto two = image_manifest("team/app", "two", "latest");
  auto three = image_manifest("team/app", "three", "latest");
  ASSERT_TRUE(cache_.put_manifest(one).stored);
  ASSERT_EQ(tagged("team/app", "latest"), one.digest.str());

  cache_.set_receiving(false);
  ASSERT_TRUE(behind_.put_manifest(two).stored);
  EXPECT_EQ(tagged("team/app", "latest"), two.digest.str());
  ASSERT_TRUE(behind_.put_manifest(three).stored);
  EXPECT_EQ(tagged("team/app", "latest"), three.digest.str());

  cache_.set_receiving(true);
  ASSERT_EQ(tagged("team/app", "latest"), three.digest.str());
  ASSERT_TRUE(behind_.put_manifest(two).stored);
  EXPECT_EQ(tagged("team/app", "latest"), three.digest.str());
}

TEST(InvalidationMessage, RoundTrip) {
  for (const auto& invalidation : {Invalidation{.scope = Invalidation::Scope::kTag, .name = "a/b", .tag = "v1"},
                                   Invalidation{.scope = Invalidation::Scope::kRepository, .name = "a/b"},
                                   Invalidation{.scope = Invalidation::Scope::kNamespace, .name = "a"},
                                   Invalidation{.scope = Invalidation::Scope::kBlob, .name = "sha256:00"},
                                   Invalidation{.scope = Invalidation::Scope::kAccess}}) {
    InvalidationMessage message{.schema = "public", .node = "n1", .invalidation = invalidation};

    auto decoded = decode_invalidation(encode_invalidation(message));

    ASSERT_TRUE(decoded.has_value()) << invalidation.name;
    EXPECT_EQ(decoded->schema, "public");
    EXPECT_EQ(decoded->node, "n1");
    EXPECT_EQ(decoded->invalidation, invalidation);
  }
}

TEST(InvalidationMessage, MalformedRejected) {
  for (const char* payload : {"", "not json", "[]", R"({"schema":"s","node":"n","scope":"tag","name":"a/b"})",
                              R"({"schema":"s","node":"n","scope":"everything","name":"a"})",
                              R"({"schema":"s","scope":"repository","name":"a"})"}) {
    EXPECT_FALSE(decode_invalidation(payload).has_value()) << payload;
  }
}

}  // namespace
}  // namespace berth::metadata
