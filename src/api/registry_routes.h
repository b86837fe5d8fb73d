// Maps a /v2/ path to an endpoint of the distribution API. Repository
// names contain slashes and may contain words such as "blobs", so the path
// is matched from its right end.
#pragma once

#include <string>
#include <string_view>

namespace berth::api {

enum class Endpoint {
  kBase,       // /v2/
  kCatalog,    // /v2/_catalog
  kTags,       // /v2/<name>/tags/list
  kManifest,   // /v2/<name>/manifests/<reference>
  kBlob,       // /v2/<name>/blobs/<digest>
  kUploads,    // /v2/<name>/blobs/uploads/
  kUpload,     // /v2/<name>/blobs/uploads/<id>
  kReferrers,  // /v2/<name>/referrers/<digest>
  kUnknown,
};

struct RegistryRoute {
  Endpoint endpoint = Endpoint::kUnknown;
  std::string name;      // repository name, unvalidated
  std::string argument;  // reference, digest or upload id, unvalidated
};

// `path` is the request path without the query, starting with "/v2".
RegistryRoute match_registry_route(std::string_view path);

// The HTTP methods an endpoint serves, for the Allow header of a 405.
std::string_view allowed_methods(Endpoint endpoint);

}  // namespace berth::api
