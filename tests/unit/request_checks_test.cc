#include "api/request_checks.h"

#include "core/error.h"

#include <gmock/gmock.h>

#include <optional>
#include <string>

namespace berth::api {
namespace {

using ::testing::HasSubstr;

// The error that page_size throws for "n=<value>", or nullopt.
std::optional<core::Error> page_size_error(const std::string& raw_query, std::size_t maximum) {
  try {
    page_size(http::Query(raw_query), maximum);
  } catch (const core::Error& error) {
    return error;
  }
  return std::nullopt;
}

// --- page_size ----------------------------------------------------------

TEST(PageSize, Absent) {
  EXPECT_EQ(page_size(http::Query("last=a"), 100), std::nullopt);
}

TEST(PageSize, WithinMaximum) {
  EXPECT_EQ(page_size(http::Query("n=10"), 100), 10u);
  EXPECT_EQ(page_size(http::Query("n=100"), 100), 100u);
  EXPECT_EQ(page_size(http::Query("n=1"), 100), 1u);
}

TEST(PageSize, Zero) {
  EXPECT_EQ(page_size(http::Query("n=0"), 100), 0u);
}

TEST(PageSize, ReducedToMaximum) {
  EXPECT_EQ(page_size(http::Query("n=101"), 100), 100u);
  EXPECT_EQ(page_size(http::Query("n=5000000"), 100), 100u);
}

TEST(PageSize, BeyondSizeTypeReducedToMaximum) {
  EXPECT_EQ(page_size(http::Query("n=99999999999999999999999999"), 100), 100u);
}

TEST(PageSize, FirstValueCounts) {
  EXPECT_EQ(page_size(http::Query("n=5&n=7"), 100), 5u);
}

TEST(PageSize, InvalidValues) {
  for (const char* raw : {"n=", "n=-1", "n=abc", "n=10abc", "n=+5", "n=%205", "n=1.5", "n=0x10", "n"}) {
    SCOPED_TRACE(raw);
    auto error = page_size_error(raw, 100);

    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->code(), core::ErrorCode::kUnsupported);
    EXPECT_EQ(error->http_status(), 400);
  }
}

TEST(PageSize, ErrorNamesValue) {
  auto error = page_size_error("n=-1", 100);

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(error->what(), HasSubstr("\"-1\""));
}

// --- upload_range -------------------------------------------------------

TEST(UploadRange, Empty) {
  EXPECT_EQ(upload_range(0), "0-0");
}

TEST(UploadRange, OneByte) {
  EXPECT_EQ(upload_range(1), "0-0");
}

TEST(UploadRange, LastByteIndex) {
  EXPECT_EQ(upload_range(10), "0-9");
  EXPECT_EQ(upload_range(5 * 1024 * 1024), "0-5242879");
}

TEST(UploadRange, Large) {
  EXPECT_EQ(upload_range(10000000000ull), "0-9999999999");
}

// --- Other checks -------------------------------------------------------

TEST(UploadLocation, Path) {
  EXPECT_EQ(upload_location("library/alpine", "3f1c-77aa"), "/v2/library/alpine/blobs/uploads/3f1c-77aa");
}

TEST(RequireDigest, Valid) {
  std::string text = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

  EXPECT_EQ(require_digest(text).str(), text);
}

TEST(RequireDigest, InvalidThrowsDigestInvalid) {
  try {
    require_digest("sha256:abc");
    FAIL() << "require_digest accepted sha256:abc";
  } catch (const core::Error& error) {
    EXPECT_EQ(error.code(), core::ErrorCode::kDigestInvalid);
    EXPECT_THAT(error.what(), HasSubstr("sha256:abc"));
  }
}

TEST(RequireValidName, InvalidThrowsNameInvalid) {
  try {
    require_valid_name("Library/Alpine");
    FAIL() << "require_valid_name accepted Library/Alpine";
  } catch (const core::Error& error) {
    EXPECT_EQ(error.code(), core::ErrorCode::kNameInvalid);
    EXPECT_THAT(error.what(), HasSubstr("\"Library/Alpine\""));
  }
}

TEST(RequireValidName, Valid) {
  EXPECT_NO_THROW(require_valid_name("library/alpine"));
}

}  // namespace
}  // namespace berth::api
