#include "api/router.h"

#include "core/error.h"

namespace berth::api {

void Router::handle(http::Exchange& exchange) {
  std::string_view path = exchange.path();
  if (path == "/v2" || path.starts_with("/v2/")) {
    registry_.handle(exchange);
    return;
  }
  if (path == "/oauth/token") {
    tokens_.handle(exchange);
    return;
  }
  if (path.starts_with("/api/v1/") || path.starts_with("/va/api/v4/")) {
    management_.handle(exchange);
    return;
  }
  if (path == "/healthz" || path == "/readyz") {
    http::Response response;
    response.headers.set(http::beast_http::field::content_type, "application/json");
    response.body = R"({"status":"ok"})";
    exchange.send(std::move(response));
    return;
  }
  if (path == "/metrics" && metrics_) {
    http::Response response;
    response.headers.set(http::beast_http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    response.body = metrics_();
    exchange.send(std::move(response));
    return;
  }
  throw core::Error(core::ErrorCode::kUnsupported, "no endpoint matches " + std::string(exchange.method_name()) + " " +
                                                       std::string(path) + "; the registry API is under /v2/ and the management API under /api/v1/")
      .with_status(404);
}

}  // namespace berth::api
