// The rows that image-list and image-digests print, built from the
// management API's responses, and their values for --format templates.
#pragma once

#include "cli/va.h"
#include "gotemplate/template.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::cli {

// One tag of one image (image-list).
struct ImageRow {
  std::string repository;  // "127.0.0.1:5000/team1/app", with the registry's domain
  std::string tag;
  std::string digest;  // "sha256:<hex>"
  std::string namespace_name;
  std::int64_t created = 0;  // Unix seconds
  std::uint64_t size = 0;    // bytes
  std::string manifest_type;
  // From the listing's "SecurityStatus"; nullopt when the listing excluded
  // the assessment.
  std::optional<SecurityStatus> security_status;
};

// One image (manifest digest) in one repository (image-digests).
struct DigestRow {
  std::string repository;
  std::string digest;
  std::vector<std::string> tags;  // sorted; empty for an untagged image
  std::int64_t created = 0;
  std::uint64_t size = 0;
  std::string manifest_type;
  // The status of the first tag, because every tag of a digest in one
  // repository names the same image. nullopt for an untagged image and
  // when the listing excluded the assessment.
  std::optional<SecurityStatus> security_status;
};

// A full reference split into its parts.
struct ImageName {
  std::string domain;      // empty if the reference has none
  std::string repository;  // "team1/app", without the domain
  std::string tag;         // empty if none
  std::string digest;      // empty if none
};
ImageName parse_image_name(std::string_view reference);

// From GET /api/v1/images ([RemoteAPIImage]): one row per tag, sorted by
// repository and tag.
std::vector<ImageRow> image_rows(const nlohmann::json& images);
// From POST /api/v1/images/digests ([ImageDigest]): one row per digest and
// repository, sorted by repository and then newest first.
std::vector<DigestRow> digest_rows(const nlohmann::json& digests);

// The short form for the Type column: "Docker V2", "Docker list",
// "OCI image", "OCI index"; the full type otherwise.
std::string short_manifest_type(std::string_view manifest_type);

// The values templates see; field names follow 'ibmcloud cr'.
// .SecurityStatus.Status is the Security status column text, and empty
// (with counts of 0) when the row has no status.
gotemplate::Value template_value(const ImageRow& row);
gotemplate::Value template_value(const DigestRow& row);
// A JSON document as template data: objects become structs with their
// fields in order, except the map-valued fields (Labels, ExposedPorts,
// Volumes, DigestTags), which become maps.
gotemplate::Value template_value(const nlohmann::ordered_json& document);

}  // namespace berth::cli
