// The OCI distribution API (/v2/). Every request is authorized against
// the account that owns the repository's namespace before its handler
// runs; each handler then reads as parse, act, respond.
#pragma once

#include "api/access_gate.h"
#include "api/registry_routes.h"
#include "api/upload_sessions.h"
#include "http/exchange.h"
#include "lifecycle/quota_enforcer.h"
#include "metadata/metadata_store.h"
#include "storage/blob_store.h"

#include <cstdint>
#include <string>

namespace berth::api {

struct RegistryLimits {
  // Largest manifest accepted, in bytes; larger ones get 413.
  std::size_t manifest_max_bytes = 4 * 1024 * 1024;
  // Largest page of tags or repositories; a larger "n" is reduced to it.
  std::size_t page_max_entries = 1000;
  // Page size of /v2/_catalog when the request has no "n".
  std::size_t catalog_default_entries = 100;
  // Chunk size advertised in OCI-Chunk-Min-Length. A hint: smaller chunks
  // are accepted too.
  std::uint64_t chunk_min_length = 5 * 1024 * 1024;
};

class RegistryApi {
 public:
  RegistryApi(metadata::MetadataStore& metadata, storage::BlobStore& blobs, AccessGate& gate,
              lifecycle::QuotaEnforcer& quotas, RegistryLimits limits);

  // Serves one request whose path starts with /v2. Throws core::Error for
  // every failure the client caused.
  void handle(http::Exchange& exchange);

 private:
  // Authorizes the request for its endpoint and runs the handler.
  void dispatch(http::Exchange& exchange, const RegistryRoute& route, const Caller& caller);

  // Authorizes a blob GET or HEAD; a HEAD that would be denied gets 404.
  void require_blob_read(http::Exchange& exchange, const Caller& caller, const std::string& name,
                         const std::string& digest);

  void get_base(http::Exchange& exchange);
  void get_catalog(http::Exchange& exchange, const auth::Principal& principal);
  void get_tags(http::Exchange& exchange, const std::string& name);

  void get_manifest(http::Exchange& exchange, const std::string& name, const std::string& reference);
  void put_manifest(http::Exchange& exchange, const std::string& name, const std::string& reference);
  void delete_manifest(http::Exchange& exchange, const std::string& name, const std::string& reference);

  void get_blob(http::Exchange& exchange, const std::string& name, const std::string& digest);
  void delete_blob(http::Exchange& exchange, const std::string& name, const std::string& digest);

  void start_upload(http::Exchange& exchange, const std::string& name, const Caller& caller);
  void patch_upload(http::Exchange& exchange, const std::string& name, const std::string& id);
  void put_upload(http::Exchange& exchange, const std::string& name, const std::string& id);
  void get_upload(http::Exchange& exchange, const std::string& name, const std::string& id);
  void delete_upload(http::Exchange& exchange, const std::string& name, const std::string& id);

  void get_referrers(http::Exchange& exchange, const std::string& name, const std::string& digest);

  // Tries a cross-repository mount; returns false when the request falls
  // back to a new upload session.
  bool try_mount(http::Exchange& exchange, const std::string& name, const Caller& caller);

  metadata::MetadataStore& metadata_;
  storage::BlobStore& blobs_;
  AccessGate& gate_;
  UploadSessions uploads_;
  lifecycle::QuotaEnforcer& quotas_;
  RegistryLimits limits_;
};

}  // namespace berth::api
