// Compares docs/openapi.yaml with the management API's route table in both
// directions: every route must be documented, and every documented
// operation must be routed. The integration test test_openapi.py checks the
// responses themselves.
#include "api/management_api.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <set>
#include <string>
#include <string_view>
#include <utility>

namespace berth::api {
namespace {

// (HTTP method in upper case, path template).
using Operation = std::pair<std::string, std::string>;

// The methods an OpenAPI path item may define, as its keys spell them.
constexpr std::array<std::string_view, 8> kPathItemMethods = {"get",    "put",   "post",  "delete",
                                                              "options", "head", "patch", "trace"};

std::string to_upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::toupper(c); });
  return out;
}

std::string describe(const Operation& operation) { return operation.first + " " + operation.second; }

YAML::Node load_document() { return YAML::LoadFile(BERTH_OPENAPI_DOCUMENT); }

// Every operation of the document, with whether it declares `security: []`.
std::set<Operation> documented_operations(const YAML::Node& document, std::set<Operation>* public_operations) {
  std::set<Operation> operations;
  for (const auto& path : document["paths"]) {
    std::string path_template = path.first.as<std::string>();
    for (std::string_view method : kPathItemMethods) {
      YAML::Node operation = path.second[std::string(method)];
      if (!operation) continue;
      Operation key{to_upper(method), path_template};
      operations.insert(key);
      YAML::Node security = operation["security"];
      if (public_operations != nullptr && security && security.IsSequence() && security.size() == 0) {
        public_operations->insert(key);
      }
    }
  }
  return operations;
}

std::set<Operation> routed_operations(std::set<Operation>* public_operations) {
  std::set<Operation> operations;
  for (const RouteInfo& route : ManagementApi::routes()) {
    Operation key{std::string(route.method), std::string(route.path)};
    operations.insert(key);
    if (public_operations != nullptr && !route.needs_credentials) public_operations->insert(key);
  }
  return operations;
}

TEST(OpenApiRoutes, DocumentLoads) {
  YAML::Node document = load_document();
  ASSERT_TRUE(document["openapi"]);
  EXPECT_EQ(document["openapi"].as<std::string>().substr(0, 4), "3.1.");
  ASSERT_TRUE(document["paths"].IsMap());
  EXPECT_GT(documented_operations(document, nullptr).size(), 0U);
}

TEST(OpenApiRoutes, EveryRouteIsDocumented) {
  std::set<Operation> documented = documented_operations(load_document(), nullptr);
  for (const Operation& route : routed_operations(nullptr)) {
    EXPECT_TRUE(documented.contains(route)) << describe(route) << " is served but missing from docs/openapi.yaml";
  }
}

TEST(OpenApiRoutes, EveryDocumentedOperationIsRouted) {
  std::set<Operation> routed = routed_operations(nullptr);
  for (const Operation& operation : documented_operations(load_document(), nullptr)) {
    EXPECT_TRUE(routed.contains(operation))
        << describe(operation) << " is in docs/openapi.yaml but ManagementApi::routes() does not serve it";
  }
}

TEST(OpenApiRoutes, PublicOperationsMatch) {
  std::set<Operation> documented_public;
  documented_operations(load_document(), &documented_public);
  std::set<Operation> routed_public;
  routed_operations(&routed_public);

  EXPECT_EQ(documented_public, routed_public)
      << "operations with `security: []` in docs/openapi.yaml must be the routes without needs_credentials";
}

}  // namespace
}  // namespace berth::api
