// Manifest endpoints: GET, HEAD, PUT and DELETE /v2/<name>/manifests/<reference>.

#include "api/registry_api.h"
#include "api/request_checks.h"
#include "core/error.h"
#include "core/time.h"
#include "oci/manifest.h"
#include "oci/media_types.h"
#include "oci/name.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace berth::api {

using core::Error;
using core::ErrorCode;
using http::beast_http::field;
using nlohmann::json;

namespace {

bool is_digest_reference(const std::string& reference) { return reference.find(':') != std::string::npos; }

Error manifest_unknown(const std::string& name, const std::string& reference) {
  return Error(ErrorCode::kManifestUnknown, "manifest " + reference + " is not in repository " + name,
               {{"name", name}, {"reference", reference}});
}

// The media types the client accepts, without parameters.
std::vector<std::string> accepted_types(const http::Exchange& exchange) {
  std::vector<std::string> types;
  for (const auto& item : exchange.header_list("Accept")) types.push_back(oci::bare_media_type(item));
  return types;
}

bool accepts(const std::vector<std::string>& types, std::string_view type) {
  if (types.empty()) return true;
  return std::any_of(types.begin(), types.end(), [&](const std::string& t) {
    return t == type || t == "*/*" || t == "application/*";
  });
}

// The linux/amd64 entry of a Docker manifest list, for old clients that ask
// for a tag holding a list but accept only single manifests.
std::optional<core::Digest> default_platform_child(const std::string& content) {
  json list = json::parse(content, nullptr, false);
  if (!list.is_object() || !list.contains("manifests") || !list["manifests"].is_array()) return std::nullopt;
  for (const auto& entry : list["manifests"]) {
    const json& platform = entry.value("platform", json::object());
    if (platform.value("os", "") == "linux" && platform.value("architecture", "") == "amd64") {
      return core::Digest::parse(entry.value("digest", ""));
    }
  }
  return std::nullopt;
}

}  // namespace

void RegistryApi::get_manifest(http::Exchange& exchange, const std::string& name, const std::string& reference) {
  require_valid_name(name);

  std::optional<metadata::ManifestRecord> manifest;
  bool by_tag = !is_digest_reference(reference);
  if (!by_tag) {
    manifest = metadata_.find_manifest(name, require_digest(reference));
  } else if (oci::is_valid_tag(reference)) {
    manifest = metadata_.find_tagged_manifest(name, reference);
  }
  // An invalid tag cannot name anything: the spec wants 404 for it.
  if (!manifest) throw manifest_unknown(name, reference);

  std::vector<std::string> types = accepted_types(exchange);
  if (!accepts(types, manifest->media_type)) {
    std::optional<metadata::ManifestRecord> child;
    if (by_tag && manifest->media_type == oci::media_type::kDockerManifestList &&
        accepts(types, oci::media_type::kDockerManifest)) {
      if (auto digest = default_platform_child(manifest->content)) child = metadata_.find_manifest(name, *digest);
    }
    if (!child) {
      throw Error(ErrorCode::kManifestUnknown,
                  "manifest " + reference + " exists as " + manifest->media_type +
                      ", which the request's Accept header does not list",
                  {{"name", name}, {"reference", reference}, {"mediaType", manifest->media_type}});
    }
    manifest = std::move(child);
  }

  std::string digest = manifest->digest.str();
  std::string etag = "\"" + digest + "\"";
  http::Response response;
  response.headers.set(field::content_type, manifest->media_type);
  response.headers.set("Docker-Content-Digest", digest);
  response.headers.set(field::etag, etag);
  if (exchange.header("If-None-Match") == etag) {
    response.status = 304;
    exchange.send(std::move(response));
    return;
  }
  response.body = std::move(manifest->content);
  exchange.send(std::move(response));
}

void RegistryApi::put_manifest(http::Exchange& exchange, const std::string& name, const std::string& reference) {
  require_valid_name(name);
  quotas_.require_storage_room(name);
  std::optional<core::Digest> reference_digest;
  std::optional<std::string> tag;
  if (is_digest_reference(reference)) {
    reference_digest = require_digest(reference);
  } else if (auto problem = oci::tag_problem(reference)) {
    throw Error(ErrorCode::kTagInvalid, "invalid tag \"" + reference + "\": " + *problem, {{"tag", reference}});
  } else {
    tag = reference;
  }

  auto body = exchange.read_body_up_to(limits_.manifest_max_bytes);
  if (!body) {
    throw Error(ErrorCode::kManifestInvalid, "the manifest is larger than the limit of " +
                                                 std::to_string(limits_.manifest_max_bytes) + " bytes",
                {{"limit", limits_.manifest_max_bytes}})
        .with_status(413);
  }

  core::DigestAlgorithm algorithm = reference_digest ? reference_digest->algorithm() : core::DigestAlgorithm::kSha256;
  core::Digest digest = core::digest_of(algorithm, *body);
  if (reference_digest && *reference_digest != digest) {
    throw Error(ErrorCode::kDigestInvalid,
                "the manifest's content has digest " + digest.str() + ", not " + reference_digest->str() + " as in the URL",
                {{"expected", reference_digest->str()}, {"actual", digest.str()}});
  }
  oci::ParsedManifest parsed = oci::parse_manifest(*body, exchange.header("Content-Type"));

  metadata::ManifestWrite write{.repository = name,
                                .digest = digest,
                                .media_type = parsed.media_type,
                                .content = std::move(*body),
                                .blob_references = parsed.required_blobs(),
                                .manifest_references = parsed.required_manifests(),
                                .subject = parsed.subject ? std::optional(parsed.subject->digest) : std::nullopt,
                                .artifact_type = parsed.artifact_type,
                                .annotations_json = parsed.annotations.is_null() ? "" : parsed.annotations.dump(),
                                .tag = tag};
  metadata::PutManifestResult result = metadata_.put_manifest(write);
  if (!result.stored) {
    std::optional<Error> error;
    auto add = [&](const core::Digest& missing, const std::string& what) {
      std::string message = "the manifest references " + what + " " + missing.str() + ", which is not in repository " +
                            name + "; push it first";
      if (!error) {
        error.emplace(ErrorCode::kManifestBlobUnknown, message, json{{"digest", missing.str()}});
      } else {
        error->add(ErrorCode::kManifestBlobUnknown, message, json{{"digest", missing.str()}});
      }
    };
    for (const auto& missing : result.missing_blobs) add(missing, "blob");
    for (const auto& missing : result.missing_manifests) add(missing, "manifest");
    throw *error;
  }

  http::Response response;
  response.status = 201;
  response.headers.set(field::location, "/v2/" + name + "/manifests/" + digest.str());
  response.headers.set("Docker-Content-Digest", digest.str());
  if (parsed.subject) response.headers.set("OCI-Subject", parsed.subject->digest.str());
  exchange.send(std::move(response));
}

void RegistryApi::delete_manifest(http::Exchange& exchange, const std::string& name, const std::string& reference) {
  require_valid_name(name);
  if (!is_digest_reference(reference)) {
    // Deleting by tag removes the tag and leaves the manifest.
    if (!oci::is_valid_tag(reference) || !metadata_.delete_tag(name, reference)) {
      throw manifest_unknown(name, reference);
    }
    spdlog::info("tag_deleted request_id={} repository={} tag={}", exchange.request_id(), name, reference);
  } else {
    core::Digest digest = require_digest(reference);
    metadata::TrashOutcome outcome = metadata_.trash_manifest(name, digest, core::unix_now());
    if (outcome.result == metadata::TrashResult::kNotFound) throw manifest_unknown(name, reference);
    if (outcome.result == metadata::TrashResult::kReferencedByIndex) {
      throw Error(ErrorCode::kConflict,
                  "manifest " + digest.str() + " is part of index " + outcome.index->str() + " in repository " + name +
                      "; delete the index instead",
                  {{"digest", digest.str()}, {"index", outcome.index->str()}});
    }
    // The manifest and its tags stay restorable from the trash.
    spdlog::info("manifest_trashed request_id={} repository={} digest={} tags={}", exchange.request_id(), name,
                 digest.str(), outcome.tags.size());
  }

  http::Response response;
  response.status = 202;
  exchange.send(std::move(response));
}

}  // namespace berth::api
