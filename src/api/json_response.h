// JSON responses, shared by the registry, token and management endpoints.
#pragma once

#include "http/exchange.h"

#include <nlohmann/json.hpp>

#include <utility>

namespace berth::api {

inline http::Response json_response(int status, const nlohmann::json& body) {
  http::Response response;
  response.status = status;
  response.headers.set(http::beast_http::field::content_type, "application/json");
  response.body = body.dump();
  return response;
}

}  // namespace berth::api
