// Parsing and validation of pushed manifests: OCI image manifests and
// indexes, Docker schema 2 manifests and manifest lists, and artifacts
// (image manifests or indexes with any config type or an artifactType).
#pragma once

#include "core/digest.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::oci {

struct Descriptor {
  std::string media_type;
  core::Digest digest;
  std::int64_t size = 0;
  std::string artifact_type;  // empty when absent
  bool has_urls = false;      // a layer with "urls" is fetched from elsewhere
};

struct ParsedManifest {
  std::string media_type;  // one of the four manifest media types
  std::optional<Descriptor> config;
  std::vector<Descriptor> layers;
  std::vector<Descriptor> manifests;  // children of an index
  std::optional<Descriptor> subject;
  // The type the referrers API reports: "artifactType" if set, else the
  // config media type of an image manifest; empty for an index without one.
  std::string artifact_type;
  nlohmann::json annotations;  // object, or null when absent

  // Blobs that must already be in the repository: the config and every
  // layer that is distributable (foreign and non-distributable layers, and
  // layers with "urls", are never uploaded by clients).
  std::vector<core::Digest> required_blobs() const;
  // Child manifests of an index, which must be in the repository.
  std::vector<core::Digest> required_manifests() const;
};

// Parses a manifest body sent with the given Content-Type (parameters such
// as "; charset=utf-8" are ignored). The media type comes from the header.
// When the header is absent or generic JSON, it comes from the body's
// "mediaType", and when both are absent it is inferred from the fields. Throws core::Error
// MANIFEST_INVALID with a reason for schema 1, malformed JSON, unknown media
// types, a header that contradicts the body, and malformed descriptors.
ParsedManifest parse_manifest(std::string_view body, std::string_view content_type);

// The media type without parameters or surrounding spaces, in lower case.
std::string bare_media_type(std::string_view content_type);

}  // namespace berth::oci
