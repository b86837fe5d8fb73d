#include "storage/s3_client.h"

#include "core/error.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iterator>
#include <random>
#include <thread>

namespace berth::storage {

using core::InternalError;

namespace {

// Attempts per request. With the delays below a request gives up after
// about 3 seconds of waiting, which rides out a restarting gateway or a
// short SlowDown burst without holding a registry request for long.
constexpr int kMaxAttempts = 5;
constexpr std::chrono::milliseconds kFirstRetryDelay{100};
constexpr std::chrono::milliseconds kMaxRetryDelay{2000};

// The smallest and largest part S3 accepts in a multipart upload (all
// but the last part), and the longest validity of a presigned URL.
constexpr std::uint64_t kMinPartSize = 5ull * 1024 * 1024;
constexpr std::uint64_t kMaxPartSize = 5ull * 1024 * 1024 * 1024;
constexpr std::int64_t kMaxPresignSeconds = 7 * 24 * 3600;

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return std::string(text);
}

std::string hex(const unsigned char* data, std::size_t size) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0xf];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw InternalError("SHA-256 failed in OpenSSL");
  }
  return hex(digest, length);
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
           data.size(), out, &length) == nullptr) {
    throw InternalError("HMAC-SHA256 failed in OpenSSL");
  }
  return std::string(reinterpret_cast<char*>(out), length);
}

std::string md5_base64(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_md5(), nullptr) != 1) {
    throw InternalError("MD5 failed in OpenSSL");
  }
  unsigned char encoded[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  int size = EVP_EncodeBlock(encoded, digest, static_cast<int>(length));
  return std::string(reinterpret_cast<char*>(encoded), static_cast<std::size_t>(size));
}

// "20240102T030405Z" and "20240102" for `when`.
std::pair<std::string, std::string> amz_dates(std::time_t when) {
  std::tm utc{};
  ::gmtime_r(&when, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
  return {stamp, std::string(stamp, 8)};
}

// The five entities that XML predefines.
constexpr std::pair<char, std::string_view> kXmlEntities[] = {
    {'&', "amp"}, {'<', "lt"}, {'>', "gt"}, {'"', "quot"}, {'\'', "apos"}};

std::string escape_xml(std::string_view text) {
  std::string out;
  for (char c : text) {
    auto entity = std::find_if(std::begin(kXmlEntities), std::end(kXmlEntities),
                               [c](const auto& candidate) { return candidate.first == c; });
    if (entity == std::end(kXmlEntities)) {
      out += c;
    } else {
      out += '&';
      out += entity->second;
      out += ';';
    }
  }
  return out;
}

// Appends code point `code` to `out` as UTF-8.
void append_utf8(unsigned long code, std::string& out) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xc0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3f));
  } else if (code < 0x10000) {
    out += static_cast<char>(0xe0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (code & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (code >> 18));
    out += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (code & 0x3f));
  }
}

// Decodes the predefined entities and numeric character references
// (&#34; &#x22;). Anything else after '&' is kept as it is.
std::string decode_xml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    std::size_t end = text[i] == '&' ? text.find(';', i) : std::string_view::npos;
    if (end == std::string_view::npos) {
      out += text[i];
      continue;
    }
    std::string_view entity = text.substr(i + 1, end - i - 1);
    auto named = std::find_if(std::begin(kXmlEntities), std::end(kXmlEntities),
                              [entity](const auto& candidate) { return candidate.second == entity; });
    if (named != std::end(kXmlEntities)) {
      out += named->first;
    } else if (entity.size() > 1 && entity[0] == '#') {
      bool is_hex = entity[1] == 'x' || entity[1] == 'X';
      std::string digits(entity.substr(is_hex ? 2 : 1));
      append_utf8(std::strtoul(digits.c_str(), nullptr, is_hex ? 16 : 10), out);
    } else {
      out += text.substr(i, end - i + 1);
    }
    i = end;
  }
  return out;
}

// Parses the ISO 8601 times of S3 listings ("2024-01-02T03:04:05.678Z").
std::int64_t parse_iso_time(const std::string& text) {
  std::tm utc{};
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d", &utc.tm_year, &utc.tm_mon, &utc.tm_mday, &utc.tm_hour,
                  &utc.tm_min, &utc.tm_sec) != 6) {
    throw InternalError("S3 listing has an invalid time \"" + text + "\"");
  }
  utc.tm_year -= 1900;
  utc.tm_mon -= 1;
  return static_cast<std::int64_t>(::timegm(&utc));
}

std::string canonical_query(std::vector<std::pair<std::string, std::string>> query) {
  for (auto& [name, value] : query) {
    name = s3_uri_encode(name, false);
    value = s3_uri_encode(value, false);
  }
  std::sort(query.begin(), query.end());
  std::string out;
  for (const auto& [name, value] : query) {
    if (!out.empty()) out += '&';
    out += name + "=" + value;
  }
  return out;
}

bool retryable_code(const std::string& code) {
  return code == "SlowDown" || code == "InternalError" || code == "ServiceUnavailable" || code == "RequestTimeout" ||
         code == "Throttling" || code == "ThrottlingException";
}

// True if the root element of `body` is <Error>.
bool is_error_document(std::string_view body) {
  std::size_t at = 0;
  if (body.starts_with("<?xml")) at = body.find("?>") == std::string_view::npos ? body.size() : body.find("?>") + 2;
  while (at < body.size() && std::isspace(static_cast<unsigned char>(body[at]))) ++at;
  return body.substr(at).starts_with("<Error>");
}

bool retryable_curl_code(CURLcode code) {
  switch (code) {
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_NOT_BUILT_IN:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
      return false;
    default:
      return true;
  }
}

std::size_t collect_body(char* data, std::size_t size, std::size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

std::size_t collect_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string_view line(data, size * count);
  // A new status line (after "100 Continue", say) starts a new header set.
  if (line.starts_with("HTTP/")) {
    headers->clear();
  } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
    (*headers)[lower(std::string(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  }
  return size * count;
}

}  // namespace

std::string s3_uri_encode(std::string_view text, bool keep_slash) {
  static const char digits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 0xf];
    }
  }
  return out;
}

std::vector<std::string_view> xml_elements(std::string_view xml, std::string_view tag) {
  std::vector<std::string_view> out;
  std::string open = "<" + std::string(tag) + ">";
  std::string close = "</" + std::string(tag) + ">";
  std::size_t at = 0;
  while ((at = xml.find(open, at)) != std::string_view::npos) {
    std::size_t start = at + open.size();
    std::size_t end = xml.find(close, start);
    if (end == std::string_view::npos) break;
    out.push_back(xml.substr(start, end - start));
    at = end + close.size();
  }
  return out;
}

std::string xml_text(std::string_view xml, std::string_view tag) {
  auto elements = xml_elements(xml, tag);
  return elements.empty() ? "" : decode_xml(elements.front());
}

std::string S3Response::header(const std::string& name) const {
  auto found = headers.find(name);
  return found == headers.end() ? "" : found->second;
}

S3Options resolve_s3_options(S3Options options) {
  if (options.endpoint.empty()) options.endpoint = environment("AWS_ENDPOINT_URL");
  if (options.region.empty()) options.region = environment("AWS_REGION");
  if (options.region.empty()) options.region = "us-east-1";
  if (options.access_key.empty() && options.secret_key.empty()) {
    options.access_key = environment("AWS_ACCESS_KEY_ID");
    options.secret_key = environment("AWS_SECRET_ACCESS_KEY");
  }
  if (options.endpoint.empty()) {
    throw InternalError("the S3 endpoint is not set: set storage.s3.endpoint or AWS_ENDPOINT_URL to the server's URL");
  }
  if (!options.endpoint.starts_with("http://") && !options.endpoint.starts_with("https://")) {
    throw InternalError("the S3 endpoint \"" + options.endpoint + "\" is not an http:// or https:// URL");
  }
  if (options.bucket.empty()) throw InternalError("the S3 bucket is not set: set storage.s3.bucket");
  if (options.access_key.empty() || options.secret_key.empty()) {
    throw InternalError("S3 credentials are not set: set storage.s3.access_key and storage.s3.secret_key, or "
                        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  }
  if (options.part_size < kMinPartSize || options.part_size > kMaxPartSize) {
    throw InternalError("the S3 part size " + std::to_string(options.part_size) +
                        " is outside what S3 accepts; choose 5 MiB (5242880) to 5 GiB");
  }
  if (options.presign_seconds < 0 || options.presign_seconds > kMaxPresignSeconds) {
    throw InternalError("presigned URLs must be valid for 0 to 604800 seconds, not " +
                        std::to_string(options.presign_seconds));
  }
  return options;
}

S3Client::S3Client(S3Options options) : options_(std::move(options)) {
  static std::once_flag curl_initialized;
  std::call_once(curl_initialized, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });

  std::string_view endpoint = options_.endpoint;
  std::size_t scheme_end = endpoint.find("://");
  scheme_ = std::string(endpoint.substr(0, scheme_end));
  std::string_view rest = endpoint.substr(scheme_end + 3);
  std::size_t slash = rest.find('/');
  host_ = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) base_path_ = std::string(rest.substr(slash));
  while (!base_path_.empty() && base_path_.back() == '/') base_path_.pop_back();
  if (!options_.path_style) host_ = options_.bucket + "." + host_;
}

S3Client::~S3Client() {
  for (CURL* handle : idle_handles_) curl_easy_cleanup(handle);
}

std::string S3Client::url_for(const std::string& key, const std::string& query) const {
  std::string path = base_path_;
  if (options_.path_style) path += "/" + s3_uri_encode(options_.bucket, false);
  if (!key.empty() || !options_.path_style) path += "/" + s3_uri_encode(key, true);
  return scheme_ + "://" + host_ + path + (query.empty() ? "" : "?" + query);
}

std::string S3Client::copy_source(const std::string& key) const {
  return "/" + s3_uri_encode(options_.bucket, false) + "/" + s3_uri_encode(key, true);
}

CURL* S3Client::acquire_handle() {
  {
    std::lock_guard<std::mutex> lock(handles_mutex_);
    if (!idle_handles_.empty()) {
      CURL* handle = idle_handles_.back();
      idle_handles_.pop_back();
      return handle;
    }
  }
  CURL* handle = curl_easy_init();
  if (handle == nullptr) throw InternalError("cannot create a libcurl handle for S3 requests");
  return handle;
}

void S3Client::release_handle(CURL* handle) {
  std::lock_guard<std::mutex> lock(handles_mutex_);
  idle_handles_.push_back(handle);
}

S3Client::Attempt S3Client::attempt(const S3Request& request, const std::string& url) {
  CURL* handle = acquire_handle();
  // Resetting keeps the handle's open connections, which is why handles
  // are pooled.
  curl_easy_reset(handle);

  Attempt result;
  result.response.body.reserve(request.expected_body_size);
  struct curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
  for (const auto& header : request.headers) headers = curl_slist_append(headers, header.c_str());

  std::string signature_scope = "aws:amz:" + options_.region + ":s3";
  char error_buffer[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(handle, CURLOPT_AWS_SIGV4, signature_scope.c_str());
  curl_easy_setopt(handle, CURLOPT_USERNAME, options_.access_key.c_str());
  curl_easy_setopt(handle, CURLOPT_PASSWORD, options_.secret_key.c_str());
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  // A transfer that moves less than 1 KiB/s for a minute has stalled.
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, collect_body);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &result.response.body);
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, collect_header);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &result.response.headers);

  if (request.method == "HEAD") {
    curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT" || request.method == "POST") {
    // Also for empty bodies: S3 rejects a PUT without Content-Length.
    curl_easy_setopt(handle, CURLOPT_POSTFIELDS, request.body.empty() ? "" : request.body.data());
    curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  } else if (request.method != "GET") {
    curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  result.curl_code = curl_easy_perform(handle);
  if (result.curl_code == CURLE_OK) {
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &result.response.status);
  } else {
    result.curl_error = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(result.curl_code);
  }
  curl_slist_free_all(headers);
  // A handle whose transfer failed may hold a broken connection; libcurl
  // notices that on reuse, so it goes back to the pool either way.
  release_handle(handle);
  return result;
}

std::optional<S3Client::Failure> S3Client::check_attempt(const S3Request& request, const Attempt& attempt) {
  Failure failure;
  if (attempt.curl_code != CURLE_OK) {
    failure.code = "connection error";
    failure.message = attempt.curl_error;
    failure.retryable = retryable_curl_code(attempt.curl_code);
    return failure;
  }

  const S3Response& response = attempt.response;
  bool success = response.status >= 200 && response.status < 300;
  if (success && request.error_in_body && is_error_document(response.body)) {
    // The server failed after it had sent 200 (see S3Request).
    success = false;
  }
  bool accepted =
      std::find(request.accepted.begin(), request.accepted.end(), response.status) != request.accepted.end();
  if (success || accepted) return std::nullopt;

  failure.code = xml_text(response.body, "Code");
  failure.message = xml_text(response.body, "Message");
  if (failure.code.empty()) failure.code = "HTTP " + std::to_string(response.status);
  failure.request_id = response.header("x-amz-request-id");
  if (failure.request_id.empty()) failure.request_id = xml_text(response.body, "RequestId");
  failure.retryable = response.status >= 500 || response.status == 429 || retryable_code(failure.code);
  return failure;
}

std::string S3Client::failure_text(const S3Request& request, long status, const Failure& failure, int attempts) const {
  std::string text = "S3 " + request.method + " of key \"" + request.key + "\" in bucket \"" + options_.bucket +
                     "\" at " + options_.endpoint + " failed";
  if (status == 0) {
    text += ": " + failure.message;
  } else {
    text += " with HTTP " + std::to_string(status) + " " + failure.code;
    if (!failure.message.empty()) text += " (" + failure.message + ")";
  }
  if (!failure.request_id.empty()) text += ", request id " + failure.request_id;
  if (attempts > 1) text += ", after " + std::to_string(attempts) + " attempts";

  if (failure.code == "SignatureDoesNotMatch" || failure.code == "InvalidAccessKeyId" || status == 403) {
    text += "; check the S3 access key and secret key and the bucket's permissions";
  } else if (failure.code == "NoSuchBucket") {
    text += "; create the bucket or correct storage.s3.bucket";
  } else if (request.method == "HEAD" && failure.code.starts_with("HTTP ")) {
    text += " (a HEAD response carries no S3 error code)";
  }
  return text;
}

S3Response S3Client::perform(const S3Request& request) {
  std::string url = url_for(request.key, canonical_query(request.query));
  std::chrono::milliseconds delay = kFirstRetryDelay;
  thread_local std::minstd_rand jitter(std::random_device{}());

  for (int attempt_number = 1;; ++attempt_number) {
    Attempt result = attempt(request, url);
    long status = result.response.status;
    auto failure = check_attempt(request, result);
    if (!failure) return std::move(result.response);

    if (failure->retryable && attempt_number < kMaxAttempts) {
      auto wait = std::chrono::milliseconds(std::uniform_int_distribution<long>(delay.count() / 2, delay.count())(jitter));
      spdlog::warn("s3_request_retry method={} bucket={} key={} status={} code=\"{}\" request_id={} attempt={} "
                   "delay_ms={} message=\"{}\"",
                   request.method, options_.bucket, request.key, status, failure->code, failure->request_id,
                   attempt_number, wait.count(), failure->message);
      std::this_thread::sleep_for(wait);
      delay = std::min(delay * 2, kMaxRetryDelay);
      continue;
    }

    spdlog::error("s3_request_failed method={} bucket={} key={} status={} code=\"{}\" request_id={} attempts={} "
                  "message=\"{}\"",
                  request.method, options_.bucket, request.key, status, failure->code, failure->request_id,
                  attempt_number, failure->message);
    throw InternalError(failure_text(request, status, *failure, attempt_number));
  }
}

std::vector<S3Object> S3Client::list_objects(const std::string& prefix, const std::string& delimiter,
                                             std::vector<std::string>* common_prefixes, int page_size) {
  std::vector<S3Object> out;
  std::string token;
  while (true) {
    S3Request request{.method = "GET"};
    request.query = {{"list-type", "2"}, {"prefix", prefix}, {"max-keys", std::to_string(page_size)}};
    if (!delimiter.empty()) request.query.emplace_back("delimiter", delimiter);
    if (!token.empty()) request.query.emplace_back("continuation-token", token);
    S3Response response = perform(request);

    for (std::string_view entry : xml_elements(response.body, "Contents")) {
      out.push_back(S3Object{.key = xml_text(entry, "Key"),
                             .size = std::strtoull(xml_text(entry, "Size").c_str(), nullptr, 10),
                             .last_modified = parse_iso_time(xml_text(entry, "LastModified"))});
    }
    if (common_prefixes != nullptr) {
      for (std::string_view entry : xml_elements(response.body, "CommonPrefixes")) {
        common_prefixes->push_back(xml_text(entry, "Prefix"));
      }
    }
    if (xml_text(response.body, "IsTruncated") != "true") return out;
    token = xml_text(response.body, "NextContinuationToken");
    if (token.empty()) throw InternalError("S3 listing of \"" + prefix + "\" is truncated but has no continuation token");
  }
}

std::vector<S3MultipartUpload> S3Client::list_multipart_uploads(const std::string& prefix, const std::string& delimiter,
                                                                std::vector<std::string>* common_prefixes) {
  std::vector<S3MultipartUpload> out;
  std::string key_marker;
  std::string upload_id_marker;
  while (true) {
    S3Request request{.method = "GET"};
    request.query = {{"uploads", ""}, {"prefix", prefix}};
    if (!delimiter.empty()) request.query.emplace_back("delimiter", delimiter);
    if (!key_marker.empty()) {
      request.query.emplace_back("key-marker", key_marker);
      request.query.emplace_back("upload-id-marker", upload_id_marker);
    }
    S3Response response = perform(request);

    for (std::string_view entry : xml_elements(response.body, "Upload")) {
      out.push_back(S3MultipartUpload{.key = xml_text(entry, "Key"),
                                      .upload_id = xml_text(entry, "UploadId"),
                                      .initiated = parse_iso_time(xml_text(entry, "Initiated"))});
    }
    if (common_prefixes != nullptr) {
      for (std::string_view entry : xml_elements(response.body, "CommonPrefixes")) {
        common_prefixes->push_back(xml_text(entry, "Prefix"));
      }
    }
    if (xml_text(response.body, "IsTruncated") != "true") return out;
    key_marker = xml_text(response.body, "NextKeyMarker");
    upload_id_marker = xml_text(response.body, "NextUploadIdMarker");
    if (key_marker.empty()) {
      throw InternalError("S3 listing of multipart uploads under \"" + prefix + "\" is truncated but has no marker");
    }
  }
}

void S3Client::delete_objects(const std::vector<std::string>& keys) {
  constexpr std::size_t kMaxKeysPerRequest = 1000;
  for (std::size_t first = 0; first < keys.size(); first += kMaxKeysPerRequest) {
    std::string body = "<Delete><Quiet>true</Quiet>";
    for (std::size_t i = first; i < std::min(keys.size(), first + kMaxKeysPerRequest); ++i) {
      body += "<Object><Key>" + escape_xml(keys[i]) + "</Key></Object>";
    }
    body += "</Delete>";
    S3Request request{.method = "POST", .key = "", .query = {{"delete", ""}}};
    // DeleteObjects requires Content-MD5.
    request.headers = {"Content-Type: application/xml", "Content-MD5: " + md5_base64(body)};
    request.body = body;
    S3Response response = perform(request);
    // Quiet mode lists only the keys that failed.
    auto errors = xml_elements(response.body, "Error");
    if (!errors.empty()) {
      std::string key = xml_text(errors.front(), "Key");
      std::string code = xml_text(errors.front(), "Code");
      spdlog::error("s3_delete_failed bucket={} key={} code=\"{}\" failed_keys={} request_id={}", options_.bucket, key,
                    code, errors.size(), response.header("x-amz-request-id"));
      throw InternalError("S3 DeleteObjects in bucket \"" + options_.bucket + "\" failed for " +
                          std::to_string(errors.size()) + " keys, the first \"" + key + "\" with " + code);
    }
  }
}

std::string S3Client::presign_get(const std::string& key, std::int64_t seconds) const {
  auto [stamp, date] = amz_dates(std::time(nullptr));
  std::string scope = date + "/" + options_.region + "/s3/aws4_request";
  std::string query = canonical_query({{"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
                                       {"X-Amz-Credential", options_.access_key + "/" + scope},
                                       {"X-Amz-Date", stamp},
                                       {"X-Amz-Expires", std::to_string(seconds)},
                                       {"X-Amz-SignedHeaders", "host"}});
  std::string url = url_for(key, query);
  // The canonical URI is the path exactly as the URL carries it.
  std::string path = url.substr(url.find('/', scheme_.size() + 3));
  path = path.substr(0, path.find('?'));

  std::string canonical_request =
      "GET\n" + path + "\n" + query + "\nhost:" + host_ + "\n\nhost\nUNSIGNED-PAYLOAD";
  std::string string_to_sign = "AWS4-HMAC-SHA256\n" + stamp + "\n" + scope + "\n" + sha256_hex(canonical_request);
  std::string key_date = hmac_sha256("AWS4" + options_.secret_key, date);
  std::string key_region = hmac_sha256(key_date, options_.region);
  std::string key_service = hmac_sha256(key_region, "s3");
  std::string signing_key = hmac_sha256(key_service, "aws4_request");
  std::string signature = hmac_sha256(signing_key, string_to_sign);
  return url + "&X-Amz-Signature=" +
         hex(reinterpret_cast<const unsigned char*>(signature.data()), signature.size());
}

}  // namespace berth::storage
