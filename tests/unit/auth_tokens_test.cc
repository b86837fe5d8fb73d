// Access and refresh tokens of TokenService: what they carry and which
// tokens verification rejects. Tokens with chosen times or claims are
// built with encode_jwt and the service's own keys.
#include "auth/tokens.h"

#include "core/time.h"

#include <gmock/gmock.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace berth::auth {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// The clock leeway of TokenService (kClockLeeway in tokens.cc), in seconds.
constexpr std::int64_t kLeeway = 60;

Principal test_principal() {
  return Principal{.identity = metadata::IdentityRecord{.id = "User-0b9d2c6e-3c1f-4c57-9a55-0d7a1ad8e2b1",
                                                        .account_id = std::string(32, 'a'),
                                                        .kind = metadata::IdentityKind::kUser,
                                                        .name = "alice"},
                   .api_key_id = "ApiKey-5f0e4a8c-3a41-4f3b-8d0c-1b2c3d4e5f60"};
}

ResourceScope scope_of(std::string type, std::string name, std::vector<std::string> actions) {
  return ResourceScope{.type = std::move(type), .name = std::move(name), .actions = std::move(actions)};
}

class TokenServiceTest : public ::testing::Test {
 protected:
  TokenServiceTest() : keys_(SigningKey::generate()), service_(keys_, TokenSettings{}) {}

  // Claims of an access token for `principal` as issue_access writes them,
  // valid now. Tests change one claim at a time.
  json access_claims(const Principal& principal) const {
    std::int64_t now = core::unix_now();
    return json{{"iss", "berth"},
                {"sub", principal.identity.id},
                {"aud", "registry"},
                {"iat", now},
                {"nbf", now},
                {"exp", now + 900},
                {"jti", "5b2f3a9e-9f7e-4c0e-8c55-2f4d1e6a7b80"},
                {"kind", "access"},
                {"account", principal.identity.account_id},
                {"key", principal.api_key_id},
                {"access", json::array({{{"type", "repository"}, {"name", "team/app"}, {"actions", {"pull"}}}})}};
  }

  json refresh_claims(const Principal& principal) const {
    std::int64_t now = core::unix_now();
    return json{{"iss", "berth"},
                {"sub", principal.identity.id},
                {"aud", "registry"},
                {"iat", now},
                {"nbf", now},
                {"exp", now + 3600},
                {"jti", "9a7c1e44-0f3b-4d2a-b6e5-7c8d9e0f1a2b"},
                {"kind", "refresh"},
                {"key", principal.api_key_id}};
  }

  std::string sign(const json& claims) const { return encode_jwt(claims, keys_); }

  // Verifies as an access token and returns the reason for rejecting it,
  // or "accepted".
  std::string access_problem(const std::string& token) const {
    std::string problem;
    return service_.verify_access(token, &problem) ? "accepted" : problem;
  }

  std::string refresh_problem(const std::string& token) const {
    std::string problem;
    return service_.verify_refresh(token, &problem) ? "accepted" : problem;
  }

  KeySet keys_;
  TokenService service_;
};

TEST_F(TokenServiceTest, AccessRoundTripWithPrincipal) {
  Principal principal = test_principal();
  std::vector<ResourceScope> access = {scope_of("repository", "team/app", {"pull", "push"}),
                                       scope_of("registry", "catalog", {"*"})};

  IssuedToken issued = service_.issue_access(&principal, access);
  std::string problem;
  auto claims = service_.verify_access(issued.token, &problem);

  ASSERT_TRUE(claims.has_value()) << problem;
  EXPECT_FALSE(claims->is_anonymous());
  EXPECT_EQ(claims->subject, principal.identity.id);
  EXPECT_EQ(claims->account_id, principal.identity.account_id);
  EXPECT_EQ(claims->api_key_id, principal.api_key_id);
  EXPECT_EQ(claims->access, access);
  EXPECT_EQ(claims->expires_at, issued.issued_at + 900);
}

TEST_F(TokenServiceTest, AccessRoundTripAnonymous) {
  std::vector<ResourceScope> access = {scope_of("repository", "public/app", {"pull"})};

  IssuedToken issued = service_.issue_access(nullptr, access);
  std::string problem;
  auto claims = service_.verify_access(issued.token, &problem);

  ASSERT_TRUE(claims.has_value()) << problem;
  EXPECT_TRUE(claims->is_anonymous());
  EXPECT_EQ(claims->subject, "");
  EXPECT_EQ(claims->account_id, "");
  EXPECT_EQ(claims->api_key_id, "");
  EXPECT_EQ(claims->access, access);
}

TEST_F(TokenServiceTest, AccessRoundTripEmptyAccess) {
  Principal principal = test_principal();

  IssuedToken issued = service_.issue_access(&principal, {});
  std::string problem;
  auto claims = service_.verify_access(issued.token, &problem);

  ASSERT_TRUE(claims.has_value()) << problem;
  EXPECT_THAT(claims->access, IsEmpty());
}

TEST_F(TokenServiceTest, AccessClaimsContent) {
  Principal principal = test_principal();
  std::int64_t before = core::unix_now();

  IssuedToken issued = service_.issue_access(&principal, {scope_of("repository", "team/app", {"pull"})});
  std::int64_t after = core::unix_now();
  std::string problem;
  auto claims = decode_jwt(issued.token, keys_, &problem);

  ASSERT_TRUE(claims.has_value()) << problem;
  EXPECT_EQ(claims->at("iss"), "berth");
  EXPECT_EQ(claims->at("aud"), "registry");
  EXPECT_EQ(claims->at("sub"), principal.identity.id);
  EXPECT_EQ(claims->at("account"), principal.identity.account_id);
  EXPECT_EQ(claims->at("key"), principal.api_key_id);
  EXPECT_EQ(claims->at("kind"), "access");
  EXPECT_TRUE(claims->at("jti").is_string());
  EXPECT_FALSE(claims->at("jti").get<std::string>().empty());

  std::int64_t iat = claims->at("iat").get<std::int64_t>();
  EXPECT_GE(iat, before);
  EXPECT_LE(iat, after);
  EXPECT_EQ(claims->at("nbf").get<std::int64_t>(), iat);
  EXPECT_EQ(claims->at("exp").get<std::int64_t>() - iat, 900);
  EXPECT_EQ(issued.issued_at, iat);
  EXPECT_EQ(issued.expires_in, 900);

  json expected_access =
      json::array({{{"type", "repository"}, {"name", "team/app"}, {"actions", json::array({"pull"})}}});
  EXPECT_EQ(claims->at("access"), expected_access);
}

TEST_F(TokenServiceTest, AnonymousClaimsHaveNoAccountOrKey) {
  IssuedToken issued = service_.issue_access(nullptr, {});
  std::string problem;
  auto claims = decode_jwt(issued.token, keys_, &problem);

  ASSERT_TRUE(claims.has_value()) << problem;
  EXPECT_EQ(claims->at("sub"), "");
  EXPECT_FALSE(claims->contains("account"));
  EXPECT_FALSE(claims->contains("key"));
  EXPECT_EQ(claims->at("access"), json::array());
}

TEST_F(TokenServiceTest, LifetimeFromSettings) {
  TokenService service(keys_, TokenSettings{.lifetime_seconds = 120});
  Principal principal = test_principal();

  IssuedToken issued = service.issue_access(&principal, {});
  auto claims = decode_jwt(issued.token, keys_, nullptr);

  ASSERT_TRUE(claims.has_value());
  EXPECT_EQ(issued.expires_in, 120);
  EXPECT_EQ(claims->at("exp").get<std::int64_t>() - claims->at("iat").get<std::int64_t>(), 120);
}

TEST_F(TokenServiceTest, TokensAreDistinct) {
  Principal principal = test_principal();

  EXPECT_NE(service_.issue_access(&principal, {}).token, service_.issue_access(&principal, {}).token);
  EXPECT_NE(service_.issue_refresh(principal), service_.issue_refresh(principal));
}

TEST_F(TokenServiceTest, HandBuiltClaimsAccepted) {
  // The baseline for the tests that change one claim below.
  EXPECT_EQ(access_problem(sign(access_claims(test_principal()))), "accepted");
  EXPECT_EQ(refresh_problem(sign(refresh_claims(test_principal()))), "accepted");
}

TEST_F(TokenServiceTest, OtherIssuerRejected) {
  TokenService other(keys_, TokenSettings{.issuer = "other-issuer"});
  Principal principal = test_principal();
  std::string problem;

  EXPECT_FALSE(service_.verify_access(other.issue_access(&principal, {}).token, &problem).has_value());
  EXPECT_EQ(problem, "issued by another issuer");
  EXPECT_FALSE(service_.verify_refresh(other.issue_refresh(principal), &problem).has_value());
  EXPECT_EQ(problem, "issued by another issuer");
}

TEST_F(TokenServiceTest, OtherServiceRejected) {
  TokenService other(keys_, TokenSettings{.service = "other-registry"});
  Principal principal = test_principal();
  std::string problem;

  EXPECT_FALSE(service_.verify_access(other.issue_access(&principal, {}).token, &problem).has_value());
  EXPECT_EQ(problem, "issued for another service");
  EXPECT_FALSE(service_.verify_refresh(other.issue_refresh(principal), &problem).has_value());
  EXPECT_EQ(problem, "issued for another service");
}

TEST_F(TokenServiceTest, OtherKeysRejected) {
  TokenService other(KeySet(SigningKey::generate()), TokenSettings{});
  Principal principal = test_principal();
  std::string problem;

  EXPECT_FALSE(service_.verify_access(other.issue_access(&principal, {}).token, &problem).has_value());
  EXPECT_EQ(problem, "unknown key id");
}

TEST_F(TokenServiceTest, AcceptedOldKeyStillVerifies) {
  SigningKey old_key = SigningKey::generate();
  TokenService old_service(KeySet(old_key), TokenSettings{});
  TokenService rotated(KeySet(SigningKey::generate(), {old_key}), TokenSettings{});
  Principal principal = test_principal();
  std::string problem;

  EXPECT_TRUE(rotated.verify_access(old_service.issue_access(&principal, {}).token, &problem).has_value()) << problem;
}

TEST_F(TokenServiceTest, ExpiredRejected) {
  json claims = access_claims(test_principal());
  std::int64_t now = core::unix_now();
  claims["iat"] = now - 1000;
  claims["nbf"] = now - 1000;
  claims["exp"] = now - kLeeway - 1;

  EXPECT_EQ(access_problem(sign(claims)), "expired");
}

TEST_F(TokenServiceTest, ExpiredLongAgoRejected) {
  json claims = access_claims(test_principal());
  claims["iat"] = 1000;
  claims["nbf"] = 1000;
  claims["exp"] = 1900;

  EXPECT_EQ(access_problem(sign(claims)), "expired");
}

TEST_F(TokenServiceTest, ExpiredWithinLeewayAccepted) {
  json claims = access_claims(test_principal());
  std::int64_t now = core::unix_now();
  claims["iat"] = now - 1000;
  claims["nbf"] = now - 1000;
  claims["exp"] = now - kLeeway / 2;

  EXPECT_EQ(access_problem(sign(claims)), "accepted");
}

TEST_F(TokenServiceTest, RefreshExpiredRejected) {
  json claims = refresh_claims(test_principal());
  std::int64_t now = core::unix_now();
  claims["exp"] = now - kLeeway - 1;

  EXPECT_EQ(refresh_problem(sign(claims)), "expired");
}

TEST_F(TokenServiceTest, NotBeforeBeyondLeewayRejected) {
  json claims = access_claims(test_principal());
  std::int64_t now = core::unix_now();
  claims["nbf"] = now + kLeeway + 30;
  claims["exp"] = now + 3600;

  EXPECT_EQ(access_problem(sign(claims)), "not valid yet");
}

TEST_F(TokenServiceTest, NotBeforeWithinLeewayAccepted) {
  json claims = access_claims(test_principal());
  std::int64_t now = core::unix_now();
  claims["nbf"] = now + kLeeway / 2;

  EXPECT_EQ(access_problem(sign(claims)), "accepted");
}

TEST_F(TokenServiceTest, MissingExpiryRejected) {
  json claims = access_claims(test_principal());
  claims.erase("exp");

  EXPECT_EQ(access_problem(sign(claims)), "no expiry time");

  claims["exp"] = "tomorrow";
  EXPECT_EQ(access_problem(sign(claims)), "no expiry time");
}

TEST_F(TokenServiceTest, RefreshUsedAsAccessRejected) {
  std::string refresh = service_.issue_refresh(test_principal());
  std::string problem;

  EXPECT_FALSE(service_.verify_access(refresh, &problem).has_value());
  EXPECT_EQ(problem, "not an access token");
}

TEST_F(TokenServiceTest, AccessUsedAsRefreshRejected) {
  Principal principal = test_principal();
  std::string access = service_.issue_access(&principal, {}).token;
  std::string problem;

  EXPECT_FALSE(service_.verify_refresh(access, &problem).has_value());
  EXPECT_THAT(problem, ::testing::HasSubstr("refresh token"));
}

TEST_F(TokenServiceTest, AccessUsedAsRefreshMessageGrammar) {
  Principal principal = test_principal();

  EXPECT_EQ(refresh_problem(service_.issue_access(&principal, {}).token), "not a refresh token");
}

TEST_F(TokenServiceTest, TokenWithoutKindRejected) {
  json claims = access_claims(test_principal());
  claims.erase("kind");

  EXPECT_EQ(access_problem(sign(claims)), "not an access token");
}

TEST_F(TokenServiceTest, SubjectWithoutAccountRejected) {
  json claims = access_claims(test_principal());
  claims.erase("account");

  EXPECT_EQ(access_problem(sign(claims)), "the token names no account or key");
}

TEST_F(TokenServiceTest, SubjectWithoutKeyRejected) {
  json claims = access_claims(test_principal());
  claims.erase("key");

  EXPECT_EQ(access_problem(sign(claims)), "the token names no account or key");
}

TEST_F(TokenServiceTest, SubjectWithEmptyAccountRejected) {
  json claims = access_claims(test_principal());
  claims["account"] = "";

  EXPECT_EQ(access_problem(sign(claims)), "the token names no account or key");
}

TEST_F(TokenServiceTest, TamperedTokenRejected) {
  Principal principal = test_principal();
  std::string token = service_.issue_access(&principal, {scope_of("repository", "team/app", {"pull"})}).token;

  // Swap the payload for one that grants push, keeping the signature.
  json claims = decode_jwt(token, keys_, nullptr).value();
  claims["access"][0]["actions"] = json::array({"pull", "push"});
  std::string forged_payload = base64url_encode(claims.dump());
  std::size_t first_dot = token.find('.');
  std::size_t second_dot = token.find('.', first_dot + 1);
  std::string forged = token.substr(0, first_dot + 1);
  forged += forged_payload;
  forged += token.substr(second_dot);

  EXPECT_EQ(access_problem(forged), "invalid signature");
}

TEST_F(TokenServiceTest, GarbageRejected) {
  EXPECT_EQ(access_problem(""), "malformed token");
  EXPECT_EQ(access_problem("not-a-token"), "malformed token");
  EXPECT_EQ(refresh_problem("a.b.c"), "malformed token");
}

TEST_F(TokenServiceTest, RefreshRoundTrip) {
  Principal principal = test_principal();

  std::string token = service_.issue_refresh(principal);
  std::string problem;
  auto claims = service_.verify_refresh(token, &problem);

  ASSERT_TRUE(claims.has_value()) << problem;
  EXPECT_EQ(claims->subject, principal.identity.id);
  EXPECT_EQ(claims->api_key_id, principal.api_key_id);
}

TEST_F(TokenServiceTest, RefreshClaimsContent) {
  Principal principal = test_principal();

  auto claims = decode_jwt(service_.issue_refresh(principal), keys_, nullptr);

  ASSERT_TRUE(claims.has_value());
  EXPECT_EQ(claims->at("iss"), "berth");
  EXPECT_EQ(claims->at("aud"), "registry");
  EXPECT_EQ(claims->at("sub"), principal.identity.id);
  EXPECT_EQ(claims->at("key"), principal.api_key_id);
  EXPECT_EQ(claims->at("kind"), "refresh");
  EXPECT_FALSE(claims->contains("access"));
  EXPECT_EQ(claims->at("exp").get<std::int64_t>() - claims->at("iat").get<std::int64_t>(), 30 * 24 * 3600);
}

TEST_F(TokenServiceTest, RefreshWithoutKeyRejected) {
  json claims = refresh_claims(test_principal());
  claims.erase("key");

  EXPECT_EQ(refresh_problem(sign(claims)), "the token names no identity or key");
}

TEST_F(TokenServiceTest, RefreshWithoutSubjectRejected) {
  json claims = refresh_claims(test_principal());
  claims["sub"] = "";

  EXPECT_EQ(refresh_problem(sign(claims)), "the token names no identity or key");
}

TEST(AccessClaimsAllows, ExactActions) {
  AccessClaims claims{.subject = "User-1",
                      .account_id = "acct",
                      .api_key_id = "ApiKey-1",
                      .access = {scope_of("repository", "team/app", {"pull", "push"})}};

  EXPECT_TRUE(claims.allows("repository", "team/app", "pull"));
  EXPECT_TRUE(claims.allows("repository", "team/app", "push"));
  EXPECT_FALSE(claims.allows("repository", "team/app", "delete"));
  EXPECT_FALSE(claims.allows("repository", "team/other", "pull"));
  EXPECT_FALSE(claims.allows("repository", "team", "pull"));
  EXPECT_FALSE(claims.allows("registry", "team/app", "pull"));
}

TEST(AccessClaimsAllows, Wildcard) {
  AccessClaims claims{.access = {scope_of("repository", "team/app", {"*"}), scope_of("registry", "catalog", {"*"})}};

  EXPECT_TRUE(claims.allows("repository", "team/app", "pull"));
  EXPECT_TRUE(claims.allows("repository", "team/app", "push"));
  EXPECT_TRUE(claims.allows("repository", "team/app", "delete"));
  EXPECT_TRUE(claims.allows("registry", "catalog", "*"));
  EXPECT_FALSE(claims.allows("repository", "team/other", "pull"));
}

TEST(AccessClaimsAllows, SeveralScopesForOneName) {
  AccessClaims claims{.access = {scope_of("repository", "team/app", {"pull"}),
                                 scope_of("repository", "team/app", {"delete"})}};

  EXPECT_TRUE(claims.allows("repository", "team/app", "pull"));
  EXPECT_TRUE(claims.allows("repository", "team/app", "delete"));
  EXPECT_FALSE(claims.allows("repository", "team/app", "push"));
}

TEST(AccessClaimsAllows, NoAccess) {
  AccessClaims claims;

  EXPECT_TRUE(claims.is_anonymous());
  EXPECT_FALSE(claims.allows("repository", "team/app", "pull"));
}


// verify_access keeps tokens it verified; the cache must never let a
// changed token through or change what a token grants.
TEST_F(TokenServiceTest, RepeatedVerificationSameClaims) {
  Principal principal = test_principal();
  std::string token = service_.issue_access(&principal, {{"repository", "team/app", {"pull"}}}).token;
  std::string problem;

  auto first = service_.verify_access(token, &problem);
  auto second = service_.verify_access(token, &problem);

  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(first->subject, second->subject);
  EXPECT_EQ(first->access, second->access);
  EXPECT_EQ(first->expires_at, second->expires_at);
}

TEST_F(TokenServiceTest, CachedTokenChangedStillRejected) {
  Principal principal = test_principal();
  std::string token = service_.issue_access(&principal, {{"repository", "team/app", {"pull"}}}).token;
  std::string problem;
  ASSERT_TRUE(service_.verify_access(token, &problem).has_value());

  std::string changed = token;
  changed[changed.size() - 2] = changed[changed.size() - 2] == 'A' ? 'B' : 'A';

  EXPECT_FALSE(service_.verify_access(changed, &problem).has_value());
  EXPECT_FALSE(service_.verify_access(token + "x", &problem).has_value());
  EXPECT_TRUE(service_.verify_access(token, &problem).has_value());
}

TEST_F(TokenServiceTest, CacheEvictionKeepsVerifying) {
  Principal principal = test_principal();
  std::string first = service_.issue_access(&principal, {}).token;
  std::string problem;
  ASSERT_TRUE(service_.verify_access(first, &problem).has_value());
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(service_.verify_access(service_.issue_access(&principal, {}).token, &problem).has_value());
  }

  EXPECT_TRUE(service_.verify_access(first, &problem).has_value());
}

}  // namespace
}  // namespace berth::auth
