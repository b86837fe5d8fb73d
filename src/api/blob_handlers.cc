// Blob endpoints: GET, HEAD and DELETE /v2/<name>/blobs/<digest>.

#include "api/registry_api.h"
#include "api/request_checks.h"
#include "core/error.h"
#include "http/range.h"
#include "oci/media_types.h"

#include <spdlog/spdlog.h>

namespace berth::api {

using core::Error;
using core::ErrorCode;
using http::beast_http::field;

namespace {

Error blob_unknown(const std::string& name, const core::Digest& digest) {
  return Error(ErrorCode::kBlobUnknown, "blob " + digest.str() + " is not in repository " + name,
               {{"digest", digest.str()}});
}

// The bytes that a client fetches after a redirect: the range it asked
// for, or the whole blob.
std::uint64_t redirected_bytes(std::string_view range_header, std::uint64_t size) {
  http::ByteRange range;
  switch (http::parse_range(range_header, size, &range)) {
    case http::RangeOutcome::kSatisfiable:
      return range.last - range.first + 1;
    case http::RangeOutcome::kUnsatisfiable:
      return 0;
    case http::RangeOutcome::kIgnore:
      break;
  }
  return size;
}

}  // namespace

void RegistryApi::get_blob(http::Exchange& exchange, const std::string& name, const std::string& digest_text) {
  require_valid_name(name);
  core::Digest digest = require_digest(digest_text);

  auto blob = metadata_.find_repository_blob(name, digest);
  if (!blob) throw blob_unknown(name, digest);
  // Pull traffic counts blob bytes sent by GET; HEAD sends none.
  bool counts_traffic = !exchange.is_head();
  if (counts_traffic) quotas_.require_traffic_room(name);
  std::string etag = "\"" + digest.str() + "\"";

  // A store that hands out presigned URLs (S3 with storage.s3.redirect_seconds
  // above 0) lets the client fetch the bytes from the object store. The pull
  // is counted here, because berthd does not see those bytes.
  if (counts_traffic && exchange.header("If-None-Match") != etag) {
    if (auto url = blobs_.presigned_url(digest)) {
      http::Response redirect;
      redirect.status = 307;
      redirect.headers.set(field::location, *url);
      redirect.headers.set("Docker-Content-Digest", digest.str());
      std::uint64_t bytes = redirected_bytes(exchange.header("Range"), blob->size);
      exchange.send(std::move(redirect));
      quotas_.record_pull(name, bytes);
      return;
    }
  }

  auto reader = blobs_.open(digest);
  if (!reader) {
    spdlog::error("blob_data_missing request_id={} repository={} digest={}", exchange.request_id(), name, digest.str());
    throw blob_unknown(name, digest);
  }
  std::uint64_t size = reader->size();

  http::Response response;
  response.headers.set(field::content_type, std::string(oci::media_type::kOctetStream));
  response.headers.set("Docker-Content-Digest", digest.str());
  response.headers.set(field::etag, etag);
  response.headers.set(field::accept_ranges, "bytes");
  // Content addressing: the bytes behind a digest never change.
  response.headers.set(field::cache_control, "max-age=31536000");
  if (exchange.header("If-None-Match") == etag) {
    response.status = 304;
    exchange.send(std::move(response));
    return;
  }

  std::uint64_t offset = 0;
  std::uint64_t length = size;
  http::ByteRange range;
  switch (http::parse_range(exchange.header("Range"), size, &range)) {
    case http::RangeOutcome::kIgnore:
      break;
    case http::RangeOutcome::kSatisfiable:
      response.status = 206;
      offset = range.first;
      length = range.last - range.first + 1;
      response.headers.set(field::content_range, "bytes " + std::to_string(range.first) + "-" +
                                                      std::to_string(range.last) + "/" + std::to_string(size));
      break;
    case http::RangeOutcome::kUnsatisfiable:
      throw Error(ErrorCode::kUnsupported, "the range \"" + std::string(exchange.header("Range")) +
                                                "\" lies outside the blob of " + std::to_string(size) + " bytes")
          .with_status(416)
          .with_header("Content-Range", "bytes */" + std::to_string(size));
  }

  int fd = reader->native_fd();
  if (fd >= 0) {
    try {
      exchange.send_file(std::move(response), fd, offset, length);
    } catch (...) {
      if (counts_traffic) quotas_.record_pull(name, exchange.file_bytes_sent());
      throw;
    }
    if (counts_traffic) quotas_.record_pull(name, exchange.file_bytes_sent());
    return;
  }
  // Drivers without local files (S3) are read in order through the reader.
  std::uint64_t position = offset;
  auto read = [&](char* buffer, std::size_t size) {
    std::size_t got = reader->read_at(position, buffer, size);
    position += got;
    return got;
  };
  try {
    exchange.send_stream(std::move(response), length, read);
  } catch (...) {
    if (counts_traffic) quotas_.record_pull(name, exchange.file_bytes_sent());
    throw;
  }
  if (counts_traffic) quotas_.record_pull(name, exchange.file_bytes_sent());
}

void RegistryApi::delete_blob(http::Exchange& exchange, const std::string& name, const std::string& digest_text) {
  require_valid_name(name);
  core::Digest digest = require_digest(digest_text);
  metadata::UnlinkBlobResult result = metadata_.unlink_blob(name, digest);
  if (result.referenced_by) {
    // Deleting it would leave that image unpullable. The spec lets a
    // registry refuse blob deletes with 405.
    throw Error(ErrorCode::kUnsupported, "blob " + digest.str() + " is used by manifest " +
                                             result.referenced_by->str() + " of repository " + name +
                                             "; delete the manifest first",
                {{"digest", digest.str()}, {"manifest", result.referenced_by->str()}})
        .with_status(405);
  }
  if (!result.unlinked) throw blob_unknown(name, digest);

  spdlog::info("blob_unlinked request_id={} repository={} digest={}", exchange.request_id(), name, digest.str());
  http::Response response;
  response.status = 202;
  response.headers.set("Docker-Content-Digest", digest.str());
  exchange.send(std::move(response));
}

}  // namespace berth::api
