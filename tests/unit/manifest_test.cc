#include "oci/manifest.h"

#include "core/error.h"
#include "oci/media_types.h"
#include "support/printers.h"

#include <gmock/gmock.h>

#include <optional>
#include <string>

namespace berth::oci {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::string kOciManifest(media_type::kOciManifest);
const std::string kOciIndex(media_type::kOciIndex);
const std::string kDockerManifest(media_type::kDockerManifest);
const std::string kDockerManifestList(media_type::kDockerManifestList);
const std::string kOciConfig = "application/vnd.oci.image.config.v1+json";
const std::string kOciLayer = "application/vnd.oci.image.layer.v1.tar+gzip";

core::Digest sha256_of(std::string_view text) { return core::digest_of(core::DigestAlgorithm::kSha256, text); }

json descriptor(const std::string& type, std::string_view content, std::int64_t size = 100) {
  return {{"mediaType", type}, {"digest", sha256_of(content).str()}, {"size", size}};
}

// An image manifest body with one config and the given layers. `type`
// becomes "mediaType" unless it is empty.
json image_body(const std::string& type, std::vector<json> layers = {descriptor(kOciLayer, "layer")}) {
  json body = {{"schemaVersion", 2}, {"config", descriptor(kOciConfig, "config")}, {"layers", layers}};
  if (!type.empty()) body["mediaType"] = type;
  return body;
}

json index_body(const std::string& type) {
  json body = {{"schemaVersion", 2},
               {"manifests", {descriptor(kOciManifest, "amd64"), descriptor(kOciManifest, "arm64")}}};
  if (!type.empty()) body["mediaType"] = type;
  return body;
}

// The MANIFEST_INVALID error that parse_manifest throws, or nullopt when
// it throws nothing. Other errors propagate and fail the test.
std::optional<core::Error> parse_error(std::string_view body, std::string_view content_type) {
  try {
    parse_manifest(body, content_type);
  } catch (const core::Error& error) {
    return error;
  }
  return std::nullopt;
}

// --- Media types --------------------------------------------------------

TEST(ParseManifest, OciManifest) {
  ParsedManifest manifest = parse_manifest(image_body(kOciManifest).dump(), kOciManifest);

  EXPECT_EQ(manifest.media_type, kOciManifest);
  ASSERT_TRUE(manifest.config.has_value());
  EXPECT_EQ(manifest.config->media_type, kOciConfig);
  EXPECT_EQ(manifest.config->digest, sha256_of("config"));
  EXPECT_EQ(manifest.config->size, 100);
  ASSERT_EQ(manifest.layers.size(), 1u);
  EXPECT_EQ(manifest.layers[0].media_type, kOciLayer);
  EXPECT_EQ(manifest.layers[0].digest, sha256_of("layer"));
  EXPECT_THAT(manifest.manifests, IsEmpty());
  EXPECT_EQ(manifest.subject, std::nullopt);
}

TEST(ParseManifest, OciIndex) {
  ParsedManifest manifest = parse_manifest(index_body(kOciIndex).dump(), kOciIndex);

  EXPECT_EQ(manifest.media_type, kOciIndex);
  EXPECT_EQ(manifest.config, std::nullopt);
  EXPECT_THAT(manifest.layers, IsEmpty());
  ASSERT_EQ(manifest.manifests.size(), 2u);
  EXPECT_THAT(manifest.required_manifests(), ElementsAre(sha256_of("amd64"), sha256_of("arm64")));
  EXPECT_THAT(manifest.required_blobs(), IsEmpty());
  EXPECT_EQ(manifest.artifact_type, "");
}

TEST(ParseManifest, DockerManifest) {
  json body = image_body(kDockerManifest);
  body["config"]["mediaType"] = "application/vnd.docker.container.image.v1+json";

  ParsedManifest manifest = parse_manifest(body.dump(), kDockerManifest);

  EXPECT_EQ(manifest.media_type, kDockerManifest);
  ASSERT_TRUE(manifest.config.has_value());
  EXPECT_EQ(manifest.config->media_type, "application/vnd.docker.container.image.v1+json");
  EXPECT_THAT(manifest.required_blobs(), ElementsAre(sha256_of("config"), sha256_of("layer")));
}

TEST(ParseManifest, DockerManifestList) {
  ParsedManifest manifest = parse_manifest(index_body(kDockerManifestList).dump(), kDockerManifestList);

  EXPECT_EQ(manifest.media_type, kDockerManifestList);
  EXPECT_EQ(manifest.manifests.size(), 2u);
  EXPECT_EQ(manifest.config, std::nullopt);
}

TEST(ParseManifest, InferImageManifest) {
  std::string body = image_body("").dump();

  EXPECT_EQ(parse_manifest(body, "").media_type, kOciManifest);
  EXPECT_EQ(parse_manifest(body, "application/json").media_type, kOciManifest);
  EXPECT_EQ(parse_manifest(body, "application/octet-stream").media_type, kOciManifest);
}

TEST(ParseManifest, InferIndex) {
  std::string body = index_body("").dump();

  EXPECT_EQ(parse_manifest(body, "").media_type, kOciIndex);
}

TEST(ParseManifest, HeaderWithoutBodyType) {
  EXPECT_EQ(parse_manifest(image_body("").dump(), kDockerManifest).media_type, kDockerManifest);
}

TEST(ParseManifest, BodyTypeWithGenericHeader) {
  std::string body = image_body(kDockerManifest).dump();

  EXPECT_EQ(parse_manifest(body, "").media_type, kDockerManifest);
  EXPECT_EQ(parse_manifest(body, "application/json").media_type, kDockerManifest);
}

TEST(ParseManifest, ContentTypeParameters) {
  std::string body = image_body(kOciManifest).dump();

  EXPECT_EQ(parse_manifest(body, kOciManifest + "; charset=utf-8").media_type, kOciManifest);
  EXPECT_EQ(parse_manifest(body, " " + kOciManifest + " ;charset=utf-8").media_type, kOciManifest);
  EXPECT_EQ(parse_manifest(body, "Application/VND.OCI.Image.Manifest.v1+JSON").media_type, kOciManifest);
}

TEST(ParseManifest, BareMediaType) {
  EXPECT_EQ(bare_media_type("application/JSON ; charset=utf-8"), "application/json");
  EXPECT_EQ(bare_media_type("  text/plain"), "text/plain");
  EXPECT_EQ(bare_media_type(""), "");
}

TEST(ParseManifest, HeaderContradictsBody) {
  auto error = parse_error(image_body(kDockerManifest).dump(), kOciManifest);

  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code(), core::ErrorCode::kManifestInvalid);
  EXPECT_THAT(error->what(), HasSubstr(kOciManifest));
  EXPECT_THAT(error->what(), HasSubstr(kDockerManifest));
}

TEST(ParseManifest, IndexHeaderOnImageBody) {
  auto error = parse_error(image_body(kOciManifest).dump(), kOciIndex);

  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code(), core::ErrorCode::kManifestInvalid);
}

TEST(ParseManifest, UnsupportedHeaderType) {
  auto error = parse_error(image_body("").dump(), "text/plain");

  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code(), core::ErrorCode::kManifestInvalid);
  EXPECT_THAT(error->what(), HasSubstr("\"text/plain\""));
}

TEST(ParseManifest, UnsupportedBodyType) {
  auto error = parse_error(image_body("application/vnd.example.unknown+json").dump(), "");

  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code(), core::ErrorCode::kManifestInvalid);
  EXPECT_THAT(error->what(), HasSubstr("application/vnd.example.unknown+json"));
}

TEST(ParseManifest, UnknownShape) {
  auto error = parse_error(R"({"schemaVersion":2})", "");

  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code(), core::ErrorCode::kManifestInvalid);
}

// --- Rejected documents -------------------------------------------------

TEST(ParseManifest, Schema1Rejected) {
  json body = {{"schemaVersion", 1}, {"name", "library/alpine"}, {"tag", "latest"}, {"fsLayers", json::array()}};

  for (std::string type : {std::string(""), std::string(media_type::kDockerSchema1),
                           std::string(media_type::kDockerSchema1Signed)}) {
    SCOPED_TRACE("Content-Type: " + type);
    auto error = parse_error(body.dump(), type);

    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->code(), core::ErrorCode::kManifestInvalid);
    EXPECT_THAT(error->what(), HasSubstr("schema 1"));
  }
}

TEST(ParseManifest, Schema1HeaderRejected) {
  auto error = parse_error(image_body("").dump(), media_type::kDockerSchema1Signed);

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(error->what(), HasSubstr("schema 1"));
}

TEST(ParseManifest, MalformedJson) {
  for (std::string body : {"", "{", "{\"schemaVersion\":2,}", "not json"}) {
    SCOPED_TRACE(body);
    auto error = parse_error(body, kOciManifest);

    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->code(), core::ErrorCode::kManifestInvalid);
    EXPECT_THAT(error->what(), HasSubstr("not valid JSON"));
  }
}

TEST(ParseManifest, NotAnObject) {
  auto error = parse_error("[1, 2]", kOciManifest);

  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code(), core::ErrorCode::kManifestInvalid);
}

TEST(ParseManifest, MissingSchemaVersion) {
  json body = image_body(kOciManifest);
  body.erase("schemaVersion");

  auto error = parse_error(body.dump(), kOciManifest);

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(error->what(), HasSubstr("schemaVersion"));
}

TEST(ParseManifest, MissingConfig) {
  json body = image_body(kOciManifest);
  body.erase("config");

  auto error = parse_error(body.dump(), kOciManifest);

  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code(), core::ErrorCode::kManifestInvalid);
  EXPECT_THAT(error->what(), HasSubstr("\"config\""));
}

TEST(ParseManifest, IndexWithoutManifests) {
  json body = {{"schemaVersion", 2}, {"mediaType", kOciIndex}};

  auto error = parse_error(body.dump(), kOciIndex);

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(error->what(), HasSubstr("\"manifests\""));
}

TEST(ParseManifest, BadDescriptorDigest) {
  json body = image_body(kOciManifest);
  body["layers"][0]["digest"] = "sha256:not-hex";

  auto error = parse_error(body.dump(), kOciManifest);

  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code(), core::ErrorCode::kManifestInvalid);
  EXPECT_THAT(error->what(), HasSubstr("layers[0]"));
  EXPECT_THAT(error->what(), HasSubstr("sha256:not-hex"));
}

TEST(ParseManifest, MissingDescriptorDigest) {
  json body = image_body(kOciManifest);
  body["config"].erase("digest");

  auto error = parse_error(body.dump(), kOciManifest);

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(error->what(), HasSubstr("config"));
  EXPECT_THAT(error->what(), HasSubstr("\"digest\""));
}

TEST(ParseManifest, BadDescriptorSize) {
  for (json size : {json("100"), json(-1), json(1.5), json(nullptr)}) {
    SCOPED_TRACE("size " + size.dump());
    json body = image_body(kOciManifest);
    body["layers"][0]["size"] = size;

    auto error = parse_error(body.dump(), kOciManifest);

    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->code(), core::ErrorCode::kManifestInvalid);
    EXPECT_THAT(error->what(), HasSubstr("layers[0]"));
  }
}

TEST(ParseManifest, MissingDescriptorMediaType) {
  json body = image_body(kOciManifest);
  body["layers"][0].erase("mediaType");

  auto error = parse_error(body.dump(), kOciManifest);

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(error->what(), HasSubstr("layers[0]"));
  EXPECT_THAT(error->what(), HasSubstr("\"mediaType\""));
}

TEST(ParseManifest, DescriptorNotAnObject) {
  json body = index_body(kOciIndex);
  body["manifests"][1] = "sha256:abc";

  auto error = parse_error(body.dump(), kOciIndex);

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(error->what(), HasSubstr("manifests[1]"));
}

TEST(ParseManifest, LayersNotAnArray) {
  json body = image_body(kOciManifest);
  body["layers"] = descriptor(kOciLayer, "layer");

  auto error = parse_error(body.dump(), kOciManifest);

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(error->what(), HasSubstr("\"layers\""));
}

// --- Artifacts, subject and annotations ---------------------------------

TEST(ParseManifest, ArtifactTypeField) {
  json body = image_body(kOciManifest);
  body["artifactType"] = "application/vnd.example.sbom.v1+json";
  body["config"]["mediaType"] = std::string(media_type::kOciEmpty);

  ParsedManifest manifest = parse_manifest(body.dump(), kOciManifest);

  EXPECT_EQ(manifest.artifact_type, "application/vnd.example.sbom.v1+json");
}

TEST(ParseManifest, ArtifactTypeFromConfig) {
  json body = image_body(kOciManifest);
  body["config"]["mediaType"] = "application/vnd.example.config.v1+json";

  ParsedManifest manifest = parse_manifest(body.dump(), kOciManifest);

  EXPECT_EQ(manifest.artifact_type, "application/vnd.example.config.v1+json");
}

TEST(ParseManifest, IndexArtifactType) {
  json body = index_body(kOciIndex);
  body["artifactType"] = "application/vnd.example.bundle.v1+json";

  ParsedManifest manifest = parse_manifest(body.dump(), kOciIndex);

  EXPECT_EQ(manifest.artifact_type, "application/vnd.example.bundle.v1+json");
}

TEST(ParseManifest, DescriptorArtifactType) {
  json body = index_body(kOciIndex);
  body["manifests"][0]["artifactType"] = "application/vnd.example.sbom.v1+json";

  ParsedManifest manifest = parse_manifest(body.dump(), kOciIndex);

  ASSERT_EQ(manifest.manifests.size(), 2u);
  EXPECT_EQ(manifest.manifests[0].artifact_type, "application/vnd.example.sbom.v1+json");
  EXPECT_EQ(manifest.manifests[1].artifact_type, "");
}

TEST(ParseManifest, Subject) {
  json body = image_body(kOciManifest);
  body["subject"] = descriptor(kOciManifest, "subject", 512);

  ParsedManifest manifest = parse_manifest(body.dump(), kOciManifest);

  ASSERT_TRUE(manifest.subject.has_value());
  EXPECT_EQ(manifest.subject->digest, sha256_of("subject"));
  EXPECT_EQ(manifest.subject->size, 512);
  EXPECT_EQ(manifest.subject->media_type, kOciManifest);
}

TEST(ParseManifest, BadSubject) {
  json body = image_body(kOciManifest);
  body["subject"] = {{"mediaType", kOciManifest}, {"size", 1}};

  auto error = parse_error(body.dump(), kOciManifest);

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(error->what(), HasSubstr("subject"));
}

TEST(ParseManifest, Annotations) {
  json body = image_body(kOciManifest);
  body["annotations"] = {{"org.opencontainers.image.created", "2024-05-01T10:00:00Z"}, {"org.example.empty", ""}};

  ParsedManifest manifest = parse_manifest(body.dump(), kOciManifest);

  ASSERT_TRUE(manifest.annotations.is_object());
  EXPECT_EQ(manifest.annotations.size(), 2u);
  EXPECT_EQ(manifest.annotations["org.opencontainers.image.created"], "2024-05-01T10:00:00Z");
  EXPECT_EQ(manifest.annotations["org.example.empty"], "");
}

TEST(ParseManifest, NoAnnotations) {
  ParsedManifest manifest = parse_manifest(image_body(kOciManifest).dump(), kOciManifest);

  EXPECT_TRUE(manifest.annotations.is_null());
}

TEST(ParseManifest, AnnotationNotAString) {
  json body = image_body(kOciManifest);
  body["annotations"] = {{"org.example.count", 3}};

  auto error = parse_error(body.dump(), kOciManifest);

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(error->what(), HasSubstr("\"org.example.count\""));
}

TEST(ParseManifest, AnnotationsNotAnObject) {
  json body = image_body(kOciManifest);
  body["annotations"] = json::array({"a", "b"});

  auto error = parse_error(body.dump(), kOciManifest);

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(error->what(), HasSubstr("\"annotations\""));
}

// --- Required blobs -----------------------------------------------------

TEST(ParseManifest, RequiredBlobsSkipExternalLayers) {
  json with_urls = descriptor(kOciLayer, "urls layer");
  with_urls["urls"] = {"https://example.com/layer.tar.gz"};
  std::vector<json> layers = {
      descriptor(kOciLayer, "regular"),
      descriptor(std::string(media_type::kDockerForeignLayer), "foreign"),
      descriptor("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", "nondistributable"),
      with_urls,
      descriptor(kOciLayer, "second regular"),
  };

  ParsedManifest manifest = parse_manifest(image_body(kOciManifest, layers).dump(), kOciManifest);

  ASSERT_EQ(manifest.layers.size(), 5u);
  EXPECT_TRUE(manifest.layers[3].has_urls);
  EXPECT_FALSE(manifest.layers[0].has_urls);
  EXPECT_THAT(manifest.required_blobs(),
              ElementsAre(sha256_of("config"), sha256_of("regular"), sha256_of("second regular")));
}

TEST(ParseManifest, EmptyUrlsIsDistributable) {
  json layer = descriptor(kOciLayer, "layer");
  layer["urls"] = json::array();

  ParsedManifest manifest = parse_manifest(image_body(kOciManifest, {layer}).dump(), kOciManifest);

  ASSERT_EQ(manifest.layers.size(), 1u);
  EXPECT_FALSE(manifest.layers[0].has_urls);
  EXPECT_THAT(manifest.required_blobs(), ElementsAre(sha256_of("config"), sha256_of("layer")));
}

TEST(ParseManifest, ManifestWithoutLayers) {
  json body = image_body(kOciManifest);
  body.erase("layers");

  ParsedManifest manifest = parse_manifest(body.dump(), kOciManifest);

  EXPECT_THAT(manifest.layers, IsEmpty());
  EXPECT_THAT(manifest.required_blobs(), ElementsAre(sha256_of("config")));
}

}  // namespace
}  // namespace berth::oci
