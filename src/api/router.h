// Top-level request routing: /v2/ to the registry API, /healthz and
// /readyz to health checks, anything else to a 404 in the registry's error
// format.
#pragma once

#include "api/registry_api.h"
#include "http/exchange.h"

namespace berth::api {

class Router {
 public:
  explicit Router(RegistryApi& registry) : registry_(registry) {}
  void handle(http::Exchange& exchange);

 private:
  RegistryApi& registry_;
};

}  // namespace berth::api
