#include "cli/client.h"

#include "cli/output.h"

#include <curl/curl.h>

#include <cctype>

#include <memory>
#include <mutex>

namespace berth::cli {

using nlohmann::json;

namespace {

std::size_t append_body(char* data, std::size_t size, std::size_t count, void* target) {
  static_cast<std::string*>(target)->append(data, size * count);
  return size * count;
}

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

json ApiResponse::json() const {
  auto parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded()) {
    throw Failure("The registry returned a body that is not JSON (HTTP " + std::to_string(status) +
                  "). Check that the region's API endpoint points at a Berth registry.");
  }
  return parsed;
}

ApiClient::ApiClient(Region region, std::string api_key) : region_(std::move(region)), api_key_(std::move(api_key)) {
  init_curl_once();
}

std::string ApiClient::escape(std::string_view text) {
  std::string out;
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

ApiResponse ApiClient::send(const std::string& method, const std::string& path, const Query& query,
                            const std::string& body, const Headers& extra_headers) {
  std::string url = region_.api_endpoint;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += path;
  for (std::size_t i = 0; i < query.size(); ++i) {
    url += (i == 0 ? '?' : '&');
    url += escape(query[i].first) + "=" + escape(query[i].second);
  }

  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) throw Failure("Cannot start an HTTP client (libcurl failed to initialize).");
  ApiResponse response;
  char error_text[CURL_ERROR_SIZE] = {0};
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(nullptr, &curl_slist_free_all);
  auto add_header = [&](const std::string& header) {
    headers.reset(curl_slist_append(headers.release(), header.c_str()));
  };
  add_header("Accept: application/json");
  if (!body.empty()) add_header("Content-Type: application/json");
  for (const auto& [name, value] : extra_headers) add_header(name + ": " + value);
  CURL* handle = curl.get();
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "HEAD") curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    curl_easy_setopt(handle, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  if (!api_key_.empty()) {
    curl_easy_setopt(handle, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(handle, CURLOPT_USERNAME, "iamapikey");
    curl_easy_setopt(handle, CURLOPT_PASSWORD, api_key_.c_str());
  }
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(handle, CURLOPT_USERAGENT, "berth/" BERTH_VERSION);
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_text);
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(handle, CURLOPT_TIMEOUT, 600L);
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);

  CURLcode result;
  {
    Spinner spinner("Waiting for " + region_.api_endpoint);
    result = curl_easy_perform(handle);
  }
  if (result != CURLE_OK) {
    std::string reason = error_text[0] ? error_text : curl_easy_strerror(result);
    if (reason.find("wrong version number") != std::string::npos && url.starts_with("https://")) {
      throw Failure("Could not reach the registry API at '" + region_.api_endpoint + "': " + reason +
                    ". The server seems to speak plain HTTP; set the region's endpoint with 'berth region-add " +
                    region_.name + " --domain " + region_.domain + " --api-endpoint http://" + region_.domain + "'.");
    }
    throw Failure("Could not reach the registry API at '" + region_.api_endpoint + "': " + reason +
                  ". Check that berthd is running there, or run 'berth region-set' to target another region.");
  }
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &response.status);
  char* content_type = nullptr;
  curl_easy_getinfo(handle, CURLINFO_CONTENT_TYPE, &content_type);
  if (content_type) response.content_type = content_type;
  return response;
}

ApiResponse ApiClient::call(const std::string& method, const std::string& path, const Query& query,
                            const std::string& body, const Headers& headers) {
  ApiResponse response = send(method, path, query, body, headers);
  if (response.status < 200 || response.status >= 300) throw Failure(describe_error(response, region_));
  return response;
}

json ApiClient::get_json(const std::string& path, const Query& query) { return call("GET", path, query).json(); }

std::string describe_error(const ApiResponse& response, const Region& region) {
  std::string message;
  auto parsed = json::parse(response.body, nullptr, false);
  if (!parsed.is_discarded() && parsed.is_object()) {
    auto errors = parsed.find("errors");
    if (errors != parsed.end() && errors->is_array() && !errors->empty() && (*errors)[0].is_object()) {
      message = (*errors)[0].value("message", "");
    }
  }
  if (message.empty()) message = "The registry returned HTTP " + std::to_string(response.status) + ".";
  if (!message.empty() && message.back() != '.') message += '.';
  switch (response.status) {
    case 401:
      // The server's text speaks to container clients; berth's own advice fits better.
      return "The API key was not accepted by '" + region.domain +
             "'. Run 'berth login --apikey KEY' with a valid key, or set BERTH_APIKEY.";
    case 403:
      // Only the generic denial needs a hint; the others name the roles or the next step.
      if (message == "You are not authorized to access the specified resource.") {
        return message + " Ask a Manager of the account for a role that allows it (see 'berth policy-add --help').";
      }
      return message;
    case 429:
      return message + " Wait a minute and try again.";
    default:
      return message;
  }
}

}  // namespace berth::cli
