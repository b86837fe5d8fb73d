// Contract tests for the lifecycle part of metadata::MetadataStore: the
// trash, storage usage kept per account, pull traffic, plans and quotas,
// retention policies, garbage collection of blobs, and the leases and runs
// of background jobs. They join the MetadataStoreContract suite, so every
// backend instantiated in metadata_store_suite.cc runs them. The schema
// migration test at the end needs the SQLite classes.
//
// Storage usage of an account is the sum of the sizes of the distinct blobs
// and manifests that its live images reference, each digest counted once
// per account. Every usage check compares both the figure the store keeps
// (account_usage) and the one it counts from scratch (count_storage_usage).
#include "stores/metadata_store_suite.h"

#include "core/digest.h"
#include "core/time.h"
#include "metadata/sqlite_connection.h"
#include "metadata/sqlite_schema.h"
#include "metadata/sqlite_store.h"
#include "oci/media_types.h"
#include "support/printers.h"
#include "support/temp_directory.h"

#include <gmock/gmock.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <latch>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace berth::store_tests {
namespace {

using core::Digest;
using metadata::AccountRecord;
using metadata::BlobRecord;
using metadata::JobRun;
using metadata::ManifestWrite;
using metadata::MetadataStore;
using metadata::NamespaceRecord;
using metadata::QuotaSettings;
using metadata::RestoreTagResult;
using metadata::RetentionPolicy;
using metadata::TrashEntry;
using metadata::TrashResult;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::UnorderedElementsAre;

const std::string kAccountA(32, 'a');
const std::string kAccountB(32, 'b');
const std::string kUnknownAccount(32, 'f');

// The month whose pull traffic the usage checks read. Storage does not
// depend on the month.
const std::string kMonth = "2024-05";

// Trash times in Unix seconds. Only their order matters.
constexpr std::int64_t kEarly = 1700000000;
constexpr std::int64_t kLate = 1700001000;

Digest sha256_of(std::string_view text) { return core::digest_of(core::DigestAlgorithm::kSha256, text); }

// A blob that an image references, named so that tests can share it.
struct BlobSpec {
  std::string name;
  std::uint64_t size = 0;
};

Digest blob_digest(const std::string& name) { return sha256_of("blob " + name); }

// Creates an account that owns `namespaces`.
void create_tenant(MetadataStore& store, const std::string& account_id, const std::string& name,
                   const std::vector<std::string>& namespaces) {
  EXPECT_TRUE(store.create_account(AccountRecord{.id = account_id, .name = name, .created_at = kEarly}));
  for (const auto& ns : namespaces) {
    EXPECT_EQ(store.create_namespace(NamespaceRecord{.name = ns, .account_id = account_id}, 100),
              metadata::CreateNamespaceResult::kCreated)
        << ns;
  }
}

// Links `blobs` to `repository` and stores an image manifest that
// references them, tagged `tag` if given. `label` makes the content, and
// so the digest, unique: the same label in two repositories is the same
// manifest.
ManifestWrite push_image(MetadataStore& store, const std::string& repository, const std::string& label,
                         const std::vector<BlobSpec>& blobs, std::optional<std::string> tag = std::nullopt) {
  std::string content = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","label":")" +
                        label + R"("})";
  ManifestWrite write{.repository = repository,
                      .digest = sha256_of(content),
                      .media_type = std::string(oci::media_type::kOciManifest),
                      .content = content,
                      .tag = std::move(tag)};
  for (const auto& blob : blobs) {
    store.link_blob(repository, blob_digest(blob.name), blob.size);
    write.blob_references.push_back(blob_digest(blob.name));
  }
  EXPECT_TRUE(store.put_manifest(write).stored) << repository << " " << label;
  return write;
}

// Stores an index of `children`, which must be manifests of `repository`.
ManifestWrite push_index(MetadataStore& store, const std::string& repository, const std::string& label,
                         std::vector<Digest> children, std::optional<std::string> tag = std::nullopt) {
  std::string content = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","label":")" +
                        label + R"("})";
  ManifestWrite write{.repository = repository,
                      .digest = sha256_of(content),
                      .media_type = std::string(oci::media_type::kOciIndex),
                      .content = content,
                      .manifest_references = std::move(children),
                      .tag = std::move(tag)};
  EXPECT_TRUE(store.put_manifest(write).stored) << repository << " " << label;
  return write;
}

std::uint64_t size_of(const ManifestWrite& manifest) { return manifest.content.size(); }

// Checks that the storage the store keeps for the account and the storage
// it counts from scratch are both `expected`.
::testing::AssertionResult storage_is(MetadataStore& store, const std::string& account_id, std::uint64_t expected) {
  std::uint64_t kept_bytes = store.account_usage(account_id, kMonth).storage_bytes;
  std::uint64_t counted_bytes = store.count_storage_usage(account_id);
  if (kept_bytes == expected && counted_bytes == expected) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected " << expected << " bytes, the store keeps " << kept_bytes
                                       << " and counts " << counted_bytes;
}

// Checks that the kept storage figure equals the one counted from scratch.
::testing::AssertionResult storage_consistent(MetadataStore& store, const std::string& account_id) {
  std::uint64_t kept_bytes = store.account_usage(account_id, kMonth).storage_bytes;
  std::uint64_t counted_bytes = store.count_storage_usage(account_id);
  if (kept_bytes == counted_bytes) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "the store keeps " << kept_bytes << " bytes but counts " << counted_bytes;
}

std::vector<std::string> trash_digests(const std::vector<TrashEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& entry : entries) out.push_back(entry.repository + "@" + entry.digest.str());
  return out;
}

std::vector<Digest> blob_digests(const std::vector<BlobRecord>& blobs) {
  std::vector<Digest> out;
  for (const auto& blob : blobs) out.push_back(blob.digest);
  return out;
}

std::vector<std::string> tag_names(MetadataStore& store, const std::string& repository) {
  auto page = store.list_tags(repository, "", 1000);
  return page ? page->names : std::vector<std::string>{};
}

std::vector<Digest> sorted_by_text(std::vector<Digest> digests) {
  std::sort(digests.begin(), digests.end(), [](const Digest& a, const Digest& b) { return a.str() < b.str(); });
  return digests;
}

// A cutoff later than every blob touch of a test: link_blob touches blobs
// at the current time.
std::int64_t after_every_touch() { return core::unix_now() + 3600; }

// --- Storage usage ---------------------------------------------------------------

TEST_P(MetadataStoreContract, UsageAfterPush) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  create_tenant(store(), kAccountB, "beta", {"beta"});
  EXPECT_TRUE(storage_is(store(), kAccountA, 0));

  auto image = push_image(store(), "alpha/app", "one", {{"config one", 1000}, {"layer one", 20000}}, "v1");

  EXPECT_TRUE(storage_is(store(), kAccountA, 1000 + 20000 + size_of(image)));
  EXPECT_TRUE(storage_is(store(), kAccountB, 0));
  EXPECT_EQ(store().account_usage(kAccountA, kMonth).traffic_bytes, 0u);
}

TEST_P(MetadataStoreContract, UsageLinkedBlobAloneCountsNothing) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});

  store().link_blob("alpha/app", blob_digest("uploaded"), 5000);

  EXPECT_TRUE(storage_is(store(), kAccountA, 0));
}

TEST_P(MetadataStoreContract, UsageRepushCountsOnce) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});

  auto image = push_image(store(), "alpha/app", "one", {{"config", 1000}, {"layer", 20000}}, "v1");
  push_image(store(), "alpha/app", "one", {{"config", 1000}, {"layer", 20000}}, "v2");

  EXPECT_TRUE(storage_is(store(), kAccountA, 21000 + size_of(image)));
}

TEST_P(MetadataStoreContract, UsageSharedLayerCountedOnce) {
  create_tenant(store(), kAccountA, "alpha", {"alpha", "alpha2"});

  auto first = push_image(store(), "alpha/app", "first", {{"config first", 1000}, {"shared layer", 50000}}, "v1");
  auto second = push_image(store(), "alpha2/app", "second", {{"config second", 2000}, {"shared layer", 50000}}, "v1");
  // Two images in one repository sharing the layer as well.
  auto third = push_image(store(), "alpha2/app", "third", {{"config third", 3000}, {"shared layer", 50000}});

  EXPECT_TRUE(storage_is(store(), kAccountA,
                         1000 + 2000 + 3000 + 50000 + size_of(first) + size_of(second) + size_of(third)));
}

TEST_P(MetadataStoreContract, UsageSameImageInTwoNamespaces) {
  create_tenant(store(), kAccountA, "alpha", {"alpha", "alpha2"});
  auto image = push_image(store(), "alpha/app", "same", {{"config", 1000}, {"layer", 50000}}, "v1");
  push_image(store(), "alpha2/app", "same", {{"config", 1000}, {"layer", 50000}}, "v1");
  std::uint64_t full = 51000 + size_of(image);
  ASSERT_TRUE(storage_is(store(), kAccountA, full));

  ASSERT_EQ(store().trash_manifest("alpha/app", image.digest, kEarly).result, TrashResult::kTrashed);
  EXPECT_TRUE(storage_is(store(), kAccountA, full));

  ASSERT_EQ(store().trash_manifest("alpha2/app", image.digest, kEarly).result, TrashResult::kTrashed);
  EXPECT_TRUE(storage_is(store(), kAccountA, 0));

  ASSERT_TRUE(store().restore_manifest("alpha/app", image.digest).found);
  EXPECT_TRUE(storage_is(store(), kAccountA, full));
}

TEST_P(MetadataStoreContract, UsageTrashOneOfTwoImages) {
  create_tenant(store(), kAccountA, "alpha", {"alpha", "alpha2"});
  auto first = push_image(store(), "alpha/app", "first", {{"config first", 1000}, {"shared layer", 50000}}, "v1");
  auto second = push_image(store(), "alpha2/app", "second", {{"config second", 2000}, {"shared layer", 50000}}, "v1");

  ASSERT_EQ(store().trash_manifest("alpha/app", first.digest, kEarly).result, TrashResult::kTrashed);

  // The shared layer stays counted through the second image.
  EXPECT_TRUE(storage_is(store(), kAccountA, 2000 + 50000 + size_of(second)));

  ASSERT_EQ(store().trash_manifest("alpha2/app", second.digest, kEarly).result, TrashResult::kTrashed);
  EXPECT_TRUE(storage_is(store(), kAccountA, 0));
}

TEST_P(MetadataStoreContract, UsageAccountsCountSeparately) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  create_tenant(store(), kAccountB, "beta", {"beta"});

  auto image = push_image(store(), "alpha/app", "same", {{"config", 1000}, {"layer", 50000}}, "v1");
  push_image(store(), "beta/app", "same", {{"config", 1000}, {"layer", 50000}}, "v1");

  std::uint64_t full = 51000 + size_of(image);
  EXPECT_TRUE(storage_is(store(), kAccountA, full));
  EXPECT_TRUE(storage_is(store(), kAccountB, full));

  ASSERT_EQ(store().trash_manifest("beta/app", image.digest, kEarly).result, TrashResult::kTrashed);
  EXPECT_TRUE(storage_is(store(), kAccountA, full));
  EXPECT_TRUE(storage_is(store(), kAccountB, 0));
}

TEST_P(MetadataStoreContract, UsageCountsUntaggedImages) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});

  auto untagged = push_image(store(), "alpha/app", "untagged", {{"config untagged", 1000}});
  auto tagged = push_image(store(), "alpha/app", "tagged", {{"config tagged", 2000}}, "v1");
  std::uint64_t full = 1000 + 2000 + size_of(untagged) + size_of(tagged);
  ASSERT_TRUE(storage_is(store(), kAccountA, full));

  // Removing the tag leaves an untagged image, which still counts.
  ASSERT_TRUE(store().delete_tag("alpha/app", "v1"));
  EXPECT_TRUE(storage_is(store(), kAccountA, full));

  ASSERT_TRUE(store().delete_manifest("alpha/app", untagged.digest));
  EXPECT_TRUE(storage_is(store(), kAccountA, 2000 + size_of(tagged)));
}

TEST_P(MetadataStoreContract, UsageCopyWithinAccountNoDoubleCount) {
  create_tenant(store(), kAccountA, "alpha", {"alpha", "alpha2"});
  auto image = push_image(store(), "alpha/app", "one", {{"config", 1000}, {"layer", 50000}}, "v1");
  std::uint64_t full = 51000 + size_of(image);

  ASSERT_TRUE(store().copy_manifest("alpha/app", image.digest, "alpha2/copy", "copied").copied);

  EXPECT_TRUE(storage_is(store(), kAccountA, full));
  // Either copy alone keeps the image counted.
  ASSERT_EQ(store().trash_manifest("alpha/app", image.digest, kEarly).result, TrashResult::kTrashed);
  EXPECT_TRUE(storage_is(store(), kAccountA, full));
}

TEST_P(MetadataStoreContract, UsageCopyToOtherAccount) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  create_tenant(store(), kAccountB, "beta", {"beta"});
  auto child = push_image(store(), "alpha/multi", "child", {{"config", 1000}, {"layer", 50000}});
  auto index = push_index(store(), "alpha/multi", "index", {child.digest}, "latest");
  std::uint64_t full = 51000 + size_of(child) + size_of(index);

  ASSERT_TRUE(store().copy_manifest("alpha/multi", index.digest, "beta/multi", "copied").copied);

  EXPECT_TRUE(storage_is(store(), kAccountA, full));
  EXPECT_TRUE(storage_is(store(), kAccountB, full));
}

TEST_P(MetadataStoreContract, UsageCountsIndexAndChildren) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto amd64 = push_image(store(), "alpha/multi", "amd64", {{"config amd64", 1000}, {"shared layer", 50000}});
  auto arm64 = push_image(store(), "alpha/multi", "arm64", {{"config arm64", 2000}, {"shared layer", 50000}});

  auto index = push_index(store(), "alpha/multi", "index", {amd64.digest, arm64.digest}, "latest");

  EXPECT_TRUE(storage_is(store(), kAccountA,
                         1000 + 2000 + 50000 + size_of(amd64) + size_of(arm64) + size_of(index)));
}

TEST_P(MetadataStoreContract, UsageDeleteNamespaceDrops) {
  create_tenant(store(), kAccountA, "alpha", {"alpha", "alpha2"});
  auto first = push_image(store(), "alpha/app", "first", {{"config first", 1000}, {"shared layer", 50000}}, "v1");
  auto second = push_image(store(), "alpha2/app", "second", {{"config second", 2000}, {"shared layer", 50000}}, "v1");
  auto trashed = push_image(store(), "alpha2/app", "trashed", {{"config trashed", 3000}});
  ASSERT_EQ(store().trash_manifest("alpha2/app", trashed.digest, kEarly).result, TrashResult::kTrashed);

  ASSERT_TRUE(store().delete_namespace("alpha2"));

  EXPECT_TRUE(storage_is(store(), kAccountA, 1000 + 50000 + size_of(first)));
  EXPECT_THAT(store().list_trash({"alpha2"}), IsEmpty());
  // The trashed image's blob goes with its trash entry.
  EXPECT_THAT(blob_digests(store().unreferenced_blobs(after_every_touch(), 100)),
              UnorderedElementsAre(blob_digest("config second"), blob_digest("config trashed")));

  ASSERT_TRUE(store().delete_namespace("alpha"));
  EXPECT_TRUE(storage_is(store(), kAccountA, 0));
}

TEST_P(MetadataStoreContract, UsageConsistentThroughMixedSequence) {
  create_tenant(store(), kAccountA, "alpha", {"alpha", "alpha2"});
  create_tenant(store(), kAccountB, "beta", {"beta"});
  // Set by the steps that push them.
  std::optional<ManifestWrite> web;
  std::optional<ManifestWrite> amd64;
  std::optional<ManifestWrite> arm64;
  std::optional<ManifestWrite> index;

  std::vector<std::pair<std::string, std::function<void()>>> steps = {
      {"push web",
       [&] { web = push_image(store(), "alpha/web", "web", {{"web config", 700}, {"base", 40000}}, "v1"); }},
      {"push the same web to beta",
       [&] { push_image(store(), "beta/web", "web", {{"web config", 700}, {"base", 40000}}, "v1"); }},
      {"push amd64",
       [&] { amd64 = push_image(store(), "alpha/multi", "amd64", {{"amd64 config", 800}, {"base", 40000}}); }},
      {"push arm64",
       [&] { arm64 = push_image(store(), "alpha/multi", "arm64", {{"arm64 config", 900}, {"arm layer", 30000}}); }},
      {"push index",
       [&] { index = push_index(store(), "alpha/multi", "index", {amd64->digest, arm64->digest}, "latest"); }},
      {"tag web again", [&] { push_image(store(), "alpha/web", "web", {{"web config", 700}, {"base", 40000}}, "v2"); }},
      {"copy index",
       [&] { ASSERT_TRUE(store().copy_manifest("alpha/multi", index->digest, "alpha2/multi", "c").copied); }},
      {"trash index",
       [&] { ASSERT_EQ(store().trash_manifest("alpha/multi", index->digest, kEarly).result, TrashResult::kTrashed); }},
      {"delete tag v1", [&] { ASSERT_TRUE(store().delete_tag("alpha/web", "v1")); }},
      {"restore tag latest",
       [&] { ASSERT_EQ(store().restore_tag("alpha/multi", "latest"), RestoreTagResult::kRestored); }},
      {"trash web",
       [&] { ASSERT_EQ(store().trash_manifest("alpha/web", web->digest, kEarly).result, TrashResult::kTrashed); }},
      {"restore web", [&] { ASSERT_TRUE(store().restore_manifest("alpha/web", web->digest).found); }},
      {"trash copied index",
       [&] { ASSERT_EQ(store().trash_manifest("alpha2/multi", index->digest, kEarly).result, TrashResult::kTrashed); }},
      {"expire trash", [&] { EXPECT_EQ(store().expire_trash(kLate), 1u); }},
      {"delete manifest web", [&] { ASSERT_TRUE(store().delete_manifest("alpha/web", web->digest)); }},
      {"trash beta web",
       [&] { ASSERT_EQ(store().trash_manifest("beta/web", web->digest, kLate).result, TrashResult::kTrashed); }},
      {"delete namespace alpha2", [&] { ASSERT_TRUE(store().delete_namespace("alpha2")); }},
  };
  for (const auto& [name, step] : steps) {
    step();
    ASSERT_FALSE(HasFatalFailure()) << "step " << name;
    EXPECT_TRUE(storage_consistent(store(), kAccountA)) << "account A after " << name;
    EXPECT_TRUE(storage_consistent(store(), kAccountB)) << "account B after " << name;
  }

  // What is left is the index in alpha/multi with both children.
  EXPECT_TRUE(storage_is(store(), kAccountA,
                         800 + 900 + 40000 + 30000 + size_of(*amd64) + size_of(*arm64) + size_of(*index)));
  EXPECT_TRUE(storage_is(store(), kAccountB, 0));
}

TEST_P(MetadataStoreContract, UsageSurvivesReopen) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto live = push_image(store(), "alpha/app", "kept", {{"config kept", 1000}, {"layer", 50000}}, "v1");
  auto trashed = push_image(store(), "alpha/app", "trashed", {{"config trashed", 2000}, {"layer", 50000}}, "v2");
  ASSERT_EQ(store().trash_manifest("alpha/app", trashed.digest, kEarly).result, TrashResult::kTrashed);

  reopen();

  EXPECT_TRUE(storage_is(store(), kAccountA, 51000 + size_of(live)));
  EXPECT_THAT(trash_digests(store().list_trash({"alpha"})), ElementsAre("alpha/app@" + trashed.digest.str()));
  auto restored = store().restore_manifest("alpha/app", trashed.digest);
  EXPECT_THAT(restored.restored, ElementsAre("v2"));
  EXPECT_TRUE(storage_is(store(), kAccountA, 51000 + 2000 + size_of(live) + size_of(trashed)));
}

// --- Trash --------------------------------------------------------------------------

TEST_P(MetadataStoreContract, TrashHidesManifestAndTags) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto image = push_image(store(), "alpha/app", "one", {{"config", 1000}}, "v1");
  push_image(store(), "alpha/app", "one", {{"config", 1000}}, "v2");
  // Fills the cache of a caching store.
  ASSERT_TRUE(store().find_manifest("alpha/app", image.digest).has_value());
  ASSERT_TRUE(store().find_tagged_manifest("alpha/app", "v1").has_value());

  auto outcome = store().trash_manifest("alpha/app", image.digest, kEarly);

  EXPECT_EQ(outcome.result, TrashResult::kTrashed);
  EXPECT_THAT(outcome.tags, ElementsAre("v1", "v2"));
  EXPECT_EQ(outcome.index, std::nullopt);
  EXPECT_EQ(store().find_manifest("alpha/app", image.digest), std::nullopt);
  EXPECT_EQ(store().find_tagged_manifest("alpha/app", "v1"), std::nullopt);
  EXPECT_EQ(store().find_tagged_manifest("alpha/app", "v2"), std::nullopt);
  EXPECT_THAT(tag_names(store(), "alpha/app"), IsEmpty());
  EXPECT_THAT(store().list_images({"alpha"}, {}), IsEmpty());
  EXPECT_THAT(store().list_manifests(), IsEmpty());

  auto trash = store().list_trash({"alpha"});
  ASSERT_EQ(trash.size(), 1u);
  EXPECT_EQ(trash[0].repository, "alpha/app");
  EXPECT_EQ(trash[0].digest, image.digest);
  EXPECT_EQ(trash[0].media_type, oci::media_type::kOciManifest);
  EXPECT_THAT(trash[0].tags, ElementsAre("v1", "v2"));
  EXPECT_EQ(trash[0].trashed_at, kEarly);
}

TEST_P(MetadataStoreContract, TrashUnknownManifest) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto image = push_image(store(), "alpha/app", "one", {{"config", 1000}}, "v1");

  EXPECT_EQ(store().trash_manifest("alpha/app", sha256_of("nothing"), kEarly).result, TrashResult::kNotFound);
  EXPECT_EQ(store().trash_manifest("alpha/none", image.digest, kEarly).result, TrashResult::kNotFound);
  ASSERT_EQ(store().trash_manifest("alpha/app", image.digest, kEarly).result, TrashResult::kTrashed);
  EXPECT_EQ(store().trash_manifest("alpha/app", image.digest, kLate).result, TrashResult::kNotFound);
  EXPECT_EQ(store().list_trash({"alpha"}).size(), 1u);
}

TEST_P(MetadataStoreContract, ListTrashByNamespaceOldestFirst) {
  create_tenant(store(), kAccountA, "alpha", {"alpha", "alpha0", "alphabet"});
  auto late = push_image(store(), "alpha/b", "late", {{"config late", 1}});
  auto early = push_image(store(), "alpha/a", "early", {{"config early", 1}});
  auto neighbour = push_image(store(), "alpha0/a", "neighbour", {{"config neighbour", 1}});
  auto prefixed = push_image(store(), "alphabet/a", "prefixed", {{"config prefixed", 1}});
  ASSERT_EQ(store().trash_manifest("alpha/b", late.digest, kLate).result, TrashResult::kTrashed);
  ASSERT_EQ(store().trash_manifest("alpha/a", early.digest, kEarly).result, TrashResult::kTrashed);
  ASSERT_EQ(store().trash_manifest("alpha0/a", neighbour.digest, kEarly).result, TrashResult::kTrashed);
  ASSERT_EQ(store().trash_manifest("alphabet/a", prefixed.digest, kEarly).result, TrashResult::kTrashed);

  EXPECT_THAT(trash_digests(store().list_trash({"alpha"})),
              ElementsAre("alpha/a@" + early.digest.str(), "alpha/b@" + late.digest.str()));
  EXPECT_THAT(trash_digests(store().list_trash({"alphabet", "alpha0"})),
              UnorderedElementsAre("alpha0/a@" + neighbour.digest.str(), "alphabet/a@" + prefixed.digest.str()));
  EXPECT_THAT(store().list_trash({}), IsEmpty());
  EXPECT_THAT(store().list_trash({"unknown"}), IsEmpty());
}

TEST_P(MetadataStoreContract, RestoreByDigestRestoresTags) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto image = push_image(store(), "alpha/app", "one", {{"config", 1000}, {"layer", 20000}}, "v1");
  push_image(store(), "alpha/app", "one", {{"config", 1000}, {"layer", 20000}}, "v2");
  ASSERT_EQ(store().trash_manifest("alpha/app", image.digest, kEarly).result, TrashResult::kTrashed);

  auto outcome = store().restore_manifest("alpha/app", image.digest);

  EXPECT_TRUE(outcome.found);
  EXPECT_THAT(outcome.restored, ElementsAre("v1", "v2"));
  EXPECT_THAT(outcome.skipped, IsEmpty());
  auto found = store().find_manifest("alpha/app", image.digest);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->content, image.content);
  EXPECT_EQ(found->media_type, image.media_type);
  EXPECT_THAT(store().manifest_blob_references("alpha/app", image.digest),
              ::testing::UnorderedElementsAreArray(image.blob_references));
  for (const char* tag : {"v1", "v2"}) {
    auto tagged = store().find_tagged_manifest("alpha/app", tag);
    ASSERT_TRUE(tagged.has_value()) << tag;
    EXPECT_EQ(tagged->digest, image.digest) << tag;
  }
  EXPECT_THAT(store().list_trash({"alpha"}), IsEmpty());
  EXPECT_TRUE(storage_is(store(), kAccountA, 21000 + size_of(image)));
}

TEST_P(MetadataStoreContract, RestoreUntaggedManifest) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto image = push_image(store(), "alpha/app", "untagged", {{"config", 1000}});
  auto trashed = store().trash_manifest("alpha/app", image.digest, kEarly);
  ASSERT_EQ(trashed.result, TrashResult::kTrashed);
  EXPECT_THAT(trashed.tags, IsEmpty());

  auto outcome = store().restore_manifest("alpha/app", image.digest);

  EXPECT_TRUE(outcome.found);
  EXPECT_THAT(outcome.restored, IsEmpty());
  EXPECT_THAT(outcome.skipped, IsEmpty());
  EXPECT_TRUE(store().find_manifest("alpha/app", image.digest).has_value());
  EXPECT_THAT(store().list_trash({"alpha"}), IsEmpty());
}

TEST_P(MetadataStoreContract, RestoreUnknownTrashEntry) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto image = push_image(store(), "alpha/app", "live", {{"config", 1000}}, "v1");

  EXPECT_FALSE(store().restore_manifest("alpha/app", sha256_of("nothing")).found);
  EXPECT_FALSE(store().restore_manifest("alpha/none", image.digest).found);
  // A live manifest has no trash entry.
  auto live = store().restore_manifest("alpha/app", image.digest);
  EXPECT_FALSE(live.found);
  EXPECT_THAT(live.restored, IsEmpty());
}

TEST_P(MetadataStoreContract, RestoreByDigestSkipsLiveTags) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto old_image = push_image(store(), "alpha/app", "old", {{"config old", 1000}}, "v1");
  push_image(store(), "alpha/app", "old", {{"config old", 1000}}, "v2");
  ASSERT_EQ(store().trash_manifest("alpha/app", old_image.digest, kEarly).result, TrashResult::kTrashed);
  auto new_image = push_image(store(), "alpha/app", "new", {{"config new", 2000}}, "v1");

  auto outcome = store().restore_manifest("alpha/app", old_image.digest);

  EXPECT_TRUE(outcome.found);
  EXPECT_THAT(outcome.restored, ElementsAre("v2"));
  EXPECT_THAT(outcome.skipped, ElementsAre("v1"));
  EXPECT_TRUE(store().find_manifest("alpha/app", old_image.digest).has_value());
  EXPECT_EQ(store().find_tagged_manifest("alpha/app", "v1")->digest, new_image.digest);
  EXPECT_EQ(store().find_tagged_manifest("alpha/app", "v2")->digest, old_image.digest);
  // The skipped tag stays in the entry.
  auto trash = store().list_trash({"alpha"});
  ASSERT_EQ(trash.size(), 1u);
  EXPECT_EQ(trash[0].digest, old_image.digest);
  EXPECT_THAT(trash[0].tags, ElementsAre("v1"));
  EXPECT_TRUE(storage_is(store(), kAccountA, 1000 + 2000 + size_of(old_image) + size_of(new_image)));

  // Once the tag is free, restoring it moves it back and empties the entry.
  EXPECT_EQ(store().restore_tag("alpha/app", "v1"), RestoreTagResult::kTagLive);
  ASSERT_TRUE(store().delete_tag("alpha/app", "v1"));
  EXPECT_EQ(store().restore_tag("alpha/app", "v1"), RestoreTagResult::kRestored);
  EXPECT_EQ(store().find_tagged_manifest("alpha/app", "v1")->digest, old_image.digest);
  EXPECT_THAT(store().list_trash({"alpha"}), IsEmpty());
}

TEST_P(MetadataStoreContract, TrashAgainMergesSkippedTags) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto old_image = push_image(store(), "alpha/app", "old", {{"config old", 1000}}, "v1");
  push_image(store(), "alpha/app", "old", {{"config old", 1000}}, "v2");
  ASSERT_EQ(store().trash_manifest("alpha/app", old_image.digest, kEarly).result, TrashResult::kTrashed);
  push_image(store(), "alpha/app", "new", {{"config new", 2000}}, "v1");
  ASSERT_THAT(store().restore_manifest("alpha/app", old_image.digest).skipped, ElementsAre("v1"));

  auto outcome = store().trash_manifest("alpha/app", old_image.digest, kLate);

  EXPECT_EQ(outcome.result, TrashResult::kTrashed);
  EXPECT_THAT(outcome.tags, ElementsAre("v2"));
  auto trash = store().list_trash({"alpha"});
  ASSERT_EQ(trash.size(), 1u);
  EXPECT_THAT(trash[0].tags, ElementsAre("v1", "v2"));
  EXPECT_EQ(trash[0].trashed_at, kLate);
  EXPECT_TRUE(storage_consistent(store(), kAccountA));
}

TEST_P(MetadataStoreContract, RestoreTagRestoresThatTagOnly) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto image = push_image(store(), "alpha/app", "one", {{"config", 1000}}, "v1");
  push_image(store(), "alpha/app", "one", {{"config", 1000}}, "v2");
  ASSERT_EQ(store().trash_manifest("alpha/app", image.digest, kEarly).result, TrashResult::kTrashed);

  EXPECT_EQ(store().restore_tag("alpha/app", "v1"), RestoreTagResult::kRestored);

  EXPECT_TRUE(store().find_manifest("alpha/app", image.digest).has_value());
  EXPECT_EQ(store().find_tagged_manifest("alpha/app", "v1")->digest, image.digest);
  EXPECT_EQ(store().find_tagged_manifest("alpha/app", "v2"), std::nullopt);
  auto trash = store().list_trash({"alpha"});
  ASSERT_EQ(trash.size(), 1u);
  EXPECT_THAT(trash[0].tags, ElementsAre("v2"));
  EXPECT_TRUE(storage_is(store(), kAccountA, 1000 + size_of(image)));

  EXPECT_EQ(store().restore_tag("alpha/app", "v2"), RestoreTagResult::kRestored);
  EXPECT_EQ(store().find_tagged_manifest("alpha/app", "v2")->digest, image.digest);
  EXPECT_THAT(store().list_trash({"alpha"}), IsEmpty());
}

TEST_P(MetadataStoreContract, RestoreTagNotInTrash) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto image = push_image(store(), "alpha/app", "one", {{"config", 1000}}, "v1");
  ASSERT_EQ(store().trash_manifest("alpha/app", image.digest, kEarly).result, TrashResult::kTrashed);

  EXPECT_EQ(store().restore_tag("alpha/app", "v2"), RestoreTagResult::kNotInTrash);
  EXPECT_EQ(store().restore_tag("alpha/none", "v1"), RestoreTagResult::kNotInTrash);
  EXPECT_EQ(store().list_trash({"alpha"}).size(), 1u);
}

TEST_P(MetadataStoreContract, RestoreTagWhenTagLive) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto old_image = push_image(store(), "alpha/app", "old", {{"config old", 1000}}, "v1");
  ASSERT_EQ(store().trash_manifest("alpha/app", old_image.digest, kEarly).result, TrashResult::kTrashed);
  auto new_image = push_image(store(), "alpha/app", "new", {{"config new", 2000}}, "v1");

  EXPECT_EQ(store().restore_tag("alpha/app", "v1"), RestoreTagResult::kTagLive);

  // Nothing changed.
  EXPECT_EQ(store().find_manifest("alpha/app", old_image.digest), std::nullopt);
  EXPECT_EQ(store().find_tagged_manifest("alpha/app", "v1")->digest, new_image.digest);
  auto trash = store().list_trash({"alpha"});
  ASSERT_EQ(trash.size(), 1u);
  EXPECT_THAT(trash[0].tags, ElementsAre("v1"));
  EXPECT_TRUE(storage_is(store(), kAccountA, 2000 + size_of(new_image)));
}

TEST_P(MetadataStoreContract, RestoreTagLiveOnSameImage) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto image = push_image(store(), "alpha/app", "same", {{"config same", 1000}}, "v1");
  push_image(store(), "alpha/app", "same", {{"config same", 1000}}, "v2");
  ASSERT_EQ(store().trash_manifest("alpha/app", image.digest, kEarly).result, TrashResult::kTrashed);
  // The same image is pushed again with one of its tags.
  push_image(store(), "alpha/app", "same", {{"config same", 1000}}, "v1");

  EXPECT_EQ(store().restore_tag("alpha/app", "v1"), RestoreTagResult::kRestored);

  EXPECT_EQ(store().find_tagged_manifest("alpha/app", "v1")->digest, image.digest);
  auto trash = store().list_trash({"alpha"});
  ASSERT_EQ(trash.size(), 1u);
  EXPECT_THAT(trash[0].tags, ElementsAre("v2"));
  auto outcome = store().restore_manifest("alpha/app", image.digest);
  EXPECT_THAT(outcome.restored, ElementsAre("v2"));
  EXPECT_THAT(outcome.skipped, IsEmpty());
  EXPECT_THAT(store().list_trash({"alpha"}), IsEmpty());
}

TEST_P(MetadataStoreContract, RestoreTagTakesNewestEntry) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto first = push_image(store(), "alpha/app", "first", {{"config first", 1000}}, "v1");
  ASSERT_EQ(store().trash_manifest("alpha/app", first.digest, kEarly).result, TrashResult::kTrashed);
  auto second = push_image(store(), "alpha/app", "second", {{"config second", 2000}}, "v1");
  ASSERT_EQ(store().trash_manifest("alpha/app", second.digest, kLate).result, TrashResult::kTrashed);

  EXPECT_EQ(store().restore_tag("alpha/app", "v1"), RestoreTagResult::kRestored);

  EXPECT_EQ(store().find_tagged_manifest("alpha/app", "v1")->digest, second.digest);
  EXPECT_EQ(store().find_manifest("alpha/app", first.digest), std::nullopt);
  EXPECT_THAT(trash_digests(store().list_trash({"alpha"})), ElementsAre("alpha/app@" + first.digest.str()));
  // The older entry still has the tag, which is live now.
  EXPECT_EQ(store().restore_tag("alpha/app", "v1"), RestoreTagResult::kTagLive);
}

TEST_P(MetadataStoreContract, TrashIndexTakesUntaggedChildren) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto untagged = push_image(store(), "alpha/multi", "untagged", {{"untagged config", 100}, {"untagged layer", 10000}});
  auto tagged = push_image(store(), "alpha/multi", "tagged", {{"tagged config", 200}}, "arm64");
  auto shared = push_image(store(), "alpha/multi", "shared", {{"shared config", 300}});
  auto other = push_index(store(), "alpha/multi", "other", {shared.digest}, "other");
  auto index = push_index(store(), "alpha/multi", "index", {untagged.digest, tagged.digest, shared.digest}, "latest");
  std::uint64_t full = 100 + 10000 + 200 + 300 + size_of(untagged) + size_of(tagged) + size_of(shared) +
                       size_of(other) + size_of(index);
  ASSERT_TRUE(storage_is(store(), kAccountA, full));
  ASSERT_TRUE(store().find_manifest("alpha/multi", untagged.digest).has_value());  // fills a cache, if any

  auto outcome = store().trash_manifest("alpha/multi", index.digest, kEarly);

  EXPECT_EQ(outcome.result, TrashResult::kTrashed);
  EXPECT_THAT(outcome.tags, ElementsAre("latest"));
  EXPECT_EQ(store().find_manifest("alpha/multi", index.digest), std::nullopt);
  EXPECT_EQ(store().find_manifest("alpha/multi", untagged.digest), std::nullopt);
  // A tagged child and one that another live index references stay.
  EXPECT_TRUE(store().find_manifest("alpha/multi", tagged.digest).has_value());
  EXPECT_TRUE(store().find_manifest("alpha/multi", shared.digest).has_value());
  // The trashed child is part of the index's entry, not an entry of its own.
  EXPECT_THAT(trash_digests(store().list_trash({"alpha"})), ElementsAre("alpha/multi@" + index.digest.str()));
  EXPECT_TRUE(storage_is(store(), kAccountA, 200 + 300 + size_of(tagged) + size_of(shared) + size_of(other)));

  auto restored = store().restore_manifest("alpha/multi", index.digest);

  EXPECT_TRUE(restored.found);
  EXPECT_THAT(restored.restored, ElementsAre("latest"));
  EXPECT_TRUE(store().find_manifest("alpha/multi", untagged.digest).has_value());
  EXPECT_EQ(store().find_tagged_manifest("alpha/multi", "latest")->digest, index.digest);
  EXPECT_EQ(store().manifest_child_references("alpha/multi", index.digest),
            sorted_by_text({untagged.digest, tagged.digest, shared.digest}));
  EXPECT_THAT(store().list_trash({"alpha"}), IsEmpty());
  EXPECT_TRUE(storage_is(store(), kAccountA, full));
}

TEST_P(MetadataStoreContract, TrashNestedIndexAtEveryDepth) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto leaf_a = push_image(store(), "alpha/multi", "leaf a", {{"leaf a config", 100}});
  auto leaf_b = push_image(store(), "alpha/multi", "leaf b", {{"leaf b config", 200}});
  auto inner = push_index(store(), "alpha/multi", "inner", {leaf_a.digest, leaf_b.digest});
  auto outer = push_index(store(), "alpha/multi", "outer", {inner.digest}, "latest");
  std::uint64_t full = 300 + size_of(leaf_a) + size_of(leaf_b) + size_of(inner) + size_of(outer);

  ASSERT_EQ(store().trash_manifest("alpha/multi", outer.digest, kEarly).result, TrashResult::kTrashed);

  for (const auto* write : {&leaf_a, &leaf_b, &inner, &outer}) {
    EXPECT_EQ(store().find_manifest("alpha/multi", write->digest), std::nullopt) << write->digest.str();
  }
  EXPECT_THAT(trash_digests(store().list_trash({"alpha"})), ElementsAre("alpha/multi@" + outer.digest.str()));
  EXPECT_TRUE(storage_is(store(), kAccountA, 0));

  ASSERT_TRUE(store().restore_manifest("alpha/multi", outer.digest).found);

  for (const auto* write : {&leaf_a, &leaf_b, &inner, &outer}) {
    EXPECT_TRUE(store().find_manifest("alpha/multi", write->digest).has_value()) << write->digest.str();
  }
  EXPECT_THAT(store().list_trash({"alpha"}), IsEmpty());
  EXPECT_TRUE(storage_is(store(), kAccountA, full));
}

TEST_P(MetadataStoreContract, RestoreTagOfIndexRestoresChildren) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto child = push_image(store(), "alpha/multi", "child", {{"child config", 100}});
  auto index = push_index(store(), "alpha/multi", "index", {child.digest}, "latest");
  ASSERT_EQ(store().trash_manifest("alpha/multi", index.digest, kEarly).result, TrashResult::kTrashed);

  EXPECT_EQ(store().restore_tag("alpha/multi", "latest"), RestoreTagResult::kRestored);

  EXPECT_TRUE(store().find_manifest("alpha/multi", child.digest).has_value());
  EXPECT_EQ(store().find_tagged_manifest("alpha/multi", "latest")->digest, index.digest);
  EXPECT_THAT(store().list_trash({"alpha"}), IsEmpty());
  EXPECT_TRUE(storage_is(store(), kAccountA, 100 + size_of(child) + size_of(index)));
}

TEST_P(MetadataStoreContract, TrashChildOfLiveIndexRejected) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto child = push_image(store(), "alpha/multi", "child", {{"child config", 100}}, "child");
  auto index = push_index(store(), "alpha/multi", "index", {child.digest}, "latest");

  auto outcome = store().trash_manifest("alpha/multi", child.digest, kEarly);

  EXPECT_EQ(outcome.result, TrashResult::kReferencedByIndex);
  EXPECT_THAT(outcome.index, Optional(index.digest));
  EXPECT_THAT(outcome.tags, IsEmpty());
  EXPECT_TRUE(store().find_manifest("alpha/multi", child.digest).has_value());
  EXPECT_EQ(store().find_tagged_manifest("alpha/multi", "child")->digest, child.digest);
  EXPECT_THAT(store().list_trash({"alpha"}), IsEmpty());

  // Once the index is in the trash, the tagged child stayed live and may go.
  ASSERT_EQ(store().trash_manifest("alpha/multi", index.digest, kEarly).result, TrashResult::kTrashed);
  EXPECT_EQ(store().trash_manifest("alpha/multi", child.digest, kEarly).result, TrashResult::kTrashed);
}

TEST_P(MetadataStoreContract, TrashChildOfOtherRepositoryIndexAllowed) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto child = push_image(store(), "alpha/multi", "child", {{"child config", 100}});
  push_index(store(), "alpha/multi", "index", {child.digest}, "latest");
  push_image(store(), "alpha/single", "child", {{"child config", 100}});

  EXPECT_EQ(store().trash_manifest("alpha/single", child.digest, kEarly).result, TrashResult::kTrashed);
  EXPECT_TRUE(store().find_manifest("alpha/multi", child.digest).has_value());
}

// Two indexes share an untagged child. The child goes to the trash with the
// second index trashed, so restoring the first must bring it back, or the
// restored index would reference a manifest that cannot be pulled.
TEST_P(MetadataStoreContract, RestoreIndexBringsBackSharedChild) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto child = push_image(store(), "alpha/multi", "child", {{"child config", 100}});
  auto first = push_index(store(), "alpha/multi", "first", {child.digest}, "first");
  auto second = push_index(store(), "alpha/multi", "second", {child.digest}, "second");
  ASSERT_EQ(store().trash_manifest("alpha/multi", first.digest, kEarly).result, TrashResult::kTrashed);
  ASSERT_TRUE(store().find_manifest("alpha/multi", child.digest).has_value());
  ASSERT_EQ(store().trash_manifest("alpha/multi", second.digest, kLate).result, TrashResult::kTrashed);
  ASSERT_EQ(store().find_manifest("alpha/multi", child.digest), std::nullopt);

  ASSERT_TRUE(store().restore_manifest("alpha/multi", first.digest).found);

  EXPECT_TRUE(store().find_manifest("alpha/multi", first.digest).has_value());
  EXPECT_TRUE(store().find_manifest("alpha/multi", child.digest).has_value());
  EXPECT_TRUE(storage_is(store(), kAccountA, 100 + size_of(child) + size_of(first)));

  // The second index comes back with its child live already.
  ASSERT_TRUE(store().restore_manifest("alpha/multi", second.digest).found);
  EXPECT_TRUE(store().find_manifest("alpha/multi", second.digest).has_value());
  EXPECT_THAT(store().list_trash({"alpha"}), IsEmpty());
  EXPECT_TRUE(storage_is(store(), kAccountA, 100 + size_of(child) + size_of(first) + size_of(second)));
}

// A child trashed on its own with a tag, pushed again and then trashed
// with an index merges into its old entry, which is not part of the
// index's entry. Restoring the index brings the child back and leaves
// the old entry with its tag.
TEST_P(MetadataStoreContract, RestoreIndexBringsBackChildWithOwnEntry) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto child = push_image(store(), "alpha/multi", "child", {{"child config", 100}}, "child");
  ASSERT_EQ(store().trash_manifest("alpha/multi", child.digest, kEarly).result, TrashResult::kTrashed);
  push_image(store(), "alpha/multi", "child", {{"child config", 100}});
  auto index = push_index(store(), "alpha/multi", "index", {child.digest}, "latest");
  ASSERT_EQ(store().trash_manifest("alpha/multi", index.digest, kLate).result, TrashResult::kTrashed);
  ASSERT_EQ(store().find_manifest("alpha/multi", child.digest), std::nullopt);
  ASSERT_THAT(trash_digests(store().list_trash({"alpha"})),
              UnorderedElementsAre("alpha/multi@" + child.digest.str(), "alpha/multi@" + index.digest.str()));

  auto restored = store().restore_manifest("alpha/multi", index.digest);

  EXPECT_THAT(restored.restored, ElementsAre("latest"));
  EXPECT_TRUE(store().find_manifest("alpha/multi", child.digest).has_value());
  EXPECT_EQ(store().find_tagged_manifest("alpha/multi", "child"), std::nullopt);
  auto trash = store().list_trash({"alpha"});
  ASSERT_EQ(trash.size(), 1u);
  EXPECT_EQ(trash[0].digest, child.digest);
  EXPECT_THAT(trash[0].tags, ElementsAre("child"));
  EXPECT_TRUE(storage_is(store(), kAccountA, 100 + size_of(child) + size_of(index)));

  EXPECT_EQ(store().restore_tag("alpha/multi", "child"), RestoreTagResult::kRestored);
  EXPECT_EQ(store().find_tagged_manifest("alpha/multi", "child")->digest, child.digest);
  EXPECT_THAT(store().list_trash({"alpha"}), IsEmpty());
}

// Only live manifests keep a blob linked, so a client may delete the link
// of a trashed manifest's blob. The restored image must still be pullable.
TEST_P(MetadataStoreContract, RestoreRelinksBlobs) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto image = push_image(store(), "alpha/app", "one", {{"config", 1000}, {"layer", 20000}}, "v1");
  ASSERT_EQ(store().trash_manifest("alpha/app", image.digest, kEarly).result, TrashResult::kTrashed);
  ASSERT_TRUE(store().unlink_blob("alpha/app", blob_digest("layer")).unlinked);

  ASSERT_TRUE(store().restore_manifest("alpha/app", image.digest).found);

  auto layer = store().find_repository_blob("alpha/app", blob_digest("layer"));
  ASSERT_TRUE(layer.has_value());
  EXPECT_EQ(layer->size, 20000u);
  EXPECT_FALSE(store().unlink_blob("alpha/app", blob_digest("layer")).unlinked);
  EXPECT_TRUE(storage_is(store(), kAccountA, 21000 + size_of(image)));
}

TEST_P(MetadataStoreContract, RepushTrashedManifest) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto image = push_image(store(), "alpha/app", "one", {{"config", 1000}}, "v1");
  ASSERT_EQ(store().trash_manifest("alpha/app", image.digest, kEarly).result, TrashResult::kTrashed);

  push_image(store(), "alpha/app", "one", {{"config", 1000}}, "v2");

  EXPECT_TRUE(storage_is(store(), kAccountA, 1000 + size_of(image)));
  // Restoring the entry adds its tag to the live manifest.
  auto outcome = store().restore_manifest("alpha/app", image.digest);
  EXPECT_THAT(outcome.restored, ElementsAre("v1"));
  EXPECT_THAT(tag_names(store(), "alpha/app"), ElementsAre("v1", "v2"));
  EXPECT_THAT(store().list_trash({"alpha"}), IsEmpty());
  EXPECT_TRUE(storage_is(store(), kAccountA, 1000 + size_of(image)));
}

// --- Trash expiry and garbage collection ---------------------------------------------

TEST_P(MetadataStoreContract, ExpireTrashRemovesOldEntries) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto old_image = push_image(store(), "alpha/app", "old", {{"config old", 1000}}, "old");
  auto new_image = push_image(store(), "alpha/app", "new", {{"config new", 2000}}, "new");
  auto child = push_image(store(), "alpha/multi", "child", {{"child config", 100}});
  auto index = push_index(store(), "alpha/multi", "index", {child.digest});
  ASSERT_EQ(store().trash_manifest("alpha/app", old_image.digest, kEarly).result, TrashResult::kTrashed);
  ASSERT_EQ(store().trash_manifest("alpha/multi", index.digest, kEarly).result, TrashResult::kTrashed);
  ASSERT_EQ(store().trash_manifest("alpha/app", new_image.digest, kLate).result, TrashResult::kTrashed);

  // Entries trashed at the cutoff itself stay.
  EXPECT_EQ(store().expire_trash(kEarly), 0u);
  // The index counts as one entry with its child.
  EXPECT_EQ(store().expire_trash(kEarly + 1), 2u);

  EXPECT_THAT(trash_digests(store().list_trash({"alpha"})), ElementsAre("alpha/app@" + new_image.digest.str()));
  EXPECT_FALSE(store().restore_manifest("alpha/app", old_image.digest).found);
  EXPECT_FALSE(store().restore_manifest("alpha/multi", index.digest).found);
  EXPECT_FALSE(store().restore_manifest("alpha/multi", child.digest).found);
  EXPECT_EQ(store().restore_tag("alpha/app", "old"), RestoreTagResult::kNotInTrash);
  EXPECT_EQ(store().restore_tag("alpha/app", "new"), RestoreTagResult::kRestored);
  EXPECT_TRUE(storage_is(store(), kAccountA, 2000 + size_of(new_image)));
}

TEST_P(MetadataStoreContract, TrashedBlobsUnreferencedOnlyAfterExpiry) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto trashed = push_image(store(), "alpha/app", "trashed", {{"config trashed", 1000}, {"shared layer", 50000}});
  push_image(store(), "alpha/other", "live", {{"config live", 2000}, {"shared layer", 50000}}, "v1");
  ASSERT_THAT(store().unreferenced_blobs(after_every_touch(), 100), IsEmpty());

  ASSERT_EQ(store().trash_manifest("alpha/app", trashed.digest, kEarly).result, TrashResult::kTrashed);
  // The trash keeps the blobs of its manifests referenced.
  EXPECT_THAT(store().unreferenced_blobs(after_every_touch(), 100), IsEmpty());
  EXPECT_FALSE(store().collect_blob(blob_digest("config trashed"), after_every_touch(), [] {}));

  ASSERT_EQ(store().expire_trash(kLate), 1u);

  // Only the blob that no other image references is unreferenced now, and
  // only for a cutoff after its last touch.
  EXPECT_THAT(blob_digests(store().unreferenced_blobs(after_every_touch(), 100)),
              ElementsAre(blob_digest("config trashed")));
  EXPECT_THAT(store().unreferenced_blobs(core::unix_now() - 3600, 100), IsEmpty());
}

TEST_P(MetadataStoreContract, TrashedIndexChildBlobsUnreferencedAfterExpiry) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto child = push_image(store(), "alpha/multi", "child", {{"child config", 100}, {"child layer", 1000}});
  auto index = push_index(store(), "alpha/multi", "index", {child.digest}, "latest");
  ASSERT_EQ(store().trash_manifest("alpha/multi", index.digest, kEarly).result, TrashResult::kTrashed);
  EXPECT_THAT(store().unreferenced_blobs(after_every_touch(), 100), IsEmpty());

  ASSERT_EQ(store().expire_trash(kLate), 1u);

  EXPECT_THAT(blob_digests(store().unreferenced_blobs(after_every_touch(), 100)),
              UnorderedElementsAre(blob_digest("child config"), blob_digest("child layer")));
}

TEST_P(MetadataStoreContract, DeletedManifestBlobsUnreferenced) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto image = push_image(store(), "alpha/app", "one", {{"config", 1000}, {"layer", 20000}}, "v1");

  ASSERT_TRUE(store().delete_manifest("alpha/app", image.digest));

  EXPECT_THAT(blob_digests(store().unreferenced_blobs(after_every_touch(), 100)),
              UnorderedElementsAre(blob_digest("config"), blob_digest("layer")));
}

TEST_P(MetadataStoreContract, UnreferencedBlobsOldestFirstWithLimit) {
  store().touch_blob(blob_digest("middle"), 10, 200);
  store().touch_blob(blob_digest("oldest"), 20, 100);
  store().touch_blob(blob_digest("newest"), 30, 300);

  auto blobs = store().unreferenced_blobs(300, 10);

  ASSERT_EQ(blobs.size(), 2u);
  EXPECT_EQ(blobs[0].digest, blob_digest("oldest"));
  EXPECT_EQ(blobs[0].size, 20u);
  EXPECT_EQ(blobs[1].digest, blob_digest("middle"));
  EXPECT_THAT(blob_digests(store().unreferenced_blobs(1000, 1)), ElementsAre(blob_digest("oldest")));
  EXPECT_THAT(store().unreferenced_blobs(100, 10), IsEmpty());
  EXPECT_THAT(store().unreferenced_blobs(1000, 0), IsEmpty());
}

TEST_P(MetadataStoreContract, TouchBlobRecordsAndRenews) {
  store().touch_blob(blob_digest("uploaded"), 42, 100);

  auto blobs = store().list_blobs();
  ASSERT_EQ(blobs.size(), 1u);
  EXPECT_EQ(blobs[0].digest, blob_digest("uploaded"));
  EXPECT_EQ(blobs[0].size, 42u);
  EXPECT_FALSE(store().repository_exists("alpha/app"));
  EXPECT_THAT(blob_digests(store().unreferenced_blobs(200, 10)), ElementsAre(blob_digest("uploaded")));

  store().touch_blob(blob_digest("uploaded"), 42, 500);
  EXPECT_THAT(store().unreferenced_blobs(200, 10), IsEmpty());
  // An older touch never moves the time back.
  store().touch_blob(blob_digest("uploaded"), 42, 50);
  EXPECT_THAT(store().unreferenced_blobs(200, 10), IsEmpty());
  EXPECT_THAT(blob_digests(store().unreferenced_blobs(501, 10)), ElementsAre(blob_digest("uploaded")));
}

TEST_P(MetadataStoreContract, LinkBlobRenewsTouch) {
  store().touch_blob(blob_digest("mounted"), 42, 100);
  ASSERT_THAT(blob_digests(store().unreferenced_blobs(200, 10)), ElementsAre(blob_digest("mounted")));

  store().link_blob("alpha/app", blob_digest("mounted"), 42);

  EXPECT_THAT(store().unreferenced_blobs(200, 10), IsEmpty());
  EXPECT_FALSE(store().collect_blob(blob_digest("mounted"), 200, [] {}));
}

TEST_P(MetadataStoreContract, CollectBlobRejectsReferencedBlob) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  auto live = push_image(store(), "alpha/app", "live", {{"live config", 1000}}, "v1");
  auto trashed = push_image(store(), "alpha/app", "trashed", {{"trashed config", 2000}});
  ASSERT_EQ(store().trash_manifest("alpha/app", trashed.digest, kEarly).result, TrashResult::kTrashed);
  int calls = 0;

  EXPECT_FALSE(store().collect_blob(blob_digest("live config"), after_every_touch(), [&] { ++calls; }));
  EXPECT_FALSE(store().collect_blob(blob_digest("trashed config"), after_every_touch(), [&] { ++calls; }));
  EXPECT_FALSE(store().collect_blob(sha256_of("unknown"), after_every_touch(), [&] { ++calls; }));

  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(store().find_repository_blob("alpha/app", blob_digest("live config")).has_value());
  EXPECT_TRUE(store().find_repository_blob("alpha/app", blob_digest("trashed config")).has_value());
  EXPECT_TRUE(store().restore_manifest("alpha/app", trashed.digest).found);
}

TEST_P(MetadataStoreContract, CollectBlobRejectsRecentlyTouched) {
  store().touch_blob(blob_digest("recent"), 42, 500);
  int calls = 0;

  EXPECT_FALSE(store().collect_blob(blob_digest("recent"), 500, [&] { ++calls; }));
  EXPECT_FALSE(store().collect_blob(blob_digest("recent"), 100, [&] { ++calls; }));

  EXPECT_EQ(calls, 0);
  EXPECT_EQ(store().list_blobs().size(), 1u);
  EXPECT_TRUE(store().collect_blob(blob_digest("recent"), 501, [&] { ++calls; }));
  EXPECT_EQ(calls, 1);
}

TEST_P(MetadataStoreContract, CollectBlobRemovesRecordAndLinks) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  Digest digest = blob_digest("unreferenced");
  store().link_blob("alpha/one", digest, 42);
  store().link_blob("alpha/two", digest, 42);
  // Fills the cache of a caching store.
  ASSERT_TRUE(store().find_repository_blob("alpha/one", digest).has_value());
  ASSERT_TRUE(store().find_repository_blob("alpha/two", digest).has_value());
  int calls = 0;

  EXPECT_TRUE(store().collect_blob(digest, after_every_touch(), [&] { ++calls; }));

  EXPECT_EQ(calls, 1);
  EXPECT_EQ(store().find_repository_blob("alpha/one", digest), std::nullopt);
  EXPECT_EQ(store().find_repository_blob("alpha/two", digest), std::nullopt);
  EXPECT_THAT(store().list_blobs(), IsEmpty());
  EXPECT_THAT(store().unreferenced_blobs(after_every_touch(), 10), IsEmpty());
  EXPECT_FALSE(store().collect_blob(digest, after_every_touch(), [&] { ++calls; }));
  EXPECT_EQ(calls, 1);
  // The repositories stay and the digest may be uploaded again.
  EXPECT_TRUE(store().repository_exists("alpha/one"));
  store().link_blob("alpha/one", digest, 42);
  EXPECT_TRUE(store().find_repository_blob("alpha/one", digest).has_value());
}

TEST_P(MetadataStoreContract, CollectBlobThrowingCallbackRollsBack) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  Digest digest = blob_digest("unreferenced");
  store().link_blob("alpha/app", digest, 42);

  EXPECT_THROW(store().collect_blob(digest, after_every_touch(), [] { throw std::runtime_error("disk failed"); }),
               std::runtime_error);

  auto linked = store().find_repository_blob("alpha/app", digest);
  ASSERT_TRUE(linked.has_value());
  EXPECT_EQ(linked->size, 42u);
  EXPECT_THAT(blob_digests(store().unreferenced_blobs(after_every_touch(), 10)), ElementsAre(digest));
  // The store stays usable, and a later collection succeeds.
  EXPECT_TRUE(store().collect_blob(digest, after_every_touch(), [] {}));
  EXPECT_EQ(store().find_repository_blob("alpha/app", digest), std::nullopt);
}

TEST_P(MetadataStoreContract, TouchBlobWaitsForCollection) {
  Digest digest = blob_digest("uploaded again");
  store().touch_blob(digest, 42, 100);
  std::atomic<bool> touched{false};
  std::thread upload;
  bool touched_during_removal = true;

  // An upload of the same digest records it while the data is removed.
  EXPECT_TRUE(store().collect_blob(digest, 200, [&] {
    upload = std::thread([&] {
      store().touch_blob(digest, 42, 300);
      touched = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    touched_during_removal = touched;
  }));
  upload.join();

  // The record came after the removal, so the upload's data stays.
  EXPECT_FALSE(touched_during_removal);
  auto blobs = store().list_blobs();
  ASSERT_EQ(blobs.size(), 1u);
  EXPECT_EQ(blobs[0].digest, digest);
  EXPECT_THAT(store().unreferenced_blobs(300, 10), IsEmpty());
  EXPECT_THAT(blob_digests(store().unreferenced_blobs(301, 10)), ElementsAre(digest));
}

TEST_P(MetadataStoreContract, CollectOrphanData) {
  store().touch_blob(blob_digest("recorded"), 42, 100);
  int calls = 0;

  EXPECT_TRUE(store().collect_orphan_data(blob_digest("orphan"), [&] {
    ++calls;
    return true;
  }));
  EXPECT_FALSE(store().collect_orphan_data(blob_digest("orphan"), [&] {
    ++calls;
    return false;
  }));
  EXPECT_EQ(calls, 2);

  EXPECT_FALSE(store().collect_orphan_data(blob_digest("recorded"), [&] {
    ++calls;
    return true;
  }));
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(store().list_blobs().size(), 1u);
}

// --- Traffic, plans and quotas ------------------------------------------------------

TEST_P(MetadataStoreContract, PullTrafficPerMonth) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  create_tenant(store(), kAccountB, "beta", {"beta"});

  store().add_pull_traffic(kAccountA, "2024-05", 100);
  store().add_pull_traffic(kAccountA, "2024-05", 50);
  store().add_pull_traffic(kAccountA, "2024-06", 7);
  store().add_pull_traffic(kAccountA, "2024-06", 0);
  store().add_pull_traffic(kAccountB, "2024-05", 1000);

  EXPECT_EQ(store().account_usage(kAccountA, "2024-05").traffic_bytes, 150u);
  EXPECT_EQ(store().account_usage(kAccountA, "2024-06").traffic_bytes, 7u);
  EXPECT_EQ(store().account_usage(kAccountA, "2024-07").traffic_bytes, 0u);
  EXPECT_EQ(store().account_usage(kAccountB, "2024-05").traffic_bytes, 1000u);
  EXPECT_EQ(store().account_usage(kUnknownAccount, "2024-05").traffic_bytes, 0u);
  reopen();
  EXPECT_EQ(store().account_usage(kAccountA, "2024-05").traffic_bytes, 150u);
}

TEST_P(MetadataStoreContract, QuotaRoundTrip) {
  create_tenant(store(), kAccountA, "alpha", {});
  create_tenant(store(), kAccountB, "beta", {});
  EXPECT_EQ(store().account_quota(kAccountA), QuotaSettings{});

  ASSERT_TRUE(store().set_account_quota(kAccountA, QuotaSettings{.storage_bytes = -1, .traffic_bytes = 5000000000}));

  EXPECT_EQ(store().account_quota(kAccountA), (QuotaSettings{.storage_bytes = -1, .traffic_bytes = 5000000000}));
  EXPECT_EQ(store().account_quota(kAccountB), QuotaSettings{});
  reopen();
  EXPECT_EQ(store().account_quota(kAccountA), (QuotaSettings{.storage_bytes = -1, .traffic_bytes = 5000000000}));

  // Setting replaces both values, and nullopt means the plan's limit.
  ASSERT_TRUE(store().set_account_quota(kAccountA, QuotaSettings{.storage_bytes = 0}));
  EXPECT_EQ(store().account_quota(kAccountA), QuotaSettings{.storage_bytes = 0});
  ASSERT_TRUE(store().set_account_quota(kAccountA, QuotaSettings{}));
  EXPECT_EQ(store().account_quota(kAccountA), QuotaSettings{});
}

TEST_P(MetadataStoreContract, QuotaUnknownAccount) {
  EXPECT_FALSE(store().set_account_quota(kUnknownAccount, QuotaSettings{.storage_bytes = 10}));
  EXPECT_EQ(store().account_quota(kUnknownAccount), QuotaSettings{});
}

TEST_P(MetadataStoreContract, SetAccountPlan) {
  create_tenant(store(), kAccountA, "alpha", {});
  ASSERT_EQ(store().find_account(kAccountA)->plan, "lite");

  ASSERT_TRUE(store().set_account_plan(kAccountA, "standard"));

  EXPECT_EQ(store().find_account(kAccountA)->plan, "standard");
  reopen();
  EXPECT_EQ(store().find_account(kAccountA)->plan, "standard");
  EXPECT_FALSE(store().set_account_plan(kUnknownAccount, "standard"));
  EXPECT_EQ(store().find_account(kUnknownAccount), std::nullopt);
}

TEST_P(MetadataStoreContract, RepositoryAccountFromNamespace) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  create_tenant(store(), kAccountB, "beta", {"beta"});

  EXPECT_THAT(store().repository_account("alpha/app"), Optional(kAccountA));
  EXPECT_THAT(store().repository_account("alpha/team/app"), Optional(kAccountA));
  EXPECT_THAT(store().repository_account("beta/app"), Optional(kAccountB));
  EXPECT_EQ(store().repository_account("gamma/app"), std::nullopt);
  EXPECT_EQ(store().repository_account("alphabet/app"), std::nullopt);
}

// --- Retention policies --------------------------------------------------------------

TEST_P(MetadataStoreContract, RetentionPolicyStoredAndListed) {
  create_tenant(store(), kAccountA, "alpha", {"alpha", "alpha2"});
  create_tenant(store(), kAccountB, "beta", {"beta"});
  EXPECT_EQ(store().find_retention_policy("alpha"), std::nullopt);

  ASSERT_TRUE(store().set_retention_policy(
      RetentionPolicy{.namespace_name = "alpha", .images_per_repo = 5, .retain_untagged = true}));
  ASSERT_TRUE(store().set_retention_policy(
      RetentionPolicy{.namespace_name = "alpha2", .images_per_repo = 3, .deletion_threshold_days = 30}));
  ASSERT_TRUE(store().set_retention_policy(RetentionPolicy{.namespace_name = "beta", .images_per_repo = 1}));

  auto alpha = store().find_retention_policy("alpha");
  ASSERT_TRUE(alpha.has_value());
  EXPECT_EQ(alpha->namespace_name, "alpha");
  EXPECT_EQ(alpha->account_id, kAccountA);
  EXPECT_EQ(alpha->images_per_repo, 5);
  EXPECT_TRUE(alpha->retain_untagged);
  EXPECT_EQ(alpha->deletion_threshold_days, 0);
  EXPECT_GT(alpha->updated_at, 0);
  auto alpha2 = store().find_retention_policy("alpha2");
  ASSERT_TRUE(alpha2.has_value());
  EXPECT_EQ(alpha2->images_per_repo, 3);
  EXPECT_FALSE(alpha2->retain_untagged);
  EXPECT_EQ(alpha2->deletion_threshold_days, 30);

  auto names = [](const std::vector<RetentionPolicy>& policies) {
    std::vector<std::string> out;
    for (const auto& policy : policies) out.push_back(policy.namespace_name + " " + policy.account_id);
    return out;
  };
  EXPECT_THAT(names(store().list_retention_policies(kAccountA)),
              ElementsAre("alpha " + kAccountA, "alpha2 " + kAccountA));
  EXPECT_THAT(names(store().list_retention_policies(kAccountB)), ElementsAre("beta " + kAccountB));
  EXPECT_THAT(names(store().list_retention_policies("")),
              ElementsAre("alpha " + kAccountA, "alpha2 " + kAccountA, "beta " + kAccountB));
  EXPECT_THAT(store().list_retention_policies(kUnknownAccount), IsEmpty());

  reopen();
  EXPECT_EQ(store().find_retention_policy("alpha")->images_per_repo, 5);
}

TEST_P(MetadataStoreContract, RetentionPolicyReplacedAndRemoved) {
  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  ASSERT_TRUE(store().set_retention_policy(
      RetentionPolicy{.namespace_name = "alpha", .images_per_repo = 5, .retain_untagged = true}));

  ASSERT_TRUE(store().set_retention_policy(RetentionPolicy{.namespace_name = "alpha", .images_per_repo = 3}));
  auto replaced = store().find_retention_policy("alpha");
  ASSERT_TRUE(replaced.has_value());
  EXPECT_EQ(replaced->images_per_repo, 3);
  EXPECT_FALSE(replaced->retain_untagged);

  // Keeping every image with no threshold is no policy.
  // Keeping all images deletes nothing whatever the other settings, so it
  // removes the policy.
  ASSERT_TRUE(store().set_retention_policy(
      RetentionPolicy{.namespace_name = "alpha", .images_per_repo = -1, .retain_untagged = true,
                      .deletion_threshold_days = 7}));
  EXPECT_EQ(store().find_retention_policy("alpha"), std::nullopt);
  EXPECT_THAT(store().list_retention_policies(kAccountA), IsEmpty());
}

TEST_P(MetadataStoreContract, RetentionPolicyNamespaceMustExist) {
  EXPECT_FALSE(store().set_retention_policy(RetentionPolicy{.namespace_name = "missing", .images_per_repo = 5}));
  EXPECT_EQ(store().find_retention_policy("missing"), std::nullopt);

  create_tenant(store(), kAccountA, "alpha", {"alpha"});
  ASSERT_TRUE(store().set_retention_policy(RetentionPolicy{.namespace_name = "alpha", .images_per_repo = 5}));
  ASSERT_TRUE(store().delete_namespace("alpha"));
  EXPECT_EQ(store().find_retention_policy("alpha"), std::nullopt);
  // A namespace that takes the name again starts without a policy.
  ASSERT_EQ(store().create_namespace(NamespaceRecord{.name = "alpha", .account_id = kAccountA}, 100),
            metadata::CreateNamespaceResult::kCreated);
  EXPECT_EQ(store().find_retention_policy("alpha"), std::nullopt);
}

// --- Background jobs -----------------------------------------------------------------

TEST_P(MetadataStoreContract, LeaseRejectsSecondHolderUntilExpiry) {
  EXPECT_TRUE(store().acquire_lease("gc", "node-1", 100, 200));

  EXPECT_FALSE(store().acquire_lease("gc", "node-2", 150, 250));
  EXPECT_FALSE(store().acquire_lease("gc", "node-2", 199, 299));
  // Other jobs have leases of their own.
  EXPECT_TRUE(store().acquire_lease("retention", "node-2", 150, 250));
  // At its expiry the lease is free.
  EXPECT_TRUE(store().acquire_lease("gc", "node-2", 200, 300));
  EXPECT_FALSE(store().acquire_lease("gc", "node-1", 250, 350));
}

TEST_P(MetadataStoreContract, LeaseRenewedBySameHolder) {
  ASSERT_TRUE(store().acquire_lease("gc", "node-1", 100, 200));

  EXPECT_TRUE(store().acquire_lease("gc", "node-1", 150, 400));

  EXPECT_FALSE(store().acquire_lease("gc", "node-2", 300, 500));
  reopen();
  EXPECT_FALSE(store().acquire_lease("gc", "node-2", 399, 500));
  EXPECT_TRUE(store().acquire_lease("gc", "node-2", 400, 500));
}

TEST_P(MetadataStoreContract, LeaseRelease) {
  ASSERT_TRUE(store().acquire_lease("gc", "node-1", 100, 200));

  // Only the holder releases a lease.
  store().release_lease("gc", "node-2");
  EXPECT_FALSE(store().acquire_lease("gc", "node-2", 150, 250));

  store().release_lease("gc", "node-1");
  EXPECT_TRUE(store().acquire_lease("gc", "node-2", 150, 250));
  // Releasing a lease that is gone changes nothing.
  store().release_lease("unknown", "node-1");
}

TEST_P(MetadataStoreContract, LeaseConcurrentHoldersOneWins) {
  constexpr int kHolders = 8;
  constexpr int kRounds = 10;
  // Each round races for a new job at 100, and again at 300 after the
  // first winner's lease expired at 200.
  for (int round = 0; round < kRounds; ++round) {
    std::string job = "job-" + std::to_string(round);
    for (std::int64_t now : {std::int64_t{100}, std::int64_t{300}}) {
      std::latch start(kHolders);
      std::mutex results_mutex;
      std::vector<std::string> winners;
      std::vector<std::string> failures;
      std::vector<std::thread> threads;
      for (int h = 0; h < kHolders; ++h) {
        threads.emplace_back([&, h] {
          std::string holder = "node-" + std::to_string(h);
          try {
            start.arrive_and_wait();
            bool acquired = store().acquire_lease(job, holder, now, now + 100);
            std::lock_guard<std::mutex> lock(results_mutex);
            if (acquired) winners.push_back(holder);
          } catch (const std::exception& error) {
            std::lock_guard<std::mutex> lock(results_mutex);
            failures.push_back(error.what());
          }
        });
      }
      for (auto& thread : threads) thread.join();

      ASSERT_THAT(failures, IsEmpty());
      ASSERT_EQ(winners.size(), 1u) << job << " at " << now;
      // The winner now holds the lease, so it renews it and other holders are rejected.
      std::string other = winners[0] == "node-0" ? "node-1" : "node-0";
      EXPECT_FALSE(store().acquire_lease(job, other, now + 1, now + 100)) << job << " at " << now;
      EXPECT_TRUE(store().acquire_lease(job, winners[0], now + 1, now + 100)) << job << " at " << now;
    }
  }
}

TEST_P(MetadataStoreContract, JobRunRecorded) {
  EXPECT_EQ(store().last_job_run("gc"), std::nullopt);

  store().record_job_run(JobRun{.job = "gc", .holder = "node-1", .started_at = 100, .finished_at = 160,
                                .result_json = R"({"collected":3})"});
  store().record_job_run(JobRun{.job = "retention", .holder = "node-2", .started_at = 110, .finished_at = 120});

  auto gc = store().last_job_run("gc");
  ASSERT_TRUE(gc.has_value());
  EXPECT_EQ(gc->job, "gc");
  EXPECT_EQ(gc->holder, "node-1");
  EXPECT_EQ(gc->started_at, 100);
  EXPECT_EQ(gc->finished_at, 160);
  EXPECT_EQ(gc->result_json, R"({"collected":3})");
  EXPECT_EQ(store().last_job_run("retention")->result_json, "{}");

  // A later run replaces the last one.
  store().record_job_run(JobRun{.job = "gc", .holder = "node-2", .started_at = 200, .finished_at = 210,
                                .result_json = R"({"collected":0})"});
  reopen();
  auto replaced = store().last_job_run("gc");
  ASSERT_TRUE(replaced.has_value());
  EXPECT_EQ(replaced->holder, "node-2");
  EXPECT_EQ(replaced->started_at, 200);
  EXPECT_EQ(replaced->result_json, R"({"collected":0})");
}

// --- Schema migration ----------------------------------------------------------------

// Fills a database at schema version 4 through SQL, as a berthd of that
// version would have left it.
class VersionFourDatabase {
 public:
  explicit VersionFourDatabase(const std::string& path) : connection_(path) {
    for (int i = 0; i < 4; ++i) connection_.exec(metadata::sqlite_migrations()[i]);
    connection_.exec("PRAGMA user_version = 4");
  }

  void add_tenant(const std::string& account_id, const std::string& name, const std::vector<std::string>& namespaces) {
    auto account = connection_.prepare("INSERT INTO accounts (id, name, plan, created_at) VALUES (?, ?, 'lite', ?)");
    account.bind(1, account_id).bind(2, name).bind(3, kEarly).run();
    for (const auto& ns : namespaces) {
      auto insert = connection_.prepare(
          "INSERT INTO namespaces (name, account_id, is_public, created_at, updated_at) VALUES (?, ?, 0, ?, ?)");
      insert.bind(1, ns).bind(2, account_id).bind(3, kEarly).bind(4, kEarly).run();
    }
  }

  // Stores an image manifest referencing `blobs` in `repository`, with
  // the blob records and links, and returns its content.
  std::string add_image(const std::string& repository, const std::string& label, const std::vector<BlobSpec>& blobs,
                        const std::string& tag) {
    std::int64_t repository_id = ensure_repository(repository);
    std::string content = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","label":")" +
                          label + R"("})";
    for (const auto& blob : blobs) add_blob(repository_id, blob);
    {
      auto insert = connection_.prepare(
          "INSERT INTO manifests (repository_id, digest, media_type, content, created_at) VALUES (?, ?, ?, ?, ?)");
      insert.bind(1, repository_id)
          .bind(2, sha256_of(content).str())
          .bind(3, oci::media_type::kOciManifest)
          .bind_blob(4, content)
          .bind(5, kEarly)
          .run();
    }
    std::int64_t manifest_id = connection_.last_insert_rowid();
    for (const auto& blob : blobs) {
      auto reference =
          connection_.prepare("INSERT INTO manifest_references (manifest_id, kind, digest) VALUES (?, 'blob', ?)");
      reference.bind(1, manifest_id).bind(2, blob_digest(blob.name).str()).run();
    }
    if (!tag.empty()) {
      auto insert =
          connection_.prepare("INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES (?, ?, ?, ?)");
      insert.bind(1, repository_id).bind(2, tag).bind(3, manifest_id).bind(4, kEarly).run();
    }
    return content;
  }

  // Records a blob linked to `repository` that no manifest references.
  void add_linked_blob(const std::string& repository, const BlobSpec& blob) {
    add_blob(ensure_repository(repository), blob);
  }

 private:
  std::int64_t ensure_repository(const std::string& name) {
    {
      auto insert = connection_.prepare(
          "INSERT INTO repositories (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING");
      insert.bind(1, name).bind(2, kEarly).run();
    }
    auto query = connection_.prepare("SELECT id FROM repositories WHERE name = ?");
    query.bind(1, name);
    if (!query.step()) throw std::runtime_error("repository " + name + " was not stored");
    return query.column_int(0);
  }

  void add_blob(std::int64_t repository_id, const BlobSpec& blob) {
    {
      auto insert = connection_.prepare(
          "INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?) ON CONFLICT (digest) DO NOTHING");
      insert.bind(1, blob_digest(blob.name).str()).bind(2, static_cast<std::int64_t>(blob.size)).bind(3, kEarly).run();
    }
    auto link = connection_.prepare(
        "INSERT INTO repository_blobs (repository_id, digest, linked_at) VALUES (?, ?, ?) "
        "ON CONFLICT (repository_id, digest) DO NOTHING");
    link.bind(1, repository_id).bind(2, blob_digest(blob.name).str()).bind(3, kEarly).run();
  }

  metadata::SqliteConnection connection_;
};

// A database at version 4 gains usage figures and blob reference counts
// that match its images, and the triggers keep them right afterwards.
TEST(SqliteLifecycleMigration, UpgradesVersionFourDatabase) {
  test_support::TempDirectory directory;
  std::string path = (directory.path() / "metadata.db").string();
  std::uint64_t first_size = 0;
  std::uint64_t second_size = 0;
  {
    VersionFourDatabase old(path);
    old.add_tenant(kAccountA, "alpha", {"alpha", "alpha2"});
    old.add_tenant(kAccountB, "beta", {"beta"});
    first_size = old.add_image("alpha/app", "first", {{"config first", 1000}, {"shared layer", 50000}}, "v1").size();
    second_size = old.add_image("alpha2/app", "second", {{"config second", 2000}, {"shared layer", 50000}}, "").size();
    old.add_image("beta/app", "first", {{"config first", 1000}, {"shared layer", 50000}}, "v1");
    // A repository from before namespaces existed belongs to no account.
    old.add_image("loose/app", "loose", {{"config loose", 3000}}, "v1");
    old.add_linked_blob("alpha/app", {"unreferenced", 7});
  }

  metadata::SqliteStore store(metadata::SqliteOptions{.path = path});

  EXPECT_TRUE(storage_is(store, kAccountA, 1000 + 2000 + 50000 + first_size + second_size));
  EXPECT_TRUE(storage_is(store, kAccountB, 1000 + 50000 + first_size));
  // Migrated blobs count as touched when they were created.
  EXPECT_THAT(blob_digests(store.unreferenced_blobs(kEarly + 1, 100)), ElementsAre(blob_digest("unreferenced")));
  EXPECT_THAT(store.unreferenced_blobs(kEarly, 100), IsEmpty());

  // Trashing, deleting and expiring change the migrated counts.
  Digest first = store.find_tagged_manifest("alpha/app", "v1")->digest;
  ASSERT_EQ(store.trash_manifest("alpha/app", first, kEarly).result, TrashResult::kTrashed);
  EXPECT_TRUE(storage_is(store, kAccountA, 2000 + 50000 + second_size));
  EXPECT_TRUE(storage_is(store, kAccountB, 1000 + 50000 + first_size));
  ASSERT_TRUE(store.delete_namespace("beta"));
  EXPECT_TRUE(storage_is(store, kAccountB, 0));
  EXPECT_THAT(blob_digests(store.unreferenced_blobs(kEarly + 1, 100)), ElementsAre(blob_digest("unreferenced")));
  ASSERT_EQ(store.expire_trash(kLate), 1u);
  EXPECT_THAT(blob_digests(store.unreferenced_blobs(kEarly + 1, 100)),
              UnorderedElementsAre(blob_digest("unreferenced"), blob_digest("config first")));

  // A push after the migration adds to the migrated figure.
  auto pushed = push_image(store, "alpha/app", "pushed", {{"config pushed", 4000}, {"shared layer", 50000}}, "v2");
  EXPECT_TRUE(storage_is(store, kAccountA, 2000 + 4000 + 50000 + second_size + size_of(pushed)));
  ASSERT_TRUE(store.delete_manifest("alpha2/app", store.list_images({"alpha2"}, {}).at(0).digest));
  EXPECT_TRUE(storage_is(store, kAccountA, 4000 + 50000 + size_of(pushed)));
  EXPECT_FALSE(store.collect_blob(blob_digest("shared layer"), after_every_touch(), [] {}));
}

}  // namespace
}  // namespace berth::store_tests
