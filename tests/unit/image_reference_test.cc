// Image references of the management API, RFC 3339 parsing for config
// creation times, and the management API's route table.
#include "api/image_reference.h"
#include "api/management_api.h"
#include "core/error.h"
#include "core/time.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

namespace berth::api {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kDomain = "127.0.0.1:5000";
const std::string kDigest = "sha256:" + std::string(64, 'a');

// The error code and status of a reference that does not parse.
std::pair<core::ErrorCode, int> parse_failure(std::string_view text) {
  try {
    parse_image_reference(text, kDomain);
  } catch (const core::Error& error) {
    return {error.code(), error.http_status()};
  }
  ADD_FAILURE() << "'" << text << "' parsed";
  return {core::ErrorCode::kUnknown, 0};
}

TEST(ImageReference, DefaultsToLatest) {
  ImageReference reference = parse_image_reference("team1/app", kDomain);

  EXPECT_EQ(reference.repository, "team1/app");
  EXPECT_EQ(reference.tag, "latest");
  EXPECT_FALSE(reference.tag_given);
  EXPECT_EQ(reference.digest, std::nullopt);
  EXPECT_EQ(reference.namespace_name(), "team1");
  EXPECT_EQ(reference.full_name(kDomain), "127.0.0.1:5000/team1/app:latest");
}

TEST(ImageReference, TagAndDomain) {
  ImageReference reference = parse_image_reference("127.0.0.1:5000/team1/web/app:v1.2", kDomain);

  EXPECT_EQ(reference.repository, "team1/web/app");
  EXPECT_EQ(reference.tag, "v1.2");
  EXPECT_TRUE(reference.tag_given);
  EXPECT_EQ(reference.namespace_name(), "team1");
}

TEST(ImageReference, Digest) {
  ImageReference reference = parse_image_reference("team1/app@" + kDigest, kDomain);

  ASSERT_TRUE(reference.digest.has_value());
  EXPECT_EQ(reference.digest->str(), kDigest);
  EXPECT_FALSE(reference.tag_given);
  EXPECT_EQ(reference.full_name(kDomain), "127.0.0.1:5000/team1/app@" + kDigest);
}

TEST(ImageReference, TagAndDigestUsesDigest) {
  ImageReference reference = parse_image_reference("team1/app:v1@" + kDigest, kDomain);

  ASSERT_TRUE(reference.digest.has_value());
  EXPECT_TRUE(reference.tag.empty());
}

TEST(ImageReference, DomainCaseIgnored) {
  EXPECT_EQ(parse_image_reference("Registry.Example.com/team1/app", "registry.example.com").repository, "team1/app");
}

TEST(ImageReference, LocalhostIsDomain) {
  auto [code, status] = parse_failure("localhost/team1/app");

  EXPECT_EQ(code, core::ErrorCode::kBadRequest);
  EXPECT_EQ(status, 400);
}

TEST(ImageReference, OtherDomainNamesBoth) {
  try {
    parse_image_reference("us.icr.io/team1/app:v1", kDomain);
    FAIL() << "another domain parsed";
  } catch (const core::Error& error) {
    EXPECT_EQ(error.http_status(), 400);
    EXPECT_THAT(error.what(), HasSubstr("us.icr.io"));
    EXPECT_THAT(error.what(), HasSubstr("127.0.0.1:5000"));
  }
}

TEST(ImageReference, InvalidInputs) {
  EXPECT_EQ(parse_failure("app").first, core::ErrorCode::kNameInvalid);
  EXPECT_EQ(parse_failure("127.0.0.1:5000/app").first, core::ErrorCode::kNameInvalid);
  EXPECT_EQ(parse_failure("Team1/app").first, core::ErrorCode::kNameInvalid);
  EXPECT_EQ(parse_failure("").first, core::ErrorCode::kNameInvalid);
  EXPECT_EQ(parse_failure("team1/app:").first, core::ErrorCode::kTagInvalid);
  EXPECT_EQ(parse_failure("team1/app:-bad").first, core::ErrorCode::kTagInvalid);
  EXPECT_EQ(parse_failure("team1/app@sha256:123").first, core::ErrorCode::kDigestInvalid);
  for (std::string_view text : {"app", "team1/app:", "team1/app@sha256:123", "x.io/team1/app"}) {
    EXPECT_EQ(parse_failure(text).second, 400) << text;
  }
}

TEST(StripDomain, Filters) {
  EXPECT_EQ(strip_domain("team1", kDomain), "team1");
  EXPECT_EQ(strip_domain("team1/app", kDomain), "team1/app");
  EXPECT_EQ(strip_domain("127.0.0.1:5000/team1", kDomain), "team1");
  EXPECT_THROW(strip_domain("example.com/team1", kDomain), core::Error);
}

TEST(ParseRfc3339, Forms) {
  EXPECT_EQ(core::parse_rfc3339("2023-06-10T00:00:00Z"), 1686355200);
  EXPECT_EQ(core::parse_rfc3339("2023-06-10T00:00:00.123456789Z"), 1686355200);
  EXPECT_EQ(core::parse_rfc3339("2023-06-10T02:30:00+02:30"), 1686355200);
  EXPECT_EQ(core::parse_rfc3339("2023-06-09T22:00:00-02:00"), 1686355200);
  EXPECT_EQ(core::parse_rfc3339("1970-01-01T00:00:00Z"), 0);
}

TEST(ParseRfc3339, RejectsOtherText) {
  for (std::string_view text : {"", "2023-06-10", "2023-06-10T00:00:00", "2023-13-10T00:00:00Z",
                                "2023-06-10T00:00:00.Z", "2023-06-10T00:00:00Zjunk", "yesterday"}) {
    EXPECT_EQ(core::parse_rfc3339(text), std::nullopt) << text;
  }
}

TEST(ManagementRoutes, UniqueAndUnderTheTwoPrefixes) {
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& route : ManagementApi::routes()) {
    EXPECT_TRUE(route.path.starts_with("/api/v1/") || route.path.starts_with("/va/api/v4/")) << route.path;
    EXPECT_TRUE(seen.emplace(std::string(route.method), std::string(route.path)).second)
        << route.method << " " << route.path;
  }
  EXPECT_TRUE(seen.contains({"GET", "/api/v1/images/{image}/json"}));
  EXPECT_TRUE(seen.contains({"DELETE", "/api/v1/tags/{image}"}));
  EXPECT_TRUE(seen.contains({"GET", "/va/api/v4/report/image/{image}"}));
}

TEST(ManagementRoutes, OnlyInfoMessagesAndTypesArePublic) {
  std::set<std::string> public_paths;
  for (const auto& route : ManagementApi::routes()) {
    if (!route.needs_credentials) public_paths.emplace(route.path);
  }
  EXPECT_EQ(public_paths,
            (std::set<std::string>{"/api/v1/info", "/api/v1/messages", "/va/api/v4/exempt/types"}));
}

}  // namespace
}  // namespace berth::api
