#include "auth/tokens.h"

#include "core/random.h"
#include "core/time.h"

#include <algorithm>

namespace berth::auth {

using nlohmann::json;

namespace {

// Accepted difference between the clocks of nodes, in seconds.
constexpr std::int64_t kClockLeeway = 60;

// The "kind" claim separates access tokens from refresh tokens, so one
// can never be used as the other.
constexpr std::string_view kAccessKind = "access";
constexpr std::string_view kRefreshKind = "refresh";

std::string string_claim(const json& claims, const char* name) {
  auto it = claims.find(name);
  return it != claims.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

bool AccessClaims::allows(std::string_view type, std::string_view name, std::string_view action) const {
  for (const auto& scope : access) {
    if (scope.type != type || scope.name != name) continue;
    for (const auto& granted : scope.actions) {
      if (granted == action || granted == "*") return true;
    }
  }
  return false;
}

TokenService::TokenService(KeySet keys, TokenSettings settings) : keys_(std::move(keys)), settings_(std::move(settings)) {}

IssuedToken TokenService::issue_access(const Principal* principal, const std::vector<ResourceScope>& access) const {
  std::int64_t now = core::unix_now();
  json grants = json::array();
  for (const auto& scope : access) {
    grants.push_back({{"type", scope.type}, {"name", scope.name}, {"actions", scope.actions}});
  }
  json claims = {{"iss", settings_.issuer},
                 {"sub", principal ? principal->identity.id : ""},
                 {"aud", settings_.service},
                 {"iat", now},
                 {"nbf", now},
                 {"exp", now + settings_.lifetime_seconds},
                 {"jti", core::random_uuid()},
                 {"kind", kAccessKind},
                 {"access", grants}};
  if (principal) {
    claims["account"] = principal->identity.account_id;
    claims["key"] = principal->api_key_id;
  }
  return IssuedToken{.token = encode_jwt(claims, keys_), .issued_at = now, .expires_in = settings_.lifetime_seconds};
}

std::string TokenService::issue_refresh(const Principal& principal) const {
  std::int64_t now = core::unix_now();
  json claims = {{"iss", settings_.issuer},
                 {"sub", principal.identity.id},
                 {"aud", settings_.service},
                 {"iat", now},
                 {"nbf", now},
                 {"exp", now + settings_.refresh_lifetime_seconds},
                 {"jti", core::random_uuid()},
                 {"kind", kRefreshKind},
                 {"key", principal.api_key_id}};
  return encode_jwt(claims, keys_);
}

std::optional<std::string> TokenService::check_common(const json& claims, std::string_view kind) const {
  if (string_claim(claims, "kind") != kind) return kind == kAccessKind ? "not an access token" : "not a refresh token";
  if (string_claim(claims, "iss") != settings_.issuer) return "issued by another issuer";
  if (string_claim(claims, "aud") != settings_.service) return "issued for another service";
  auto exp = claims.find("exp");
  auto nbf = claims.find("nbf");
  if (exp == claims.end() || !exp->is_number_integer()) return "no expiry time";
  std::int64_t now = core::unix_now();
  if (exp->get<std::int64_t>() + kClockLeeway <= now) return "expired";
  if (nbf != claims.end() && nbf->is_number_integer() && nbf->get<std::int64_t>() - kClockLeeway > now) {
    return "not valid yet";
  }
  return std::nullopt;
}

std::optional<AccessClaims> TokenService::verify_access(std::string_view token, std::string* problem) const {
  std::string key(token);
  {
    std::lock_guard<std::mutex> lock(verified_mutex_);
    auto it = verified_.find(key);
    if (it != verified_.end()) {
      if (it->second.expires_at + kClockLeeway > core::unix_now()) return it->second;
      *problem = "expired";
      return std::nullopt;
    }
  }

  auto claims = decode_access(token, problem);
  if (!claims) return std::nullopt;

  std::lock_guard<std::mutex> lock(verified_mutex_);
  if (verified_.emplace(key, *claims).second) {
    verified_order_.push_back(std::move(key));
    if (verified_order_.size() > kVerifiedCacheEntries) {
      verified_.erase(verified_order_.front());
      verified_order_.pop_front();
    }
  }
  return claims;
}

std::optional<AccessClaims> TokenService::decode_access(std::string_view token, std::string* problem) const {
  auto claims = decode_jwt(token, keys_, problem);
  if (!claims) return std::nullopt;
  if (auto reason = check_common(*claims, kAccessKind)) {
    *problem = *reason;
    return std::nullopt;
  }

  AccessClaims result{.subject = string_claim(*claims, "sub"),
                      .account_id = string_claim(*claims, "account"),
                      .api_key_id = string_claim(*claims, "key"),
                      .expires_at = claims->at("exp").get<std::int64_t>()};
  auto access = claims->find("access");
  if (access != claims->end() && access->is_array()) {
    for (const auto& entry : *access) {
      if (!entry.is_object()) continue;
      ResourceScope scope{.type = string_claim(entry, "type"), .name = string_claim(entry, "name")};
      auto actions = entry.find("actions");
      if (actions != entry.end() && actions->is_array()) {
        for (const auto& action : *actions) {
          if (action.is_string()) scope.actions.push_back(action.get<std::string>());
        }
      }
      result.access.push_back(std::move(scope));
    }
  }
  if (!result.is_anonymous() && (result.account_id.empty() || result.api_key_id.empty())) {
    *problem = "the token names no account or key";
    return std::nullopt;
  }
  return result;
}

std::optional<RefreshClaims> TokenService::verify_refresh(std::string_view token, std::string* problem) const {
  auto claims = decode_jwt(token, keys_, problem);
  if (!claims) return std::nullopt;
  if (auto reason = check_common(*claims, kRefreshKind)) {
    *problem = *reason;
    return std::nullopt;
  }
  RefreshClaims result{.subject = string_claim(*claims, "sub"), .api_key_id = string_claim(*claims, "key")};
  if (result.subject.empty() || result.api_key_id.empty()) {
    *problem = "the token names no identity or key";
    return std::nullopt;
  }
  return result;
}

}  // namespace berth::auth
