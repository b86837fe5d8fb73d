#include "http/range.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace berth::http {
namespace {

// Runs parse_range on a representation of `size` bytes. The range starts
// as {999, 999} so a test can see whether parse_range wrote it.
struct Parsed {
  RangeOutcome outcome;
  ByteRange range;
};

Parsed parse(std::string_view header, std::uint64_t size) {
  ByteRange range{.first = 999, .last = 999};
  RangeOutcome outcome = parse_range(header, size, &range);
  return {outcome, range};
}

TEST(ParseRange, NoHeader) {
  EXPECT_EQ(parse("", 100).outcome, RangeOutcome::kIgnore);
}

TEST(ParseRange, OtherUnit) {
  EXPECT_EQ(parse("items=0-9", 100).outcome, RangeOutcome::kIgnore);
  EXPECT_EQ(parse("0-9", 100).outcome, RangeOutcome::kIgnore);
}

TEST(ParseRange, SeveralRanges) {
  EXPECT_EQ(parse("bytes=0-9,20-29", 100).outcome, RangeOutcome::kIgnore);
  EXPECT_EQ(parse("bytes=0-9, 20-29", 100).outcome, RangeOutcome::kIgnore);
}

TEST(ParseRange, BadSyntax) {
  for (const char* header : {"bytes=", "bytes=-", "bytes=5", "bytes=a-9", "bytes=0-b", "bytes=0x1-9", "bytes= 0-9",
                             "bytes=0-9 ", "bytes=--5", "bytes=+1-9", "bytes=-+5"}) {
    EXPECT_EQ(parse(header, 100).outcome, RangeOutcome::kIgnore) << header;
  }
}

TEST(ParseRange, LastBeforeFirst) {
  EXPECT_EQ(parse("bytes=10-5", 100).outcome, RangeOutcome::kIgnore);
}

TEST(ParseRange, ClosedRange) {
  Parsed parsed = parse("bytes=0-9", 100);

  ASSERT_EQ(parsed.outcome, RangeOutcome::kSatisfiable);
  EXPECT_EQ(parsed.range.first, 0u);
  EXPECT_EQ(parsed.range.last, 9u);
}

TEST(ParseRange, SingleByte) {
  Parsed parsed = parse("bytes=99-99", 100);

  ASSERT_EQ(parsed.outcome, RangeOutcome::kSatisfiable);
  EXPECT_EQ(parsed.range.first, 99u);
  EXPECT_EQ(parsed.range.last, 99u);
}

TEST(ParseRange, OpenEnded) {
  Parsed parsed = parse("bytes=40-", 100);

  ASSERT_EQ(parsed.outcome, RangeOutcome::kSatisfiable);
  EXPECT_EQ(parsed.range.first, 40u);
  EXPECT_EQ(parsed.range.last, 99u);
}

TEST(ParseRange, LastClampedToSize) {
  Parsed parsed = parse("bytes=90-5000", 100);

  ASSERT_EQ(parsed.outcome, RangeOutcome::kSatisfiable);
  EXPECT_EQ(parsed.range.first, 90u);
  EXPECT_EQ(parsed.range.last, 99u);
}

TEST(ParseRange, Suffix) {
  Parsed parsed = parse("bytes=-10", 100);

  ASSERT_EQ(parsed.outcome, RangeOutcome::kSatisfiable);
  EXPECT_EQ(parsed.range.first, 90u);
  EXPECT_EQ(parsed.range.last, 99u);
}

TEST(ParseRange, SuffixLongerThanSize) {
  Parsed parsed = parse("bytes=-500", 100);

  ASSERT_EQ(parsed.outcome, RangeOutcome::kSatisfiable);
  EXPECT_EQ(parsed.range.first, 0u);
  EXPECT_EQ(parsed.range.last, 99u);
}

TEST(ParseRange, SuffixOfExactSize) {
  Parsed parsed = parse("bytes=-100", 100);

  ASSERT_EQ(parsed.outcome, RangeOutcome::kSatisfiable);
  EXPECT_EQ(parsed.range.first, 0u);
  EXPECT_EQ(parsed.range.last, 99u);
}

TEST(ParseRange, ZeroSuffix) {
  EXPECT_EQ(parse("bytes=-0", 100).outcome, RangeOutcome::kUnsatisfiable);
}

TEST(ParseRange, FirstAtSize) {
  EXPECT_EQ(parse("bytes=100-", 100).outcome, RangeOutcome::kUnsatisfiable);
  EXPECT_EQ(parse("bytes=100-200", 100).outcome, RangeOutcome::kUnsatisfiable);
}

TEST(ParseRange, FirstBeyondSize) {
  EXPECT_EQ(parse("bytes=5000-6000", 100).outcome, RangeOutcome::kUnsatisfiable);
}

TEST(ParseRange, EmptyRepresentation) {
  EXPECT_EQ(parse("bytes=0-", 0).outcome, RangeOutcome::kUnsatisfiable);
  EXPECT_EQ(parse("bytes=0-0", 0).outcome, RangeOutcome::kUnsatisfiable);
  EXPECT_EQ(parse("bytes=-5", 0).outcome, RangeOutcome::kUnsatisfiable);
}

TEST(ParseRange, IgnoreLeavesRangeUntouched) {
  Parsed parsed = parse("items=0-9", 100);

  EXPECT_EQ(parsed.range.first, 999u);
  EXPECT_EQ(parsed.range.last, 999u);
}

TEST(ParseRange, LargeRepresentation) {
  constexpr std::uint64_t kSize = 10ull * 1024 * 1024 * 1024;
  Parsed parsed = parse("bytes=8589934592-", kSize);

  ASSERT_EQ(parsed.outcome, RangeOutcome::kSatisfiable);
  EXPECT_EQ(parsed.range.first, 8589934592u);
  EXPECT_EQ(parsed.range.last, kSize - 1);
}

}  // namespace
}  // namespace berth::http
