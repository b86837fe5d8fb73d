#include "core/digest.h"

#include "support/printers.h"

#include <gmock/gmock.h>

#include <string>
#include <string_view>

namespace berth::core {
namespace {

using ::testing::HasSubstr;

// Expected digests of "", "abc", a 56-byte message that pads to two
// blocks, and one million 'a', computed with Python's hashlib.
constexpr std::string_view kSha256Empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr std::string_view kSha256Abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr std::string_view kSha512Abc =
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
constexpr std::string_view kTwoBlockMessage = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
constexpr std::string_view kSha256TwoBlock = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
constexpr std::string_view kSha256MillionA = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
constexpr std::string_view kSha512MillionA =
    "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973ebde0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b";

// The problem that Digest::parse reports for `text`, or "" if it parsed.
std::string parse_problem(std::string_view text) {
  std::string problem;
  if (Digest::parse(text, &problem)) return "";
  return problem;
}

// --- Digest::parse ------------------------------------------------------

TEST(DigestParse, ValidSha256) {
  std::string text = "sha256:" + std::string(kSha256Abc);

  auto digest = Digest::parse(text);

  ASSERT_TRUE(digest.has_value());
  EXPECT_EQ(digest->algorithm(), DigestAlgorithm::kSha256);
  EXPECT_EQ(digest->hex(), kSha256Abc);
  EXPECT_EQ(digest->str(), text);
}

TEST(DigestParse, ValidSha512) {
  std::string text = "sha512:" + std::string(kSha512Abc);

  auto digest = Digest::parse(text);

  ASSERT_TRUE(digest.has_value());
  EXPECT_EQ(digest->algorithm(), DigestAlgorithm::kSha512);
  EXPECT_EQ(digest->hex(), kSha512Abc);
  EXPECT_EQ(digest->str(), text);
}

TEST(DigestParse, ValidLeavesProblemUntouched) {
  std::string problem = "unchanged";

  EXPECT_TRUE(Digest::parse("sha256:" + std::string(kSha256Abc), &problem).has_value());
  EXPECT_EQ(problem, "unchanged");
}

TEST(DigestParse, UpperCaseHex) {
  std::string text = "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";

  EXPECT_EQ(Digest::parse(text), std::nullopt);
  EXPECT_THAT(parse_problem(text), HasSubstr(text));
  EXPECT_THAT(parse_problem(text), HasSubstr("lower-case"));
}

TEST(DigestParse, UpperCaseAlgorithm) {
  std::string text = "SHA256:" + std::string(kSha256Abc);

  EXPECT_EQ(Digest::parse(text), std::nullopt);
  EXPECT_THAT(parse_problem(text), HasSubstr("\"SHA256\""));
}

TEST(DigestParse, HexTooShort) {
  std::string text = "sha256:" + std::string(kSha256Abc.substr(0, 63));

  EXPECT_EQ(Digest::parse(text), std::nullopt);
  EXPECT_THAT(parse_problem(text), HasSubstr(text));
  EXPECT_THAT(parse_problem(text), HasSubstr("64"));
}

TEST(DigestParse, HexTooLong) {
  std::string text = "sha256:" + std::string(kSha256Abc) + "0";

  EXPECT_EQ(Digest::parse(text), std::nullopt);
  EXPECT_THAT(parse_problem(text), HasSubstr(text));
}

TEST(DigestParse, Sha256HexUnderSha512) {
  std::string text = "sha512:" + std::string(kSha256Abc);

  EXPECT_EQ(Digest::parse(text), std::nullopt);
  EXPECT_THAT(parse_problem(text), HasSubstr("128"));
}

TEST(DigestParse, EmptyHex) {
  EXPECT_EQ(Digest::parse("sha256:"), std::nullopt);
  EXPECT_THAT(parse_problem("sha256:"), HasSubstr("\"sha256:\""));
}

TEST(DigestParse, NonHexCharacter) {
  std::string text = "sha256:" + std::string(kSha256Abc.substr(0, 63)) + "g";

  EXPECT_EQ(Digest::parse(text), std::nullopt);
  EXPECT_THAT(parse_problem(text), HasSubstr(text));
}

TEST(DigestParse, UnknownAlgorithm) {
  std::string text = "md5:d41d8cd98f00b204e9800998ecf8427e";

  EXPECT_EQ(Digest::parse(text), std::nullopt);
  EXPECT_THAT(parse_problem(text), HasSubstr("\"md5\""));
  EXPECT_THAT(parse_problem(text), HasSubstr("not supported"));
}

TEST(DigestParse, WellFormedUnknownAlgorithm) {
  // Valid syntax under the OCI grammar, but not an algorithm Berth supports.
  std::string text = "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564";

  EXPECT_EQ(Digest::parse(text), std::nullopt);
  EXPECT_THAT(parse_problem(text), HasSubstr("not supported"));
}

TEST(DigestParse, MalformedAlgorithm) {
  for (std::string algorithm : {"", "sha-", "-sha256", "sha__256", "sha 256", "sha256!"}) {
    std::string text = algorithm + ":" + std::string(kSha256Abc);
    SCOPED_TRACE(text);

    EXPECT_EQ(Digest::parse(text), std::nullopt);
    EXPECT_THAT(parse_problem(text), HasSubstr("\"" + algorithm + "\""));
    EXPECT_THAT(parse_problem(text), HasSubstr("malformed"));
  }
}

TEST(DigestParse, MissingColon) {
  std::string text = "sha256" + std::string(kSha256Abc);

  EXPECT_EQ(Digest::parse(text), std::nullopt);
  EXPECT_THAT(parse_problem(text), HasSubstr(text));
  EXPECT_THAT(parse_problem(text), HasSubstr("algorithm"));
}

TEST(DigestParse, EmptyText) {
  EXPECT_EQ(Digest::parse(""), std::nullopt);
  EXPECT_THAT(parse_problem(""), HasSubstr("\"\""));
}

TEST(DigestParse, SurroundingSpace) {
  EXPECT_EQ(Digest::parse(" sha256:" + std::string(kSha256Abc)), std::nullopt);
  EXPECT_EQ(Digest::parse("sha256:" + std::string(kSha256Abc) + " "), std::nullopt);
  EXPECT_EQ(Digest::parse("sha256:" + std::string(kSha256Abc) + "\n"), std::nullopt);
}

TEST(DigestParse, ProblemIsOptional) {
  EXPECT_EQ(Digest::parse("not a digest", nullptr), std::nullopt);
}

// --- Hasher -------------------------------------------------------------

TEST(Hasher, Sha256Vectors) {
  EXPECT_EQ(digest_of(DigestAlgorithm::kSha256, "").hex(), kSha256Empty);
  EXPECT_EQ(digest_of(DigestAlgorithm::kSha256, "abc").hex(), kSha256Abc);
  EXPECT_EQ(digest_of(DigestAlgorithm::kSha256, kTwoBlockMessage).hex(), kSha256TwoBlock);
  EXPECT_EQ(digest_of(DigestAlgorithm::kSha256, std::string(1000000, 'a')).hex(), kSha256MillionA);
}

TEST(Hasher, Sha512Vectors) {
  EXPECT_EQ(digest_of(DigestAlgorithm::kSha512, "abc").hex(), kSha512Abc);
  EXPECT_EQ(digest_of(DigestAlgorithm::kSha512, std::string(1000000, 'a')).hex(), kSha512MillionA);
}

TEST(Hasher, DigestCarriesAlgorithm) {
  Digest digest = digest_of(DigestAlgorithm::kSha512, "abc");

  EXPECT_EQ(digest.algorithm(), DigestAlgorithm::kSha512);
  EXPECT_EQ(digest.str(), "sha512:" + std::string(kSha512Abc));
  EXPECT_EQ(Digest::parse(digest.str()), digest);
}

TEST(Hasher, IncrementalEqualsOneShot) {
  std::string data(1000000, 'a');
  for (auto algorithm : {DigestAlgorithm::kSha256, DigestAlgorithm::kSha512}) {
    SCOPED_TRACE(std::string(algorithm_name(algorithm)));
    Hasher hasher(algorithm);
    // Uneven pieces, so updates start and end inside hash blocks.
    std::size_t at = 0;
    for (std::size_t piece = 1; at < data.size(); piece = piece * 3 + 1) {
      std::size_t length = std::min(piece, data.size() - at);
      hasher.update(data.data() + at, length);
      at += length;
    }

    EXPECT_EQ(hasher.digest(), digest_of(algorithm, data));
  }
}

TEST(Hasher, DigestKeepsHasherUsable) {
  Hasher hasher(DigestAlgorithm::kSha256);
  hasher.update("ab", 2);
  Digest partial = hasher.digest();
  hasher.update("c", 1);

  EXPECT_EQ(partial, digest_of(DigestAlgorithm::kSha256, "ab"));
  EXPECT_EQ(hasher.digest().hex(), kSha256Abc);
}

TEST(Hasher, RestoreContinuesAfterSplit) {
  std::string data;
  for (int i = 0; i < 5000; ++i) data += static_cast<char>((i * 37 + 11) & 0xff);
  for (auto algorithm : {DigestAlgorithm::kSha256, DigestAlgorithm::kSha512}) {
    // Odd offsets inside the first block, across a block border and deep
    // inside the data.
    for (std::size_t split : {std::size_t{1}, std::size_t{63}, std::size_t{65}, std::size_t{127}, std::size_t{129},
                              std::size_t{4097}, data.size()}) {
      SCOPED_TRACE(std::string(algorithm_name(algorithm)) + " split at " + std::to_string(split));
      Hasher first(algorithm);
      first.update(data.data(), split);
      std::string state = first.save_state();

      auto restored = Hasher::restore_state(algorithm, state);
      ASSERT_TRUE(restored.has_value());
      restored->update(data.data() + split, data.size() - split);

      EXPECT_EQ(restored->algorithm(), algorithm);
      EXPECT_EQ(restored->digest(), digest_of(algorithm, data));
    }
  }
}

TEST(Hasher, RestoreTwiceFromSameState) {
  Hasher hasher(DigestAlgorithm::kSha256);
  hasher.update("a", 1);
  std::string state = hasher.save_state();

  auto first = Hasher::restore_state(DigestAlgorithm::kSha256, state);
  auto second = Hasher::restore_state(DigestAlgorithm::kSha256, state);
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(second.has_value());
  first->update("bc", 2);
  second->update("bc", 2);

  EXPECT_EQ(first->digest().hex(), kSha256Abc);
  EXPECT_EQ(second->digest().hex(), kSha256Abc);
}

TEST(Hasher, RestoreRejectsWrongLength) {
  Hasher hasher(DigestAlgorithm::kSha256);
  hasher.update("abc", 3);
  std::string state = hasher.save_state();

  EXPECT_FALSE(Hasher::restore_state(DigestAlgorithm::kSha256, "").has_value());
  EXPECT_FALSE(Hasher::restore_state(DigestAlgorithm::kSha256, "garbage").has_value());
  EXPECT_FALSE(Hasher::restore_state(DigestAlgorithm::kSha256, state.substr(1)).has_value());
  EXPECT_FALSE(Hasher::restore_state(DigestAlgorithm::kSha256, state + "x").has_value());
}

TEST(Hasher, RestoreRejectsOtherAlgorithm) {
  Hasher sha256(DigestAlgorithm::kSha256);
  Hasher sha512(DigestAlgorithm::kSha512);

  EXPECT_FALSE(Hasher::restore_state(DigestAlgorithm::kSha512, sha256.save_state()).has_value());
  EXPECT_FALSE(Hasher::restore_state(DigestAlgorithm::kSha256, sha512.save_state()).has_value());
}

TEST(Hasher, RestoreRejectsGarbageOfStateLength) {
  // Bytes of the right length that save_state() never produced. The call
  // only restores and does not hash, so an accepted state does no harm here.
  for (auto algorithm : {DigestAlgorithm::kSha256, DigestAlgorithm::kSha512}) {
    SCOPED_TRACE(std::string(algorithm_name(algorithm)));
    std::string garbage(Hasher(algorithm).save_state().size(), '\xff');

    EXPECT_FALSE(Hasher::restore_state(algorithm, garbage).has_value());
  }
}

}  // namespace
}  // namespace berth::core
