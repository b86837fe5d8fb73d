// Online garbage collection. It removes three things: blobs that no live
// or trashed manifest references once they have been unused for a grace
// period, data in the blob store that the metadata store has no record
// of, and upload sessions abandoned for longer than a maximum age. It runs
// while the registry serves requests, because every removal happens
// inside the metadata transaction that re-checks the blob's reference
// count and last use (see MetadataStore::collect_blob).
#pragma once

#include "metadata/metadata_store.h"
#include "storage/blob_store.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace berth::lifecycle {

struct CollectionOptions {
  std::int64_t grace_seconds = 3600;
  bool dry_run = false;  // count what would go, remove nothing
};

struct CollectionReport {
  bool dry_run = false;
  std::size_t blobs_removed = 0;
  std::uint64_t bytes_removed = 0;
  std::size_t orphans_removed = 0;  // data without a record
  std::uint64_t orphan_bytes_removed = 0;
  // Candidates that a push or mount used again between the listing and
  // their removal, so they stayed.
  std::size_t blobs_back_in_use = 0;
  // Unreferenced blobs still inside the grace period, left for a later run.
  std::size_t blobs_in_grace = 0;
  std::uint64_t bytes_in_grace = 0;
  // With dry_run: what a real run would remove, and why.
  std::vector<std::pair<metadata::BlobRecord, std::string>> would_remove;

  nlohmann::json to_json() const;
};

struct UploadPurgeReport {
  std::size_t sessions_removed = 0;
  std::size_t orphans_removed = 0;  // upload data without a session

  nlohmann::json to_json() const;
};

class GarbageCollector {
 public:
  GarbageCollector(metadata::MetadataStore& metadata, storage::BlobStore& blobs) : metadata_(metadata), blobs_(blobs) {}

  // Removes unreferenced blobs untouched for options.grace_seconds before
  // `now`, then data that has no record and is as old.
  CollectionReport collect(const CollectionOptions& options, std::int64_t now);

  // Removes upload sessions not written to for `max_age_seconds`, and
  // upload data that has no session and is as old.
  UploadPurgeReport purge_uploads(std::int64_t max_age_seconds, std::int64_t now);

 private:
  metadata::MetadataStore& metadata_;
  storage::BlobStore& blobs_;
};

}  // namespace berth::lifecycle
