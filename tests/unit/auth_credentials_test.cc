// API key secrets, their stored hash, namespace names and the login
// limiter.
#include "auth/credentials.h"
#include "auth/login_limiter.h"
#include "oci/name.h"

#include <gmock/gmock.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace berth::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// `text` in single quotes, as the error messages quote values.
std::string single_quoted(std::string_view text) {
  std::string result = "'";
  result += text;
  result += '\'';
  return result;
}

bool is_base64url_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// 32 bytes in unpadded base64url take ceil(32 * 8 / 6) = 43 characters.
constexpr std::size_t kEncodedSecretLength = 43;

TEST(ApiKeyGenerate, PrefixAndLength) {
  std::string key = generate_api_key();

  EXPECT_THAT(key, StartsWith("berth_"));
  EXPECT_EQ(kApiKeyPrefix, "berth_");
  EXPECT_EQ(key.size(), kApiKeyPrefix.size() + kEncodedSecretLength);
}

TEST(ApiKeyGenerate, Base64UrlAfterPrefix) {
  for (int i = 0; i < 100; ++i) {
    std::string key = generate_api_key();
    std::string_view encoded = std::string_view(key).substr(kApiKeyPrefix.size());
    ASSERT_EQ(encoded.size(), kEncodedSecretLength) << key;
    for (char c : encoded) {
      ASSERT_TRUE(is_base64url_char(c)) << "'" << c << "' in " << key;
    }
  }
}

TEST(ApiKeyGenerate, ThousandKeysDistinct) {
  std::set<std::string> keys;
  for (int i = 0; i < 1000; ++i) keys.insert(generate_api_key());

  EXPECT_EQ(keys.size(), 1000u);
}

TEST(ApiKeyHash, KnownSha256Vectors) {
  // Expected values from `printf abc | sha256sum` and `printf '' | sha256sum`
  // (GNU coreutils).
  EXPECT_EQ(hash_api_key("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hash_api_key(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(ApiKeyHash, LowercaseHexOfFixedLength) {
  std::string hash = hash_api_key(generate_api_key());

  ASSERT_EQ(hash.size(), 64u);
  for (char c : hash) {
    EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << "'" << c << "' in " << hash;
  }
}

TEST(ApiKeyHash, ChangedByteChangesHash) {
  std::string key = generate_api_key();
  std::string changed = key;
  changed.back() = changed.back() == 'A' ? 'B' : 'A';

  EXPECT_EQ(hash_api_key(key), hash_api_key(key));
  EXPECT_NE(hash_api_key(key), hash_api_key(changed));
}

TEST(ConstantTimeEqual, Cases) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("secret", "secret"));
  EXPECT_FALSE(constant_time_equal("secret", "secreT"));
  EXPECT_FALSE(constant_time_equal("secret", "Secret"));
  EXPECT_FALSE(constant_time_equal("secret", "secret "));
  EXPECT_FALSE(constant_time_equal("secret", ""));
  EXPECT_FALSE(constant_time_equal("", "secret"));
}

TEST(ConstantTimeEqual, EmbeddedNulBytes) {
  using namespace std::string_view_literals;

  EXPECT_TRUE(constant_time_equal("a\0b"sv, "a\0b"sv));
  EXPECT_FALSE(constant_time_equal("a\0b"sv, "a\0c"sv));
}

TEST(NamespaceName, LengthLimits) {
  EXPECT_EQ(kNamespaceMinLength, 4u);
  EXPECT_EQ(kNamespaceMaxLength, 30u);

  EXPECT_NE(namespace_name_problem(""), std::nullopt);
  EXPECT_NE(namespace_name_problem("abc"), std::nullopt);
  EXPECT_EQ(namespace_name_problem("abcd"), std::nullopt);
  EXPECT_EQ(namespace_name_problem(std::string(30, 'a')), std::nullopt);
  EXPECT_NE(namespace_name_problem(std::string(31, 'a')), std::nullopt);
}

TEST(NamespaceName, LengthMessageNamesValue) {
  auto short_problem = namespace_name_problem("abc");
  ASSERT_TRUE(short_problem.has_value());
  EXPECT_THAT(*short_problem, HasSubstr("'abc'"));
  EXPECT_THAT(*short_problem, HasSubstr("4 to 30"));
  EXPECT_THAT(*short_problem, HasSubstr("3"));

  std::string long_name(31, 'z');
  auto long_problem = namespace_name_problem(long_name);
  ASSERT_TRUE(long_problem.has_value());
  EXPECT_THAT(*long_problem, HasSubstr(single_quoted(long_name)));
  EXPECT_THAT(*long_problem, HasSubstr("31"));
}

TEST(NamespaceName, UppercaseRejected) {
  auto problem = namespace_name_problem("Team");

  ASSERT_TRUE(problem.has_value());
  EXPECT_THAT(*problem, HasSubstr("'Team'"));
  EXPECT_THAT(*problem, HasSubstr("'T'"));
  EXPECT_THAT(*problem, HasSubstr("lowercase"));
}

TEST(NamespaceName, OtherCharactersRejected) {
  for (std::string_view name : {"team.one", "team/one", "team one", "team:one", "team@one", "teamé"}) {
    auto problem = namespace_name_problem(name);
    ASSERT_TRUE(problem.has_value()) << name;
    EXPECT_THAT(*problem, HasSubstr(single_quoted(name)));
  }
}

TEST(NamespaceName, DotAndSlashNamed) {
  auto dot = namespace_name_problem("team.one");
  ASSERT_TRUE(dot.has_value());
  EXPECT_THAT(*dot, HasSubstr("contains '.'"));

  auto slash = namespace_name_problem("team/one");
  ASSERT_TRUE(slash.has_value());
  EXPECT_THAT(*slash, HasSubstr("contains '/'"));
}

TEST(NamespaceName, SeparatorAtEitherEndRejected) {
  for (std::string_view name : {"-team", "team-", "_team", "team_", "-tm-", "_tm_"}) {
    auto problem = namespace_name_problem(name);
    ASSERT_TRUE(problem.has_value()) << name;
    EXPECT_THAT(*problem, HasSubstr(single_quoted(name)));
    EXPECT_THAT(*problem, HasSubstr("starts and ends"));
  }
}

TEST(NamespaceName, ValidNames) {
  for (std::string_view name : {"team", "1234", "0000", "team-one", "team_one", "team--one", "team__one", "a-b_c",
                                "x1y2", "abcdefghijklmnopqrstuvwxyz0123"}) {
    EXPECT_EQ(namespace_name_problem(name), std::nullopt) << name;
  }
}

// "_" and "__" are the only underscore separators of the repository
// grammar, and "-" may not touch "_", so "team___one" and "team_-one"
// could hold no repository and are rejected as namespace names.
TEST(NamespaceName, EveryValidNameStartsValidRepository) {
  for (std::string_view name : {"team___one", "team_-one", "team-_one", "team____one"}) {
    EXPECT_FALSE(oci::is_valid_repository_name(std::string(name) + "/app")) << name;
    auto problem = namespace_name_problem(name);
    ASSERT_TRUE(problem.has_value()) << name;
    EXPECT_THAT(*problem, ::testing::HasSubstr(std::string(name))) << name;
  }
}

TEST(NamespaceOf, FirstComponent) {
  EXPECT_EQ(namespace_of("team/app"), "team");
  EXPECT_EQ(namespace_of("team/group/app"), "team");
  EXPECT_EQ(namespace_of("team"), "team");
  EXPECT_EQ(namespace_of(""), "");
  EXPECT_EQ(namespace_of("/app"), "");
}

TEST(LoginLimiter, BelowLimitMayTry) {
  LoginLimiter limiter(3, 60);

  EXPECT_EQ(limiter.retry_after("client", 1000), 0);
  limiter.record_failure("client", 1000);
  EXPECT_EQ(limiter.retry_after("client", 1000), 0);
  limiter.record_failure("client", 1001);
  EXPECT_EQ(limiter.retry_after("client", 1001), 0);
}

TEST(LoginLimiter, AtLimitWaitsForOldestFailure) {
  LoginLimiter limiter(3, 60);
  limiter.record_failure("client", 1000);
  limiter.record_failure("client", 1010);
  limiter.record_failure("client", 1020);

  // The failure at 1000 leaves the window at 1060.
  EXPECT_EQ(limiter.retry_after("client", 1020), 40);
  EXPECT_EQ(limiter.retry_after("client", 1030), 30);
  EXPECT_EQ(limiter.retry_after("client", 1059), 1);
}

TEST(LoginLimiter, WindowExpiry) {
  LoginLimiter limiter(3, 60);
  limiter.record_failure("client", 1000);
  limiter.record_failure("client", 1010);
  limiter.record_failure("client", 1020);

  EXPECT_EQ(limiter.retry_after("client", 1060), 0);

  // Two failures remain in the window, so one more reaches the limit
  // again, and then the failure at 1010 is the oldest.
  limiter.record_failure("client", 1061);
  EXPECT_EQ(limiter.retry_after("client", 1061), 9);
  EXPECT_EQ(limiter.retry_after("client", 1070), 0);
  EXPECT_EQ(limiter.retry_after("client", 5000), 0);
}

TEST(LoginLimiter, OldFailuresDoNotCount) {
  LoginLimiter limiter(2, 60);
  limiter.record_failure("client", 1000);
  limiter.record_failure("client", 1100);

  EXPECT_EQ(limiter.retry_after("client", 1100), 0);
}

TEST(LoginLimiter, KeysIndependent) {
  LoginLimiter limiter(2, 60);
  limiter.record_failure("10.0.0.1", 1000);
  limiter.record_failure("10.0.0.1", 1001);
  limiter.record_failure("10.0.0.2", 1001);

  EXPECT_EQ(limiter.retry_after("10.0.0.1", 1001), 59);
  EXPECT_EQ(limiter.retry_after("10.0.0.2", 1001), 0);
  EXPECT_EQ(limiter.retry_after("User-1", 1001), 0);
}

TEST(LoginLimiter, ManyFailuresOneSecondApart) {
  LoginLimiter limiter(5, 60);
  for (std::int64_t t = 1000; t < 11000; ++t) limiter.record_failure("client", t);

  // Only the newest five failures matter: 10995 to 10999.
  EXPECT_EQ(limiter.retry_after("client", 10999), 56);
  EXPECT_EQ(limiter.retry_after("client", 11054), 1);
  EXPECT_EQ(limiter.retry_after("client", 11055), 0);
}

TEST(LoginLimiter, ManyFailuresInSameSecond) {
  LoginLimiter limiter(5, 60);
  for (int i = 0; i < 10000; ++i) limiter.record_failure("client", 2000);

  EXPECT_EQ(limiter.retry_after("client", 2000), 60);
  EXPECT_EQ(limiter.retry_after("client", 2059), 1);
  EXPECT_EQ(limiter.retry_after("client", 2060), 0);

  // After the window the key starts from nothing.
  limiter.record_failure("client", 2060);
  EXPECT_EQ(limiter.retry_after("client", 2060), 0);
}

TEST(LoginLimiter, ExpiredKeysDoNotAffectOthers) {
  LoginLimiter limiter(1, 60);
  for (int i = 0; i < 1000; ++i) limiter.record_failure("client-" + std::to_string(i), 1000);

  limiter.record_failure("late", 2000);
  EXPECT_EQ(limiter.retry_after("late", 2000), 60);
  EXPECT_EQ(limiter.retry_after("client-0", 2000), 0);
  EXPECT_EQ(limiter.retry_after("client-999", 2000), 0);
}

TEST(LoginLimiter, ZeroMaxFailuresNeverRejects) {
  LoginLimiter limiter(0, 60);
  limiter.record_failure("client", 1000);

  EXPECT_EQ(limiter.retry_after("client", 1000), 0);
}

}  // namespace
}  // namespace berth::auth
