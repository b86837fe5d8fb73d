// Error codes and the one error type that every layer throws.
//
// Codes are those of the OCI distribution spec (plus a few that Docker's
// registry defines); each has a default HTTP status. Handlers throw Error
// and the HTTP layer renders it as {"errors":[{"code","message","detail"}]},
// so no handler builds an error body by hand.
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::core {

enum class ErrorCode {
  kBlobUnknown,
  kBlobUploadInvalid,
  kBlobUploadUnknown,
  kDigestInvalid,
  kManifestBlobUnknown,
  kManifestInvalid,
  kManifestUnknown,
  kNameInvalid,
  kNameUnknown,
  kSizeInvalid,
  kTagInvalid,
  kUnauthorized,
  kDenied,
  kUnsupported,
  kTooManyRequests,
  // Management API (/api/v1) errors that no registry code describes.
  kBadRequest,
  kNotFound,
  kConflict,
  // Server faults (Docker's registry uses the same codes).
  kUnavailable,
  kUnknown,
};

// The wire name, such as "BLOB_UNKNOWN".
std::string_view error_code_name(ErrorCode code);

// The HTTP status that the spec (or Docker's registry) pairs with the code.
int default_http_status(ErrorCode code);

struct ErrorEntry {
  ErrorCode code;
  std::string message;
  nlohmann::json detail;  // null when there is none
};

// An error that reaches the client. Carries one or more entries (a manifest
// that names three missing blobs gets three MANIFEST_BLOB_UNKNOWN entries)
// and one HTTP status.
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message, nlohmann::json detail = nullptr);

  // Overrides the status that the first code implies (413 for an oversized
  // manifest that is otherwise MANIFEST_INVALID, for example).
  Error& with_status(int http_status);
  Error& add(ErrorCode code, std::string message, nlohmann::json detail = nullptr);
  // Adds a response header (Location and Range on a 416, for example).
  Error& with_header(std::string name, std::string value);

  int http_status() const { return http_status_; }
  ErrorCode code() const { return entries_.front().code; }
  const std::vector<ErrorEntry>& entries() const { return entries_; }
  const std::vector<std::pair<std::string, std::string>>& headers() const { return headers_; }

  // The response body: {"errors":[...]}.
  std::string to_json() const;

 private:
  std::vector<ErrorEntry> entries_;
  std::vector<std::pair<std::string, std::string>> headers_;
  int http_status_;
};

// An unexpected failure (I/O error, database error): logged in full, sent to
// the client as 500 UNKNOWN without internals.
class InternalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace berth::core
