// The Vulnerability Advisor's indexing worker: a background thread that
// takes queued image manifests from the metadata store, reads their layers
// into a package inventory and stores it. Pushes only queue (a trigger on
// tags does it), so the worker never delays them. The claim on each queued
// manifest is a lease in the store, so several processes can share the
// queue and a crashed worker's claim expires.
#pragma once

#include "metadata/metadata_store.h"
#include "scan/inventory.h"
#include "storage/blob_store.h"

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

namespace berth::scan {

struct IndexSettings {
  LayerLimits limits;
  std::filesystem::path temp_dir;        // for RPM databases; created when missing
  std::int64_t claim_seconds = 600;      // lease on one queued manifest
  std::int64_t idle_poll_ms = 1000;      // how often an idle worker looks at the queue
  std::int64_t max_attempts = 3;         // then the inventory is stored as incomplete
  std::string holder;                    // this worker's name in claims
};

// Indexes one manifest: the inventory record the worker stores. An image
// index gets status "index" and its image manifests are queued. Throws only
// when the store fails; bad content gives an "unsupported" or "incomplete"
// record with the reason.
metadata::InventoryRecord index_manifest(metadata::MetadataStore& metadata, storage::BlobStore& blobs,
                                         const core::Digest& digest, const IndexSettings& settings,
                                         std::int64_t now);

class IndexWorker {
 public:
  IndexWorker(metadata::MetadataStore& metadata, storage::BlobStore& blobs, IndexSettings settings);
  ~IndexWorker();
  IndexWorker(const IndexWorker&) = delete;
  IndexWorker& operator=(const IndexWorker&) = delete;

  void start();
  void stop();
  // Claims and indexes queued manifests until none is left; returns how
  // many were indexed. The thread calls it; so can `berthd admin`.
  std::size_t drain();

 private:
  void run();

  metadata::MetadataStore& metadata_;
  storage::BlobStore& blobs_;
  IndexSettings settings_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace berth::scan
