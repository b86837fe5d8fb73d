// The token endpoint of the Docker registry token specification,
// /oauth/token: GET with Basic credentials and "scope" parameters, and the
// OAuth2 POST form with grant_type "password" or "refresh_token".
#pragma once

#include "api/access_gate.h"
#include "http/exchange.h"

namespace berth::api {

class TokenEndpoint {
 public:
  explicit TokenEndpoint(AccessGate& gate) : gate_(gate) {}

  void handle(http::Exchange& exchange);

 private:
  void get_token(http::Exchange& exchange);
  void post_token(http::Exchange& exchange);
  // Issues a token with the part of `scopes` the principal may use and
  // sends it; `oauth` selects the POST response form.
  void respond(http::Exchange& exchange, const std::optional<auth::Principal>& principal,
               const std::vector<std::string>& scope_values, bool with_refresh, bool oauth);

  AccessGate& gate_;
};

}  // namespace berth::api
