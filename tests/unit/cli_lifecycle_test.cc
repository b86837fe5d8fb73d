#include "cli/lifecycle.h"
#include "cli/output.h"

#include <gmock/gmock.h>

namespace berth::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using nlohmann::json;

const std::string kDigestA = "sha256:" + std::string(64, 'a');
const std::string kDigestB = "sha256:" + std::string(64, 'b');

std::string failure_message(auto&& call) {
  try {
    call();
  } catch (const Failure& failure) {
    return failure.what();
  }
  return "";
}

TEST(ParseImagesToKeep, AcceptsCountsAndAll) {
  EXPECT_EQ(parse_images_to_keep("0", true), 0);
  EXPECT_EQ(parse_images_to_keep("20", false), 20);
  EXPECT_EQ(parse_images_to_keep("All", true), -1);
  EXPECT_EQ(parse_images_to_keep("all", true), -1);
  EXPECT_EQ(parse_images_to_keep("ALL", true), -1);
}

TEST(ParseImagesToKeep, RejectsOtherValuesNamingTheFlag) {
  for (const char* text : {"-1", "", "abc", "1.5", "+3", " 3", "3x", "99999999999999999999"}) {
    std::string message = failure_message([&] { parse_images_to_keep(text, true); });
    EXPECT_THAT(message, HasSubstr("--images must be the number of images to keep")) << text;
    EXPECT_THAT(message, HasSubstr("or All")) << text;
    // Built with append: GCC 12 at -O3 warns falsely (-Wrestrict) about
    // "'" + std::string(text).
    std::string quoted = "'";
    quoted.append(text).append("' is not valid");
    EXPECT_THAT(message, HasSubstr(quoted)) << text;
  }
}

TEST(ParseImagesToKeep, RejectsAllWhenNotAllowed) {
  std::string message = failure_message([] { parse_images_to_keep("All", false); });
  EXPECT_THAT(message, HasSubstr("nothing to delete"));
  EXPECT_THAT(failure_message([] { parse_images_to_keep("x", false); }), ::testing::Not(HasSubstr("or All")));
}

TEST(ParseThresholdDays, AcceptsPositiveWholeDays) {
  EXPECT_EQ(parse_threshold_days("1"), 1);
  EXPECT_EQ(parse_threshold_days("90"), 90);
  for (const char* text : {"0", "-5", "", "1d", "2.5"}) {
    EXPECT_THAT(failure_message([&] { parse_threshold_days(text); }),
                HasSubstr("--deletion-threshold-days must be a whole number of days greater than 0"))
        << text;
  }
}

TEST(ParseQuotaMegabytes, AcceptsMegabytesAndMinusOne) {
  EXPECT_EQ(parse_quota_megabytes("600", "--storage"), 600);
  EXPECT_EQ(parse_quota_megabytes("0", "--storage"), 0);
  EXPECT_EQ(parse_quota_megabytes("-1", "--traffic"), -1);
  EXPECT_EQ(parse_quota_megabytes("8796093022207", "--traffic"), 8796093022207);
}

TEST(ParseQuotaMegabytes, RejectsOtherValuesNamingTheFlag) {
  for (const char* text : {"-2", "1.5", "", "600MB", "8796093022208"}) {
    std::string message = failure_message([&] { parse_quota_megabytes(text, "--traffic"); });
    EXPECT_THAT(message, HasSubstr("--traffic must be a whole number of megabytes (1 MB = 1048576 bytes)")) << text;
    EXPECT_THAT(message, HasSubstr("-1 for unlimited")) << text;
  }
}

TEST(QuotaSettingSummary, ListsTheGivenQuotas) {
  EXPECT_EQ(quota_setting_summary(600, 7000), "storage: 600 , traffic: 7000");
  EXPECT_EQ(quota_setting_summary(600, std::nullopt), "storage: 600");
  EXPECT_EQ(quota_setting_summary(std::nullopt, -1), "traffic: -1");
}

TEST(FormatLimit, ShowsUnlimitedForNegative) {
  EXPECT_EQ(format_limit(-1), "Unlimited");
  EXPECT_EQ(format_limit(0), "0 B");
  EXPECT_EQ(format_limit(536'870'912), "512 MB");
  EXPECT_EQ(format_limit(5'368'709'120), "5.12 GB");
  EXPECT_EQ(format_limit(2 * 1'048'576), "2 MB");
  EXPECT_EQ(format_limit(1'572'864), "1.5 MB");
}

TEST(QuotaOutput, RenamesTheApiFields) {
  json quotas = {{"limit", {{"storage_bytes", 536870912}, {"traffic_bytes", -1}}},
                 {"usage", {{"storage_bytes", 1801000}, {"traffic_bytes", 42}}}};
  EXPECT_EQ(quota_output(quotas).dump(),
            R"({"usage":{"traffic":42,"store":1801000},"limit":{"traffic":-1,"store":536870912}})");
  EXPECT_EQ(quota_output(json::object()).dump(), R"({"usage":{"traffic":0,"store":0},"limit":{"traffic":0,"store":0}})");
}

TEST(FormatRetentionValues, UsesWordsForTheDefaults) {
  EXPECT_EQ(format_images_to_keep(-1), "All");
  EXPECT_EQ(format_images_to_keep(0), "0");
  EXPECT_EQ(format_images_to_keep(20), "20");
  EXPECT_EQ(format_threshold_days(0), "None");
  EXPECT_EQ(format_threshold_days(90), "90");
}

TEST(RetentionPolicyMessage, MatchesEachVariant) {
  EXPECT_EQ(retention_policy_message("birds", 20, false, 0),
            "A scheduled retention policy is set that keeps 20 images in each repository in birds and "
            "retain-untagged is set to false.");
  EXPECT_EQ(retention_policy_message("birds", 20, true, 90),
            "A scheduled retention policy is set that keeps 20 images in each repository in birds, with a deletion "
            "threshold of 90 days, and retain-untagged is set to true.");
  EXPECT_EQ(retention_policy_message("birds", -1, false, 0), "The retention policy to keep all images in birds is set.");
  EXPECT_EQ(retention_policy_message("birds", 1, false, 1),
            "A scheduled retention policy is set that keeps 1 image in each repository in birds, with a deletion "
            "threshold of 1 day, and retain-untagged is set to false.");
}

TEST(RetentionPolicyRows, FillsDefaultsAndSorts) {
  json policies = {
      {"zeta", {{"namespace", "zeta"}, {"images_per_repo", 3}, {"retain_untagged", true},
                {"deletion_threshold_days", 90}}},
      {"alpha", {{"namespace", "alpha"}, {"account", ""}}},
  };
  auto rows = retention_policy_rows(policies);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].namespace_name, "alpha");
  EXPECT_EQ(rows[0].images_per_repo, -1);
  EXPECT_FALSE(rows[0].retain_untagged);
  EXPECT_EQ(rows[0].deletion_threshold_days, 0);
  EXPECT_EQ(rows[1].namespace_name, "zeta");
  EXPECT_EQ(rows[1].images_per_repo, 3);
  EXPECT_TRUE(rows[1].retain_untagged);
  EXPECT_EQ(rows[1].deletion_threshold_days, 90);
  EXPECT_TRUE(retention_policy_rows(json::array()).empty());
}

TEST(TrashRows, SortsImagesAndTags) {
  json trash = {
      {"r.example/ns/b@" + kDigestB, {{"daysUntilExpiry", 1}, {"tags", json::array()}}},
      {"r.example/ns/a@" + kDigestA, {{"daysUntilExpiry", 30}, {"tags", {"v2", "latest"}}}},
  };
  auto rows = trash_rows(trash);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].image, "r.example/ns/a@" + kDigestA);
  EXPECT_EQ(rows[0].days_until_expiry, 30);
  EXPECT_THAT(rows[0].tags, ElementsAre("latest", "v2"));
  EXPECT_EQ(rows[1].days_until_expiry, 1);
  EXPECT_TRUE(rows[1].tags.empty());
}

TEST(ImageKey, DropsTheDomainAndDefaultsTheTag) {
  EXPECT_EQ(image_key("127.0.0.1:5000/ns/repo@" + kDigestA), "ns/repo@" + kDigestA);
  EXPECT_EQ(image_key("ns/repo@" + kDigestA), "ns/repo@" + kDigestA);
  EXPECT_EQ(image_key("ns/deep/repo:v1"), "ns/deep/repo:v1");
  EXPECT_EQ(image_key("ns/repo"), "ns/repo:latest");
}

// Two images: A is untagged in robin and tagged in wren; B is tagged in robin.
json digests_listing() {
  return json::array({
      {{"id", kDigestA}, {"created", 1600000000}, {"size", 1800000},
       {"repoTags", {{"d:1/ns/robin", json::object()}, {"d:1/ns/wren", {{"v1", json::object()}}}}}},
      {{"id", kDigestB}, {"created", 1700000000}, {"size", 12000000},
       {"repoTags", {{"d:1/ns/robin", {{"old", json::object()}, {"older", json::object()}}}}}},
  });
}

TEST(UntaggedImages, TakesEachRepositoryWithoutTags) {
  auto images = untagged_images(digests_listing());
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].image, "d:1/ns/robin@" + kDigestA);
  EXPECT_TRUE(images[0].tags.empty());
  EXPECT_EQ(images[0].created, 1600000000);
  EXPECT_EQ(images[0].size, 1800000u);
  EXPECT_TRUE(untagged_images(json::array()).empty());
}

TEST(AnalyzedImages, AddsTagsFromTheListing) {
  json analysis = {{"d:1/ns/robin", {"d:1/ns/robin@" + kDigestB, "ns/robin@" + kDigestA}},
                   {"d:1/ns/gone", {"d:1/ns/gone@" + kDigestB}}};
  auto images = analyzed_images(analysis, digests_listing());
  ASSERT_EQ(images.size(), 3u);
  EXPECT_EQ(images[0].image, "d:1/ns/gone@" + kDigestB);
  EXPECT_TRUE(images[0].tags.empty());  // not in the listing any more
  EXPECT_EQ(images[1].image, "d:1/ns/robin@" + kDigestB);
  EXPECT_THAT(images[1].tags, ElementsAre("old", "older"));
  EXPECT_EQ(images[2].image, "ns/robin@" + kDigestA);
  EXPECT_TRUE(images[2].tags.empty());  // untagged in robin, though tagged in wren
}

TEST(BulkDeleteResults, MatchesReferencesWithOrWithoutDomain) {
  std::vector<std::string> requested = {"d:1/ns/a@" + kDigestA, "d:1/ns/b@" + kDigestB, "d:1/ns/c@" + kDigestA};
  json response = {{"success", {"ns/a@" + kDigestA}},
                   {"error", {{"d:1/ns/b@" + kDigestB, {{"code", "DENIED"}, {"message", "You may not."}}}}}};
  auto results = bulk_delete_results(requested, response);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].deleted);
  EXPECT_FALSE(results[1].deleted);
  EXPECT_EQ(results[1].message, "You may not.");
  EXPECT_FALSE(results[2].deleted);
  EXPECT_THAT(results[2].message, HasSubstr("does not name this image"));

  json output = delete_results_output(results);
  EXPECT_EQ(output[0], (json{{"Digest", requested[0]}, {"Status", "OK"}}));
  EXPECT_EQ(output[1], (json{{"Digest", requested[1]}, {"Status", "You may not."}}));
}

TEST(BulkDeleteResults, FallsBackToTheErrorCode) {
  json response = {{"success", json::array()}, {"error", {{"ns/a@" + kDigestA, {{"code", "NOT_FOUND"}}}}}};
  auto results = bulk_delete_results({"ns/a@" + kDigestA}, response);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].message, "NOT_FOUND");
}

}  // namespace
}  // namespace berth::cli
