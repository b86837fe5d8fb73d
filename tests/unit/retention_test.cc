#include "lifecycle/retention.h"

#include "support/printers.h"

#include <gmock/gmock.h>

#include <cctype>
#include <cstdint>
#include <limits>
#include <map>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace berth::lifecycle {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr std::int64_t kDay = 86400;
// 2025-06-01T00:00:00Z, the time at which every case runs.
constexpr std::int64_t kNow = 1748736000;

// Constant build dates that tools write, and the eligibility cutoff.
constexpr std::int64_t kEpoch = 0;                           // distroless, and the value when created is missing
constexpr std::int64_t kBuildpacksDate = 315532801;          // 1980-01-01T00:00:01Z
constexpr std::int64_t kStartOf1980 = 315532800;             // 1980-01-01T00:00:00Z
constexpr std::int64_t kEndOfFirstDayOf1980 = 315619199;     // 1980-01-01T23:59:59Z
constexpr std::int64_t kBeforeCutoff = kEarliestEligibleCreated - 1;  // 2013-01-19T00:13:38Z

std::int64_t days_ago(std::int64_t days) { return kNow - days * kDay; }

// A digest whose hex is the bytes of `name`, zero-padded on the left. Names
// of equal length therefore sort the same way as their digests, which the
// tie-breaking cases rely on.
core::Digest digest_named(const std::string& name) {
  static constexpr char kHexDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : name) {
    hex += kHexDigits[c >> 4];
    hex += kHexDigits[c & 0xf];
  }
  hex.insert(0, 64 - hex.size(), '0');
  return *core::Digest::parse("sha256:" + hex);
}

// An image in a table case. `name` identifies it in the expected output
// and gives it its digest, so equal names in two repositories are the same
// digest.
struct TableImage {
  std::string name;
  std::string repository;
  std::vector<std::string> tags;
  std::int64_t created = 0;
  bool is_index = false;
};

RetentionImage to_retention_image(const TableImage& image) {
  return RetentionImage{.repository = image.repository,
                        .digest = digest_named(image.name),
                        .tags = image.tags,
                        .is_index = image.is_index,
                        .created = image.created};
}

std::vector<RetentionImage> to_retention_images(const std::vector<TableImage>& images) {
  std::vector<RetentionImage> out;
  for (const TableImage& image : images) out.push_back(to_retention_image(image));
  return out;
}

// Deleted images as "repository@name", in output order.
std::vector<std::string> deleted_names(const std::vector<TableImage>& images, const RetentionRule& rule) {
  std::map<std::string, std::string> name_of_digest;
  for (const TableImage& image : images) name_of_digest[digest_named(image.name).str()] = image.name;

  std::vector<std::string> names;
  for (const RetentionImage& image : select_for_deletion(to_retention_images(images), rule, kNow)) {
    names.push_back(image.repository + "@" + name_of_digest.at(image.digest.str()));
  }
  return names;
}

// --- Table of rules and namespaces --------------------------------------

struct TableCase {
  std::string name;
  RetentionRule rule;
  std::vector<TableImage> images;
  std::vector<std::string> expected_deleted;  // "repository@name", in output order
};

// Shows a failing case by its name instead of its bytes.
void PrintTo(const TableCase& c, std::ostream* out) { *out << c.name; }

// Images of every kind in one repository, listed out of age order.
const std::vector<TableImage> kMixedImages = {
    {"tagged-new", "app", {"v3"}, days_ago(1)},
    {"untagged-old", "app", {}, days_ago(40)},
    {"tagged-old", "app", {"v1"}, days_ago(30)},
    {"index", "app", {"multi"}, days_ago(50), true},
    {"untagged-new", "app", {}, days_ago(2)},
    {"epoch", "app", {"distroless"}, kEpoch},
    {"tagged-mid", "app", {"v2", "stable"}, days_ago(10)},
    {"buildpacks", "app", {"cnb"}, kBuildpacksDate},
    {"pre-2013", "app", {"ancient"}, kBeforeCutoff},
};

std::vector<TableCase> table_cases() {
  return {
      {"keep all (-1) deletes nothing", {.images_per_repo = -1}, kMixedImages, {}},
      {"keep all ignores the threshold",
       {.images_per_repo = -1, .deletion_threshold_days = 7},
       kMixedImages,
       {}},
      {"count 0 deletes every eligible image",
       {.images_per_repo = 0},
       kMixedImages,
       {"app@untagged-old", "app@tagged-old", "app@tagged-mid", "app@untagged-new", "app@tagged-new"}},
      {"count 1 ranks tagged and untagged together",
       {.images_per_repo = 1},
       kMixedImages,
       {"app@untagged-old", "app@tagged-old", "app@tagged-mid", "app@untagged-new"}},
      {"count 2 keeps the two newest",
       {.images_per_repo = 2},
       kMixedImages,
       {"app@untagged-old", "app@tagged-old", "app@tagged-mid"}},
      {"count 1 keeps a newest untagged image",
       {.images_per_repo = 1},
       {
           {"untagged", "app", {}, days_ago(1)},
           {"tagged", "app", {"v1"}, days_ago(5)},
       },
       {"app@tagged"}},
      {"count above the image count deletes nothing", {.images_per_repo = 20}, kMixedImages, {}},
      {"retain untagged with count 0 deletes tagged only",
       {.images_per_repo = 0, .retain_untagged = true},
       kMixedImages,
       {"app@tagged-old", "app@tagged-mid", "app@tagged-new"}},
      {"retain untagged with count 1 ranks tagged only",
       {.images_per_repo = 1, .retain_untagged = true},
       kMixedImages,
       {"app@tagged-old", "app@tagged-mid"}},
      {"retain untagged with count 1 keeps an older tagged image",
       {.images_per_repo = 1, .retain_untagged = true},
       {
           {"untagged", "app", {}, days_ago(1)},
           {"tagged", "app", {"v1"}, days_ago(5)},
       },
       {}},
      {"multi-tagged image counts once",
       {.images_per_repo = 2},
       {
           {"v1", "app", {"v1"}, days_ago(30)},
           {"v2", "app", {"v2"}, days_ago(20)},
           {"v3", "app", {"v3", "latest", "stable"}, days_ago(10)},
       },
       {"app@v1"}},
      {"index is neither deleted nor counted",
       {.images_per_repo = 1},
       {
           {"index", "app", {"latest"}, days_ago(1), true},
           {"new", "app", {"v2"}, days_ago(5)},
           {"old", "app", {"v1"}, days_ago(9)},
       },
       {"app@old"}},
      {"index without a created time is kept",
       {.images_per_repo = 0},
       {
           {"index", "app", {"latest"}, 0, true},
       },
       {}},
      {"epoch-dated image is kept with count 0", {.images_per_repo = 0}, {{"epoch", "app", {"v1"}, kEpoch}}, {}},
      {"untagged epoch-dated image is kept", {.images_per_repo = 0}, {{"epoch", "app", {}, kEpoch}}, {}},
      {"buildpacks 1980 date is kept", {.images_per_repo = 0}, {{"cnb", "app", {"v1"}, kBuildpacksDate}}, {}},
      {"start of 1980-01-01 is kept", {.images_per_repo = 0}, {{"cnb", "app", {"v1"}, kStartOf1980}}, {}},
      {"end of 1980-01-01 is kept", {.images_per_repo = 0}, {{"cnb", "app", {"v1"}, kEndOfFirstDayOf1980}}, {}},
      {"second before the 2013 cutoff is kept", {.images_per_repo = 0}, {{"old", "app", {"v1"}, kBeforeCutoff}}, {}},
      {"date before 1970 is kept", {.images_per_repo = 0}, {{"old", "app", {"v1"}, -kDay}}, {}},
      {"image at the 2013 cutoff is eligible",
       {.images_per_repo = 0},
       {{"cutoff", "app", {"v1"}, kEarliestEligibleCreated}},
       {"app@cutoff"}},
      {"ineligible images do not count toward the count",
       {.images_per_repo = 1},
       {
           {"epoch", "app", {"e"}, kEpoch},
           {"cnb", "app", {"c"}, kBuildpacksDate},
           {"ancient", "app", {"a"}, kBeforeCutoff},
           {"index", "app", {"i"}, days_ago(1), true},
           {"real", "app", {"r"}, days_ago(100)},
       },
       {}},
      {"future image is the newest",
       {.images_per_repo = 1},
       {
           {"future", "app", {"skewed"}, kNow + 3 * kDay},
           {"today", "app", {"v2"}, kNow},
           {"old", "app", {"v1"}, days_ago(3)},
       },
       {"app@old", "app@today"}},
      {"future image is inside the threshold",
       {.images_per_repo = 0, .deletion_threshold_days = 1},
       {
           {"future", "app", {"skewed"}, kNow + 3 * kDay},
           {"old", "app", {"v1"}, days_ago(3)},
       },
       {"app@old"}},
      {"future image with count 0 is deleted",
       {.images_per_repo = 0},
       {{"future", "app", {"skewed"}, kNow + 3 * kDay}},
       {"app@future"}},
      {"threshold keeps fresh images beyond the count",
       {.images_per_repo = 1, .deletion_threshold_days = 7},
       {
           {"1d", "app", {"a"}, days_ago(1)},
           {"3d", "app", {"b"}, days_ago(3)},
           {"10d", "app", {"c"}, days_ago(10)},
           {"20d", "app", {"d"}, days_ago(20)},
       },
       {"app@20d", "app@10d"}},
      {"fresh images count toward the count",
       {.images_per_repo = 2, .deletion_threshold_days = 7},
       {
           {"1d", "app", {"a"}, days_ago(1)},
           {"3d", "app", {"b"}, days_ago(3)},
           {"10d", "app", {"c"}, days_ago(10)},
       },
       {"app@10d"}},
      {"threshold with fewer fresh images than the count",
       {.images_per_repo = 3, .deletion_threshold_days = 7},
       {
           {"1d", "app", {"a"}, days_ago(1)},
           {"10d", "app", {"b"}, days_ago(10)},
           {"20d", "app", {"c"}, days_ago(20)},
           {"30d", "app", {"d"}, days_ago(30)},
       },
       {"app@30d"}},
      {"threshold with count 0 deletes only older images",
       {.images_per_repo = 0, .deletion_threshold_days = 7},
       {
           {"1d", "app", {"a"}, days_ago(1)},
           {"6d", "app", {}, days_ago(6)},
           {"8d", "app", {"b"}, days_ago(8)},
       },
       {"app@8d"}},
      {"image exactly threshold days old is deleted",
       {.images_per_repo = 0, .deletion_threshold_days = 7},
       {
           {"edge", "app", {"a"}, days_ago(7)},
           {"inside", "app", {"b"}, days_ago(7) + 1},
       },
       {"app@edge"}},
      {"threshold with retain untagged",
       {.images_per_repo = 0, .retain_untagged = true, .deletion_threshold_days = 7},
       {
           {"untagged", "app", {}, days_ago(30)},
           {"fresh", "app", {"a"}, days_ago(2)},
           {"stale", "app", {"b"}, days_ago(9)},
       },
       {"app@stale"}},
      {"huge threshold deletes nothing",
       {.images_per_repo = 0, .deletion_threshold_days = std::numeric_limits<std::int64_t>::max()},
       kMixedImages,
       {}},
      {"equal created keeps the later digest",
       {.images_per_repo = 1},
       {
           {"tie-b", "app", {"b"}, days_ago(5)},
           {"tie-a", "app", {"a"}, days_ago(5)},
           {"tie-c", "app", {"c"}, days_ago(5)},
       },
       {"app@tie-a", "app@tie-b"}},
      {"equal created deletes in digest order",
       {.images_per_repo = 0},
       {
           {"tie-c", "app", {"c"}, days_ago(5)},
           {"tie-a", "app", {"a"}, days_ago(5)},
           {"tie-b", "app", {"b"}, days_ago(5)},
       },
       {"app@tie-a", "app@tie-b", "app@tie-c"}},
      {"count applies per repository",
       {.images_per_repo = 1},
       {
           {"web-old", "web", {"v1"}, days_ago(20)},
           {"db-new", "db", {"v2"}, days_ago(1)},
           {"web-new", "web", {"v2"}, days_ago(2)},
           {"db-old", "db", {"v1"}, days_ago(30)},
           {"db-mid", "db", {}, days_ago(10)},
           {"cache-only", "cache", {"v1"}, days_ago(90)},
       },
       {"db@db-old", "db@db-mid", "web@web-old"}},
      {"count 2 per repository",
       {.images_per_repo = 2},
       {
           {"a1", "alpha", {"1"}, days_ago(1)},
           {"a2", "alpha", {"2"}, days_ago(2)},
           {"a3", "alpha", {"3"}, days_ago(3)},
           {"a4", "alpha", {"4"}, days_ago(4)},
           {"b1", "beta", {"1"}, days_ago(1)},
           {"b2", "beta", {"2"}, days_ago(2)},
           {"b3", "beta", {"3"}, days_ago(3)},
       },
       {"alpha@a4", "alpha@a3", "beta@b3"}},
      {"one digest in two repositories is ranked in each",
       {.images_per_repo = 1},
       {
           {"shared", "web", {"v1"}, days_ago(10)},
           {"shared", "mirror", {"v1"}, days_ago(10)},
           {"web-new", "web", {"v2"}, days_ago(1)},
       },
       {"web@shared"}},
      {"empty namespace deletes nothing", {.images_per_repo = 0}, {}, {}},
  };
}

// "count 0 deletes every eligible image" -> "count_0_deletes_every_eligible_image"
std::string case_test_name(const ::testing::TestParamInfo<TableCase>& info) {
  std::string name;
  for (char c : info.param.name) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

class RetentionTable : public ::testing::TestWithParam<TableCase> {};

TEST_P(RetentionTable, DeletesExpectedImages) {
  const TableCase& c = GetParam();

  EXPECT_EQ(deleted_names(c.images, c.rule), c.expected_deleted);
}

TEST_P(RetentionTable, IgnoresInputOrder) {
  const TableCase& c = GetParam();
  std::vector<TableImage> reversed(c.images.rbegin(), c.images.rend());

  EXPECT_EQ(deleted_names(reversed, c.rule), c.expected_deleted);
}

INSTANTIATE_TEST_SUITE_P(Retention, RetentionTable, ::testing::ValuesIn(table_cases()), case_test_name);

// --- select_for_deletion details ----------------------------------------

TEST(RetentionSelect, ReturnsWholeImages) {
  std::vector<RetentionImage> images = to_retention_images({
      {"old", "app", {"v1", "stable"}, days_ago(9)},
      {"new", "app", {"v2"}, days_ago(1)},
  });

  auto deleted = select_for_deletion(images, {.images_per_repo = 1}, kNow);

  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(deleted[0].repository, "app");
  EXPECT_EQ(deleted[0].digest, digest_named("old"));
  EXPECT_THAT(deleted[0].tags, ElementsAre("v1", "stable"));
  EXPECT_FALSE(deleted[0].is_index);
  EXPECT_EQ(deleted[0].created, days_ago(9));
}

TEST(RetentionSelect, MergesEntriesOfOneDigest) {
  // The same digest listed once per tag is one image, so count 2 keeps it
  // and "middle". Counted once per listing, it would push "middle" out.
  std::vector<RetentionImage> images = to_retention_images({
      {"newest", "app", {"latest"}, days_ago(1)},
      {"newest", "app", {"v3"}, days_ago(1)},
      {"newest", "app", {"latest", "stable"}, days_ago(1)},
      {"middle", "app", {"v2"}, days_ago(5)},
      {"oldest", "app", {"v1"}, days_ago(9)},
  });

  auto deleted_keeping_two = select_for_deletion(images, {.images_per_repo = 2}, kNow);
  auto deleted_keeping_none = select_for_deletion(images, {.images_per_repo = 0}, kNow);

  ASSERT_EQ(deleted_keeping_two.size(), 1u);
  EXPECT_EQ(deleted_keeping_two[0].digest, digest_named("oldest"));
  ASSERT_EQ(deleted_keeping_none.size(), 3u);
  EXPECT_EQ(deleted_keeping_none[2].digest, digest_named("newest"));
  EXPECT_THAT(deleted_keeping_none[2].tags, ElementsAre("latest", "v3", "stable"));
}

TEST(RetentionSelect, UntaggedEntryMergedWithTaggedIsTagged) {
  // With retain_untagged, an untagged listing of a digest that also has a
  // tag does not protect it.
  std::vector<RetentionImage> images = to_retention_images({
      {"image", "app", {}, days_ago(5)},
      {"image", "app", {"v1"}, days_ago(5)},
  });

  auto deleted = select_for_deletion(images, {.images_per_repo = 0, .retain_untagged = true}, kNow);

  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_THAT(deleted[0].tags, ElementsAre("v1"));
}

TEST(RetentionSelect, RejectsCountBelowMinusOne) {
  std::vector<RetentionImage> images = to_retention_images({{"image", "app", {"v1"}, days_ago(5)}});

  EXPECT_THROW(select_for_deletion(images, {.images_per_repo = -2}, kNow), std::invalid_argument);
}

TEST(RetentionSelect, RejectsNegativeThreshold) {
  std::vector<RetentionImage> images = to_retention_images({{"image", "app", {"v1"}, days_ago(5)}});

  EXPECT_THROW(select_for_deletion(images, {.images_per_repo = 0, .deletion_threshold_days = -1}, kNow),
               std::invalid_argument);
}

TEST(RetentionSelect, ErrorNamesTheInvalidValue) {
  try {
    select_for_deletion({}, {.images_per_repo = -5}, kNow);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& error) {
    EXPECT_THAT(error.what(), ::testing::HasSubstr("images_per_repo is -5"));
  }
}

TEST(RetentionSelect, EmptyInputWithCountZero) {
  EXPECT_THAT(select_for_deletion({}, {.images_per_repo = 0}, kNow), IsEmpty());
}

// --- is_eligible_for_retention ------------------------------------------

TEST(RetentionEligible, TaggedImageIsEligible) {
  EXPECT_TRUE(is_eligible_for_retention(to_retention_image({"image", "app", {"v1"}, days_ago(5)})));
}

TEST(RetentionEligible, UntaggedImageIsEligible) {
  EXPECT_TRUE(is_eligible_for_retention(to_retention_image({"image", "app", {}, days_ago(5)})));
}

TEST(RetentionEligible, FutureImageIsEligible) {
  EXPECT_TRUE(is_eligible_for_retention(to_retention_image({"image", "app", {"v1"}, kNow + 365 * kDay})));
}

TEST(RetentionEligible, ImageAtCutoffIsEligible) {
  EXPECT_TRUE(is_eligible_for_retention(to_retention_image({"image", "app", {"v1"}, kEarliestEligibleCreated})));
}

TEST(RetentionEligible, IndexIsIneligible) {
  EXPECT_FALSE(is_eligible_for_retention(to_retention_image({"index", "app", {"v1"}, days_ago(5), true})));
}

TEST(RetentionEligible, MissingCreatedIsIneligible) {
  EXPECT_FALSE(is_eligible_for_retention(to_retention_image({"image", "app", {"v1"}, kEpoch})));
}

TEST(RetentionEligible, BuildpacksDateIsIneligible) {
  EXPECT_FALSE(is_eligible_for_retention(to_retention_image({"image", "app", {"v1"}, kBuildpacksDate})));
}

TEST(RetentionEligible, FirstDayOf1980IsIneligible) {
  EXPECT_FALSE(is_eligible_for_retention(to_retention_image({"image", "app", {"v1"}, kStartOf1980})));
  EXPECT_FALSE(is_eligible_for_retention(to_retention_image({"image", "app", {"v1"}, kEndOfFirstDayOf1980})));
}

TEST(RetentionEligible, BeforeCutoffIsIneligible) {
  EXPECT_FALSE(is_eligible_for_retention(to_retention_image({"image", "app", {"v1"}, kBeforeCutoff})));
}

TEST(RetentionEligible, CutoffIs2013Date) {
  // 2013-01-19T00:13:39Z, computed with `date -u -d 2013-01-19T00:13:39Z +%s`.
  EXPECT_EQ(kEarliestEligibleCreated, 1358554419);
}

}  // namespace
}  // namespace berth::lifecycle
