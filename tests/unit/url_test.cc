#include "http/url.h"

#include <gmock/gmock.h>

#include <string>

namespace berth::http {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// --- percent_decode -----------------------------------------------------

TEST(PercentDecode, PlainText) {
  EXPECT_EQ(percent_decode("library/alpine"), "library/alpine");
  EXPECT_EQ(percent_decode(""), "");
}

TEST(PercentDecode, Escapes) {
  EXPECT_EQ(percent_decode("sha256%3Aabc"), "sha256:abc");
  EXPECT_EQ(percent_decode("a%2fb"), "a/b");
  EXPECT_EQ(percent_decode("%41%4a%4A"), "AJJ");
  EXPECT_EQ(percent_decode("caf%C3%A9"), "caf\xc3\xa9");
}

TEST(PercentDecode, NulAndHighBytes) {
  auto decoded = percent_decode("%00%FF");

  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, std::string("\0\xff", 2));
}

TEST(PercentDecode, PercentEscapesPercent) {
  EXPECT_EQ(percent_decode("100%25"), "100%");
  EXPECT_EQ(percent_decode("%2541"), "%41");
}

TEST(PercentDecode, MalformedEscape) {
  for (const char* text : {"%", "%4", "abc%", "abc%4", "%zz", "%4g", "%g4", "%%41", "% 41"}) {
    EXPECT_EQ(percent_decode(text), std::nullopt) << text;
  }
}

TEST(PercentDecode, PlusKeptByDefault) {
  EXPECT_EQ(percent_decode("a+b"), "a+b");
}

TEST(PercentDecode, PlusAsSpace) {
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode("a%2Bb", true), "a+b");
}

// --- percent_encode -----------------------------------------------------

TEST(PercentEncode, UnreservedKept) {
  std::string unreserved = "ABCXYZabcxyz0189-._~";

  EXPECT_EQ(percent_encode(unreserved), unreserved);
}

TEST(PercentEncode, ReservedEscaped) {
  EXPECT_EQ(percent_encode("a b"), "a%20b");
  EXPECT_EQ(percent_encode("sha256:abc"), "sha256%3Aabc");
  EXPECT_EQ(percent_encode("a/b"), "a%2Fb");
  EXPECT_EQ(percent_encode("a+b&c=d?e#f%"), "a%2Bb%26c%3Dd%3Fe%23f%25");
}

TEST(PercentEncode, KeepSlash) {
  EXPECT_EQ(percent_encode("library/my app", true), "library/my%20app");
  EXPECT_EQ(percent_encode("library/my app", false), "library%2Fmy%20app");
}

TEST(PercentEncode, BytesUpperCaseHex) {
  EXPECT_EQ(percent_encode(std::string("caf\xc3\xa9\0\xff", 7)), "caf%C3%A9%00%FF");
}

TEST(PercentEncode, RoundTrip) {
  std::string all_bytes;
  for (int c = 0; c < 256; ++c) all_bytes += static_cast<char>(c);

  EXPECT_EQ(percent_decode(percent_encode(all_bytes)), all_bytes);
  EXPECT_EQ(percent_decode(percent_encode(all_bytes, true)), all_bytes);
}

// --- Query --------------------------------------------------------------

TEST(Query, Parameters) {
  Query query("n=10&last=library%2Falpine");

  EXPECT_EQ(query.get("n"), "10");
  EXPECT_EQ(query.get("last"), "library/alpine");
  EXPECT_TRUE(query.has("n"));
}

TEST(Query, MissingParameter) {
  Query query("n=10");

  EXPECT_EQ(query.get("last"), std::nullopt);
  EXPECT_FALSE(query.has("last"));
  EXPECT_THAT(query.get_all("last"), IsEmpty());
}

TEST(Query, NamesAreCaseSensitive) {
  Query query("N=10");

  EXPECT_EQ(query.get("n"), std::nullopt);
  EXPECT_EQ(query.get("N"), "10");
}

TEST(Query, RepeatsKeptInOrder) {
  Query query("digest=sha256%3Aaaa&n=1&digest=sha512%3Abbb");

  EXPECT_EQ(query.get("digest"), "sha256:aaa");
  EXPECT_THAT(query.get_all("digest"), ElementsAre("sha256:aaa", "sha512:bbb"));
}

TEST(Query, ParameterWithoutEquals) {
  Query query("mount&n=5");

  EXPECT_TRUE(query.has("mount"));
  EXPECT_EQ(query.get("mount"), "");
  EXPECT_EQ(query.get("n"), "5");
}

TEST(Query, EmptyValue) {
  Query query("last=&n=");

  EXPECT_EQ(query.get("last"), "");
  EXPECT_EQ(query.get("n"), "");
}

TEST(Query, ValueContainsEquals) {
  Query query("a=b=c");

  EXPECT_EQ(query.get("a"), "b=c");
}

TEST(Query, EmptyPairsSkipped) {
  Query query("&&n=1&&last=x&");

  EXPECT_EQ(query.get("n"), "1");
  EXPECT_EQ(query.get("last"), "x");
  EXPECT_FALSE(query.has(""));
}

TEST(Query, EmptyString) {
  Query query("");

  EXPECT_FALSE(query.has("n"));
  EXPECT_THAT(query.get_all(""), IsEmpty());
}

TEST(Query, PlusIsSpace) {
  Query query("artifactType=a+b&name%3D=x");

  EXPECT_EQ(query.get("artifactType"), "a b");
  EXPECT_EQ(query.get("name="), "x");
}

TEST(Query, MalformedEscapeKeptRaw) {
  Query query("n=%zz&last=50%&ok=%41");

  EXPECT_EQ(query.get("n"), "%zz");
  EXPECT_EQ(query.get("last"), "50%");
  EXPECT_EQ(query.get("ok"), "A");
}

TEST(Query, DefaultConstructed) {
  Query query;

  EXPECT_FALSE(query.has("n"));
}

}  // namespace
}  // namespace berth::http
