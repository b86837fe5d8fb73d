// Top-level request routing: /v2/ to the registry API, /oauth/token to the
// token endpoint, /api/v1/ and /va/api/v4/ to the management API, /healthz and /readyz to
// health checks, /metrics to the Prometheus text exposition, anything else
// to a 404 in the registry's error format.
#pragma once

#include "api/management_api.h"
#include "api/registry_api.h"
#include "api/token_endpoint.h"
#include "http/exchange.h"

#include <functional>
#include <string>

namespace berth::api {

class Router {
 public:
  // `metrics` returns the text that /metrics serves; without it /metrics
  // is not found.
  Router(RegistryApi& registry, TokenEndpoint& tokens, ManagementApi& management,
         std::function<std::string()> metrics = {})
      : registry_(registry), tokens_(tokens), management_(management), metrics_(std::move(metrics)) {}
  void handle(http::Exchange& exchange);

 private:
  RegistryApi& registry_;
  TokenEndpoint& tokens_;
  ManagementApi& management_;
  std::function<std::string()> metrics_;
};

}  // namespace berth::api
