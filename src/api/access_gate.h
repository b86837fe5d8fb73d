// Authentication and authorization of HTTP requests. The gate reads the
// credentials a request carries: an API key in Basic auth, or a Berth token
// as Bearer or in Basic auth as "iambearer". It raises the registry's 401,
// 403 and 429 errors with the challenges clients need to log in.
#pragma once

#include "auth/access_control.h"
#include "auth/login_limiter.h"
#include "auth/tokens.h"
#include "http/exchange.h"

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::api {

// User names of Basic credentials, as in IBM Cloud Container Registry.
inline constexpr std::string_view kApiKeyUser = "iamapikey";
inline constexpr std::string_view kBearerUser = "iambearer";

// The hosted registry's text for a 403 DENIED.
inline constexpr std::string_view kDeniedMessage = "You are not authorized to access the specified resource.";

struct AuthSettings {
  // Absolute URL of the token endpoint for challenges; empty: built from
  // the request's Host (or X-Forwarded-Host and X-Forwarded-Proto).
  std::string realm;
  bool tls = false;
  std::size_t failed_login_limit = 10;
  std::int64_t failed_login_window_seconds = 60;
};

// The sender of a request. An API key yields a principal at once. A token
// yields its claims, and the principal is loaded only when a decision
// needs the identity's policies.
struct Caller {
  std::optional<auth::Principal> principal;
  std::optional<auth::AccessClaims> token;

  bool authenticated() const { return principal || (token && !token->is_anonymous()); }
  std::string identity_id() const;
  std::string account_id() const;
};

class AccessGate {
 public:
  AccessGate(auth::AccessControl& access, const auth::TokenService& tokens, AuthSettings settings);

  auth::AccessControl& access() { return access_; }
  const auth::TokenService& tokens() const { return tokens_; }

  // Reads the request's credentials. Anonymous requests get an empty
  // Caller. Throws 401 UNAUTHORIZED for credentials that are not valid and
  // 429 TOOMANYREQUESTS while the client or identity is locked out.
  // With `fresh`, API keys are looked up in the database even when a
  // recent lookup is cached (token logins).
  Caller identify(http::Exchange& exchange, bool fresh = false);

  // Checks Basic-style credentials: user "iamapikey" with an API key, or
  // "iambearer" with a token Berth issued. Throws like identify().
  auth::Principal login(http::Exchange& exchange, const std::string& user, std::string_view password,
                        bool fresh = true);

  // The principal behind a caller, loading it for token callers; nullopt
  // for anonymous callers and for tokens whose key was deleted.
  std::optional<auth::Principal> principal_of(const Caller& caller);

  // Throws 401 with a challenge unless the caller is authenticated (any
  // valid token, even an anonymous one, when `accept_anonymous_token`).
  void require_identity(http::Exchange& exchange, const Caller& caller, bool accept_anonymous_token);

  // Throws unless the caller may do every registry action ("pull", "push",
  // "delete") on the repository. The error is 401 with a challenge for this
  // scope when a new token would help. It is 403 DENIED when the identity
  // lacks the role, or the namespace is missing or another account's.
  void require_repository(http::Exchange& exchange, const Caller& caller, const std::string& repository,
                          std::initializer_list<std::string_view> actions);
  // Throws 403 DENIED, with the same messages as require_repository,
  // unless the principal's policies allow `action` on the repository's
  // namespace (the management API's image endpoints).
  void require_action(http::Exchange& exchange, const auth::Principal& principal, const std::string& repository,
                      auth::Action action);
  // True if the caller may pull from the repository (cross-repository
  // mounts, which fall back to an upload instead of failing).
  bool may_pull(const Caller& caller, const std::string& repository);

  // Throws 401 with a challenge for registry:catalog:* unless a principal
  // may read the catalog; returns the principal.
  auth::Principal require_catalog(http::Exchange& exchange, const Caller& caller);

  // Checks a failed or successful login for rate limiting and the audit
  // log. `identity` is empty when the credentials named none.
  void check_lockout(http::Exchange& exchange, const std::string& identity);
  void record_login_failure(http::Exchange& exchange, std::string_view reason, const std::string& identity);

  // The challenge for 401 responses, with `scope` when not empty.
  std::string challenge(http::Exchange& exchange, const std::string& scope, std::string_view error = {}) const;

  // The client's address without its port.
  static std::string client_address(const http::Exchange& exchange);

 private:
  bool token_allows(const auth::AccessClaims& token, const std::string& repository, std::string_view action);
  [[noreturn]] void deny(http::Exchange& exchange, const Caller& caller, const std::string& repository,
                         auth::Action needed, auth::Verdict verdict, const std::string& scope);
  std::optional<auth::Principal> principal_from_bearer_password(http::Exchange& exchange, std::string_view token);

  auth::AccessControl& access_;
  const auth::TokenService& tokens_;
  AuthSettings settings_;
  auth::LoginLimiter limiter_;
};

}  // namespace berth::api
