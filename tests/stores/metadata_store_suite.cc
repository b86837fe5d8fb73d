#include "stores/metadata_store_suite.h"

#include "core/digest.h"
#include "core/time.h"
#include "metadata/cached_store.h"
#include "metadata/sqlite_store.h"
#include "oci/media_types.h"
#include "support/printers.h"
#include "support/temp_directory.h"

#include <gmock/gmock.h>

#include <algorithm>
#include <exception>
#include <latch>
#include <limits>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace berth::store_tests {

std::string metadata_store_factory_name(const ::testing::TestParamInfo<MetadataStoreFactory>& info) {
  return info.param.name;
}

namespace {

using core::Digest;
using metadata::ManifestRecord;
using metadata::ManifestWrite;
using metadata::NamePage;
using metadata::ReferrerRecord;
using metadata::UploadRecord;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::UnorderedElementsAre;

constexpr std::string_view kSbomType = "application/vnd.example.sbom.v1+json";
constexpr std::string_view kSignatureType = "application/vnd.example.signature.v1+json";

Digest sha256_of(std::string_view text) { return core::digest_of(core::DigestAlgorithm::kSha256, text); }

// An image manifest write without references or tag. `label` makes the
// content, and so the digest, unique.
ManifestWrite image_manifest(const std::string& repository, const std::string& label) {
  std::string content = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","label":")" +
                        label + R"("})";
  return ManifestWrite{.repository = repository,
                       .digest = sha256_of(content),
                       .media_type = std::string(oci::media_type::kOciManifest),
                       .content = content};
}

// An index write whose children are `children`.
ManifestWrite index_manifest(const std::string& repository, const std::string& label, std::vector<Digest> children) {
  std::string content = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","label":")" +
                        label + R"("})";
  return ManifestWrite{.repository = repository,
                       .digest = sha256_of(content),
                       .media_type = std::string(oci::media_type::kOciIndex),
                       .content = content,
                       .manifest_references = std::move(children)};
}

// A manifest that refers to `subject`, with an artifact type and annotations.
ManifestWrite referrer_manifest(const std::string& repository, const std::string& label, const Digest& subject,
                                std::string_view artifact_type) {
  ManifestWrite write = image_manifest(repository, label);
  write.subject = subject;
  write.artifact_type = std::string(artifact_type);
  write.annotations_json = R"({"org.example.label":")" + label + R"("})";
  return write;
}

UploadRecord upload_record(const std::string& id, const std::string& repository) {
  return UploadRecord{.id = id,
                      .repository = repository,
                      .received_bytes = 0,
                      .algorithm = core::DigestAlgorithm::kSha256,
                      .hash_state = "initial state",
                      .driver_state = "",
                      .created_at = 1700000000,
                      .updated_at = 1700000000};
}

std::vector<Digest> referrer_digests(const std::vector<ReferrerRecord>& referrers) {
  std::vector<Digest> out;
  for (const auto& referrer : referrers) out.push_back(referrer.digest);
  return out;
}

std::vector<std::string> upload_ids(const std::vector<UploadRecord>& uploads) {
  std::vector<std::string> out;
  for (const auto& upload : uploads) out.push_back(upload.id);
  return out;
}

// The tag names of `repository`, or nullopt when the repository is unknown.
std::optional<std::vector<std::string>> tag_names(metadata::MetadataStore& store, const std::string& repository) {
  auto page = store.list_tags(repository, "", 1000);
  if (!page) return std::nullopt;
  return page->names;
}

std::vector<Digest> sorted_by_text(std::vector<Digest> digests) {
  std::sort(digests.begin(), digests.end(), [](const Digest& a, const Digest& b) { return a.str() < b.str(); });
  return digests;
}

// --- Repositories -------------------------------------------------------

TEST_P(MetadataStoreContract, EmptyStoreHasNoRepositories) {
  EXPECT_FALSE(store().repository_exists("library/alpine"));

  NamePage page = store().list_repositories("", 10);

  EXPECT_THAT(page.names, IsEmpty());
  EXPECT_FALSE(page.more);
}

TEST_P(MetadataStoreContract, RepositoryAppearsWithLinkedBlob) {
  store().link_blob("library/alpine", sha256_of("layer"), 5);

  EXPECT_TRUE(store().repository_exists("library/alpine"));
  EXPECT_FALSE(store().repository_exists("library"));
  EXPECT_THAT(store().list_repositories("", 10).names, ElementsAre("library/alpine"));
}

TEST_P(MetadataStoreContract, RepositoryAppearsWithManifest) {
  auto result = store().put_manifest(image_manifest("library/alpine", "one"));
  ASSERT_TRUE(result.stored);

  EXPECT_TRUE(store().repository_exists("library/alpine"));
  EXPECT_THAT(store().list_repositories("", 10).names, ElementsAre("library/alpine"));
}

TEST_P(MetadataStoreContract, UploadDoesNotCreateRepository) {
  store().create_upload(upload_record("upload-1", "library/alpine"));

  EXPECT_FALSE(store().repository_exists("library/alpine"));
  EXPECT_THAT(store().list_repositories("", 10).names, IsEmpty());
}

TEST_P(MetadataStoreContract, ListRepositoriesByteOrder) {
  // In byte order '-' < '.' < '/' < digits < '_' < lower-case letters.
  for (const char* name : {"ab", "a_b", "a0", "a/b", "a.b", "a-b", "a"}) {
    store().link_blob(name, sha256_of("layer"), 5);
  }

  NamePage page = store().list_repositories("", 100);

  EXPECT_THAT(page.names, ElementsAre("a", "a-b", "a.b", "a/b", "a0", "a_b", "ab"));
  EXPECT_FALSE(page.more);
}

TEST_P(MetadataStoreContract, ListRepositoriesPaging) {
  for (const char* name : {"e", "d", "c", "b", "a"}) store().link_blob(name, sha256_of("layer"), 5);

  NamePage first = store().list_repositories("", 2);
  NamePage second = store().list_repositories("b", 2);
  NamePage last = store().list_repositories("d", 2);

  EXPECT_THAT(first.names, ElementsAre("a", "b"));
  EXPECT_TRUE(first.more);
  EXPECT_THAT(second.names, ElementsAre("c", "d"));
  EXPECT_TRUE(second.more);
  EXPECT_THAT(last.names, ElementsAre("e"));
  EXPECT_FALSE(last.more);
}

TEST_P(MetadataStoreContract, ListRepositoriesExactFit) {
  for (const char* name : {"a", "b", "c"}) store().link_blob(name, sha256_of("layer"), 5);

  NamePage page = store().list_repositories("", 3);

  EXPECT_THAT(page.names, ElementsAre("a", "b", "c"));
  EXPECT_FALSE(page.more);
}

TEST_P(MetadataStoreContract, ListRepositoriesAfterUnknownName) {
  for (const char* name : {"alpha", "beta", "gamma"}) store().link_blob(name, sha256_of("layer"), 5);

  EXPECT_THAT(store().list_repositories("b", 10).names, ElementsAre("beta", "gamma"));
  EXPECT_THAT(store().list_repositories("beta", 10).names, ElementsAre("gamma"));
  EXPECT_THAT(store().list_repositories("zzz", 10).names, IsEmpty());
}

TEST_P(MetadataStoreContract, ListRepositoriesMaximumLimit) {
  for (const char* name : {"a", "b", "c"}) store().link_blob(name, sha256_of("layer"), 5);

  NamePage page = store().list_repositories("", std::numeric_limits<std::size_t>::max());

  EXPECT_THAT(page.names, ElementsAre("a", "b", "c"));
  EXPECT_FALSE(page.more);
}

TEST_P(MetadataStoreContract, ListRepositoriesLimitZero) {
  store().link_blob("alpha", sha256_of("layer"), 5);

  NamePage page = store().list_repositories("", 0);

  EXPECT_THAT(page.names, IsEmpty());
  EXPECT_TRUE(page.more);
}

// --- Blobs --------------------------------------------------------------

TEST_P(MetadataStoreContract, LinkedBlobIsFound) {
  Digest digest = sha256_of("layer");
  std::int64_t before = core::unix_now();
  store().link_blob("library/alpine", digest, 12345);

  auto blob = store().find_repository_blob("library/alpine", digest);

  ASSERT_TRUE(blob.has_value());
  EXPECT_EQ(blob->digest, digest);
  EXPECT_EQ(blob->size, 12345u);
  EXPECT_GE(blob->created_at, before);
  EXPECT_LE(blob->created_at, core::unix_now());
}

TEST_P(MetadataStoreContract, BlobNotFoundInOtherRepository) {
  Digest digest = sha256_of("layer");
  store().link_blob("team-a/app", digest, 5);
  store().link_blob("team-b/app", sha256_of("other"), 5);

  EXPECT_EQ(store().find_repository_blob("team-b/app", digest), std::nullopt);
  EXPECT_EQ(store().find_repository_blob("unknown/app", digest), std::nullopt);
}

TEST_P(MetadataStoreContract, UnlinkedBlobNotFound) {
  EXPECT_EQ(store().find_repository_blob("library/alpine", sha256_of("never linked")), std::nullopt);
}

TEST_P(MetadataStoreContract, LinkBlobTwiceChangesNothing) {
  Digest digest = sha256_of("layer");
  store().link_blob("library/alpine", digest, 5);
  auto first = store().find_repository_blob("library/alpine", digest);
  ASSERT_TRUE(first.has_value());

  store().link_blob("library/alpine", digest, 5);

  auto second = store().find_repository_blob("library/alpine", digest);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->size, first->size);
  EXPECT_EQ(second->created_at, first->created_at);
  EXPECT_EQ(store().list_blobs().size(), 1u);
}

TEST_P(MetadataStoreContract, UnlinkBlobRemovesOneLink) {
  Digest digest = sha256_of("layer");
  store().link_blob("team-a/app", digest, 5);
  store().link_blob("team-b/app", digest, 5);

  EXPECT_TRUE(store().unlink_blob("team-a/app", digest).unlinked);

  EXPECT_EQ(store().find_repository_blob("team-a/app", digest), std::nullopt);
  EXPECT_TRUE(store().find_repository_blob("team-b/app", digest).has_value());
  EXPECT_FALSE(store().unlink_blob("team-a/app", digest).unlinked);
}

TEST_P(MetadataStoreContract, UnlinkUnknownBlob) {
  store().link_blob("library/alpine", sha256_of("layer"), 5);

  EXPECT_FALSE(store().unlink_blob("library/alpine", sha256_of("never linked")).unlinked);
  EXPECT_FALSE(store().unlink_blob("unknown/repository", sha256_of("layer")).unlinked);
}

TEST_P(MetadataStoreContract, UnlinkBlobReferencedByManifest) {
  Digest layer = sha256_of("layer");
  store().link_blob("library/alpine", layer, 5);
  store().link_blob("library/other", layer, 5);
  ManifestWrite write = image_manifest("library/alpine", "one");
  write.blob_references = {layer};
  ASSERT_TRUE(store().put_manifest(write).stored);

  auto rejected = store().unlink_blob("library/alpine", layer);

  EXPECT_FALSE(rejected.unlinked);
  EXPECT_EQ(rejected.referenced_by, write.digest);
  EXPECT_TRUE(store().find_repository_blob("library/alpine", layer).has_value());
  // Another repository's manifests do not hold the blob in this one.
  EXPECT_TRUE(store().unlink_blob("library/other", layer).unlinked);

  ASSERT_TRUE(store().delete_manifest("library/alpine", write.digest));
  auto unlinked = store().unlink_blob("library/alpine", layer);
  EXPECT_TRUE(unlinked.unlinked);
  EXPECT_EQ(unlinked.referenced_by, std::nullopt);
}

TEST_P(MetadataStoreContract, ListBlobsOncePerDigest) {
  Digest shared = sha256_of("shared");
  Digest single = sha256_of("single");
  store().link_blob("team-a/app", shared, 6);
  store().link_blob("team-b/app", shared, 6);
  store().link_blob("team-b/app", single, 7);

  auto blobs = store().list_blobs();

  std::vector<Digest> digests;
  for (const auto& blob : blobs) digests.push_back(blob.digest);
  EXPECT_THAT(digests, UnorderedElementsAre(shared, single));
  for (const auto& blob : blobs) {
    EXPECT_EQ(blob.size, blob.digest == shared ? 6u : 7u) << blob.digest.str();
  }
}

// --- Upload sessions ----------------------------------------------------

TEST_P(MetadataStoreContract, CreatedUploadIsFound) {
  UploadRecord upload = upload_record("upload-1", "library/alpine");
  upload.received_bytes = 42;
  upload.algorithm = core::DigestAlgorithm::kSha512;
  upload.hash_state = std::string("\0\x01\xff state", 9);
  upload.driver_state = R"({"part":3})";
  upload.created_at = 1700000001;
  upload.updated_at = 1700000002;
  store().create_upload(upload);

  auto found = store().find_upload("upload-1");

  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, "upload-1");
  EXPECT_EQ(found->repository, "library/alpine");
  EXPECT_EQ(found->received_bytes, 42u);
  EXPECT_EQ(found->algorithm, core::DigestAlgorithm::kSha512);
  EXPECT_EQ(found->hash_state, upload.hash_state);
  EXPECT_EQ(found->driver_state, R"({"part":3})");
  EXPECT_EQ(found->created_at, 1700000001);
  EXPECT_EQ(found->updated_at, 1700000002);
}

TEST_P(MetadataStoreContract, FindUnknownUpload) {
  EXPECT_EQ(store().find_upload("never-created"), std::nullopt);
}

TEST_P(MetadataStoreContract, UpdateUploadAtExpectedBytes) {
  store().create_upload(upload_record("upload-1", "library/alpine"));
  std::string state("next\0state", 10);

  EXPECT_TRUE(store().update_upload("upload-1", 0, 1000, state, "driver"));

  auto found = store().find_upload("upload-1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->received_bytes, 1000u);
  EXPECT_EQ(found->hash_state, state);
  EXPECT_EQ(found->driver_state, "driver");
  EXPECT_EQ(found->repository, "library/alpine");
  EXPECT_EQ(found->created_at, 1700000000);
  EXPECT_GE(found->updated_at, found->created_at);
}

TEST_P(MetadataStoreContract, UpdateUploadMismatchChangesNothing) {
  store().create_upload(upload_record("upload-1", "library/alpine"));
  ASSERT_TRUE(store().update_upload("upload-1", 0, 1000, "state at 1000", ""));

  EXPECT_FALSE(store().update_upload("upload-1", 0, 2000, "state at 2000", "moved"));

  auto found = store().find_upload("upload-1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->received_bytes, 1000u);
  EXPECT_EQ(found->hash_state, "state at 1000");
  EXPECT_EQ(found->driver_state, "");
}

TEST_P(MetadataStoreContract, UpdateUnknownUpload) {
  EXPECT_FALSE(store().update_upload("never-created", 0, 10, "state", ""));
  EXPECT_EQ(store().find_upload("never-created"), std::nullopt);
}

TEST_P(MetadataStoreContract, CompleteUploadLinksBlob) {
  store().create_upload(upload_record("upload-1", "library/alpine"));
  Digest digest = sha256_of("uploaded bytes");

  store().complete_upload("upload-1", digest, 14);

  EXPECT_EQ(store().find_upload("upload-1"), std::nullopt);
  EXPECT_THAT(store().list_uploads(), IsEmpty());
  EXPECT_TRUE(store().repository_exists("library/alpine"));
  auto blob = store().find_repository_blob("library/alpine", digest);
  ASSERT_TRUE(blob.has_value());
  EXPECT_EQ(blob->size, 14u);
}

TEST_P(MetadataStoreContract, CompleteUploadOfLinkedBlob) {
  Digest digest = sha256_of("uploaded bytes");
  store().link_blob("library/alpine", digest, 14);
  store().create_upload(upload_record("upload-1", "library/alpine"));

  store().complete_upload("upload-1", digest, 14);

  EXPECT_EQ(store().find_upload("upload-1"), std::nullopt);
  EXPECT_TRUE(store().find_repository_blob("library/alpine", digest).has_value());
  EXPECT_EQ(store().list_blobs().size(), 1u);
}

TEST_P(MetadataStoreContract, DeleteUpload) {
  store().create_upload(upload_record("upload-1", "library/alpine"));
  store().create_upload(upload_record("upload-2", "library/alpine"));

  EXPECT_TRUE(store().delete_upload("upload-1"));

  EXPECT_EQ(store().find_upload("upload-1"), std::nullopt);
  EXPECT_TRUE(store().find_upload("upload-2").has_value());
  EXPECT_FALSE(store().delete_upload("upload-1"));
}

TEST_P(MetadataStoreContract, ListUploads) {
  store().create_upload(upload_record("upload-1", "team-a/app"));
  store().create_upload(upload_record("upload-2", "team-b/app"));
  store().create_upload(upload_record("upload-3", "team-a/app"));

  auto uploads = store().list_uploads();

  EXPECT_THAT(upload_ids(uploads), UnorderedElementsAre("upload-1", "upload-2", "upload-3"));
  for (const auto& upload : uploads) {
    EXPECT_EQ(upload.repository, upload.id == "upload-2" ? "team-b/app" : "team-a/app") << upload.id;
  }
}

// --- Manifests ----------------------------------------------------------

TEST_P(MetadataStoreContract, PutManifestMissingBlobs) {
  Digest linked = sha256_of("linked");
  Digest missing_config = sha256_of("missing config");
  Digest missing_layer = sha256_of("missing layer");
  store().link_blob("library/alpine", linked, 6);
  ManifestWrite write = image_manifest("library/alpine", "one");
  write.blob_references = {missing_config, linked, missing_layer};
  write.tag = "latest";

  auto result = store().put_manifest(write);

  EXPECT_FALSE(result.stored);
  EXPECT_THAT(result.missing_blobs, UnorderedElementsAre(missing_config, missing_layer));
  EXPECT_THAT(result.missing_manifests, IsEmpty());
  EXPECT_EQ(store().find_manifest("library/alpine", write.digest), std::nullopt);
  EXPECT_EQ(store().find_tagged_manifest("library/alpine", "latest"), std::nullopt);
  EXPECT_THAT(store().list_manifests(), IsEmpty());
}

TEST_P(MetadataStoreContract, PutManifestBlobOfOtherRepository) {
  Digest layer = sha256_of("layer");
  store().link_blob("team-a/app", layer, 5);
  ManifestWrite write = image_manifest("team-b/app", "one");
  write.blob_references = {layer};

  auto result = store().put_manifest(write);

  EXPECT_FALSE(result.stored);
  EXPECT_THAT(result.missing_blobs, ElementsAre(layer));
  EXPECT_FALSE(store().repository_exists("team-b/app"));
}

TEST_P(MetadataStoreContract, PutManifestMissingChildren) {
  ManifestWrite child = image_manifest("library/alpine", "child");
  ASSERT_TRUE(store().put_manifest(child).stored);
  Digest missing_child = sha256_of("missing child");
  ManifestWrite index = index_manifest("library/alpine", "index", {child.digest, missing_child});
  index.tag = "latest";

  auto result = store().put_manifest(index);

  EXPECT_FALSE(result.stored);
  EXPECT_THAT(result.missing_manifests, ElementsAre(missing_child));
  EXPECT_THAT(result.missing_blobs, IsEmpty());
  EXPECT_EQ(store().find_manifest("library/alpine", index.digest), std::nullopt);
  EXPECT_EQ(store().find_tagged_manifest("library/alpine", "latest"), std::nullopt);
}

TEST_P(MetadataStoreContract, PutManifestChildOfOtherRepository) {
  ManifestWrite child = image_manifest("team-a/app", "child");
  ASSERT_TRUE(store().put_manifest(child).stored);
  ManifestWrite index = index_manifest("team-b/app", "index", {child.digest});

  auto result = store().put_manifest(index);

  EXPECT_FALSE(result.stored);
  EXPECT_THAT(result.missing_manifests, ElementsAre(child.digest));
  EXPECT_FALSE(store().repository_exists("team-b/app"));
}

TEST_P(MetadataStoreContract, FailedPutCreatesNoRepository) {
  ManifestWrite write = image_manifest("library/alpine", "one");
  write.blob_references = {sha256_of("missing")};

  ASSERT_FALSE(store().put_manifest(write).stored);

  EXPECT_FALSE(store().repository_exists("library/alpine"));
  EXPECT_THAT(store().list_repositories("", 10).names, IsEmpty());
  EXPECT_EQ(store().list_tags("library/alpine", "", 10), std::nullopt);
}

TEST_P(MetadataStoreContract, PutManifestWithTag) {
  Digest config = sha256_of("config");
  Digest layer = sha256_of("layer");
  store().link_blob("library/alpine", config, 6);
  store().link_blob("library/alpine", layer, 5);
  ManifestWrite write = image_manifest("library/alpine", "one");
  write.blob_references = {config, layer};
  write.artifact_type = "application/vnd.oci.image.config.v1+json";
  write.annotations_json = R"({"org.opencontainers.image.version":"1.0"})";
  write.tag = "latest";
  std::int64_t before = core::unix_now();

  auto result = store().put_manifest(write);

  EXPECT_TRUE(result.stored);
  EXPECT_THAT(result.missing_blobs, IsEmpty());
  EXPECT_THAT(result.missing_manifests, IsEmpty());
  auto found = store().find_manifest("library/alpine", write.digest);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->repository, "library/alpine");
  EXPECT_EQ(found->digest, write.digest);
  EXPECT_EQ(found->media_type, oci::media_type::kOciManifest);
  EXPECT_EQ(found->content, write.content);
  EXPECT_EQ(found->artifact_type, "application/vnd.oci.image.config.v1+json");
  EXPECT_EQ(found->subject, std::nullopt);
  EXPECT_EQ(found->annotations_json, R"({"org.opencontainers.image.version":"1.0"})");
  EXPECT_GE(found->created_at, before);
  EXPECT_LE(found->created_at, core::unix_now());
  auto tagged = store().find_tagged_manifest("library/alpine", "latest");
  ASSERT_TRUE(tagged.has_value());
  EXPECT_EQ(tagged->digest, write.digest);
  EXPECT_EQ(tagged->content, write.content);
}

TEST_P(MetadataStoreContract, FindManifestExactBytes) {
  // Whitespace, key order, escapes and UTF-8 must survive untouched,
  // because the digest covers the exact bytes.
  std::string content =
      "{\n\t\"schemaVersion\" : 2,\r\n  \"annotations\": {\"title\": \"caf\xc3\xa9 \\u00e9 \\\"quoted\\\"\"}  ,"
      "\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"}\n\n";
  ManifestWrite write{.repository = "library/alpine",
                      .digest = sha256_of(content),
                      .media_type = std::string(oci::media_type::kOciManifest),
                      .content = content,
                      .tag = "v1"};
  ASSERT_TRUE(store().put_manifest(write).stored);

  auto by_digest = store().find_manifest("library/alpine", write.digest);
  auto by_tag = store().find_tagged_manifest("library/alpine", "v1");

  ASSERT_TRUE(by_digest.has_value());
  ASSERT_TRUE(by_tag.has_value());
  EXPECT_EQ(by_digest->content, content);
  EXPECT_EQ(by_tag->content, content);
  EXPECT_EQ(sha256_of(by_digest->content), write.digest);
}

TEST_P(MetadataStoreContract, FindManifestOtherRepository) {
  ManifestWrite write = image_manifest("team-a/app", "one");
  write.tag = "latest";
  ASSERT_TRUE(store().put_manifest(write).stored);
  store().link_blob("team-b/app", sha256_of("layer"), 5);

  EXPECT_EQ(store().find_manifest("team-b/app", write.digest), std::nullopt);
  EXPECT_EQ(store().find_tagged_manifest("team-b/app", "latest"), std::nullopt);
}

TEST_P(MetadataStoreContract, FindUnknownTag) {
  ManifestWrite write = image_manifest("library/alpine", "one");
  write.tag = "latest";
  ASSERT_TRUE(store().put_manifest(write).stored);

  EXPECT_EQ(store().find_tagged_manifest("library/alpine", "v2"), std::nullopt);
  EXPECT_EQ(store().find_tagged_manifest("library/alpine", "LATEST"), std::nullopt);
}

TEST_P(MetadataStoreContract, RePutMovesTag) {
  ManifestWrite first = image_manifest("library/alpine", "one");
  first.tag = "latest";
  ManifestWrite second = image_manifest("library/alpine", "two");
  second.tag = "latest";
  ASSERT_TRUE(store().put_manifest(first).stored);

  ASSERT_TRUE(store().put_manifest(second).stored);

  auto tagged = store().find_tagged_manifest("library/alpine", "latest");
  ASSERT_TRUE(tagged.has_value());
  EXPECT_EQ(tagged->digest, second.digest);
  EXPECT_TRUE(store().find_manifest("library/alpine", first.digest).has_value());
  EXPECT_THAT(tag_names(store(), "library/alpine"), Optional(ElementsAre("latest")));
}

TEST_P(MetadataStoreContract, RePutSameManifestAddsTag) {
  ManifestWrite write = image_manifest("library/alpine", "one");
  write.tag = "v1";
  ASSERT_TRUE(store().put_manifest(write).stored);
  auto original = store().find_manifest("library/alpine", write.digest);
  ASSERT_TRUE(original.has_value());

  write.tag = "v2";
  auto result = store().put_manifest(write);

  EXPECT_TRUE(result.stored);
  EXPECT_THAT(tag_names(store(), "library/alpine"), Optional(ElementsAre("v1", "v2")));
  auto v1 = store().find_tagged_manifest("library/alpine", "v1");
  auto v2 = store().find_tagged_manifest("library/alpine", "v2");
  ASSERT_TRUE(v1.has_value());
  ASSERT_TRUE(v2.has_value());
  EXPECT_EQ(v1->digest, write.digest);
  EXPECT_EQ(v2->digest, write.digest);
  EXPECT_EQ(store().list_manifests().size(), 1u);
  auto after = store().find_manifest("library/alpine", write.digest);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->created_at, original->created_at);
  EXPECT_EQ(after->content, original->content);
}

TEST_P(MetadataStoreContract, RePutWithoutTagKeepsTags) {
  ManifestWrite write = image_manifest("library/alpine", "one");
  write.tag = "v1";
  ASSERT_TRUE(store().put_manifest(write).stored);

  write.tag.reset();
  EXPECT_TRUE(store().put_manifest(write).stored);

  EXPECT_THAT(tag_names(store(), "library/alpine"), Optional(ElementsAre("v1")));
  EXPECT_EQ(store().list_manifests().size(), 1u);
}

TEST_P(MetadataStoreContract, TagMovesToOtherMediaType) {
  ManifestWrite image = image_manifest("library/alpine", "amd64");
  image.tag = "latest";
  ASSERT_TRUE(store().put_manifest(image).stored);
  ManifestWrite index = index_manifest("library/alpine", "multi", {image.digest});
  index.tag = "latest";

  ASSERT_TRUE(store().put_manifest(index).stored);

  auto tagged = store().find_tagged_manifest("library/alpine", "latest");
  ASSERT_TRUE(tagged.has_value());
  EXPECT_EQ(tagged->digest, index.digest);
  EXPECT_EQ(tagged->media_type, oci::media_type::kOciIndex);
  EXPECT_EQ(tagged->content, index.content);
}

TEST_P(MetadataStoreContract, SubjectMayBeMissing) {
  Digest subject = sha256_of("subject not pushed yet");
  ManifestWrite write = referrer_manifest("library/alpine", "sbom", subject, kSbomType);

  auto result = store().put_manifest(write);

  EXPECT_TRUE(result.stored);
  auto found = store().find_manifest("library/alpine", write.digest);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->subject, subject);
  EXPECT_EQ(found->artifact_type, kSbomType);
  EXPECT_THAT(referrer_digests(store().list_referrers("library/alpine", subject, std::nullopt)),
              ElementsAre(write.digest));
}

TEST_P(MetadataStoreContract, DeleteManifestRemovesTags) {
  ManifestWrite deleted = image_manifest("library/alpine", "deleted");
  deleted.tag = "v1";
  ASSERT_TRUE(store().put_manifest(deleted).stored);
  deleted.tag = "v1.0";
  ASSERT_TRUE(store().put_manifest(deleted).stored);
  ManifestWrite kept = image_manifest("library/alpine", "kept");
  kept.tag = "v2";
  ASSERT_TRUE(store().put_manifest(kept).stored);

  EXPECT_TRUE(store().delete_manifest("library/alpine", deleted.digest));

  EXPECT_EQ(store().find_manifest("library/alpine", deleted.digest), std::nullopt);
  EXPECT_EQ(store().find_tagged_manifest("library/alpine", "v1"), std::nullopt);
  EXPECT_EQ(store().find_tagged_manifest("library/alpine", "v1.0"), std::nullopt);
  EXPECT_THAT(tag_names(store(), "library/alpine"), Optional(ElementsAre("v2")));
  EXPECT_TRUE(store().find_manifest("library/alpine", kept.digest).has_value());
  EXPECT_FALSE(store().delete_manifest("library/alpine", deleted.digest));
}

TEST_P(MetadataStoreContract, DeleteManifestOtherRepository) {
  ManifestWrite write = image_manifest("team-a/app", "one");
  ASSERT_TRUE(store().put_manifest(write).stored);

  EXPECT_FALSE(store().delete_manifest("team-b/app", write.digest));
  EXPECT_TRUE(store().find_manifest("team-a/app", write.digest).has_value());
}

TEST_P(MetadataStoreContract, DeleteManifestDropsReferences) {
  Digest layer = sha256_of("layer");
  store().link_blob("library/alpine", layer, 5);
  Digest subject = sha256_of("subject");
  ManifestWrite write = referrer_manifest("library/alpine", "sbom", subject, kSbomType);
  write.blob_references = {layer};
  ASSERT_TRUE(store().put_manifest(write).stored);

  ASSERT_TRUE(store().delete_manifest("library/alpine", write.digest));

  EXPECT_THAT(store().list_referrers("library/alpine", subject, std::nullopt), IsEmpty());
  EXPECT_THAT(store().manifest_blob_references("library/alpine", write.digest), IsEmpty());
  EXPECT_THAT(store().list_manifests(), IsEmpty());
  EXPECT_TRUE(store().find_repository_blob("library/alpine", layer).has_value());
}

TEST_P(MetadataStoreContract, DeleteTagKeepsManifest) {
  ManifestWrite write = image_manifest("library/alpine", "one");
  write.tag = "v1";
  ASSERT_TRUE(store().put_manifest(write).stored);
  write.tag = "v2";
  ASSERT_TRUE(store().put_manifest(write).stored);

  EXPECT_TRUE(store().delete_tag("library/alpine", "v1"));

  EXPECT_EQ(store().find_tagged_manifest("library/alpine", "v1"), std::nullopt);
  EXPECT_TRUE(store().find_tagged_manifest("library/alpine", "v2").has_value());
  EXPECT_TRUE(store().find_manifest("library/alpine", write.digest).has_value());
  EXPECT_FALSE(store().delete_tag("library/alpine", "v1"));
}

TEST_P(MetadataStoreContract, DeleteUnknownTag) {
  ManifestWrite write = image_manifest("library/alpine", "one");
  write.tag = "v1";
  ASSERT_TRUE(store().put_manifest(write).stored);

  EXPECT_FALSE(store().delete_tag("library/alpine", "v2"));
  EXPECT_FALSE(store().delete_tag("unknown/repository", "v1"));
  EXPECT_TRUE(store().find_tagged_manifest("library/alpine", "v1").has_value());
}

// --- Tags ---------------------------------------------------------------

TEST_P(MetadataStoreContract, ListTagsByteOrder) {
  ManifestWrite write = image_manifest("library/alpine", "one");
  // Byte order: upper case < '_' < lower case, and "v1.10" < "v1.9".
  for (const char* tag : {"v1.9", "latest", "v1.10", "_build", "V2", "v1.0"}) {
    write.tag = tag;
    ASSERT_TRUE(store().put_manifest(write).stored) << tag;
  }

  auto page = store().list_tags("library/alpine", "", 100);

  ASSERT_TRUE(page.has_value());
  EXPECT_THAT(page->names, ElementsAre("V2", "_build", "latest", "v1.0", "v1.10", "v1.9"));
  EXPECT_FALSE(page->more);
}

TEST_P(MetadataStoreContract, ListTagsPaging) {
  ManifestWrite write = image_manifest("library/alpine", "one");
  for (const char* tag : {"t5", "t4", "t3", "t2", "t1"}) {
    write.tag = tag;
    ASSERT_TRUE(store().put_manifest(write).stored) << tag;
  }

  auto first = store().list_tags("library/alpine", "", 2);
  auto second = store().list_tags("library/alpine", "t2", 2);
  auto last = store().list_tags("library/alpine", "t4", 2);
  auto exact = store().list_tags("library/alpine", "t3", 2);
  auto between = store().list_tags("library/alpine", "t10", 2);

  ASSERT_TRUE(first.has_value());
  EXPECT_THAT(first->names, ElementsAre("t1", "t2"));
  EXPECT_TRUE(first->more);
  ASSERT_TRUE(second.has_value());
  EXPECT_THAT(second->names, ElementsAre("t3", "t4"));
  EXPECT_TRUE(second->more);
  ASSERT_TRUE(last.has_value());
  EXPECT_THAT(last->names, ElementsAre("t5"));
  EXPECT_FALSE(last->more);
  ASSERT_TRUE(exact.has_value());
  EXPECT_THAT(exact->names, ElementsAre("t4", "t5"));
  EXPECT_FALSE(exact->more);
  ASSERT_TRUE(between.has_value());
  EXPECT_THAT(between->names, ElementsAre("t2", "t3"));
  EXPECT_TRUE(between->more);
}

TEST_P(MetadataStoreContract, ListTagsMaximumLimit) {
  ManifestWrite write = image_manifest("library/alpine", "one");
  for (const char* tag : {"t1", "t2", "t3"}) {
    write.tag = tag;
    ASSERT_TRUE(store().put_manifest(write).stored) << tag;
  }

  auto page = store().list_tags("library/alpine", "", std::numeric_limits<std::size_t>::max());

  ASSERT_TRUE(page.has_value());
  EXPECT_THAT(page->names, ElementsAre("t1", "t2", "t3"));
  EXPECT_FALSE(page->more);
}

TEST_P(MetadataStoreContract, ListTagsOfOneRepository) {
  ManifestWrite a = image_manifest("team-a/app", "one");
  a.tag = "a-tag";
  ManifestWrite b = image_manifest("team-b/app", "one");
  b.tag = "b-tag";
  ASSERT_TRUE(store().put_manifest(a).stored);
  ASSERT_TRUE(store().put_manifest(b).stored);

  EXPECT_THAT(tag_names(store(), "team-a/app"), Optional(ElementsAre("a-tag")));
  EXPECT_THAT(tag_names(store(), "team-b/app"), Optional(ElementsAre("b-tag")));
}

TEST_P(MetadataStoreContract, ListTagsUnknownRepository) {
  EXPECT_EQ(store().list_tags("unknown/repository", "", 10), std::nullopt);
}

TEST_P(MetadataStoreContract, ListTagsRepositoryWithoutTags) {
  store().link_blob("library/alpine", sha256_of("layer"), 5);

  auto page = store().list_tags("library/alpine", "", 10);

  ASSERT_TRUE(page.has_value());
  EXPECT_THAT(page->names, IsEmpty());
  EXPECT_FALSE(page->more);
}

// --- Referrers ----------------------------------------------------------

TEST_P(MetadataStoreContract, ListReferrersAllTypes) {
  ManifestWrite subject = image_manifest("library/alpine", "subject");
  subject.tag = "latest";
  ASSERT_TRUE(store().put_manifest(subject).stored);
  std::vector<ManifestWrite> referrers = {
      referrer_manifest("library/alpine", "sbom-1", subject.digest, kSbomType),
      referrer_manifest("library/alpine", "signature", subject.digest, kSignatureType),
      referrer_manifest("library/alpine", "sbom-2", subject.digest, kSbomType),
  };
  for (const auto& referrer : referrers) ASSERT_TRUE(store().put_manifest(referrer).stored);
  ASSERT_TRUE(store().put_manifest(referrer_manifest("library/alpine", "elsewhere", sha256_of("other"), kSbomType)).stored);

  auto listed = store().list_referrers("library/alpine", subject.digest, std::nullopt);

  std::vector<Digest> expected = sorted_by_text({referrers[0].digest, referrers[1].digest, referrers[2].digest});
  EXPECT_THAT(referrer_digests(listed), ::testing::ElementsAreArray(expected));
}

TEST_P(MetadataStoreContract, ListReferrersRecordFields) {
  Digest subject = sha256_of("subject");
  ManifestWrite write = referrer_manifest("library/alpine", "sbom", subject, kSbomType);
  // Multi-byte UTF-8, so a size counted in characters would differ.
  write.content += " \xc3\xa9\xe2\x82\xac";
  write.digest = sha256_of(write.content);
  write.annotations_json = R"({"org.opencontainers.image.created":"2024-05-01T10:00:00Z","org.example.n":"1"})";
  ASSERT_TRUE(store().put_manifest(write).stored);

  auto listed = store().list_referrers("library/alpine", subject, std::nullopt);

  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].digest, write.digest);
  EXPECT_EQ(listed[0].media_type, oci::media_type::kOciManifest);
  EXPECT_EQ(listed[0].size, write.content.size());
  EXPECT_EQ(listed[0].artifact_type, kSbomType);
  EXPECT_EQ(listed[0].annotations_json, write.annotations_json);
}

TEST_P(MetadataStoreContract, ListReferrersWithoutAnnotations) {
  Digest subject = sha256_of("subject");
  ManifestWrite write = referrer_manifest("library/alpine", "sbom", subject, kSbomType);
  write.annotations_json.clear();
  ASSERT_TRUE(store().put_manifest(write).stored);

  auto listed = store().list_referrers("library/alpine", subject, std::nullopt);

  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].annotations_json, "");
}

TEST_P(MetadataStoreContract, ListReferrersByArtifactType) {
  Digest subject = sha256_of("subject");
  ManifestWrite sbom_one = referrer_manifest("library/alpine", "sbom-1", subject, kSbomType);
  ManifestWrite signature = referrer_manifest("library/alpine", "signature", subject, kSignatureType);
  ManifestWrite sbom_two = referrer_manifest("library/alpine", "sbom-2", subject, kSbomType);
  for (const auto* write : {&sbom_one, &signature, &sbom_two}) ASSERT_TRUE(store().put_manifest(*write).stored);

  auto sboms = store().list_referrers("library/alpine", subject, std::string(kSbomType));
  auto signatures = store().list_referrers("library/alpine", subject, std::string(kSignatureType));
  auto none = store().list_referrers("library/alpine", subject, std::string("application/vnd.example.unknown"));

  EXPECT_THAT(referrer_digests(sboms), ::testing::ElementsAreArray(sorted_by_text({sbom_one.digest, sbom_two.digest})));
  EXPECT_THAT(referrer_digests(signatures), ElementsAre(signature.digest));
  EXPECT_THAT(none, IsEmpty());
}

TEST_P(MetadataStoreContract, ListReferrersOtherRepository) {
  Digest subject = sha256_of("subject");
  ASSERT_TRUE(store().put_manifest(referrer_manifest("team-a/app", "sbom", subject, kSbomType)).stored);
  store().link_blob("team-b/app", sha256_of("layer"), 5);

  EXPECT_THAT(store().list_referrers("team-b/app", subject, std::nullopt), IsEmpty());
  EXPECT_THAT(store().list_referrers("unknown/repository", subject, std::nullopt), IsEmpty());
}

// --- Offline listings ---------------------------------------------------

TEST_P(MetadataStoreContract, ListManifestsEveryRepository) {
  ManifestWrite a = image_manifest("team-a/app", "one");
  ManifestWrite b = image_manifest("team-b/app", "two");
  ManifestWrite c = image_manifest("team-b/app", "three");
  c.subject = a.digest;
  for (const auto* write : {&a, &b, &c}) ASSERT_TRUE(store().put_manifest(*write).stored);

  auto manifests = store().list_manifests();

  std::vector<std::pair<std::string, std::string>> keys;
  for (const auto& record : manifests) keys.emplace_back(record.repository, record.digest.str());
  EXPECT_THAT(keys, UnorderedElementsAre(std::pair{std::string("team-a/app"), a.digest.str()},
                                         std::pair{std::string("team-b/app"), b.digest.str()},
                                         std::pair{std::string("team-b/app"), c.digest.str()}));
  for (const auto& record : manifests) {
    for (const auto* write : {&a, &b, &c}) {
      if (write->digest != record.digest) continue;
      EXPECT_EQ(record.content, write->content) << record.digest.str();
      EXPECT_EQ(record.subject, write->subject) << record.digest.str();
    }
  }
}

TEST_P(MetadataStoreContract, SameManifestInTwoRepositories) {
  ManifestWrite a = image_manifest("team-a/app", "one");
  ManifestWrite b = a;
  b.repository = "team-b/app";
  ASSERT_TRUE(store().put_manifest(a).stored);
  ASSERT_TRUE(store().put_manifest(b).stored);

  ASSERT_TRUE(store().delete_manifest("team-a/app", a.digest));

  EXPECT_EQ(store().find_manifest("team-a/app", a.digest), std::nullopt);
  EXPECT_TRUE(store().find_manifest("team-b/app", a.digest).has_value());
}

TEST_P(MetadataStoreContract, ManifestBlobReferences) {
  Digest config = sha256_of("config");
  Digest layer_one = sha256_of("layer one");
  Digest layer_two = sha256_of("layer two");
  for (const auto& digest : {config, layer_one, layer_two}) store().link_blob("library/alpine", digest, 9);
  ManifestWrite image = image_manifest("library/alpine", "one");
  // The same layer twice, as in images that repeat a layer.
  image.blob_references = {config, layer_one, layer_two, layer_one};
  ASSERT_TRUE(store().put_manifest(image).stored);
  ManifestWrite index = index_manifest("library/alpine", "index", {image.digest});
  ASSERT_TRUE(store().put_manifest(index).stored);

  EXPECT_THAT(store().manifest_blob_references("library/alpine", image.digest),
              UnorderedElementsAre(config, layer_one, layer_two));
  EXPECT_THAT(store().manifest_blob_references("library/alpine", index.digest), IsEmpty());
  EXPECT_THAT(store().manifest_blob_references("other/repository", image.digest), IsEmpty());
  EXPECT_THAT(store().manifest_blob_references("library/alpine", sha256_of("unknown")), IsEmpty());
}

TEST_P(MetadataStoreContract, ManifestChildReferences) {
  ManifestWrite first = image_manifest("library/alpine", "first");
  ManifestWrite second = image_manifest("library/alpine", "second");
  for (const auto& write : {first, second}) ASSERT_TRUE(store().put_manifest(write).stored);
  ManifestWrite index = index_manifest("library/alpine", "index", {second.digest, first.digest});
  ASSERT_TRUE(store().put_manifest(index).stored);

  // A deleted child stays referenced, because the index still names it.
  ASSERT_TRUE(store().delete_manifest("library/alpine", first.digest));

  bool first_sorts_first = first.digest.str() < second.digest.str();
  EXPECT_THAT(store().manifest_child_references("library/alpine", index.digest),
              ElementsAre(first_sorts_first ? first.digest : second.digest,
                          first_sorts_first ? second.digest : first.digest));
  EXPECT_THAT(store().manifest_child_references("library/alpine", second.digest), IsEmpty());
  EXPECT_THAT(store().manifest_child_references("other/repository", index.digest), IsEmpty());
}

// --- Persistence --------------------------------------------------------

TEST_P(MetadataStoreContract, ReopenKeepsEverything) {
  Digest layer = sha256_of("layer");
  store().link_blob("library/alpine", layer, 5);
  UploadRecord upload = upload_record("upload-1", "library/alpine");
  upload.hash_state = std::string("\0saved\xff", 7);
  store().create_upload(upload);
  ManifestWrite image = image_manifest("library/alpine", "one");
  image.blob_references = {layer};
  image.tag = "latest";
  ASSERT_TRUE(store().put_manifest(image).stored);
  ManifestWrite referrer = referrer_manifest("library/alpine", "sbom", image.digest, kSbomType);
  ASSERT_TRUE(store().put_manifest(referrer).stored);

  // Twice, so a migration that does not record its version fails on the
  // second open at the latest.
  for (int round = 1; round <= 2; ++round) {
    SCOPED_TRACE("reopen " + std::to_string(round));
    ASSERT_NO_THROW(reopen());

    EXPECT_TRUE(store().repository_exists("library/alpine"));
    EXPECT_TRUE(store().find_repository_blob("library/alpine", layer).has_value());
    auto found_upload = store().find_upload("upload-1");
    ASSERT_TRUE(found_upload.has_value());
    EXPECT_EQ(found_upload->hash_state, upload.hash_state);
    auto tagged = store().find_tagged_manifest("library/alpine", "latest");
    ASSERT_TRUE(tagged.has_value());
    EXPECT_EQ(tagged->content, image.content);
    EXPECT_THAT(store().manifest_blob_references("library/alpine", image.digest), ElementsAre(layer));
    EXPECT_THAT(referrer_digests(store().list_referrers("library/alpine", image.digest, std::nullopt)),
                ElementsAre(referrer.digest));
  }
}

TEST_P(MetadataStoreContract, ReopenEmptyDatabase) {
  ASSERT_NO_THROW(reopen());
  ASSERT_NO_THROW(reopen());

  EXPECT_THAT(store().list_repositories("", 10).names, IsEmpty());
  store().link_blob("library/alpine", sha256_of("layer"), 5);
  EXPECT_TRUE(store().repository_exists("library/alpine"));
}

// --- Concurrency --------------------------------------------------------

TEST_P(MetadataStoreContract, ConcurrentLinksAndManifests) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 25;
  std::latch start(kThreads);
  std::mutex failures_mutex;
  std::vector<std::string> failures;
  auto fail = [&](std::string message) {
    std::lock_guard<std::mutex> lock(failures_mutex);
    failures.push_back(std::move(message));
  };

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        std::string repository = "concurrent/thread-" + std::to_string(t);
        start.arrive_and_wait();
        for (int i = 0; i < kRounds; ++i) {
          std::string label = std::to_string(t) + "-" + std::to_string(i);
          Digest layer = sha256_of("layer " + label);
          Digest shared = sha256_of("shared layer");
          store().link_blob(repository, layer, static_cast<std::uint64_t>(i));
          store().link_blob(repository, shared, 12);
          store().link_blob("concurrent/shared", shared, 12);
          if (!store().find_repository_blob(repository, layer)) fail("blob " + label + " not found after linking");

          ManifestWrite write = image_manifest(repository, label);
          write.blob_references = {layer, shared};
          write.tag = "tag-" + label;
          auto result = store().put_manifest(write);
          if (!result.stored) fail("manifest " + label + " not stored");

          ManifestWrite contended = image_manifest("concurrent/shared", label);
          contended.tag = "latest";
          if (!store().put_manifest(contended).stored) fail("shared manifest " + label + " not stored");
          auto shared_tags = store().list_tags("concurrent/shared", "", 1000);
          if (!shared_tags || shared_tags->names.size() != 1) {
            fail("concurrent/shared does not have exactly one tag after manifest " + label);
          }
        }
      } catch (const std::exception& error) {
        fail(error.what());
      }
    });
  }
  for (auto& thread : threads) thread.join();

  EXPECT_THAT(failures, IsEmpty());
  EXPECT_EQ(store().list_repositories("", 100).names.size(), static_cast<std::size_t>(kThreads + 1));
  EXPECT_EQ(store().list_blobs().size(), static_cast<std::size_t>(kThreads * kRounds + 1));
  EXPECT_EQ(store().list_manifests().size(), static_cast<std::size_t>(2 * kThreads * kRounds));
  for (int t = 0; t < kThreads; ++t) {
    std::string repository = "concurrent/thread-" + std::to_string(t);
    auto tags = store().list_tags(repository, "", 1000);
    ASSERT_TRUE(tags.has_value()) << repository;
    EXPECT_EQ(tags->names.size(), static_cast<std::size_t>(kRounds)) << repository;
  }
  EXPECT_THAT(tag_names(store(), "concurrent/shared"), Optional(ElementsAre("latest")));
  EXPECT_TRUE(store().find_tagged_manifest("concurrent/shared", "latest").has_value());
}

TEST_P(MetadataStoreContract, ConcurrentUpdateOneWinner) {
  constexpr int kThreads = 8;
  store().create_upload(upload_record("upload-1", "library/alpine"));
  std::latch start(kThreads);
  std::vector<int> won(kThreads, 0);

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      std::uint64_t received = static_cast<std::uint64_t>(t + 1) * 100;
      won[t] = store().update_upload("upload-1", 0, received, "state " + std::to_string(t), "") ? 1 : 0;
    });
  }
  for (auto& thread : threads) thread.join();

  int winners = 0;
  int winner = -1;
  for (int t = 0; t < kThreads; ++t) {
    if (won[t] != 0) {
      ++winners;
      winner = t;
    }
  }
  ASSERT_EQ(winners, 1);
  auto found = store().find_upload("upload-1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->received_bytes, static_cast<std::uint64_t>(winner + 1) * 100);
  EXPECT_EQ(found->hash_state, "state " + std::to_string(winner));
}

// The reference count of `digest` in list_blobs(), or -1 if it is unknown.
std::int64_t blob_ref_count(metadata::MetadataStore& store, const Digest& digest) {
  for (const auto& blob : store.list_blobs()) {
    if (blob.digest == digest) return blob.ref_count;
  }
  return -1;
}

TEST_P(MetadataStoreContract, ConcurrentPutSameManifestCountsOnce) {
  constexpr int kThreads = 8;
  Digest layer = sha256_of("layer");
  store().link_blob("library/alpine", layer, 5);
  ManifestWrite write = image_manifest("library/alpine", "one");
  write.blob_references = {layer};
  std::latch start(kThreads);
  std::vector<int> stored(kThreads, 0);
  std::vector<std::string> errors(kThreads);

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ManifestWrite tagged = write;
      tagged.tag = "tag-" + std::to_string(t);
      start.arrive_and_wait();
      try {
        stored[t] = store().put_manifest(tagged).stored ? 1 : 0;
      } catch (const std::exception& error) {
        errors[t] = error.what();
      }
    });
  }
  for (auto& thread : threads) thread.join();

  EXPECT_THAT(errors, ::testing::Each(IsEmpty()));
  EXPECT_THAT(stored, ::testing::Each(1));
  EXPECT_EQ(store().list_manifests().size(), 1u);
  EXPECT_EQ(blob_ref_count(store(), layer), 1);
  EXPECT_THAT(store().manifest_blob_references("library/alpine", write.digest), ElementsAre(layer));
  auto tags = tag_names(store(), "library/alpine");
  ASSERT_TRUE(tags.has_value());
  EXPECT_EQ(tags->size(), static_cast<std::size_t>(kThreads));
}

TEST_P(MetadataStoreContract, ConcurrentPutsCountEveryReference) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 5;
  Digest layer = sha256_of("shared layer");
  std::latch start(kThreads);
  std::vector<int> stored(kThreads, 0);
  std::vector<std::string> errors(kThreads);

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string repository = "team/app-" + std::to_string(t);
      start.arrive_and_wait();
      try {
        store().link_blob(repository, layer, 12);
        for (int i = 0; i < kRounds; ++i) {
          ManifestWrite write = image_manifest(repository, std::to_string(i));
          write.blob_references = {layer};
          if (store().put_manifest(write).stored) ++stored[t];
        }
      } catch (const std::exception& error) {
        errors[t] = error.what();
      }
    });
  }
  for (auto& thread : threads) thread.join();

  EXPECT_THAT(errors, ::testing::Each(IsEmpty()));
  EXPECT_THAT(stored, ::testing::Each(kRounds));
  EXPECT_EQ(blob_ref_count(store(), layer), kThreads * kRounds);

  // Removing them concurrently brings the count back to zero.
  std::latch removal(kThreads);
  threads.clear();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string repository = "team/app-" + std::to_string(t);
      removal.arrive_and_wait();
      try {
        for (int i = 0; i < kRounds; ++i) {
          store().delete_manifest(repository, image_manifest(repository, std::to_string(i)).digest);
        }
      } catch (const std::exception& error) {
        errors[t] = error.what();
      }
    });
  }
  for (auto& thread : threads) thread.join();

  EXPECT_THAT(errors, ::testing::Each(IsEmpty()));
  EXPECT_THAT(store().list_manifests(), IsEmpty());
  EXPECT_EQ(blob_ref_count(store(), layer), 0);
}

// A manifest and the removal of a blob it references each check the other
// before writing. Whatever the order, a stored manifest keeps its blob.
TEST_P(MetadataStoreContract, ConcurrentUnlinkAndPutKeepsLink) {
  constexpr int kRounds = 20;
  for (int i = 0; i < kRounds; ++i) {
    std::string repository = "race/app-" + std::to_string(i);
    Digest layer = sha256_of("layer " + std::to_string(i));
    store().link_blob(repository, layer, 5);
    ManifestWrite write = image_manifest(repository, std::to_string(i));
    write.blob_references = {layer};
    std::latch start(2);
    metadata::PutManifestResult put;
    metadata::UnlinkBlobResult unlinked;
    std::string put_error;
    std::string unlink_error;

    std::thread pusher([&] {
      start.arrive_and_wait();
      try {
        put = store().put_manifest(write);
      } catch (const std::exception& error) {
        put_error = error.what();
      }
    });
    std::thread remover([&] {
      start.arrive_and_wait();
      try {
        unlinked = store().unlink_blob(repository, layer);
      } catch (const std::exception& error) {
        unlink_error = error.what();
      }
    });
    pusher.join();
    remover.join();

    ASSERT_EQ(put_error, "") << repository;
    ASSERT_EQ(unlink_error, "") << repository;
    bool linked = store().find_repository_blob(repository, layer).has_value();
    if (put.stored) {
      EXPECT_TRUE(linked) << repository << ": the stored manifest lost its blob";
      EXPECT_FALSE(unlinked.unlinked) << repository;
      EXPECT_EQ(unlinked.referenced_by, std::optional<Digest>(write.digest)) << repository;
    } else {
      EXPECT_TRUE(unlinked.unlinked) << repository;
      EXPECT_THAT(put.missing_blobs, ElementsAre(layer)) << repository;
      EXPECT_FALSE(linked) << repository;
    }
  }
}

// --- Backends -----------------------------------------------------------

class SqliteDatabase final : public MetadataDatabase {
 public:
  std::unique_ptr<metadata::MetadataStore> open() override {
    return std::make_unique<metadata::SqliteStore>(
        metadata::SqliteOptions{.path = (directory_.path() / "metadata.db").string()});
  }

 private:
  test_support::TempDirectory directory_;
};

// The in-memory cache in front of SQLite must keep the same contract. Its
// small size makes the tests evict entries as well.
class CachedSqliteDatabase final : public MetadataDatabase {
 public:
  std::unique_ptr<metadata::MetadataStore> open() override {
    auto database = std::make_unique<metadata::SqliteStore>(
        metadata::SqliteOptions{.path = (directory_.path() / "metadata.db").string()});
    return std::make_unique<metadata::CachedStore>(std::move(database), 4096);
  }

 private:
  test_support::TempDirectory directory_;
};

INSTANTIATE_TEST_SUITE_P(Sqlite, MetadataStoreContract,
                         ::testing::Values(MetadataStoreFactory{"sqlite",
                                                                [] { return std::make_unique<SqliteDatabase>(); }},
                                           MetadataStoreFactory{"cachedsqlite",
                                                                [] { return std::make_unique<CachedSqliteDatabase>(); }}),
                         metadata_store_factory_name);

}  // namespace

}  // namespace berth::store_tests
