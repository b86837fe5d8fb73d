#include "api/image_facts.h"

#include "core/time.h"
#include "oci/media_types.h"

#include <spdlog/spdlog.h>

namespace berth::api {

using nlohmann::json;

namespace {

constexpr std::string_view kOciImageConfig = "application/vnd.oci.image.config.v1+json";
constexpr std::string_view kDockerImageConfig = "application/vnd.docker.container.image.v1+json";
// Nested indexes deeper than this are not followed; real ones have one level.
constexpr int kMaxIndexDepth = 8;

bool is_image_config(std::string_view media_type) {
  return media_type == kOciImageConfig || media_type == kDockerImageConfig;
}

std::uint64_t descriptor_size(const json& descriptor) {
  if (!descriptor.is_object()) return 0;
  auto it = descriptor.find("size");
  if (it == descriptor.end() || !it->is_number_integer() || it->get<std::int64_t>() < 0) return 0;
  return it->get<std::uint64_t>();
}

std::string string_member(const json& object, const char* name) {
  if (!object.is_object()) return {};
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string manifest_type_name(std::string_view media_type, std::string_view artifact_type) {
  if (media_type == oci::media_type::kDockerManifest) return "Docker Image Manifest V2, Schema 2";
  if (media_type == oci::media_type::kDockerManifestList) return "Docker Manifest List";
  if (media_type == oci::media_type::kOciIndex) return "OCI Image Index v1";
  if (media_type == oci::media_type::kOciManifest) {
    // An image manifest whose artifactType or config type is not an image
    // config contains an artifact (a Helm chart, an SBOM, a signature).
    if (!artifact_type.empty() && !is_image_config(artifact_type)) return "OCI Artifact Manifest v1";
    return "OCI Image Manifest v1";
  }
  return std::string(media_type);
}

ImageFactsReader::ImageFactsReader(metadata::MetadataStore& metadata, storage::BlobStore& blobs)
    : metadata_(metadata), blobs_(blobs) {}

std::optional<json> ImageFactsReader::read_config(const core::Digest& digest) {
  auto reader = blobs_.open(digest);
  if (!reader || reader->size() > kMaxConfigBytes) return std::nullopt;
  std::string content(reader->size(), '\0');
  std::size_t filled = 0;
  while (filled < content.size()) {
    std::size_t count = reader->read_at(filled, content.data() + filled, content.size() - filled);
    if (count == 0) break;
    filled += count;
  }
  content.resize(filled);
  json parsed = json::parse(content, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) return std::nullopt;
  return parsed;
}

metadata::ImageFacts ImageFactsReader::facts(const metadata::ManifestRecord& manifest) {
  if (auto stored = metadata_.find_image_facts(manifest.digest)) return *stored;
  bool complete = true;
  metadata::ImageFacts computed = compute(manifest, 0, complete);
  if (complete) metadata_.put_image_facts(computed);
  return computed;
}

metadata::ImageFacts ImageFactsReader::facts(const metadata::ImageEntry& entry) {
  if (entry.facts) return *entry.facts;
  auto manifest = metadata_.find_manifest(entry.repository, entry.digest);
  // Deleted since it was listed: report what the listing knew.
  if (!manifest) return metadata::ImageFacts{.manifest_digest = entry.digest};
  return facts(*manifest);
}

metadata::ImageFacts ImageFactsReader::compute(const metadata::ManifestRecord& manifest, int depth, bool& complete) {
  metadata::ImageFacts result{.manifest_digest = manifest.digest};
  json body = json::parse(manifest.content, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return result;  // parsed at push, so never malformed in practice

  if (oci::media_type::is_index(manifest.media_type)) {
    const json& children = body.contains("manifests") ? body["manifests"] : json::array();
    for (const auto& child : children.is_array() ? children : json::array()) {
      auto digest = core::Digest::parse(string_member(child, "digest"));
      std::optional<metadata::ManifestRecord> record;
      if (digest && depth < kMaxIndexDepth) record = metadata_.find_manifest(manifest.repository, *digest);
      if (!record) {
        // A child deleted after the push: its image size is unknown, so
        // count the size in its descriptor and do not store the sum.
        result.size += descriptor_size(child);
        complete = false;
        continue;
      }
      if (auto stored = metadata_.find_image_facts(record->digest)) {
        result.size += stored->size;
        continue;
      }
      bool child_complete = true;
      metadata::ImageFacts child_facts = compute(*record, depth + 1, child_complete);
      if (child_complete) {
        metadata_.put_image_facts(child_facts);
      } else {
        complete = false;
      }
      result.size += child_facts.size;
    }
    return result;
  }

  const json& config = body.contains("config") ? body["config"] : json();
  result.config_digest = string_member(config, "digest");
  result.size = descriptor_size(config);
  if (body.contains("layers") && body["layers"].is_array()) {
    for (const auto& layer : body["layers"]) result.size += descriptor_size(layer);
  }

  auto config_digest = core::Digest::parse(result.config_digest);
  if (!config_digest || !is_image_config(string_member(config, "mediaType"))) return result;
  auto blob_size = blobs_.stat(*config_digest);
  if (!blob_size) {
    spdlog::warn("image_config_missing manifest={} config={}", manifest.digest.str(), config_digest->str());
    complete = false;
    return result;
  }
  auto parsed = read_config(*config_digest);
  if (!parsed) return result;  // too large or not JSON: the same on every read

  if (auto created = core::parse_rfc3339(string_member(*parsed, "created"))) result.created = *created;
  result.architecture = string_member(*parsed, "architecture");
  result.os = string_member(*parsed, "os");
  const json& inner = parsed->contains("config") ? (*parsed)["config"] : json();
  if (inner.is_object() && inner.contains("Labels") && inner["Labels"].is_object()) {
    result.labels_json = inner["Labels"].dump();
  }
  return result;
}

}  // namespace berth::api
