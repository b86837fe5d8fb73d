// Registry tokens: JWTs signed with ES256 whose "access" claim lists what
// the holder may do (the Docker registry token specification), and the
// refresh tokens that docker keeps after a login.
#pragma once

#include "auth/access_control.h"
#include "auth/jwt.h"
#include "auth/scope.h"

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace berth::auth {

struct TokenSettings {
  std::string issuer = "berth";
  std::string service = "registry";  // the "aud" claim and the challenge's service
  std::int64_t lifetime_seconds = 900;
  std::int64_t refresh_lifetime_seconds = 30 * 24 * 3600;
};

// The verified claims of an access token.
struct AccessClaims {
  std::string subject;     // identity id; empty for an anonymous token
  std::string account_id;  // empty for an anonymous token
  std::string api_key_id;
  std::vector<ResourceScope> access;
  std::int64_t expires_at = 0;

  bool is_anonymous() const { return subject.empty(); }
  // True if the token grants `action` (or "*") on the resource.
  bool allows(std::string_view type, std::string_view name, std::string_view action) const;
};

// The verified claims of a refresh token.
struct RefreshClaims {
  std::string subject;
  std::string api_key_id;
};

struct IssuedToken {
  std::string token;
  std::int64_t issued_at = 0;
  std::int64_t expires_in = 0;
};

class TokenService {
 public:
  TokenService(KeySet keys, TokenSettings settings);

  const TokenSettings& settings() const { return settings_; }

  // An access token for `principal` (anonymous when null) with `access`,
  // which the caller has already narrowed to what the principal may do.
  IssuedToken issue_access(const Principal* principal, const std::vector<ResourceScope>& access) const;
  std::string issue_refresh(const Principal& principal) const;

  // Each returns nullopt and sets *problem when the token is malformed,
  // signed by an unknown key, tampered with, of the other kind, for another
  // service or issuer, or outside its validity period.
  std::optional<AccessClaims> verify_access(std::string_view token, std::string* problem) const;
  std::optional<RefreshClaims> verify_refresh(std::string_view token, std::string* problem) const;

 private:
  // Checks the claims every token carries; returns the reason if invalid.
  std::optional<std::string> check_common(const nlohmann::json& claims, std::string_view kind) const;
  std::optional<AccessClaims> decode_access(std::string_view token, std::string* problem) const;

  KeySet keys_;
  TokenSettings settings_;

  // Access tokens whose signature was verified, so that a client sending
  // the same token on every request pays for one ECDSA verification, not
  // one per request. Tokens never change, so an entry stays true until the
  // token expires, which lookups check.
  static constexpr std::size_t kVerifiedCacheEntries = 4096;
  mutable std::mutex verified_mutex_;
  mutable std::unordered_map<std::string, AccessClaims> verified_;
  mutable std::deque<std::string> verified_order_;  // oldest first, for eviction
};

}  // namespace berth::auth
