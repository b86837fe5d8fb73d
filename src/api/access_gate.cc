#include "api/access_gate.h"

#include "auth/audit.h"
#include "auth/credentials.h"
#include "core/error.h"
#include "core/time.h"

#include <openssl/evp.h>

namespace berth::api {

using core::Error;
using core::ErrorCode;

namespace {

constexpr std::string_view kLoginHint = "log in with the user name iamapikey and an API key as the password";

// Decodes standard base64 (Basic credentials); nullopt if malformed.
std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                               reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (length < 0) return std::nullopt;
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') ++padding;
  if (text.size() > 1 && text[text.size() - 2] == '=') ++padding;
  out.resize(static_cast<std::size_t>(length) - padding);
  return out;
}

// Splits "Scheme credentials"; the scheme is compared without case.
bool has_scheme(std::string_view header, std::string_view scheme) {
  if (header.size() <= scheme.size() || header[scheme.size()] != ' ') return false;
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != std::tolower(static_cast<unsigned char>(scheme[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

std::string join_actions(std::initializer_list<std::string_view> actions) {
  std::string text;
  for (auto action : actions) {
    if (!text.empty()) text += ',';
    text += action;
  }
  return text;
}

}  // namespace

std::string Caller::identity_id() const {
  if (principal) return principal->identity.id;
  return token ? token->subject : std::string();
}

std::string Caller::account_id() const {
  if (principal) return principal->identity.account_id;
  return token ? token->account_id : std::string();
}

AccessGate::AccessGate(auth::AccessControl& access, const auth::TokenService& tokens, AuthSettings settings)
    : access_(access),
      tokens_(tokens),
      settings_(std::move(settings)),
      limiter_(settings_.failed_login_limit, settings_.failed_login_window_seconds) {}

std::string AccessGate::client_address(const http::Exchange& exchange) {
  const std::string& address = exchange.remote_address();
  std::size_t colon = address.rfind(':');
  if (colon == std::string::npos) return address;
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return host;
}

std::string AccessGate::challenge(http::Exchange& exchange, const std::string& scope, std::string_view error) const {
  std::string realm = settings_.realm;
  if (realm.empty()) {
    std::string_view host = exchange.header("X-Forwarded-Host");
    if (host.empty()) host = exchange.header("Host");
    std::string_view proto = exchange.header("X-Forwarded-Proto");
    std::string scheme = !proto.empty() ? std::string(proto) : (settings_.tls ? "https" : "http");
    realm = scheme + "://" + std::string(host) + "/oauth/token";
  }
  std::string value = "Bearer realm=\"" + realm + "\",service=\"" + tokens_.settings().service + "\"";
  if (!scope.empty()) value += ",scope=\"" + scope + "\"";
  if (!error.empty()) value += ",error=\"" + std::string(error) + "\"";
  return value;
}

void AccessGate::check_lockout(http::Exchange& exchange, const std::string& identity) {
  std::int64_t now = core::unix_now();
  std::int64_t wait = limiter_.retry_after("address:" + client_address(exchange), now);
  if (!identity.empty()) wait = std::max(wait, limiter_.retry_after("identity:" + identity, now));
  if (wait <= 0) return;
  throw Error(ErrorCode::kTooManyRequests, "too many failed logins from this client; try again in " +
                                               std::to_string(wait) + " seconds")
      .with_header("Retry-After", std::to_string(wait));
}

void AccessGate::record_login_failure(http::Exchange& exchange, std::string_view reason, const std::string& identity) {
  std::int64_t now = core::unix_now();
  std::string client = client_address(exchange);
  limiter_.record_failure("address:" + client, now);
  if (!identity.empty()) limiter_.record_failure("identity:" + identity, now);
  auth::audit("login_failed", {{"reason", reason},
                               {"identity", identity},
                               {"client", client},
                               {"request_id", exchange.request_id()}});
}

std::optional<auth::Principal> AccessGate::principal_from_bearer_password(http::Exchange& exchange,
                                                                          std::string_view token) {
  std::string problem;
  auto claims = tokens_.verify_access(token, &problem);
  if (!claims || claims->is_anonymous()) {
    record_login_failure(exchange, "invalid_token", claims ? claims->subject : "");
    return std::nullopt;
  }
  auto principal = access_.principal_for_key(claims->subject, claims->api_key_id);
  if (!principal) record_login_failure(exchange, "revoked_key", claims->subject);
  return principal;
}

Caller AccessGate::identify(http::Exchange& exchange, bool fresh) {
  std::string_view header = trim(exchange.header("Authorization"));
  if (header.empty()) return {};

  auto unauthorized = [&](const std::string& message, std::string_view error = {}) -> Error {
    Error failure(ErrorCode::kUnauthorized, message);
    failure.with_header("WWW-Authenticate", challenge(exchange, "", error));
    return failure;
  };

  if (has_scheme(header, "Bearer")) {
    std::string problem;
    auto claims = tokens_.verify_access(trim(header.substr(7)), &problem);
    if (!claims) {
      throw unauthorized("the bearer token is not valid (" + problem + "); get a new token from the token endpoint",
                         "invalid_token");
    }
    return Caller{.token = std::move(*claims)};
  }

  if (!has_scheme(header, "Basic")) {
    throw unauthorized("unsupported Authorization scheme; " + std::string(kLoginHint));
  }
  auto decoded = base64_decode(trim(header.substr(6)));
  std::size_t colon = decoded ? decoded->find(':') : std::string::npos;
  if (colon == std::string::npos) throw unauthorized("malformed Basic credentials; " + std::string(kLoginHint));
  std::string user = decoded->substr(0, colon);
  std::string_view password = std::string_view(*decoded).substr(colon + 1);

  return Caller{.principal = login(exchange, user, password, fresh)};
}

auth::Principal AccessGate::login(http::Exchange& exchange, const std::string& user, std::string_view password,
                                  bool fresh) {
  auto unauthorized = [&](const std::string& message) -> Error {
    Error failure(ErrorCode::kUnauthorized, message);
    failure.with_header("WWW-Authenticate", challenge(exchange, ""));
    return failure;
  };

  check_lockout(exchange, "");
  if (user == kApiKeyUser) {
    auto principal = access_.principal_for_api_key(password, !fresh);
    if (!principal) {
      record_login_failure(exchange, "unknown_api_key", "");
      throw unauthorized("the API key is not valid: it is mistyped or was deleted; " + std::string(kLoginHint));
    }
    return *principal;
  }
  if (user == kBearerUser) {
    auto principal = principal_from_bearer_password(exchange, password);
    if (!principal) throw unauthorized("the token given as the iambearer password is not valid or has expired");
    return *principal;
  }
  record_login_failure(exchange, "unknown_user", "");
  throw unauthorized("unknown user name '" + user + "'; " + std::string(kLoginHint));
}

std::optional<auth::Principal> AccessGate::principal_of(const Caller& caller) {
  if (caller.principal) return caller.principal;
  if (!caller.token || caller.token->is_anonymous()) return std::nullopt;
  return access_.principal_for_key(caller.token->subject, caller.token->api_key_id);
}

void AccessGate::require_identity(http::Exchange& exchange, const Caller& caller, bool accept_anonymous_token) {
  if (caller.authenticated() || (accept_anonymous_token && caller.token)) return;
  throw Error(ErrorCode::kUnauthorized, "authentication required: " + std::string(kLoginHint))
      .with_header("WWW-Authenticate", challenge(exchange, ""));
}

bool AccessGate::token_allows(const auth::AccessClaims& token, const std::string& repository,
                              std::string_view action) {
  if (!token.allows("repository", repository, action)) return false;
  // The token was issued while the caller's account owned the namespace.
  // Checking the owner again means a token that outlives a deleted
  // namespace cannot reach the account that takes the name next.
  auto ns = access_.find_namespace(std::string(auth::namespace_of(repository)));
  if (!ns) return false;
  if (ns->is_public && action == "pull") return true;
  return !token.is_anonymous() && ns->account_id == token.account_id;
}

void AccessGate::require_repository(http::Exchange& exchange, const Caller& caller, const std::string& repository,
                                    std::initializer_list<std::string_view> actions) {
  std::string scope = "repository:" + repository + ":" + join_actions(actions);

  if (caller.token) {
    bool covered = true;
    for (auto action : actions) covered = covered && token_allows(*caller.token, repository, action);
    if (covered) return;

    // The token does not cover the request. When the identity's policies
    // allow it, a 401 challenge makes the client fetch a token for this
    // scope. Otherwise the client gets the final 403.
    std::optional<auth::Principal> principal = principal_of(caller);
    if (!caller.token->is_anonymous() && !principal) {
      throw Error(ErrorCode::kUnauthorized, "the API key behind this token was deleted; log in again")
          .with_header("WWW-Authenticate", challenge(exchange, scope, "invalid_token"));
    }
    for (auto action : actions) {
      auth::Verdict verdict = access_.check_repository(principal ? &*principal : nullptr, repository,
                                                       *auth::registry_action(action));
      if (verdict != auth::Verdict::kAllowed) {
        deny(exchange, caller, repository, *auth::registry_action(action), verdict, scope);
      }
    }
    throw Error(ErrorCode::kUnauthorized, "the token does not grant " + scope + "; get a token for this scope")
        .with_header("WWW-Authenticate", challenge(exchange, scope, "insufficient_scope"));
  }

  const auth::Principal* principal = caller.principal ? &*caller.principal : nullptr;
  for (auto action : actions) {
    auth::Action needed = *auth::registry_action(action);
    auth::Verdict verdict = access_.check_repository(principal, repository, needed);
    if (verdict != auth::Verdict::kAllowed) deny(exchange, caller, repository, needed, verdict, scope);
  }
}

void AccessGate::require_action(http::Exchange& exchange, const auth::Principal& principal,
                                const std::string& repository, auth::Action action) {
  auth::Verdict verdict = access_.check_repository(&principal, repository, action);
  if (verdict == auth::Verdict::kAllowed) return;
  std::string scope = "repository:" + repository + ":" + std::string(auth::action_name(action));
  deny(exchange, Caller{.principal = principal}, repository, action, verdict, scope);
}

void AccessGate::deny(http::Exchange& exchange, const Caller& caller, const std::string& repository,
                      auth::Action needed, auth::Verdict verdict, const std::string& scope) {
  if (verdict == auth::Verdict::kUnauthenticated) {
    throw Error(ErrorCode::kUnauthorized, "authentication required: " + std::string(kLoginHint))
        .with_header("WWW-Authenticate", challenge(exchange, scope));
  }

  std::string ns(auth::namespace_of(repository));
  std::string reason = "namespace_missing";
  if (verdict != auth::Verdict::kNamespaceMissing) {
    auto record = access_.store().find_namespace(ns);
    reason = record && record->account_id == caller.account_id() ? "role_missing" : "other_account";
  }
  auth::audit("access_denied", {{"reason", reason},
                                {"identity", caller.identity_id()},
                                {"account", caller.account_id()},
                                {"scope", scope},
                                {"client", client_address(exchange)},
                                {"request_id", exchange.request_id()}});

  if (verdict == auth::Verdict::kNamespaceMissing) {
    throw Error(ErrorCode::kDenied, "The namespace '" + ns +
                                        "' does not exist. A Manager of your account can create it with "
                                        "'berth namespace-add " +
                                        ns + "' (or PUT /api/v1/namespaces/" + ns +
                                        "), then try again.",
                {{"namespace", ns}});
  }
  if (reason == "other_account") throw Error(ErrorCode::kDenied, std::string(kDeniedMessage));

  // Within the caller's own account, say which roles would allow it.
  std::vector<std::string_view> allowing;
  for (auth::Role role : {auth::Role::kReader, auth::Role::kWriter, auth::Role::kManager}) {
    if (auth::role_allows(role, needed)) allowing.push_back(auth::role_name(role));
  }
  std::string roles;
  for (std::size_t i = 0; i < allowing.size(); ++i) {
    if (i > 0) roles += i + 1 == allowing.size() ? " or " : ", ";
    roles += allowing[i];
  }
  throw Error(ErrorCode::kDenied, std::string(kDeniedMessage) + " The action " +
                                      std::string(auth::action_name(needed)) + " on namespace '" + ns + "' needs the " +
                                      roles + " role on that namespace or on the account.",
              {{"namespace", ns}, {"action", auth::action_name(needed)}});
}

bool AccessGate::may_pull(const Caller& caller, const std::string& repository) {
  if (caller.token) {
    return token_allows(*caller.token, repository, "pull");
  }
  const auth::Principal* principal = caller.principal ? &*caller.principal : nullptr;
  return access_.check_repository(principal, repository, auth::Action::kImagePull) == auth::Verdict::kAllowed;
}

auth::Principal AccessGate::require_catalog(http::Exchange& exchange, const Caller& caller) {
  const std::string scope = "registry:catalog:*";
  if (caller.token && !caller.token->allows("registry", "catalog", "*")) {
    throw Error(ErrorCode::kUnauthorized, "the token does not grant " + scope + "; get a token for this scope")
        .with_header("WWW-Authenticate", challenge(exchange, scope, "insufficient_scope"));
  }
  auto principal = principal_of(caller);
  if (!principal) {
    throw Error(ErrorCode::kUnauthorized, "authentication required: " + std::string(kLoginHint))
        .with_header("WWW-Authenticate", challenge(exchange, scope));
  }
  return *principal;
}

}  // namespace berth::api
