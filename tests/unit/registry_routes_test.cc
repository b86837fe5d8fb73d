#include "api/registry_routes.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace berth::api {

// Lets failed assertions print endpoints by name.
void PrintTo(Endpoint endpoint, std::ostream* out) {
  switch (endpoint) {
    case Endpoint::kBase: *out << "kBase"; return;
    case Endpoint::kCatalog: *out << "kCatalog"; return;
    case Endpoint::kTags: *out << "kTags"; return;
    case Endpoint::kManifest: *out << "kManifest"; return;
    case Endpoint::kBlob: *out << "kBlob"; return;
    case Endpoint::kUploads: *out << "kUploads"; return;
    case Endpoint::kUpload: *out << "kUpload"; return;
    case Endpoint::kReferrers: *out << "kReferrers"; return;
    case Endpoint::kUnknown: *out << "kUnknown"; return;
  }
}

namespace {

struct RouteCase {
  std::string path;
  Endpoint endpoint;
  std::string name;
  std::string argument;
};

void expect_routes(const std::vector<RouteCase>& cases) {
  for (const auto& test : cases) {
    SCOPED_TRACE(test.path);
    RegistryRoute route = match_registry_route(test.path);

    EXPECT_EQ(route.endpoint, test.endpoint);
    EXPECT_EQ(route.name, test.name);
    EXPECT_EQ(route.argument, test.argument);
  }
}

const std::string kDigest = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST(RegistryRoute, Base) {
  expect_routes({
      {"/v2/", Endpoint::kBase, "", ""},
      {"/v2", Endpoint::kBase, "", ""},
  });
}

TEST(RegistryRoute, Catalog) {
  expect_routes({{"/v2/_catalog", Endpoint::kCatalog, "", ""}});
}

TEST(RegistryRoute, Endpoints) {
  expect_routes({
      {"/v2/library/alpine/tags/list", Endpoint::kTags, "library/alpine", ""},
      {"/v2/library/alpine/manifests/latest", Endpoint::kManifest, "library/alpine", "latest"},
      {"/v2/library/alpine/manifests/" + kDigest, Endpoint::kManifest, "library/alpine", kDigest},
      {"/v2/library/alpine/blobs/" + kDigest, Endpoint::kBlob, "library/alpine", kDigest},
      {"/v2/library/alpine/blobs/uploads/", Endpoint::kUploads, "library/alpine", ""},
      {"/v2/library/alpine/blobs/uploads/3f1c-77aa", Endpoint::kUpload, "library/alpine", "3f1c-77aa"},
      {"/v2/library/alpine/referrers/" + kDigest, Endpoint::kReferrers, "library/alpine", kDigest},
  });
}

TEST(RegistryRoute, UploadsWithoutTrailingSlash) {
  expect_routes({{"/v2/library/alpine/blobs/uploads", Endpoint::kUploads, "library/alpine", ""}});
}

TEST(RegistryRoute, SingleComponentName) {
  expect_routes({
      {"/v2/alpine/manifests/3.19", Endpoint::kManifest, "alpine", "3.19"},
      {"/v2/alpine/tags/list", Endpoint::kTags, "alpine", ""},
  });
}

TEST(RegistryRoute, NamesWithEndpointWords) {
  expect_routes({
      {"/v2/blobs/manifests/latest", Endpoint::kManifest, "blobs", "latest"},
      {"/v2/manifests/manifests/latest", Endpoint::kManifest, "manifests", "latest"},
      {"/v2/team/manifests/manifests/v1", Endpoint::kManifest, "team/manifests", "v1"},
      {"/v2/team/blobs/blobs/" + kDigest, Endpoint::kBlob, "team/blobs", kDigest},
      {"/v2/uploads/blobs/uploads/", Endpoint::kUploads, "uploads", ""},
      {"/v2/blobs/uploads/blobs/uploads/", Endpoint::kUploads, "blobs/uploads", ""},
      {"/v2/blobs/uploads/blobs/uploads/abc-123", Endpoint::kUpload, "blobs/uploads", "abc-123"},
      {"/v2/a/blobs/uploads/manifests/latest", Endpoint::kManifest, "a/blobs/uploads", "latest"},
      {"/v2/tags/list/tags/list", Endpoint::kTags, "tags/list", ""},
      {"/v2/referrers/referrers/" + kDigest, Endpoint::kReferrers, "referrers", kDigest},
      {"/v2/_catalog/manifests/latest", Endpoint::kManifest, "_catalog", "latest"},
  });
}

TEST(RegistryRoute, ReferenceThatIsAnEndpointWord) {
  expect_routes({
      {"/v2/app/manifests/uploads", Endpoint::kManifest, "app", "uploads"},
      {"/v2/app/manifests/blobs", Endpoint::kManifest, "app", "blobs"},
  });
}

TEST(RegistryRoute, Unknown) {
  for (const char* path : {"", "/", "/v1/", "/v2x", "/v3/alpine/tags/list", "/v2/alpine", "/v2/alpine/manifests",
                           "/v2/manifests/latest", "/v2/tags/list", "/v2/alpine/unknown/x",
                           "/v2/alpine/blobs/uploads/abc/"}) {
    SCOPED_TRACE(path);
    RegistryRoute route = match_registry_route(path);

    EXPECT_EQ(route.endpoint, Endpoint::kUnknown);
  }
}

TEST(RegistryRoute, AllowedMethods) {
  EXPECT_EQ(allowed_methods(Endpoint::kManifest), "GET, HEAD, PUT, DELETE");
  EXPECT_EQ(allowed_methods(Endpoint::kUploads), "POST");
  EXPECT_EQ(allowed_methods(Endpoint::kUpload), "GET, PATCH, PUT, DELETE");
  EXPECT_EQ(allowed_methods(Endpoint::kUnknown), "");
}

}  // namespace
}  // namespace berth::api
