// Top-level request routing: /v2/ to the registry API, /oauth/token to the
// token endpoint, /api/v1/ to the management API, /healthz and /readyz to
// health checks, anything else to a 404 in the registry's error format.
#pragma once

#include "api/management_api.h"
#include "api/registry_api.h"
#include "api/token_endpoint.h"
#include "http/exchange.h"

namespace berth::api {

class Router {
 public:
  Router(RegistryApi& registry, TokenEndpoint& tokens, ManagementApi& management)
      : registry_(registry), tokens_(tokens), management_(management) {}
  void handle(http::Exchange& exchange);

 private:
  RegistryApi& registry_;
  TokenEndpoint& tokens_;
  ManagementApi& management_;
};

}  // namespace berth::api
