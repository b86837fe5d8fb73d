// Contract tests for the parts of metadata::MetadataStore that the
// management API's image endpoints and settings use: image listings with
// tags and facts, server-side manifest copies, and account settings. They
// join the MetadataStoreContract suite, so every backend instantiated in
// metadata_store_suite.cc runs them.
#include "stores/metadata_store_suite.h"

#include "core/digest.h"
#include "metadata/cached_store.h"
#include "metadata/sqlite_connection.h"
#include "metadata/sqlite_schema.h"
#include "metadata/sqlite_store.h"
#include "oci/media_types.h"
#include "support/printers.h"
#include "support/temp_directory.h"

#include <gmock/gmock.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace berth::store_tests {
namespace {

using core::Digest;
using metadata::AccountRecord;
using metadata::AccountSettings;
using metadata::ImageEntry;
using metadata::ImageFacts;
using metadata::ManifestWrite;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const std::string kAccount(32, 'a');

Digest sha256_of(std::string_view text) { return core::digest_of(core::DigestAlgorithm::kSha256, text); }

// An image manifest write whose config and layer blobs are linked to its
// repository first. `label` makes the content, and so the digest, unique.
ManifestWrite linked_image(metadata::MetadataStore& store, const std::string& repository, const std::string& label) {
  Digest config = sha256_of("config " + label);
  Digest layer = sha256_of("layer " + label);
  store.link_blob(repository, config, 100);
  store.link_blob(repository, layer, 2000);
  std::string content = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","label":")" +
                        label + R"("})";
  return ManifestWrite{.repository = repository,
                       .digest = sha256_of(content),
                       .media_type = std::string(oci::media_type::kOciManifest),
                       .content = content,
                       .blob_references = {config, layer}};
}

ManifestWrite index_of(const std::string& repository, const std::string& label, std::vector<Digest> children) {
  std::string content = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","label":")" +
                        label + R"("})";
  return ManifestWrite{.repository = repository,
                       .digest = sha256_of(content),
                       .media_type = std::string(oci::media_type::kOciIndex),
                       .content = content,
                       .manifest_references = std::move(children)};
}

std::vector<std::string> entry_names(const std::vector<ImageEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& entry : entries) out.push_back(entry.repository + "@" + entry.digest.str());
  return out;
}

// --- Image listings -----------------------------------------------------------

TEST_P(MetadataStoreContract, ListImagesEmpty) {
  EXPECT_THAT(store().list_images({"team"}, {"team/app"}), IsEmpty());
  EXPECT_THAT(store().list_images({}, {}), IsEmpty());
}

TEST_P(MetadataStoreContract, ListImagesWithTags) {
  ManifestWrite tagged = linked_image(store(), "team/app", "tagged");
  tagged.artifact_type = "application/vnd.example.sbom.v1+json";
  tagged.tag = "v2";
  ASSERT_TRUE(store().put_manifest(tagged).stored);
  tagged.tag = "v1";
  ASSERT_TRUE(store().put_manifest(tagged).stored);
  ManifestWrite untagged = linked_image(store(), "team/app", "untagged");
  ASSERT_TRUE(store().put_manifest(untagged).stored);

  auto images = store().list_images({"team"}, {});

  ASSERT_EQ(images.size(), 2u);
  for (const auto& image : images) {
    EXPECT_EQ(image.repository, "team/app");
    EXPECT_EQ(image.media_type, oci::media_type::kOciManifest);
    EXPECT_GT(image.pushed_at, 0);
    EXPECT_EQ(image.facts, std::nullopt);
    if (image.digest == tagged.digest) {
      EXPECT_THAT(image.tags, ElementsAre("v1", "v2"));
      EXPECT_EQ(image.artifact_type, "application/vnd.example.sbom.v1+json");
    } else {
      EXPECT_EQ(image.digest, untagged.digest);
      EXPECT_THAT(image.tags, IsEmpty());
    }
  }
}

TEST_P(MetadataStoreContract, ListImagesStaysInNamespace) {
  // "team0" sorts right after "team/", and "teamx" starts with "team".
  for (const std::string repository : {"team/a", "team/b/c", "team0/a", "teamx/a", "tea/a"}) {
    ASSERT_TRUE(store().put_manifest(linked_image(store(), repository, repository)).stored);
  }

  auto images = store().list_images({"team"}, {});

  ASSERT_EQ(images.size(), 2u);
  EXPECT_EQ(images[0].repository, "team/a");
  EXPECT_EQ(images[1].repository, "team/b/c");
}

TEST_P(MetadataStoreContract, ListImagesByRepository) {
  ManifestWrite wanted = linked_image(store(), "team/app", "wanted");
  ASSERT_TRUE(store().put_manifest(wanted).stored);
  ASSERT_TRUE(store().put_manifest(linked_image(store(), "team/app/sub", "nested")).stored);
  ASSERT_TRUE(store().put_manifest(linked_image(store(), "team/other", "other")).stored);

  auto images = store().list_images({}, {"team/app", "team/missing"});

  EXPECT_THAT(entry_names(images), ElementsAre("team/app@" + wanted.digest.str()));
}

TEST_P(MetadataStoreContract, ListImagesOverlapListedOnce) {
  ManifestWrite image = linked_image(store(), "team/app", "one");
  image.tag = "latest";
  ASSERT_TRUE(store().put_manifest(image).stored);

  auto images = store().list_images({"team", "team"}, {"team/app"});

  ASSERT_EQ(images.size(), 1u);
  EXPECT_THAT(images[0].tags, ElementsAre("latest"));
}

TEST_P(MetadataStoreContract, ListImagesOrder) {
  ManifestWrite first = linked_image(store(), "team/b", "first");
  ManifestWrite second = linked_image(store(), "team/b", "second");
  ManifestWrite third = linked_image(store(), "team/a", "third");
  for (const auto& write : {first, second, third}) ASSERT_TRUE(store().put_manifest(write).stored);

  auto images = store().list_images({"team"}, {});

  std::vector<std::string> expected = {"team/a@" + third.digest.str(),
                                       "team/b@" + std::min(first.digest.str(), second.digest.str()),
                                       "team/b@" + std::max(first.digest.str(), second.digest.str())};
  EXPECT_EQ(entry_names(images), expected);
}

TEST_P(MetadataStoreContract, ListImagesLeavesOutUntaggedChildren) {
  ManifestWrite untagged_child = linked_image(store(), "team/app", "amd64");
  ManifestWrite tagged_child = linked_image(store(), "team/app", "arm64");
  tagged_child.tag = "arm64";
  ManifestWrite loose = linked_image(store(), "team/app", "loose");
  ManifestWrite index = index_of("team/app", "multi", {untagged_child.digest, tagged_child.digest});
  index.tag = "latest";
  // The same child digest alone in another repository is an image there.
  ManifestWrite elsewhere = untagged_child;
  elsewhere.repository = "team/other";
  for (const auto& blob : untagged_child.blob_references) store().link_blob("team/other", blob, 1);
  for (const auto& write : {untagged_child, tagged_child, loose, index, elsewhere}) {
    ASSERT_TRUE(store().put_manifest(write).stored);
  }

  auto by_namespace = store().list_images({"team"}, {});
  auto by_repository = store().list_images({}, {"team/app"});

  std::vector<std::string> app;
  for (const auto& write : {tagged_child, loose, index}) app.push_back("team/app@" + write.digest.str());
  std::sort(app.begin(), app.end());
  std::vector<std::string> all = app;
  all.push_back("team/other@" + untagged_child.digest.str());
  EXPECT_EQ(entry_names(by_namespace), all);
  EXPECT_EQ(entry_names(by_repository), app);
  for (const auto& image : by_namespace) {
    if (image.digest == tagged_child.digest) {
      EXPECT_THAT(image.tags, ElementsAre("arm64"));
    }
  }
}

TEST_P(MetadataStoreContract, ListImagesUntaggedIndexHidesChildren) {
  ManifestWrite child = linked_image(store(), "team/app", "child");
  ManifestWrite index = index_of("team/app", "untagged index", {child.digest});
  ASSERT_TRUE(store().put_manifest(child).stored);
  ASSERT_TRUE(store().put_manifest(index).stored);

  // The untagged index is listed and its child is not, so deleting the
  // untagged images that a listing returns removes the index first.
  EXPECT_THAT(entry_names(store().list_images({"team"}, {})), ElementsAre("team/app@" + index.digest.str()));

  ASSERT_TRUE(store().delete_manifest("team/app", index.digest));
  EXPECT_THAT(entry_names(store().list_images({"team"}, {})), ElementsAre("team/app@" + child.digest.str()));
}

// --- Image facts ----------------------------------------------------------------

TEST_P(MetadataStoreContract, ImageFactsRoundTrip) {
  Digest manifest = sha256_of("manifest");
  ImageFacts facts{.manifest_digest = manifest,
                   .config_digest = sha256_of("config").str(),
                   .created = 1686355200,
                   .size = 123456789012,
                   .architecture = "arm64",
                   .os = "linux",
                   .labels_json = R"({"maintainer":"team"})"};

  EXPECT_EQ(store().find_image_facts(manifest), std::nullopt);
  store().put_image_facts(facts);

  EXPECT_EQ(store().find_image_facts(manifest), facts);
  reopen();
  EXPECT_EQ(store().find_image_facts(manifest), facts);
}

TEST_P(MetadataStoreContract, ImageFactsFirstWriteWins) {
  Digest manifest = sha256_of("manifest");
  ImageFacts first{.manifest_digest = manifest, .created = 1, .size = 10};
  ImageFacts second{.manifest_digest = manifest, .created = 2, .size = 20};

  store().put_image_facts(first);
  store().put_image_facts(second);

  EXPECT_EQ(store().find_image_facts(manifest), first);
}

TEST_P(MetadataStoreContract, ListImagesCarriesFacts) {
  ManifestWrite image = linked_image(store(), "team/app", "one");
  ASSERT_TRUE(store().put_manifest(image).stored);
  ManifestWrite copy = image;
  copy.repository = "team/copy";
  for (const auto& blob : image.blob_references) store().link_blob("team/copy", blob, 1);
  ASSERT_TRUE(store().put_manifest(copy).stored);
  ImageFacts facts{.manifest_digest = image.digest, .created = 1686355200, .size = 2100, .os = "linux"};

  store().put_image_facts(facts);
  auto images = store().list_images({"team"}, {});

  ASSERT_EQ(images.size(), 2u);
  EXPECT_EQ(images[0].facts, facts);
  EXPECT_EQ(images[1].facts, facts);
}

// --- Manifest copies ------------------------------------------------------------

TEST_P(MetadataStoreContract, CopyManifestToOtherRepository) {
  ManifestWrite image = linked_image(store(), "team/app", "one");
  image.tag = "v1";
  ASSERT_TRUE(store().put_manifest(image).stored);

  auto result = store().copy_manifest("team/app", image.digest, "other/copy", "copied");

  EXPECT_TRUE(result.copied);
  EXPECT_TRUE(result.source_found);
  EXPECT_THAT(result.missing_manifests, IsEmpty());
  auto tagged = store().find_tagged_manifest("other/copy", "copied");
  ASSERT_TRUE(tagged.has_value());
  EXPECT_EQ(tagged->digest, image.digest);
  EXPECT_EQ(tagged->content, image.content);
  EXPECT_EQ(tagged->media_type, image.media_type);
  for (const auto& blob : image.blob_references) {
    auto linked = store().find_repository_blob("other/copy", blob);
    ASSERT_TRUE(linked.has_value()) << blob.str();
    EXPECT_EQ(linked->size, blob == image.blob_references[0] ? 100u : 2000u);
  }
  EXPECT_THAT(store().manifest_blob_references("other/copy", image.digest),
              ::testing::UnorderedElementsAreArray(image.blob_references));
  // The source keeps its tag.
  EXPECT_TRUE(store().find_tagged_manifest("team/app", "v1").has_value());
  // The copied blobs are protected by the copied manifest.
  EXPECT_FALSE(store().unlink_blob("other/copy", image.blob_references[0]).unlinked);
}

TEST_P(MetadataStoreContract, CopyIndexCopiesChildren) {
  ManifestWrite amd64 = linked_image(store(), "team/multi", "amd64");
  ManifestWrite arm64 = linked_image(store(), "team/multi", "arm64");
  ASSERT_TRUE(store().put_manifest(amd64).stored);
  ASSERT_TRUE(store().put_manifest(arm64).stored);
  ManifestWrite inner = index_of("team/multi", "inner", {arm64.digest});
  ASSERT_TRUE(store().put_manifest(inner).stored);
  ManifestWrite index = index_of("team/multi", "outer", {amd64.digest, inner.digest});
  index.tag = "latest";
  ASSERT_TRUE(store().put_manifest(index).stored);

  auto result = store().copy_manifest("team/multi", index.digest, "other/multi", "v1");

  ASSERT_TRUE(result.copied);
  for (const auto* write : {&amd64, &arm64, &inner, &index}) {
    EXPECT_TRUE(store().find_manifest("other/multi", write->digest).has_value()) << write->digest.str();
  }
  for (const auto& blob : arm64.blob_references) {
    EXPECT_TRUE(store().find_repository_blob("other/multi", blob).has_value()) << blob.str();
  }
  auto tagged = store().find_tagged_manifest("other/multi", "v1");
  ASSERT_TRUE(tagged.has_value());
  EXPECT_EQ(tagged->digest, index.digest);
  // The children arrive untagged.
  EXPECT_THAT(store().list_tags("other/multi", "", 10)->names, ElementsAre("v1"));
}

TEST_P(MetadataStoreContract, CopyIndexWithMissingChild) {
  ManifestWrite present = linked_image(store(), "team/multi", "present");
  ManifestWrite deleted = linked_image(store(), "team/multi", "deleted");
  ASSERT_TRUE(store().put_manifest(present).stored);
  ASSERT_TRUE(store().put_manifest(deleted).stored);
  ManifestWrite index = index_of("team/multi", "index", {present.digest, deleted.digest});
  ASSERT_TRUE(store().put_manifest(index).stored);
  ASSERT_TRUE(store().delete_manifest("team/multi", deleted.digest));

  auto result = store().copy_manifest("team/multi", index.digest, "other/multi", "v1");

  EXPECT_FALSE(result.copied);
  EXPECT_TRUE(result.source_found);
  EXPECT_THAT(result.missing_manifests, ElementsAre(deleted.digest));
  EXPECT_FALSE(store().repository_exists("other/multi"));
  EXPECT_EQ(store().find_manifest("other/multi", present.digest), std::nullopt);
}

TEST_P(MetadataStoreContract, CopyUnknownManifest) {
  ManifestWrite image = linked_image(store(), "team/app", "one");
  ASSERT_TRUE(store().put_manifest(image).stored);

  auto unknown_digest = store().copy_manifest("team/app", sha256_of("nothing"), "team/copy", "v1");
  auto unknown_repository = store().copy_manifest("team/none", image.digest, "team/copy", "v1");

  EXPECT_FALSE(unknown_digest.copied);
  EXPECT_FALSE(unknown_digest.source_found);
  EXPECT_FALSE(unknown_repository.copied);
  EXPECT_FALSE(unknown_repository.source_found);
  EXPECT_FALSE(store().repository_exists("team/copy"));
}

TEST_P(MetadataStoreContract, CopyMovesExistingTag) {
  ManifestWrite old_image = linked_image(store(), "team/app", "old");
  old_image.tag = "v1";
  ASSERT_TRUE(store().put_manifest(old_image).stored);
  ASSERT_TRUE(store().find_tagged_manifest("team/app", "v1").has_value());  // fills a cache, if any
  ManifestWrite new_image = linked_image(store(), "team/app", "new");
  ASSERT_TRUE(store().put_manifest(new_image).stored);

  ASSERT_TRUE(store().copy_manifest("team/app", new_image.digest, "team/app", "v1").copied);

  auto tagged = store().find_tagged_manifest("team/app", "v1");
  ASSERT_TRUE(tagged.has_value());
  EXPECT_EQ(tagged->digest, new_image.digest);
  EXPECT_TRUE(store().find_manifest("team/app", old_image.digest).has_value());
}

// --- Account settings -----------------------------------------------------------

TEST_P(MetadataStoreContract, AccountSettingsDefault) {
  ASSERT_TRUE(store().create_account(AccountRecord{.id = kAccount, .name = "alpha"}));

  EXPECT_FALSE(store().account_settings(kAccount).platform_metrics);
  EXPECT_FALSE(store().account_settings(std::string(32, 'f')).platform_metrics);
}

TEST_P(MetadataStoreContract, AccountSettingsStored) {
  ASSERT_TRUE(store().create_account(AccountRecord{.id = kAccount, .name = "alpha"}));
  ASSERT_TRUE(store().create_account(AccountRecord{.id = std::string(32, 'b'), .name = "beta"}));

  ASSERT_TRUE(store().set_account_settings(kAccount, AccountSettings{.platform_metrics = true}));

  EXPECT_TRUE(store().account_settings(kAccount).platform_metrics);
  EXPECT_FALSE(store().account_settings(std::string(32, 'b')).platform_metrics);
  reopen();
  EXPECT_TRUE(store().account_settings(kAccount).platform_metrics);
  ASSERT_TRUE(store().set_account_settings(kAccount, AccountSettings{.platform_metrics = false}));
  EXPECT_FALSE(store().account_settings(kAccount).platform_metrics);
}

TEST_P(MetadataStoreContract, AccountSettingsUnknownAccount) {
  std::string unknown(32, 'f');

  EXPECT_FALSE(store().set_account_settings(unknown, AccountSettings{.platform_metrics = true}));
  EXPECT_FALSE(store().account_settings(unknown).platform_metrics);
}

// --- Schema migration -----------------------------------------------------------

// A database at version 3 gains the image facts and settings tables and
// keeps its images.
TEST(SqliteImageMigration, UpgradesVersionThreeDatabase) {
  test_support::TempDirectory directory;
  std::string path = (directory.path() / "metadata.db").string();
  {
    metadata::SqliteConnection connection(path);
    for (int i = 0; i < 3; ++i) connection.exec(metadata::sqlite_migrations()[i]);
    connection.exec("PRAGMA user_version = 3");
    connection.exec("INSERT INTO repositories (name, created_at) VALUES ('ns1/app', 1700000000)");
  }

  metadata::SqliteStore store(metadata::SqliteOptions{.path = path});

  EXPECT_TRUE(store.repository_exists("ns1/app"));
  Digest manifest = sha256_of("manifest");
  store.put_image_facts(ImageFacts{.manifest_digest = manifest, .size = 5});
  EXPECT_EQ(store.find_image_facts(manifest)->size, 5u);
  ASSERT_TRUE(store.create_account(AccountRecord{.id = kAccount, .name = "alpha"}));
  EXPECT_TRUE(store.set_account_settings(kAccount, AccountSettings{.platform_metrics = true}));
}

}  // namespace
}  // namespace berth::store_tests
