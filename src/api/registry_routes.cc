#include "api/registry_routes.h"

namespace berth::api {

namespace {

bool strip_suffix(std::string_view& text, std::string_view suffix) {
  if (!text.ends_with(suffix)) return false;
  text.remove_suffix(suffix.size());
  return true;
}

}  // namespace

RegistryRoute match_registry_route(std::string_view path) {
  if (path == "/v2" || path == "/v2/") return {Endpoint::kBase, "", ""};
  if (!path.starts_with("/v2/")) return {};
  std::string_view rest = path.substr(4);
  if (rest == "_catalog") return {Endpoint::kCatalog, "", ""};

  std::string_view name = rest;
  if (strip_suffix(name, "/blobs/uploads") || strip_suffix(name, "/blobs/uploads/")) {
    return {Endpoint::kUploads, std::string(name), ""};
  }
  name = rest;
  if (strip_suffix(name, "/tags/list")) return {Endpoint::kTags, std::string(name), ""};

  auto slash = rest.rfind('/');
  if (slash == std::string_view::npos) return {};
  std::string_view last = rest.substr(slash + 1);
  std::string_view before = rest.substr(0, slash);

  if (strip_suffix(before, "/blobs/uploads")) return {Endpoint::kUpload, std::string(before), std::string(last)};
  if (strip_suffix(before, "/manifests")) return {Endpoint::kManifest, std::string(before), std::string(last)};
  if (strip_suffix(before, "/blobs")) return {Endpoint::kBlob, std::string(before), std::string(last)};
  if (strip_suffix(before, "/referrers")) return {Endpoint::kReferrers, std::string(before), std::string(last)};
  return {};
}

std::string_view allowed_methods(Endpoint endpoint) {
  switch (endpoint) {
    case Endpoint::kBase: return "GET, HEAD";
    case Endpoint::kCatalog: return "GET";
    case Endpoint::kTags: return "GET";
    case Endpoint::kManifest: return "GET, HEAD, PUT, DELETE";
    case Endpoint::kBlob: return "GET, HEAD, DELETE";
    case Endpoint::kUploads: return "POST";
    case Endpoint::kUpload: return "GET, PATCH, PUT, DELETE";
    case Endpoint::kReferrers: return "GET";
    case Endpoint::kUnknown: return "";
  }
  return "";
}

}  // namespace berth::api
