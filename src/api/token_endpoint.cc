#include "api/token_endpoint.h"

#include "api/json_response.h"
#include "auth/audit.h"
#include "core/error.h"
#include "core/time.h"

#include <nlohmann/json.hpp>

namespace berth::api {

using core::Error;
using core::ErrorCode;
using http::beast_http::field;
using http::beast_http::verb;
using nlohmann::json;

namespace {

// A token request form is a few hundred bytes; anything much larger is not one.
constexpr std::size_t kMaxFormBytes = 64 * 1024;

}  // namespace

void TokenEndpoint::handle(http::Exchange& exchange) {
  if (exchange.method() == verb::get) return get_token(exchange);
  if (exchange.method() == verb::post) return post_token(exchange);
  throw Error(ErrorCode::kUnsupported, std::string(exchange.method_name()) + " is not supported on /oauth/token; allowed: GET, POST")
      .with_status(405)
      .with_header("Allow", "GET, POST");
}

void TokenEndpoint::get_token(http::Exchange& exchange) {
  Caller caller = gate_.identify(exchange, /*fresh=*/true);
  std::optional<auth::Principal> principal = gate_.principal_of(caller);
  if (caller.token && !caller.token->is_anonymous() && !principal) {
    throw Error(ErrorCode::kUnauthorized, "the API key behind this token was deleted; log in again");
  }
  bool offline = exchange.query().get("offline_token").value_or("") == "true";
  respond(exchange, principal, exchange.query().get_all("scope"), offline && principal.has_value(), false);
}

void TokenEndpoint::post_token(http::Exchange& exchange) {
  auto body = exchange.read_body_up_to(kMaxFormBytes);
  if (!body) throw Error(ErrorCode::kUnsupported, "the token request form is larger than 64 KiB").with_status(400);
  http::Query form(*body);

  std::string grant_type = form.get("grant_type").value_or("");
  std::optional<auth::Principal> principal;
  if (grant_type == "password") {
    auto user = form.get("username");
    auto password = form.get("password");
    if (!user || !password) {
      throw Error(ErrorCode::kUnsupported, "grant_type=password needs the fields username and password").with_status(400);
    }
    principal = gate_.login(exchange, *user, *password);
  } else if (grant_type == "refresh_token") {
    auto refresh = form.get("refresh_token");
    if (!refresh) {
      throw Error(ErrorCode::kUnsupported, "grant_type=refresh_token needs the field refresh_token").with_status(400);
    }
    gate_.check_lockout(exchange, "");
    std::string problem;
    auto claims = gate_.tokens().verify_refresh(*refresh, &problem);
    if (claims) principal = gate_.access().principal_for_key(claims->subject, claims->api_key_id);
    if (!principal) {
      gate_.record_login_failure(exchange, claims ? "revoked_key" : "invalid_refresh_token",
                                 claims ? claims->subject : "");
      throw Error(ErrorCode::kUnauthorized,
                  "the refresh token is not valid (" + (claims ? std::string("its API key was deleted") : problem) +
                      "); log in again");
    }
  } else {
    throw Error(ErrorCode::kUnsupported, "unsupported grant_type '" + grant_type +
                                             "'; use \"password\" or \"refresh_token\"")
        .with_status(400);
  }

  std::vector<std::string> scopes;
  if (auto scope = form.get("scope")) scopes.push_back(*scope);
  bool offline = form.get("access_type").value_or("") == "offline";
  respond(exchange, principal, scopes, offline, true);
}

void TokenEndpoint::respond(http::Exchange& exchange, const std::optional<auth::Principal>& principal,
                            const std::vector<std::string>& scope_values, bool with_refresh, bool oauth) {
  const auth::Principal* authenticated = principal ? &*principal : nullptr;
  std::vector<auth::ResourceScope> granted = gate_.access().grant(authenticated, auth::parse_scopes(scope_values));
  auth::IssuedToken issued = gate_.tokens().issue_access(authenticated, granted);

  std::string scope_text;
  for (const auto& scope : granted) {
    if (!scope_text.empty()) scope_text += ' ';
    scope_text += auth::format_scope(scope);
  }
  json body = {{"token", issued.token},
               {"access_token", issued.token},
               {"expires_in", issued.expires_in},
               {"issued_at", core::format_rfc3339(issued.issued_at)}};
  if (oauth) body["scope"] = scope_text;
  if (with_refresh && authenticated) body["refresh_token"] = gate_.tokens().issue_refresh(*authenticated);

  if (authenticated) {
    auth::audit("login_succeeded", {{"identity", authenticated->identity.id},
                                    {"account", authenticated->identity.account_id},
                                    {"api_key", authenticated->api_key_id},
                                    {"scope", scope_text},
                                    {"client", AccessGate::client_address(exchange)},
                                    {"request_id", exchange.request_id()}});
  }

  // Tokens are credentials, so no cache may keep them.
  http::Response response = json_response(200, body);
  response.headers.set(field::cache_control, "no-store");
  exchange.send(std::move(response));
}

}  // namespace berth::api
