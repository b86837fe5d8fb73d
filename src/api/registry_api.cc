#include "api/registry_api.h"

#include "api/json_response.h"
#include "api/request_checks.h"
#include "core/error.h"
#include "oci/media_types.h"

#include <nlohmann/json.hpp>

#include <limits>

namespace berth::api {

using core::Error;
using core::ErrorCode;
using http::beast_http::field;
using http::beast_http::verb;
using nlohmann::json;

namespace {

// Page size used for tag lists requested without "n", because the spec
// returns every tag then.
constexpr std::size_t kUnlimitedPage = std::numeric_limits<std::int32_t>::max();

std::string next_link(const std::string& path, const std::string& last, std::size_t n) {
  return "<" + path + "?last=" + http::percent_encode(last) + "&n=" + std::to_string(n) + ">; rel=\"next\"";
}

}  // namespace

RegistryApi::RegistryApi(metadata::MetadataStore& metadata, storage::BlobStore& blobs, AccessGate& gate,
                         lifecycle::QuotaEnforcer& quotas, RegistryLimits limits)
    : metadata_(metadata), blobs_(blobs), gate_(gate), uploads_(metadata, blobs), quotas_(quotas), limits_(limits) {}

void RegistryApi::handle(http::Exchange& exchange) {
  RegistryRoute route = match_registry_route(exchange.path());
  Caller caller = gate_.identify(exchange);
  // An invalid name is reported as such before any namespace lookup.
  if (!route.name.empty()) require_valid_name(route.name);
  dispatch(exchange, route, caller);
}

void RegistryApi::dispatch(http::Exchange& exchange, const RegistryRoute& route, const Caller& caller) {
  verb method = exchange.method();
  bool read = method == verb::get || method == verb::head;

  auto method_not_allowed = [&]() -> Error {
    Error error(ErrorCode::kUnsupported, std::string(exchange.method_name()) + " is not supported on " +
                                             std::string(exchange.path()) + "; allowed: " +
                                             std::string(allowed_methods(route.endpoint)));
    error.with_header("Allow", std::string(allowed_methods(route.endpoint)));
    return error;
  };

  switch (route.endpoint) {
    case Endpoint::kBase:
      if (!read) throw method_not_allowed();
      // Clients learn how to log in from this response, so it challenges
      // every request without a valid identity.
      gate_.require_identity(exchange, caller, true);
      return get_base(exchange);
    case Endpoint::kCatalog:
      if (method != verb::get) throw method_not_allowed();
      return get_catalog(exchange, gate_.require_catalog(exchange, caller));
    case Endpoint::kTags:
      if (method != verb::get) throw method_not_allowed();
      gate_.require_repository(exchange, caller, route.name, {"pull"});
      return get_tags(exchange, route.name);
    case Endpoint::kManifest:
      if (read) {
        gate_.require_repository(exchange, caller, route.name, {"pull"});
        return get_manifest(exchange, route.name, route.argument);
      }
      if (method == verb::put) {
        gate_.require_repository(exchange, caller, route.name, {"pull", "push"});
        return put_manifest(exchange, route.name, route.argument);
      }
      if (method == verb::delete_) {
        gate_.require_repository(exchange, caller, route.name, {"delete"});
        return delete_manifest(exchange, route.name, route.argument);
      }
      throw method_not_allowed();
    case Endpoint::kBlob:
      if (read) {
        require_blob_read(exchange, caller, route.name, route.argument);
        return get_blob(exchange, route.name, route.argument);
      }
      if (method == verb::delete_) {
        gate_.require_repository(exchange, caller, route.name, {"delete"});
        return delete_blob(exchange, route.name, route.argument);
      }
      throw method_not_allowed();
    case Endpoint::kUploads:
      if (method != verb::post) throw method_not_allowed();
      gate_.require_repository(exchange, caller, route.name, {"pull", "push"});
      return start_upload(exchange, route.name, caller);
    case Endpoint::kUpload:
      if (method != verb::patch && method != verb::put && method != verb::get && method != verb::delete_) {
        throw method_not_allowed();
      }
      gate_.require_repository(exchange, caller, route.name, {"pull", "push"});
      if (method == verb::patch) return patch_upload(exchange, route.name, route.argument);
      if (method == verb::put) return put_upload(exchange, route.name, route.argument);
      if (method == verb::get) return get_upload(exchange, route.name, route.argument);
      return delete_upload(exchange, route.name, route.argument);
    case Endpoint::kReferrers:
      if (method != verb::get) throw method_not_allowed();
      gate_.require_repository(exchange, caller, route.name, {"pull"});
      return get_referrers(exchange, route.name, route.argument);
    case Endpoint::kUnknown:
      break;
  }
  throw Error(ErrorCode::kUnsupported, "no registry endpoint matches " + std::string(exchange.method_name()) + " " +
                                           std::string(exchange.path()))
      .with_status(404);
}

void RegistryApi::require_blob_read(http::Exchange& exchange, const Caller& caller, const std::string& name,
                                    const std::string& digest) {
  try {
    gate_.require_repository(exchange, caller, name, {"pull"});
  } catch (const Error& error) {
    // Pushing clients (skopeo, podman, buildah) first send HEAD for each
    // blob, and a HEAD response has no body to carry the reason of a 403.
    // "Not found" sends them on to the POST, whose 403 shows the reason.
    if (!exchange.is_head() || error.code() != ErrorCode::kDenied) throw;
    throw Error(ErrorCode::kBlobUnknown, "blob " + digest + " not found in " + name, {{"digest", digest}});
  }
}

void RegistryApi::get_base(http::Exchange& exchange) { exchange.send(json_response(200, json::object())); }

void RegistryApi::get_catalog(http::Exchange& exchange, const auth::Principal& principal) {
  std::size_t n = page_size(exchange.query(), limits_.page_max_entries).value_or(limits_.catalog_default_entries);
  std::string last = exchange.query().get("last").value_or("");

  // The catalog lists the repositories of the namespaces where the caller
  // may list images.
  std::vector<std::string> namespaces = gate_.access().namespaces_allowing(principal, auth::Action::kImageList);
  metadata::NamePage page =
      n == 0 ? metadata::NamePage{} : metadata_.list_namespace_repositories(namespaces, last, n);

  http::Response response = json_response(200, json{{"repositories", page.names}});
  if (page.more) response.headers.set(field::link, next_link("/v2/_catalog", page.names.back(), n));
  exchange.send(std::move(response));
}

void RegistryApi::get_tags(http::Exchange& exchange, const std::string& name) {
  require_valid_name(name);
  auto requested = page_size(exchange.query(), limits_.page_max_entries);
  std::size_t n = requested.value_or(kUnlimitedPage);
  std::string last = exchange.query().get("last").value_or("");

  auto page = metadata_.list_tags(name, last, n);
  if (!page) {
    throw Error(ErrorCode::kNameUnknown, "repository " + name + " not found", {{"name", name}});
  }
  if (n == 0) {
    // The spec returns an empty list and no Link for n=0.
    page->names.clear();
    page->more = false;
  }

  http::Response response = json_response(200, json{{"name", name}, {"tags", page->names}});
  if (page->more) response.headers.set(field::link, next_link("/v2/" + name + "/tags/list", page->names.back(), n));
  exchange.send(std::move(response));
}

void RegistryApi::get_referrers(http::Exchange& exchange, const std::string& name, const std::string& digest_text) {
  require_valid_name(name);
  core::Digest subject = require_digest(digest_text);
  std::optional<std::string> artifact_type = exchange.query().get("artifactType");
  if (artifact_type && artifact_type->empty()) artifact_type.reset();

  json manifests = json::array();
  for (const auto& referrer : metadata_.list_referrers(name, subject, artifact_type)) {
    json descriptor = {{"mediaType", referrer.media_type}, {"digest", referrer.digest.str()}, {"size", referrer.size}};
    if (!referrer.artifact_type.empty()) descriptor["artifactType"] = referrer.artifact_type;
    if (!referrer.annotations_json.empty()) descriptor["annotations"] = json::parse(referrer.annotations_json);
    manifests.push_back(std::move(descriptor));
  }

  http::Response response;
  response.headers.set(field::content_type, std::string(oci::media_type::kOciIndex));
  if (artifact_type) response.headers.set("OCI-Filters-Applied", "artifactType");
  response.body = json{{"schemaVersion", 2}, {"mediaType", oci::media_type::kOciIndex}, {"manifests", manifests}}.dump();
  exchange.send(std::move(response));
}

}  // namespace berth::api
