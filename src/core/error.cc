#include "core/error.h"

namespace berth::core {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBlobUnknown: return "BLOB_UNKNOWN";
    case ErrorCode::kBlobUploadInvalid: return "BLOB_UPLOAD_INVALID";
    case ErrorCode::kBlobUploadUnknown: return "BLOB_UPLOAD_UNKNOWN";
    case ErrorCode::kDigestInvalid: return "DIGEST_INVALID";
    case ErrorCode::kManifestBlobUnknown: return "MANIFEST_BLOB_UNKNOWN";
    case ErrorCode::kManifestInvalid: return "MANIFEST_INVALID";
    case ErrorCode::kManifestUnknown: return "MANIFEST_UNKNOWN";
    case ErrorCode::kNameInvalid: return "NAME_INVALID";
    case ErrorCode::kNameUnknown: return "NAME_UNKNOWN";
    case ErrorCode::kSizeInvalid: return "SIZE_INVALID";
    case ErrorCode::kTagInvalid: return "TAG_INVALID";
    case ErrorCode::kUnauthorized: return "UNAUTHORIZED";
    case ErrorCode::kDenied: return "DENIED";
    case ErrorCode::kUnsupported: return "UNSUPPORTED";
    case ErrorCode::kTooManyRequests: return "TOOMANYREQUESTS";
    case ErrorCode::kBadRequest: return "BAD_REQUEST";
    case ErrorCode::kNotFound: return "NOT_FOUND";
    case ErrorCode::kConflict: return "CONFLICT";
    case ErrorCode::kUnavailable: return "UNAVAILABLE";
    case ErrorCode::kUnknown: return "UNKNOWN";
  }
  return "UNKNOWN";
}

int default_http_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBlobUnknown:
    case ErrorCode::kBlobUploadUnknown:
    case ErrorCode::kManifestUnknown:
    case ErrorCode::kNameUnknown:
      return 404;
    case ErrorCode::kBlobUploadInvalid:
    case ErrorCode::kDigestInvalid:
    case ErrorCode::kManifestBlobUnknown:
    case ErrorCode::kManifestInvalid:
    case ErrorCode::kNameInvalid:
    case ErrorCode::kSizeInvalid:
    case ErrorCode::kTagInvalid:
      return 400;
    case ErrorCode::kUnauthorized: return 401;
    case ErrorCode::kDenied: return 403;
    case ErrorCode::kUnsupported: return 405;
    case ErrorCode::kTooManyRequests: return 429;
    case ErrorCode::kBadRequest: return 400;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kUnavailable: return 503;
    case ErrorCode::kUnknown: return 500;
  }
  return 500;
}

Error::Error(ErrorCode code, std::string message, nlohmann::json detail)
    : std::runtime_error(message), http_status_(default_http_status(code)) {
  entries_.push_back({code, std::move(message), std::move(detail)});
}

Error& Error::with_status(int http_status) {
  http_status_ = http_status;
  return *this;
}

Error& Error::add(ErrorCode code, std::string message, nlohmann::json detail) {
  entries_.push_back({code, std::move(message), std::move(detail)});
  return *this;
}

Error& Error::with_header(std::string name, std::string value) {
  headers_.emplace_back(std::move(name), std::move(value));
  return *this;
}

std::string Error::to_json() const {
  nlohmann::json errors = nlohmann::json::array();
  for (const auto& entry : entries_) {
    nlohmann::json item = {{"code", error_code_name(entry.code)}, {"message", entry.message}};
    if (!entry.detail.is_null()) item["detail"] = entry.detail;
    errors.push_back(std::move(item));
  }
  return nlohmann::json{{"errors", std::move(errors)}}.dump();
}

}  // namespace berth::core
