// Contract tests for the Vulnerability Advisor part of
// metadata::MetadataStore: the inventory queue that tagging fills, claims
// with leases, stored inventories and their purge, the advisory set, and
// exemptions. They join the MetadataStoreContract suite, so every backend
// instantiated in metadata_store_suite.cc runs them. The tests at the end
// need the SQLite classes: two stores on one database file, the schema
// migration, and the account cascade.
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

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace berth::metadata {

// GoogleTest printers, found by argument-dependent lookup. Internal
// linkage keeps them from clashing with printers of other test files.
static void PrintTo(const AdvisoryMatch& match, std::ostream* out) {
  *out << match.id << " " << match.affected.ecosystem << "/" << match.affected.package << " ["
       << match.affected.introduced << ", " << match.affected.fixed << ")";
}

static void PrintTo(const InventoryRecord& inventory, std::ostream* out) {
  *out << inventory.digest.str() << " " << inventory.state << " status=" << inventory.status
       << " os=" << inventory.os_id << ":" << inventory.os_version_id << " queued_at=" << inventory.queued_at
       << " indexed_at=" << inventory.indexed_at << " attempts=" << inventory.attempts;
}

static void PrintTo(const ExemptionRecord& exemption, std::ostream* out) {
  *out << exemption.account_id << " " << exemption.scope_type << " ns=" << exemption.namespace_name
       << " repo=" << exemption.repository << " tag=" << exemption.tag << " digest=" << exemption.digest << " "
       << exemption.issue_type << "/" << exemption.issue_id;
}

}  // namespace berth::metadata

namespace berth::store_tests {
namespace {

using core::Digest;
using metadata::AccountRecord;
using metadata::AdvisoryFeed;
using metadata::AdvisoryMatch;
using metadata::AdvisoryRecord;
using metadata::AffectedRecord;
using metadata::ExemptionRecord;
using metadata::InventoryRecord;
using metadata::ManifestWrite;
using metadata::MetadataStore;
using metadata::TrashResult;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const std::string kAccountA(32, 'a');
const std::string kAccountB(32, 'b');
const std::string kUnknownAccount(32, 'f');

// Times in Unix seconds for inventories and claims. Only their order
// matters, except where a test compares with the clock that the tag
// triggers read.
constexpr std::int64_t kEarly = 1700000000;
constexpr std::int64_t kLate = 1700001000;

Digest sha256_of(std::string_view text) { return core::digest_of(core::DigestAlgorithm::kSha256, text); }

// An image manifest write. `label` makes the content, and so the digest,
// unique: the same label in two repositories is the same manifest.
ManifestWrite image_manifest(const std::string& repository, const std::string& label,
                             std::optional<std::string> tag = std::nullopt) {
  std::string content = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","label":")" +
                        label + R"("})";
  return ManifestWrite{.repository = repository,
                       .digest = sha256_of(content),
                       .media_type = std::string(oci::media_type::kOciManifest),
                       .content = content,
                       .tag = std::move(tag)};
}

// Stores an image manifest, tagged `tag` if given, and returns its digest.
Digest push_image(MetadataStore& store, const std::string& repository, const std::string& label,
                  std::optional<std::string> tag = std::nullopt) {
  auto write = image_manifest(repository, label, std::move(tag));
  EXPECT_TRUE(store.put_manifest(write).stored) << repository << " " << label;
  return write.digest;
}

// Stores an index of `children`, which must be manifests of `repository`.
Digest push_index(MetadataStore& store, const std::string& repository, const std::string& label,
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
  return write.digest;
}

// A claim as (digest, attempts), which tests can compare and print.
using Claim = std::pair<Digest, std::int64_t>;

std::optional<Claim> claim_next(MetadataStore& store, const std::string& holder, std::int64_t now,
                                std::int64_t lease_until) {
  auto claimed = store.claim_inventory(holder, now, lease_until);
  if (!claimed) return std::nullopt;
  return Claim{claimed->digest, claimed->attempts};
}

// Claims every inventory that is waiting at `now` and returns the digests
// in claim order.
std::vector<Digest> claim_all(MetadataStore& store, std::int64_t now) {
  std::vector<Digest> claimed;
  while (auto claim = store.claim_inventory("drain", now, now + 60)) claimed.push_back(claim->digest);
  return claimed;
}

// An indexed inventory with every field set, for `digest`.
InventoryRecord indexed_inventory(const Digest& digest, std::int64_t indexed_at) {
  return InventoryRecord{.digest = digest,
                         .state = "indexed",
                         .status = "incomplete",
                         .reason = "layer sha256:ab stops after 1048576 bytes: truncated gzip stream",
                         .os_id = "debian",
                         .os_version_id = "12",
                         .os_codename = "bookworm",
                         .os_name = "Debian GNU/Linux 12 (bookworm)",
                         .package_format = "dpkg",
                         .packages_json = R"([{"name":"libexpat1","version":"2.2.10-2+deb11u5","source":"expat",)"
                                          R"("source_version":"","architecture":"amd64"}])",
                         .queued_at = kEarly - 10,
                         .indexed_at = indexed_at,
                         .attempts = 2};
}

void create_account(MetadataStore& store, const std::string& id, const std::string& name) {
  ASSERT_TRUE(store.create_account(AccountRecord{.id = id, .name = name, .created_at = kEarly}));
}

// --- Inventory queue -----------------------------------------------------------------

TEST_P(MetadataStoreContract, VaTaggedPushQueuesInventory) {
  std::int64_t before = core::unix_now();
  Digest digest = push_image(store(), "ns1/app", "one", "v1");
  std::int64_t after = core::unix_now();

  auto inventory = store().find_inventory(digest);
  ASSERT_TRUE(inventory.has_value());
  EXPECT_EQ(inventory->digest, digest);
  EXPECT_EQ(inventory->state, "queued");
  EXPECT_EQ(inventory->status, "");
  EXPECT_EQ(inventory->packages_json, "[]");
  EXPECT_GE(inventory->queued_at, before);
  EXPECT_LE(inventory->queued_at, after);
  EXPECT_EQ(inventory->indexed_at, 0);
  EXPECT_EQ(inventory->attempts, 0);
}

TEST_P(MetadataStoreContract, VaTaggingAgainQueuesOnce) {
  Digest digest = push_image(store(), "ns1/app", "one", "v1");
  auto queued_at = store().find_inventory(digest)->queued_at;

  // The same tag again, a second tag, the same digest tagged in another
  // repository, and a server-side tag all meet the row that exists.
  push_image(store(), "ns1/app", "one", "v1");
  push_image(store(), "ns1/app", "one", "v2");
  push_image(store(), "ns2/app", "one", "latest");
  ASSERT_TRUE(store().copy_manifest("ns1/app", digest, "ns3/app", "copied").copied);

  EXPECT_EQ(store().find_inventory(digest)->queued_at, queued_at);
  EXPECT_THAT(claim_all(store(), kLate), ElementsAre(digest));
}

TEST_P(MetadataStoreContract, VaUntaggedPushNotQueued) {
  Digest digest = push_image(store(), "ns1/app", "one");

  EXPECT_EQ(store().find_inventory(digest), std::nullopt);
  EXPECT_EQ(claim_next(store(), "worker-1", kLate, kLate + 60), std::nullopt);

  // Tagging it later queues it.
  push_image(store(), "ns1/app", "one", "v1");
  ASSERT_TRUE(store().find_inventory(digest).has_value());
  EXPECT_EQ(store().find_inventory(digest)->state, "queued");
}

TEST_P(MetadataStoreContract, VaMovingTagQueuesNewManifest) {
  Digest first = push_image(store(), "ns1/app", "first", "latest");
  store().save_inventory(indexed_inventory(first, kEarly));
  auto indexed = store().find_inventory(first);
  ASSERT_TRUE(indexed.has_value());
  Digest second = push_image(store(), "ns1/app", "second");
  ASSERT_EQ(store().find_inventory(second), std::nullopt);

  // Moving the tag onto the untagged manifest queues that one.
  push_image(store(), "ns1/app", "second", "latest");

  ASSERT_TRUE(store().find_inventory(second).has_value());
  EXPECT_EQ(store().find_inventory(second)->state, "queued");
  EXPECT_EQ(store().find_inventory(first)->state, "indexed");

  // Moving it back leaves the indexed inventory as it is.
  push_image(store(), "ns1/app", "first", "latest");
  EXPECT_EQ(store().find_inventory(first), indexed);
  // So does a server-side tag that moves a tag onto it.
  ASSERT_TRUE(store().copy_manifest("ns1/app", second, "ns2/app", "v1").copied);
  ASSERT_TRUE(store().copy_manifest("ns1/app", first, "ns2/app", "v1").copied);
  EXPECT_EQ(store().find_inventory(first), indexed);
  EXPECT_THAT(claim_all(store(), kLate), ElementsAre(second));
}

TEST_P(MetadataStoreContract, VaTaggedIndexQueuesOnlyIndex) {
  Digest amd64 = push_image(store(), "ns1/app", "amd64");
  Digest arm64 = push_image(store(), "ns1/app", "arm64");
  Digest index = push_index(store(), "ns1/app", "index", {amd64, arm64}, "v1");

  EXPECT_THAT(claim_all(store(), kLate), ElementsAre(index));
  EXPECT_EQ(store().find_inventory(amd64), std::nullopt);
  EXPECT_EQ(store().find_inventory(arm64), std::nullopt);
}

TEST_P(MetadataStoreContract, VaRestoredTagKeepsInventory) {
  Digest digest = push_image(store(), "ns1/app", "one", "v1");
  store().save_inventory(indexed_inventory(digest, kEarly));
  auto indexed = store().find_inventory(digest);
  ASSERT_TRUE(indexed.has_value());
  ASSERT_EQ(store().trash_manifest("ns1/app", digest, kEarly).result, TrashResult::kTrashed);

  ASSERT_TRUE(store().restore_manifest("ns1/app", digest).found);

  EXPECT_EQ(store().find_inventory(digest), indexed);
}

TEST_P(MetadataStoreContract, VaQueueInventoryKeepsExistingRow) {
  Digest indexed = sha256_of("indexed");
  Digest queued = sha256_of("queued");
  store().save_inventory(indexed_inventory(indexed, kEarly));
  store().queue_inventory(queued, 100);

  store().queue_inventory(indexed, 500);
  store().queue_inventory(queued, 500);

  EXPECT_EQ(store().find_inventory(indexed), indexed_inventory(indexed, kEarly));
  ASSERT_TRUE(store().find_inventory(queued).has_value());
  EXPECT_EQ(store().find_inventory(queued)->queued_at, 100);
  EXPECT_EQ(store().find_inventory(queued)->state, "queued");
}

TEST_P(MetadataStoreContract, VaRequeueByStatus) {
  Digest complete = sha256_of("complete");
  Digest incomplete = sha256_of("incomplete");
  Digest queued = sha256_of("still queued");
  InventoryRecord whole = indexed_inventory(complete, kEarly);
  whole.status = "complete";
  whole.reason.clear();
  store().save_inventory(whole);
  store().save_inventory(indexed_inventory(incomplete, kEarly));
  store().queue_inventory(queued, 100);

  EXPECT_EQ(store().requeue_inventories("incomplete", 900), 1u);
  ASSERT_TRUE(store().find_inventory(incomplete).has_value());
  EXPECT_EQ(store().find_inventory(incomplete)->state, "queued");
  EXPECT_EQ(store().find_inventory(incomplete)->queued_at, 900);
  EXPECT_EQ(store().find_inventory(complete)->state, "indexed");
  EXPECT_EQ(claim_next(store(), "worker", 1000, 1060), Claim(queued, 1));
  EXPECT_EQ(claim_next(store(), "worker", 1000, 1060), Claim(incomplete, 1));

  // An empty status queues every indexed inventory; queued ones stay as they are.
  EXPECT_EQ(store().requeue_inventories("", 2000), 1u);
  EXPECT_EQ(store().find_inventory(complete)->state, "queued");
}

// --- Claims --------------------------------------------------------------------------

TEST_P(MetadataStoreContract, VaClaimOldestFirstWithLease) {
  Digest oldest = sha256_of("oldest");
  Digest middle = sha256_of("middle");
  Digest newest = sha256_of("newest");
  store().queue_inventory(middle, 200);
  store().queue_inventory(newest, 300);
  store().queue_inventory(oldest, 100);

  EXPECT_EQ(claim_next(store(), "worker-1", 1000, 1060), Claim(oldest, 1));
  EXPECT_EQ(claim_next(store(), "worker-2", 1000, 1060), Claim(middle, 1));
  EXPECT_EQ(claim_next(store(), "worker-2", 1000, 1060), Claim(newest, 1));
  // Every claim is unexpired one second before its end.
  EXPECT_EQ(claim_next(store(), "worker-3", 1059, 1119), std::nullopt);

  // A saved inventory is never claimed again. The others are taken over
  // when their claims end, oldest first, and count the attempt.
  store().save_inventory(indexed_inventory(middle, 1030));
  EXPECT_EQ(claim_next(store(), "worker-3", 1060, 1120), Claim(oldest, 2));
  EXPECT_EQ(claim_next(store(), "worker-3", 1060, 1120), Claim(newest, 2));
  EXPECT_EQ(claim_next(store(), "worker-1", 1100, 1160), std::nullopt);
  EXPECT_EQ(claim_next(store(), "worker-1", 5000, 5060), Claim(oldest, 3));
  EXPECT_EQ(claim_next(store(), "worker-1", 5000, 5060), Claim(newest, 3));
  EXPECT_EQ(claim_next(store(), "worker-1", 5000, 5060), std::nullopt);

  auto claimed = store().find_inventory(oldest);
  ASSERT_TRUE(claimed.has_value());
  EXPECT_EQ(claimed->state, "queued");
  EXPECT_EQ(claimed->attempts, 3);
  EXPECT_EQ(claimed->queued_at, 100);
}

TEST_P(MetadataStoreContract, VaClaimSameTimeInQueueOrder) {
  Digest low = sha256_of("a");
  Digest high = sha256_of("b");
  if (high.str() < low.str()) std::swap(low, high);
  store().queue_inventory(high, 100);
  store().queue_inventory(low, 100);

  EXPECT_THAT(claim_all(store(), 1000), ElementsAre(high, low));
}

TEST_P(MetadataStoreContract, VaClaimConcurrentWorkersEachOnce) {
  constexpr int kInventories = 40;
  constexpr int kWorkers = 4;
  for (int i = 0; i < kInventories; ++i) store().queue_inventory(sha256_of("image " + std::to_string(i)), 100 + i);

  std::mutex mutex;
  std::map<std::string, int> claims;
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      std::string holder = "worker-" + std::to_string(w);
      while (auto claim = store().claim_inventory(holder, 1000, 1060)) {
        std::lock_guard<std::mutex> lock(mutex);
        ++claims[claim->digest.str()];
      }
    });
  }
  for (auto& worker : workers) worker.join();

  ASSERT_EQ(claims.size(), static_cast<std::size_t>(kInventories));
  for (const auto& [digest, count] : claims) EXPECT_EQ(count, 1) << digest;
}

// --- Stored inventories ----------------------------------------------------------------

TEST_P(MetadataStoreContract, VaSaveFindRoundTrip) {
  Digest digest = sha256_of("image");
  auto inventory = indexed_inventory(digest, kLate);

  store().save_inventory(inventory);

  EXPECT_EQ(store().find_inventory(digest), inventory);
  EXPECT_EQ(store().find_inventory(sha256_of("other")), std::nullopt);
  reopen();
  EXPECT_EQ(store().find_inventory(digest), inventory);
}

TEST_P(MetadataStoreContract, VaSaveOverClaimKeepsQueueFields) {
  Digest digest = sha256_of("image");
  store().queue_inventory(digest, 100);
  ASSERT_TRUE(store().claim_inventory("worker-1", 1000, 1060).has_value());

  // A worker that leaves state, queued_at and attempts at their defaults.
  InventoryRecord saved{.digest = digest,
                        .status = "complete",
                        .os_id = "alpine",
                        .os_version_id = "3.19.1",
                        .package_format = "apk",
                        .packages_json = R"([{"name":"musl"}])",
                        .indexed_at = 1010};
  store().save_inventory(saved);

  auto found = store().find_inventory(digest);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->state, "indexed");
  EXPECT_EQ(found->status, "complete");
  EXPECT_EQ(found->os_id, "alpine");
  EXPECT_EQ(found->os_version_id, "3.19.1");
  EXPECT_EQ(found->package_format, "apk");
  EXPECT_EQ(found->packages_json, R"([{"name":"musl"}])");
  EXPECT_EQ(found->indexed_at, 1010);
  EXPECT_EQ(found->queued_at, 100);
  EXPECT_EQ(found->attempts, 1);
  EXPECT_EQ(claim_next(store(), "worker-2", 5000, 5060), std::nullopt);

  // Indexing again replaces the inventory.
  auto again = indexed_inventory(digest, 2000);
  store().save_inventory(again);
  found = store().find_inventory(digest);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->status, again.status);
  EXPECT_EQ(found->reason, again.reason);
  EXPECT_EQ(found->os_codename, again.os_codename);
  EXPECT_EQ(found->os_name, again.os_name);
  EXPECT_EQ(found->packages_json, again.packages_json);
  EXPECT_EQ(found->indexed_at, 2000);
  EXPECT_EQ(found->queued_at, 100);
  EXPECT_EQ(found->attempts, 1);
}

TEST_P(MetadataStoreContract, VaPurgeKeepsLiveAndTrashedImages) {
  Digest live = push_image(store(), "ns1/app", "live", "v1");
  Digest trashed = push_image(store(), "ns1/app", "trashed", "v2");
  Digest deleted = push_image(store(), "ns1/app", "deleted", "v3");
  Digest deleted_late = push_image(store(), "ns1/app", "deleted late", "v4");
  Digest untagged = push_image(store(), "ns1/app", "untagged");
  Digest orphan = sha256_of("never stored");
  for (const auto& digest : {live, trashed, deleted}) store().save_inventory(indexed_inventory(digest, kEarly));
  store().save_inventory(indexed_inventory(deleted_late, kLate));
  store().queue_inventory(untagged, kEarly);
  store().queue_inventory(orphan, kEarly);
  ASSERT_EQ(store().trash_manifest("ns1/app", trashed, kEarly).result, TrashResult::kTrashed);
  ASSERT_TRUE(store().delete_manifest("ns1/app", deleted));
  ASSERT_TRUE(store().delete_manifest("ns1/app", deleted_late));

  EXPECT_EQ(store().purge_inventories(kLate), 2u);

  EXPECT_TRUE(store().find_inventory(live).has_value());
  EXPECT_TRUE(store().find_inventory(trashed).has_value());
  EXPECT_TRUE(store().find_inventory(untagged).has_value());
  EXPECT_TRUE(store().find_inventory(deleted_late).has_value());
  EXPECT_EQ(store().find_inventory(deleted), std::nullopt);
  EXPECT_EQ(store().find_inventory(orphan), std::nullopt);

  // Once the trash expires, its inventory is purged too. A later cutoff
  // purges the inventory indexed late.
  ASSERT_EQ(store().expire_trash(kLate), 1u);
  EXPECT_EQ(store().purge_inventories(kLate), 1u);
  EXPECT_EQ(store().find_inventory(trashed), std::nullopt);
  EXPECT_EQ(store().purge_inventories(kLate + 1), 1u);
  EXPECT_EQ(store().find_inventory(deleted_late), std::nullopt);
  EXPECT_TRUE(store().find_inventory(live).has_value());
  EXPECT_EQ(store().purge_inventories(kLate + 1), 0u);
}

TEST_P(MetadataStoreContract, VaPurgeKeepsDigestHeldElsewhere) {
  Digest digest = push_image(store(), "ns1/app", "shared", "v1");
  push_image(store(), "ns2/app", "shared", "v1");
  store().save_inventory(indexed_inventory(digest, kEarly));
  ASSERT_TRUE(store().delete_manifest("ns1/app", digest));

  EXPECT_EQ(store().purge_inventories(kLate), 0u);
  EXPECT_TRUE(store().find_inventory(digest).has_value());

  ASSERT_TRUE(store().delete_manifest("ns2/app", digest));
  EXPECT_EQ(store().purge_inventories(kLate), 1u);
}

// --- Advisories ----------------------------------------------------------------------

AffectedRecord range(const std::string& ecosystem, const std::string& package, const std::string& introduced,
                     const std::string& fixed) {
  return AffectedRecord{.ecosystem = ecosystem, .package = package, .introduced = introduced, .fixed = fixed};
}

AdvisoryMatch match_of(const AdvisoryRecord& advisory, const AffectedRecord& affected) {
  return AdvisoryMatch{.id = advisory.id, .cves = advisory.cves, .summary = advisory.summary, .affected = affected};
}

const AdvisoryRecord kDsa{.id = "DSA-5417-1",
                          .cves = {"CVE-2022-43680", "CVE-2023-1234"},
                          .summary = "expat: use after free",
                          .modified = "2024-01-02T03:04:05Z",
                          .affected = {range("debian:12", "expat", "", "2.5.0-1"),
                                       range("debian:12", "openssl", "0", "3.0.9-1"),
                                       range("debian:11", "expat", "", "2.2.10-2+deb11u5")}};
const AdvisoryRecord kDebianCve{.id = "DEBIAN-CVE-2022-40674",
                                .cves = {"CVE-2022-40674"},
                                .summary = "expat: heap use after free in doContent",
                                .modified = "2023-05-06T00:00:00Z",
                                // Two ranges of one package, and one of them twice.
                                .affected = {range("debian:12", "expat", "2.4.0-1", "2.4.9-1"),
                                             range("debian:12", "expat", "", "2.2.0-1"),
                                             range("debian:12", "expat", "", "2.2.0-1")}};
const AdvisoryRecord kNoCve{.id = "DEBIAN-TEMP-1",
                            .summary = "zlib: no CVE assigned",
                            .modified = "2024-02-01T00:00:00Z",
                            .affected = {range("debian:12", "zlib", "1:1.2.0", "1:1.2.13.dfsg-1")}};
const AdvisoryRecord kAlpine{.id = "ALPINE-CVE-2023-5678",
                             .cves = {"CVE-2023-5678"},
                             .summary = "musl: overflow",
                             .modified = "2024-03-01T00:00:00Z",
                             .affected = {range("alpine:3.19", "musl", "", "1.2.4-r3")}};

const AdvisoryFeed kFirstFeed{.imported_at = kEarly,
                              .source = "/srv/osv/first",
                              .advisory_count = 4,
                              .ecosystems = {"alpine:3.19", "debian:11", "debian:12"}};

TEST_P(MetadataStoreContract, VaAdvisoryFeedBeforeImport) {
  EXPECT_EQ(store().advisory_feed(), std::nullopt);
  EXPECT_THAT(store().find_advisories("debian:12", {"expat"}), IsEmpty());
}

TEST_P(MetadataStoreContract, VaFindAdvisoriesByPackageThenId) {
  store().replace_advisories({kDsa, kNoCve, kAlpine, kDebianCve}, kFirstFeed);

  // Packages out of order, repeated, and one without advisories.
  EXPECT_THAT(store().find_advisories("debian:12", {"zlib", "expat", "curl", "openssl", "expat"}),
              ElementsAre(match_of(kDebianCve, range("debian:12", "expat", "", "2.2.0-1")),
                          match_of(kDebianCve, range("debian:12", "expat", "2.4.0-1", "2.4.9-1")),
                          match_of(kDsa, range("debian:12", "expat", "", "2.5.0-1")),
                          match_of(kDsa, range("debian:12", "openssl", "0", "3.0.9-1")),
                          match_of(kNoCve, range("debian:12", "zlib", "1:1.2.0", "1:1.2.13.dfsg-1"))));
}

TEST_P(MetadataStoreContract, VaFindAdvisoriesByEcosystem) {
  store().replace_advisories({kDsa, kNoCve, kAlpine, kDebianCve}, kFirstFeed);

  EXPECT_THAT(store().find_advisories("debian:11", {"expat", "musl"}),
              ElementsAre(match_of(kDsa, range("debian:11", "expat", "", "2.2.10-2+deb11u5"))));
  EXPECT_THAT(store().find_advisories("alpine:3.19", {"expat", "musl"}),
              ElementsAre(match_of(kAlpine, range("alpine:3.19", "musl", "", "1.2.4-r3"))));
  EXPECT_THAT(store().find_advisories("ubuntu:22.04", {"expat", "musl"}), IsEmpty());
  EXPECT_THAT(store().find_advisories("debian:12", {}), IsEmpty());
}

TEST_P(MetadataStoreContract, VaReplaceAdvisoriesReplacesWholeSet) {
  store().replace_advisories({kDsa, kNoCve, kAlpine, kDebianCve}, kFirstFeed);
  EXPECT_EQ(store().advisory_feed(), kFirstFeed);

  AdvisoryRecord updated = kDsa;
  updated.summary = "expat: use after free, revised";
  updated.affected = {range("debian:12", "expat", "", "2.5.0-2")};
  AdvisoryFeed second_feed{.imported_at = kLate, .source = "/srv/osv/all.zip", .advisory_count = 1,
                           .ecosystems = {"debian:12"}};
  store().replace_advisories({updated}, second_feed);

  EXPECT_THAT(store().find_advisories("debian:12", {"expat", "openssl", "zlib"}),
              ElementsAre(match_of(updated, range("debian:12", "expat", "", "2.5.0-2"))));
  EXPECT_THAT(store().find_advisories("alpine:3.19", {"musl"}), IsEmpty());
  EXPECT_THAT(store().find_advisories("debian:11", {"expat"}), IsEmpty());
  EXPECT_EQ(store().advisory_feed(), second_feed);
  reopen();
  EXPECT_EQ(store().advisory_feed(), second_feed);
}

TEST_P(MetadataStoreContract, VaReplaceAdvisoriesDuplicateIdKeepsOldSet) {
  store().replace_advisories({kDsa, kNoCve, kAlpine, kDebianCve}, kFirstFeed);
  AdvisoryFeed rejected_feed{.imported_at = kLate, .source = "/srv/osv/duplicate", .advisory_count = 2};

  EXPECT_THROW(store().replace_advisories({kAlpine, kAlpine}, rejected_feed), std::invalid_argument);

  EXPECT_EQ(store().advisory_feed(), kFirstFeed);
  EXPECT_EQ(store().find_advisories("debian:12", {"expat"}).size(), 3u);
  EXPECT_EQ(store().find_advisories("alpine:3.19", {"musl"}).size(), 1u);
}

TEST_P(MetadataStoreContract, VaReplaceAdvisoriesWithEmptySet) {
  store().replace_advisories({kDsa, kNoCve, kAlpine, kDebianCve}, kFirstFeed);
  AdvisoryFeed empty_feed{.imported_at = kLate, .source = "/srv/osv/empty"};

  store().replace_advisories({}, empty_feed);

  EXPECT_THAT(store().find_advisories("debian:12", {"expat", "openssl", "zlib"}), IsEmpty());
  EXPECT_EQ(store().advisory_feed(), empty_feed);
}

// --- Exemptions ----------------------------------------------------------------------

ExemptionRecord account_exemption(const std::string& account_id, const std::string& type, const std::string& id) {
  return ExemptionRecord{.account_id = account_id, .issue_type = type, .issue_id = id, .scope_type = "account",
                         .created_at = kEarly};
}

ExemptionRecord namespace_exemption(const std::string& account_id, const std::string& ns, const std::string& type,
                                    const std::string& id) {
  auto exemption = account_exemption(account_id, type, id);
  exemption.scope_type = "namespace";
  exemption.namespace_name = ns;
  return exemption;
}

ExemptionRecord repository_exemption(const std::string& account_id, const std::string& repository,
                                     const std::string& type, const std::string& id) {
  auto exemption = namespace_exemption(account_id, repository.substr(0, repository.find('/')), type, id);
  exemption.scope_type = "repository";
  exemption.repository = repository;
  return exemption;
}

ExemptionRecord tag_exemption(const std::string& account_id, const std::string& repository, const std::string& tag,
                              const std::string& type, const std::string& id) {
  auto exemption = repository_exemption(account_id, repository, type, id);
  exemption.scope_type = "image";
  exemption.tag = tag;
  return exemption;
}

ExemptionRecord digest_exemption(const std::string& account_id, const std::string& repository, const Digest& digest,
                                 const std::string& type, const std::string& id) {
  auto exemption = repository_exemption(account_id, repository, type, id);
  exemption.scope_type = "image";
  exemption.digest = digest.str();
  return exemption;
}

TEST_P(MetadataStoreContract, VaExemptionListOrder) {
  create_account(store(), kAccountA, "alpha");
  Digest digest = sha256_of("image");
  std::vector<ExemptionRecord> expected = {
      account_exemption(kAccountA, "cve", "CVE-2023-0002"),
      account_exemption(kAccountA, "sn", "DSA-5417-1"),
      namespace_exemption(kAccountA, "ns1", "cve", "CVE-2023-0001"),
      namespace_exemption(kAccountA, "ns2", "cve", "CVE-2023-0001"),
      repository_exemption(kAccountA, "ns1/app", "cve", "CVE-2023-0001"),
      repository_exemption(kAccountA, "ns1/app", "sn", "DSA-1-1"),
      repository_exemption(kAccountA, "ns1/web", "cve", "CVE-2023-0001"),
      digest_exemption(kAccountA, "ns1/app", digest, "cve", "CVE-2023-0001"),
      tag_exemption(kAccountA, "ns1/app", "v1", "cve", "CVE-2023-0001"),
      tag_exemption(kAccountA, "ns1/app", "v2", "cve", "CVE-2023-0001"),
  };
  for (auto it = expected.rbegin(); it != expected.rend(); ++it) ASSERT_TRUE(store().create_exemption(*it));

  auto listed = store().list_exemptions(kAccountA);

  ASSERT_EQ(listed.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(listed[i], expected[i]) << "position " << i;
}

TEST_P(MetadataStoreContract, VaExemptionDuplicateNotCreated) {
  create_account(store(), kAccountA, "alpha");
  auto exemption = tag_exemption(kAccountA, "ns1/app", "v1", "cve", "CVE-2023-0001");
  ASSERT_TRUE(store().create_exemption(exemption));

  auto again = exemption;
  again.created_at = kLate;
  EXPECT_FALSE(store().create_exemption(again));

  // The same issue in another scope or of another type is another
  // exemption.
  EXPECT_TRUE(store().create_exemption(repository_exemption(kAccountA, "ns1/app", "cve", "CVE-2023-0001")));
  auto as_notice = exemption;
  as_notice.issue_type = "sn";
  EXPECT_TRUE(store().create_exemption(as_notice));
  EXPECT_THAT(store().list_exemptions(kAccountA),
              ElementsAre(repository_exemption(kAccountA, "ns1/app", "cve", "CVE-2023-0001"), exemption, as_notice));
}

TEST_P(MetadataStoreContract, VaExemptionDelete) {
  create_account(store(), kAccountA, "alpha");
  auto tagged = tag_exemption(kAccountA, "ns1/app", "v1", "cve", "CVE-2023-0001");
  auto repository = repository_exemption(kAccountA, "ns1/app", "cve", "CVE-2023-0001");
  ASSERT_TRUE(store().create_exemption(tagged));
  ASSERT_TRUE(store().create_exemption(repository));

  auto other_tag = tagged;
  other_tag.tag = "v2";
  EXPECT_FALSE(store().delete_exemption(other_tag));
  // created_at is no part of the key.
  auto later = tagged;
  later.created_at = kLate;
  EXPECT_TRUE(store().delete_exemption(later));
  EXPECT_FALSE(store().delete_exemption(tagged));

  EXPECT_THAT(store().list_exemptions(kAccountA), ElementsAre(repository));
}

TEST_P(MetadataStoreContract, VaExemptionDeleteAllOfAccount) {
  create_account(store(), kAccountA, "alpha");
  create_account(store(), kAccountB, "beta");
  ASSERT_TRUE(store().create_exemption(account_exemption(kAccountA, "cve", "CVE-2023-0001")));
  ASSERT_TRUE(store().create_exemption(namespace_exemption(kAccountA, "ns1", "sn", "DSA-1-1")));
  ASSERT_TRUE(store().create_exemption(tag_exemption(kAccountA, "ns1/app", "v1", "cve", "CVE-2023-0001")));
  auto other_account = account_exemption(kAccountB, "cve", "CVE-2023-0001");
  ASSERT_TRUE(store().create_exemption(other_account));

  EXPECT_EQ(store().delete_all_exemptions(kAccountA), 3u);

  EXPECT_THAT(store().list_exemptions(kAccountA), IsEmpty());
  EXPECT_THAT(store().list_exemptions(kAccountB), ElementsAre(other_account));
  EXPECT_EQ(store().delete_all_exemptions(kAccountA), 0u);
  EXPECT_EQ(store().delete_all_exemptions(kUnknownAccount), 0u);
}

TEST_P(MetadataStoreContract, VaExemptionInvalidRejected) {
  create_account(store(), kAccountA, "alpha");
  auto tag_and_digest = tag_exemption(kAccountA, "ns1/app", "v1", "cve", "CVE-2023-0001");
  tag_and_digest.digest = sha256_of("image").str();
  auto namespace_with_repository = namespace_exemption(kAccountA, "ns1", "cve", "CVE-2023-0001");
  namespace_with_repository.repository = "ns1/app";
  auto account_with_namespace = account_exemption(kAccountA, "cve", "CVE-2023-0001");
  account_with_namespace.namespace_name = "ns1";
  auto image_without_reference = repository_exemption(kAccountA, "ns1/app", "cve", "CVE-2023-0001");
  image_without_reference.scope_type = "image";
  auto repository_outside_namespace = repository_exemption(kAccountA, "ns1/app", "cve", "CVE-2023-0001");
  repository_outside_namespace.namespace_name = "ns2";
  auto unknown_scope = account_exemption(kAccountA, "cve", "CVE-2023-0001");
  unknown_scope.scope_type = "region";
  auto unknown_type = account_exemption(kAccountA, "configuration", "CVE-2023-0001");
  auto empty_id = account_exemption(kAccountA, "cve", "");

  for (const auto& invalid : {tag_and_digest, namespace_with_repository, account_with_namespace,
                              image_without_reference, repository_outside_namespace, unknown_scope, unknown_type,
                              empty_id}) {
    EXPECT_THROW(store().create_exemption(invalid), std::invalid_argument) << ::testing::PrintToString(invalid);
  }
  EXPECT_THROW(store().create_exemption(account_exemption(kUnknownAccount, "cve", "CVE-2023-0001")),
               std::invalid_argument);
  EXPECT_THAT(store().list_exemptions(kAccountA), IsEmpty());
}

// --- SQLite --------------------------------------------------------------------------

// Two stores on one database file stand for two berthd processes: each has
// its own writer lock, so only SQLite's locking keeps claims apart.
TEST(SqliteVaClaims, TwoStoresOnOneFileClaimEachOnce) {
  test_support::TempDirectory directory;
  std::string path = (directory.path() / "metadata.db").string();
  constexpr int kInventories = 40;
  metadata::SqliteStore first(metadata::SqliteOptions{.path = path});
  metadata::SqliteStore second(metadata::SqliteOptions{.path = path});
  for (int i = 0; i < kInventories; ++i) first.queue_inventory(sha256_of("image " + std::to_string(i)), 100 + i);

  std::mutex mutex;
  std::map<std::string, int> claims;
  auto drain = [&](metadata::SqliteStore& store, const std::string& holder) {
    while (auto claim = store.claim_inventory(holder, 1000, 1060)) {
      std::lock_guard<std::mutex> lock(mutex);
      ++claims[claim->digest.str()];
    }
  };
  std::vector<std::thread> workers;
  workers.emplace_back(drain, std::ref(first), "process-1 worker-1");
  workers.emplace_back(drain, std::ref(first), "process-1 worker-2");
  workers.emplace_back(drain, std::ref(second), "process-2 worker-1");
  workers.emplace_back(drain, std::ref(second), "process-2 worker-2");
  for (auto& worker : workers) worker.join();

  ASSERT_EQ(claims.size(), static_cast<std::size_t>(kInventories));
  for (const auto& [digest, count] : claims) EXPECT_EQ(count, 1) << digest;
}

// Fills a database at schema version 5 through SQL, as a berthd of that
// version would have left it.
class VersionFiveDatabase {
 public:
  explicit VersionFiveDatabase(const std::string& path) : connection_(path) {
    for (int i = 0; i < 5; ++i) connection_.exec(metadata::sqlite_migrations()[i]);
    connection_.exec("PRAGMA user_version = 5");
  }

  // Stores the manifest that image_manifest() makes for `repository` and
  // `label`, with `tags`.
  void add_manifest(const std::string& repository, const std::string& label, const std::vector<std::string>& tags) {
    {
      auto insert = connection_.prepare(
          "INSERT INTO repositories (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING");
      insert.bind(1, repository).bind(2, kEarly).run();
    }
    std::int64_t repository_id = 0;
    {
      auto query = connection_.prepare("SELECT id FROM repositories WHERE name = ?");
      query.bind(1, repository);
      if (!query.step()) throw std::runtime_error("repository " + repository + " was not stored");
      repository_id = query.column_int(0);
    }
    auto write = image_manifest(repository, label);
    {
      auto insert = connection_.prepare(
          "INSERT INTO manifests (repository_id, digest, media_type, content, created_at) VALUES (?, ?, ?, ?, ?)");
      insert.bind(1, repository_id).bind(2, write.digest.str()).bind(3, write.media_type).bind_blob(4, write.content);
      insert.bind(5, kEarly).run();
    }
    std::int64_t manifest_id = connection_.last_insert_rowid();
    for (const auto& tag : tags) {
      auto insert =
          connection_.prepare("INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES (?, ?, ?, ?)");
      insert.bind(1, repository_id).bind(2, tag).bind(3, manifest_id).bind(4, kEarly).run();
    }
  }

 private:
  metadata::SqliteConnection connection_;
};

// A database at version 5 gains the Vulnerability Advisor tables, and
// every manifest that has a tag is queued once.
TEST(SqliteVaMigration, UpgradesVersionFiveDatabase) {
  test_support::TempDirectory directory;
  std::string path = (directory.path() / "metadata.db").string();
  Digest tagged = image_manifest("ns1/app", "tagged").digest;
  Digest twice_tagged = image_manifest("ns1/app", "twice tagged").digest;
  Digest untagged = image_manifest("ns1/app", "untagged").digest;
  {
    VersionFiveDatabase old(path);
    old.add_manifest("ns1/app", "tagged", {"v1"});
    old.add_manifest("ns1/app", "twice tagged", {"v2", "latest"});
    old.add_manifest("ns2/app", "twice tagged", {"v1"});
    old.add_manifest("ns1/app", "untagged", {});
  }

  std::int64_t before = core::unix_now();
  metadata::SqliteStore store(metadata::SqliteOptions{.path = path});
  std::int64_t after = core::unix_now();

  {
    metadata::SqliteConnection connection(path);
    auto query = connection.prepare("PRAGMA user_version");
    ASSERT_TRUE(query.step());
    EXPECT_EQ(query.column_int(0), metadata::SqliteStore::schema_version());
  }
  for (const auto& digest : {tagged, twice_tagged}) {
    auto inventory = store.find_inventory(digest);
    ASSERT_TRUE(inventory.has_value()) << digest.str();
    EXPECT_EQ(inventory->state, "queued");
    EXPECT_GE(inventory->queued_at, before);
    EXPECT_LE(inventory->queued_at, after);
    EXPECT_EQ(inventory->attempts, 0);
  }
  EXPECT_EQ(store.find_inventory(untagged), std::nullopt);
  std::vector<Digest> claimed;
  while (auto claim = store.claim_inventory("worker-1", after + 1, after + 60)) claimed.push_back(claim->digest);
  EXPECT_THAT(claimed, ::testing::UnorderedElementsAre(tagged, twice_tagged));

  // The triggers work on the migrated tags table.
  push_image(store, "ns1/app", "untagged", "v3");
  EXPECT_TRUE(store.find_inventory(untagged).has_value());
}

// Accounts cannot be deleted through MetadataStore, so this deletes the
// row with SQL to check the cascade that the schema declares.
TEST(SqliteVaExemptions, DeletingAccountDeletesExemptions) {
  test_support::TempDirectory directory;
  std::string path = (directory.path() / "metadata.db").string();
  metadata::SqliteStore store(metadata::SqliteOptions{.path = path});
  create_account(store, kAccountA, "alpha");
  create_account(store, kAccountB, "beta");
  ASSERT_TRUE(store.create_exemption(account_exemption(kAccountA, "cve", "CVE-2023-0001")));
  ASSERT_TRUE(store.create_exemption(namespace_exemption(kAccountA, "ns1", "sn", "DSA-1-1")));
  auto other_account = account_exemption(kAccountB, "cve", "CVE-2023-0001");
  ASSERT_TRUE(store.create_exemption(other_account));

  {
    metadata::SqliteConnection connection(path);
    connection.exec("PRAGMA foreign_keys = ON");
    auto remove = connection.prepare("DELETE FROM accounts WHERE id = ?");
    remove.bind(1, kAccountA).run();
  }

  EXPECT_THAT(store.list_exemptions(kAccountA), IsEmpty());
  EXPECT_THAT(store.list_exemptions(kAccountB), ElementsAre(other_account));
}

}  // namespace
}  // namespace berth::store_tests
