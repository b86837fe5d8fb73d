// Facts about images that the management API lists and inspects: sizes
// from the manifests' descriptors, and creation time, platform and labels
// from the image config. Facts are computed on first use and stored in the
// metadata store under the manifest digest, so later listings read no blob.
#pragma once

#include "metadata/metadata_store.h"
#include "storage/blob_store.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace berth::api {

// Largest config blob that is read; a larger one is treated as having no
// creation time, platform or labels.
inline constexpr std::uint64_t kMaxConfigBytes = 4 * 1024 * 1024;

// The hosted registry's name of a manifest type, such as "OCI Image
// Manifest v1". `artifact_type` is the manifest's artifactType or config
// media type, which distinguishes artifacts from images.
std::string manifest_type_name(std::string_view media_type, std::string_view artifact_type);

class ImageFactsReader {
 public:
  ImageFactsReader(metadata::MetadataStore& metadata, storage::BlobStore& blobs);

  // The facts of a manifest of `manifest.repository`: the stored ones, or
  // computed now and stored. Facts that depend on a blob or child manifest
  // that cannot be read are returned but not stored, so a later call tries
  // again.
  metadata::ImageFacts facts(const metadata::ManifestRecord& manifest);
  // The facts of a listed image; reads the manifest only when none are stored.
  metadata::ImageFacts facts(const metadata::ImageEntry& entry);

  // The config blob parsed as a JSON object, if it exists, is at most
  // kMaxConfigBytes and is valid JSON; nullopt otherwise.
  std::optional<nlohmann::json> read_config(const core::Digest& digest);

 private:
  // `depth` counts nested indexes, so a malformed chain cannot recurse forever.
  metadata::ImageFacts compute(const metadata::ManifestRecord& manifest, int depth, bool& complete);

  metadata::MetadataStore& metadata_;
  storage::BlobStore& blobs_;
};

}  // namespace berth::api
