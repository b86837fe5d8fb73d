// The registry's management API as the CLI calls it: JSON over HTTP with
// the API key as Basic credentials ("iamapikey:<key>"), through libcurl.
#pragma once

#include "cli/config.h"

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace berth::cli {

struct ApiResponse {
  long status = 0;
  std::string content_type;
  std::string body;
  nlohmann::json json() const;  // the body as JSON; Failure if it is not
};

using Query = std::vector<std::pair<std::string, std::string>>;
using Headers = std::vector<std::pair<std::string, std::string>>;

class ApiClient {
 public:
  // `api_key` may be empty for endpoints that need no credentials.
  ApiClient(Region region, std::string api_key);

  // Sends one request to `path` (starting with /api/v1/) and returns the
  // response whatever its status. Throws Failure when the server cannot be
  // reached.
  ApiResponse send(const std::string& method, const std::string& path, const Query& query = {},
                   const std::string& body = {}, const Headers& headers = {});

  // Like send, but throws Failure with the server's message unless the
  // status is 2xx.
  ApiResponse call(const std::string& method, const std::string& path, const Query& query = {},
                   const std::string& body = {}, const Headers& headers = {});
  nlohmann::json get_json(const std::string& path, const Query& query = {});

  const Region& region() const { return region_; }

  // A path segment or query value with every reserved byte escaped.
  static std::string escape(std::string_view text);

 private:
  Region region_;
  std::string api_key_;
};

// The message to show for an error response: the server's own message
// with a hint for the common statuses.
std::string describe_error(const ApiResponse& response, const Region& region);

}  // namespace berth::cli
