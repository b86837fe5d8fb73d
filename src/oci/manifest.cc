#include "oci/manifest.h"

#include "core/error.h"
#include "oci/media_types.h"

#include <algorithm>
#include <cctype>

namespace berth::oci {

using core::Error;
using core::ErrorCode;
using nlohmann::json;

namespace {

[[noreturn]] void invalid(std::string message) { throw Error(ErrorCode::kManifestInvalid, std::move(message)); }

std::string optional_string(const json& object, const char* key, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return "";
  if (!it->is_string()) invalid(where + "\"" + key + "\" must be a string");
  return it->get<std::string>();
}

Descriptor parse_descriptor(const json& value, const std::string& where) {
  if (!value.is_object()) invalid(where + " must be a JSON object (a descriptor)");

  auto digest_field = value.find("digest");
  if (digest_field == value.end() || !digest_field->is_string()) invalid(where + " has no \"digest\" string");
  std::string problem;
  auto digest = core::Digest::parse(digest_field->get<std::string>(), &problem);
  if (!digest) invalid(where + ": " + problem);

  Descriptor descriptor{.media_type = optional_string(value, "mediaType", where + " "), .digest = *digest};
  if (descriptor.media_type.empty()) invalid(where + " has no \"mediaType\"");

  auto size = value.find("size");
  if (size == value.end() || !size->is_number_integer()) invalid(where + " has no integer \"size\"");
  descriptor.size = size->get<std::int64_t>();
  if (descriptor.size < 0) invalid(where + " has a negative \"size\"");

  descriptor.artifact_type = optional_string(value, "artifactType", where + " ");
  auto urls = value.find("urls");
  descriptor.has_urls = urls != value.end() && urls->is_array() && !urls->empty();
  return descriptor;
}

std::vector<Descriptor> parse_descriptor_list(const json& body, const char* key, bool required) {
  std::vector<Descriptor> out;
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) {
    if (required) invalid(std::string("the manifest has no \"") + key + "\" array");
    return out;
  }
  if (!it->is_array()) invalid(std::string("\"") + key + "\" must be an array");
  for (std::size_t i = 0; i < it->size(); ++i) {
    out.push_back(parse_descriptor((*it)[i], std::string(key) + "[" + std::to_string(i) + "]"));
  }
  return out;
}

bool is_schema1(std::string_view type) {
  return type == media_type::kDockerSchema1 || type == media_type::kDockerSchema1Signed;
}

[[noreturn]] void reject_schema1() {
  invalid(
      "Docker schema 1 manifests are not supported; push with a current client (docker 20.10 or later, podman, "
      "skopeo, containerd), which sends schema 2 or OCI manifests");
}

bool is_non_distributable(const Descriptor& layer) {
  return layer.has_urls || layer.media_type == media_type::kDockerForeignLayer ||
         layer.media_type.starts_with(media_type::kOciNondistributablePrefix);
}

// Picks the manifest's media type from the Content-Type header and the body.
std::string resolve_media_type(const json& body, const std::string& header_type) {
  std::string body_type = optional_string(body, "mediaType", "");
  if (is_schema1(header_type) || is_schema1(body_type)) reject_schema1();

  bool generic_header =
      header_type.empty() || header_type == media_type::kJson || header_type == media_type::kOctetStream;
  if (!generic_header) {
    if (!media_type::is_manifest(header_type)) {
      invalid("unsupported manifest media type \"" + header_type + "\"; accepted are " +
              std::string(media_type::kOciManifest) + ", " + std::string(media_type::kOciIndex) + ", " +
              std::string(media_type::kDockerManifest) + " and " + std::string(media_type::kDockerManifestList));
    }
    if (!body_type.empty() && body_type != header_type) {
      invalid("the Content-Type header \"" + header_type + "\" does not match the manifest's mediaType \"" + body_type + "\"");
    }
    return header_type;
  }

  if (!body_type.empty()) {
    if (!media_type::is_manifest(body_type)) invalid("unsupported manifest media type \"" + body_type + "\"");
    return body_type;
  }
  if (body.contains("manifests")) return std::string(media_type::kOciIndex);
  if (body.contains("config") || body.contains("layers")) return std::string(media_type::kOciManifest);
  invalid("cannot tell the manifest's type: it has no mediaType and neither \"config\" nor \"manifests\"");
}

}  // namespace

std::string bare_media_type(std::string_view content_type) {
  auto semicolon = content_type.find(';');
  std::string_view type = content_type.substr(0, semicolon);
  while (!type.empty() && std::isspace(static_cast<unsigned char>(type.front()))) type.remove_prefix(1);
  while (!type.empty() && std::isspace(static_cast<unsigned char>(type.back()))) type.remove_suffix(1);
  std::string out(type);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

ParsedManifest parse_manifest(std::string_view body, std::string_view content_type) {
  json document = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) invalid("the manifest is not valid JSON");
  if (!document.is_object()) invalid("the manifest must be a JSON object");

  auto version = document.find("schemaVersion");
  if (version != document.end() && version->is_number_integer() && version->get<std::int64_t>() == 1) reject_schema1();
  if (version == document.end() || !version->is_number_integer() || version->get<std::int64_t>() != 2) {
    invalid("the manifest must have \"schemaVersion\": 2");
  }

  ParsedManifest manifest;
  manifest.media_type = resolve_media_type(document, bare_media_type(content_type));
  bool index = media_type::is_index(manifest.media_type);

  if (index) {
    manifest.manifests = parse_descriptor_list(document, "manifests", /*required=*/true);
  } else {
    auto config = document.find("config");
    if (config == document.end()) invalid("the image manifest has no \"config\" descriptor");
    manifest.config = parse_descriptor(*config, "config");
    manifest.layers = parse_descriptor_list(document, "layers", /*required=*/false);
  }

  auto subject = document.find("subject");
  if (subject != document.end() && !subject->is_null()) manifest.subject = parse_descriptor(*subject, "subject");

  manifest.artifact_type = optional_string(document, "artifactType", "");
  if (manifest.artifact_type.empty() && manifest.config) manifest.artifact_type = manifest.config->media_type;

  auto annotations = document.find("annotations");
  if (annotations != document.end() && !annotations->is_null()) {
    if (!annotations->is_object()) invalid("\"annotations\" must be an object of strings");
    for (const auto& [key, value] : annotations->items()) {
      if (!value.is_string()) invalid("annotation \"" + key + "\" must be a string");
    }
    manifest.annotations = *annotations;
  }
  return manifest;
}

std::vector<core::Digest> ParsedManifest::required_blobs() const {
  std::vector<core::Digest> out;
  if (config) out.push_back(config->digest);
  for (const auto& layer : layers) {
    if (!is_non_distributable(layer)) out.push_back(layer.digest);
  }
  return out;
}

std::vector<core::Digest> ParsedManifest::required_manifests() const {
  std::vector<core::Digest> out;
  for (const auto& child : manifests) out.push_back(child.digest);
  return out;
}

}  // namespace berth::oci
