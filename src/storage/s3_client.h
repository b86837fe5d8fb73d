// S3Client: signed HTTP requests to an S3 server, with retries.
//
// Requests go through libcurl, which signs them with AWS Signature Version 4
// (CURLOPT_AWS_SIGV4). libcurl 7.88 signs the query string as written and
// does not add x-amz-content-sha256, so this client writes canonical query
// strings itself (keys sorted, values percent-encoded) and sends
// "x-amz-content-sha256: UNSIGNED-PAYLOAD" on every request. Presigned URLs
// are signed here, with OpenSSL, because libcurl cannot make them.
//
// Connections are kept open between requests. NOTE: radosgw 16 delays
// every response with a body by about 40 ms on a kept-open connection
// unless its beast frontend sets tcp_nodelay=1 (Nagle's algorithm meets
// delayed ACKs; measured on loopback: 42-49 ms without, 2 ms with).
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::storage {

// Settings of the S3 driver: the bucket, how to reach it, and part sizes.
// Empty settings fall back to the environment variables of AWS tools.
struct S3Options {
  std::string endpoint;              // "https://host[:port]"; empty: AWS_ENDPOINT_URL
  std::string region = "us-east-1";  // empty: AWS_REGION, else us-east-1
  std::string bucket;
  std::string prefix;                // prepended to every key, such as "registry/"
  bool path_style = true;            // false: https://<bucket>.<host>/<key>
  std::string access_key;            // empty: AWS_ACCESS_KEY_ID
  std::string secret_key;            // empty: AWS_SECRET_ACCESS_KEY
  std::uint64_t part_size = 8 * 1024 * 1024;  // bytes per multipart part, 5 MiB to 5 GiB
  std::int64_t presign_seconds = 0;  // > 0: presigned_url() returns URLs valid this long
};

// The options with the environment fallbacks applied. Throws
// core::InternalError naming the setting when one is missing or invalid.
S3Options resolve_s3_options(S3Options options);

struct S3Response {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case

  // The value of header `name` (lower case), or "" when absent.
  std::string header(const std::string& name) const;
};

struct S3Request {
  std::string method = "GET";
  std::string key;  // object key; empty for a request on the bucket
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::string> headers;  // "Name: value"
  std::string_view body;             // sent with PUT and POST, also when empty
  std::size_t expected_body_size = 0;  // response bytes to reserve room for
  // Statuses that are results, not errors (404 for a HEAD that checks
  // existence, for example). 2xx statuses are always results.
  std::vector<long> accepted;
  // CopyObject, UploadPartCopy and CompleteMultipartUpload can fail after
  // the server sent 200: the error then comes as an <Error> body.
  bool error_in_body = false;
};

// One entry of a ListObjectsV2 result.
struct S3Object {
  std::string key;
  std::uint64_t size = 0;
  std::int64_t last_modified = 0;  // Unix seconds
};

// One entry of a ListMultipartUploads result.
struct S3MultipartUpload {
  std::string key;
  std::string upload_id;
  std::int64_t initiated = 0;  // Unix seconds
};

class S3Client {
 public:
  // `options` must be resolved (resolve_s3_options).
  explicit S3Client(S3Options options);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  const S3Options& options() const { return options_; }

  // Sends `request`, retrying with backoff on connection errors, 5xx,
  // 429 and SlowDown. Returns 2xx responses and those in
  // request.accepted; logs every other outcome with the x-amz-request-id
  // and throws core::InternalError naming the key and the S3 error code.
  S3Response perform(const S3Request& request);

  // Keys under `prefix`, each page `page_size` long. With a delimiter, the
  // keys that continue past it are returned once each as common prefixes
  // in `common_prefixes` (when given) instead.
  std::vector<S3Object> list_objects(const std::string& prefix, const std::string& delimiter = "",
                                     std::vector<std::string>* common_prefixes = nullptr, int page_size = 1000);

  // Multipart uploads in progress under `prefix`; with a delimiter, as for
  // list_objects.
  std::vector<S3MultipartUpload> list_multipart_uploads(const std::string& prefix, const std::string& delimiter = "",
                                                        std::vector<std::string>* common_prefixes = nullptr);

  // Deletes `keys` with DeleteObjects, up to 1000 a request. Keys that do
  // not exist count as deleted.
  void delete_objects(const std::vector<std::string>& keys);

  // A URL for a GET of `key` that needs no credentials for `seconds`
  // (SigV4 query-string signing, host the only signed header).
  std::string presign_get(const std::string& key, std::int64_t seconds) const;

  // The bucket part of copy requests: "/<bucket>/<key>", percent-encoded.
  std::string copy_source(const std::string& key) const;

 private:
  struct Attempt {
    CURLcode curl_code = CURLE_OK;
    std::string curl_error;
    S3Response response;
  };

  // The reason an attempt failed.
  struct Failure {
    std::string code;  // S3 error code, "HTTP <status>" without one, or "connection error"
    std::string message;
    std::string request_id;
    bool retryable = false;
  };

  // Nothing when the attempt's response is a result for `request`.
  static std::optional<Failure> check_attempt(const S3Request& request, const Attempt& attempt);
  // The message of the exception for a request that failed `attempts`
  // times; `status` is 0 after a connection error.
  std::string failure_text(const S3Request& request, long status, const Failure& failure, int attempts) const;

  std::string url_for(const std::string& key, const std::string& query) const;
  Attempt attempt(const S3Request& request, const std::string& url);
  CURL* acquire_handle();
  void release_handle(CURL* handle);

  S3Options options_;
  std::string scheme_;  // "http" or "https"
  std::string host_;    // host[:port] of the endpoint, as the Host header names it
  std::string base_path_;  // path of the endpoint, without a trailing slash
  std::mutex handles_mutex_;
  std::vector<CURL*> idle_handles_;  // kept for their open connections
};

// Percent-encodes `text` as SigV4 canonical requests do: everything but
// A-Z a-z 0-9 - _ . ~ (and '/' when `keep_slash`) becomes %XX in upper case.
std::string s3_uri_encode(std::string_view text, bool keep_slash);

// The raw content of every <tag>...</tag> element in `xml`, in order,
// for reading the children of repeated elements such as <Contents>. S3
// responses carry no attributes, CDATA or nested same-name elements on the
// elements read here, which this relies on.
std::vector<std::string_view> xml_elements(std::string_view xml, std::string_view tag);

// The text of the first <tag> element with entities (&amp; &#34; ...)
// decoded, or "" when there is none.
std::string xml_text(std::string_view xml, std::string_view tag);

}  // namespace berth::storage
