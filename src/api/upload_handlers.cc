// Blob upload endpoints: POST /v2/<name>/blobs/uploads/ (including
// monolithic uploads and cross-repository mounts) and GET, PATCH, PUT and
// DELETE on the session URL it returns.

#include "api/registry_api.h"
#include "api/request_checks.h"
#include "core/error.h"
#include "oci/name.h"

#include <spdlog/spdlog.h>

#include <charconv>

namespace berth::api {

using core::Error;
using core::ErrorCode;
using http::beast_http::field;
using metadata::UploadRecord;

namespace {

BodySource body_of(http::Exchange& exchange) {
  return [&exchange](char* buffer, std::size_t size) { return exchange.read_body(buffer, size); };
}

std::optional<std::uint64_t> parse_number(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

void set_session_headers(http::Response& response, const std::string& name, const UploadRecord& session) {
  response.headers.set(field::location, upload_location(name, session.id));
  response.headers.set(field::range, upload_range(session.received_bytes));
  response.headers.set("Docker-Upload-UUID", session.id);
}

Error range_not_satisfiable(const std::string& name, const UploadRecord& session, const std::string& reason) {
  return Error(ErrorCode::kBlobUploadInvalid, reason + "; the upload has " + std::to_string(session.received_bytes) +
                                                  " bytes, so the next chunk starts at byte " +
                                                  std::to_string(session.received_bytes))
      .with_status(416)
      .with_header("Location", upload_location(name, session.id))
      .with_header("Range", upload_range(session.received_bytes))
      .with_header("Docker-Upload-UUID", session.id);
}

// Checks the Content-Range header of a chunk ("<first>-<last>", inclusive,
// no unit) against the session. Returns the chunk length it announces, or
// nullopt when the request has no Content-Range (the body is appended).
std::optional<std::uint64_t> chunk_length(const http::Exchange& exchange, const std::string& name,
                                          const UploadRecord& session) {
  std::string_view header = exchange.header("Content-Range");
  if (header.empty()) return std::nullopt;

  auto dash = header.find('-');
  auto first = dash == std::string_view::npos ? std::nullopt : parse_number(header.substr(0, dash));
  auto last = dash == std::string_view::npos ? std::nullopt : parse_number(header.substr(dash + 1));
  if (!first || !last || *last < *first) {
    throw range_not_satisfiable(name, session, "the Content-Range \"" + std::string(header) +
                                                   "\" is malformed; expected <first byte>-<last byte>");
  }
  if (*first != session.received_bytes) {
    throw range_not_satisfiable(name, session, "the chunk starts at byte " + std::to_string(*first) + ", out of order");
  }
  std::uint64_t length = *last - *first + 1;
  auto content_length = exchange.content_length();
  if (content_length && *content_length != length) {
    throw Error(ErrorCode::kSizeInvalid, "the Content-Range \"" + std::string(header) + "\" announces " +
                                             std::to_string(length) + " bytes but Content-Length is " +
                                             std::to_string(*content_length));
  }
  return length;
}

std::vector<core::Digest> required_digests(const http::Exchange& exchange) {
  auto values = exchange.query().get_all("digest");
  if (values.empty()) {
    throw Error(ErrorCode::kDigestInvalid, "the digest query parameter is missing; finish an upload with PUT ?digest=<digest>");
  }
  std::vector<core::Digest> digests;
  for (const auto& value : values) digests.push_back(require_digest(value));
  return digests;
}

}  // namespace

bool RegistryApi::try_mount(http::Exchange& exchange, const std::string& name, const Caller& caller) {
  auto from = exchange.query().get("from");
  auto digest = core::Digest::parse(exchange.query().get("mount").value_or(""));
  // The spec falls back to a plain upload for every mount it cannot do,
  // including a source the caller may not read: a 401 here would carry a
  // second scope, which containers/image cannot parse.
  if (!from || !digest || !oci::is_valid_repository_name(*from)) return false;
  if (!gate_.may_pull(caller, *from)) return false;
  auto blob = metadata_.find_repository_blob(*from, *digest);
  if (!blob) return false;
  if (!blobs_.stat(*digest)) {
    spdlog::error("blob_data_missing request_id={} repository={} digest={}", exchange.request_id(), *from, digest->str());
    return false;
  }

  if (!metadata_.link_blob_with_data(name, *digest, blob->size, "", [&] { return blobs_.stat(*digest).has_value(); })) {
    // Garbage collection removed the blob after the lookup; upload it anew.
    return false;
  }
  spdlog::info("blob_mounted request_id={} repository={} from={} digest={}", exchange.request_id(), name, *from,
               digest->str());
  http::Response response;
  response.status = 201;
  response.headers.set(field::location, "/v2/" + name + "/blobs/" + digest->str());
  response.headers.set("Docker-Content-Digest", digest->str());
  exchange.send(std::move(response));
  return true;
}

void RegistryApi::start_upload(http::Exchange& exchange, const std::string& name, const Caller& caller) {
  require_valid_name(name);
  quotas_.require_storage_room(name);
  if (exchange.query().has("mount") && try_mount(exchange, name, caller)) return;

  auto digest_text = exchange.query().get("digest");
  core::DigestAlgorithm algorithm = core::DigestAlgorithm::kSha256;
  if (auto requested = exchange.query().get("digest-algorithm")) {
    auto parsed = core::parse_algorithm(*requested);
    if (!parsed) {
      throw Error(ErrorCode::kDigestInvalid, "digest algorithm \"" + *requested + "\" is not supported; use sha256 or sha512");
    }
    algorithm = *parsed;
  }

  if (digest_text) {
    // Monolithic upload: the whole blob in the POST body.
    core::Digest digest = require_digest(*digest_text);
    uploads_.upload_whole(name, digest, body_of(exchange));
    http::Response response;
    response.status = 201;
    response.headers.set(field::location, "/v2/" + name + "/blobs/" + digest.str());
    response.headers.set("Docker-Content-Digest", digest.str());
    exchange.send(std::move(response));
    return;
  }

  UploadRecord session = uploads_.create(name, algorithm);
  if (exchange.has_body()) {
    auto guard = uploads_.lock(session.id);
    session = uploads_.append(session, body_of(exchange), std::nullopt);
  }
  http::Response response;
  response.status = 202;
  set_session_headers(response, name, session);
  response.headers.set("OCI-Chunk-Min-Length", std::to_string(limits_.chunk_min_length));
  exchange.send(std::move(response));
}

void RegistryApi::patch_upload(http::Exchange& exchange, const std::string& name, const std::string& id) {
  require_valid_name(name);
  auto guard = uploads_.lock(id);
  UploadRecord session = uploads_.find(name, id);
  std::optional<std::uint64_t> expected = chunk_length(exchange, name, session);

  session = uploads_.append(session, body_of(exchange), expected);

  http::Response response;
  response.status = 202;
  set_session_headers(response, name, session);
  exchange.send(std::move(response));
}

void RegistryApi::put_upload(http::Exchange& exchange, const std::string& name, const std::string& id) {
  require_valid_name(name);
  std::vector<core::Digest> digests = required_digests(exchange);
  auto guard = uploads_.lock(id);
  UploadRecord session = uploads_.find(name, id);
  std::optional<std::uint64_t> expected = chunk_length(exchange, name, session);

  // Always appended, even with an empty body: opening the data for append
  // also drops bytes that a crash left past the recorded offset. The new
  // offset is not recorded, because finish() ends the session anyway.
  session = uploads_.append(session, body_of(exchange), expected, /*record=*/false);
  std::uint64_t size = uploads_.finish(session, digests);

  spdlog::info("blob_uploaded request_id={} repository={} digest={} size={}", exchange.request_id(), name,
               digests.front().str(), size);
  http::Response response;
  response.status = 201;
  response.headers.set(field::location, "/v2/" + name + "/blobs/" + digests.front().str());
  response.headers.set("Docker-Content-Digest", digests.front().str());
  exchange.send(std::move(response));
}

void RegistryApi::get_upload(http::Exchange& exchange, const std::string& name, const std::string& id) {
  require_valid_name(name);
  UploadRecord session = uploads_.find(name, id);
  http::Response response;
  response.status = 204;
  set_session_headers(response, name, session);
  exchange.send(std::move(response));
}

void RegistryApi::delete_upload(http::Exchange& exchange, const std::string& name, const std::string& id) {
  require_valid_name(name);
  auto guard = uploads_.lock(id);
  UploadRecord session = uploads_.find(name, id);
  uploads_.cancel(session);
  http::Response response;
  response.status = 204;
  exchange.send(std::move(response));
}

}  // namespace berth::api
