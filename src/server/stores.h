// Opens the blob store and metadata store that a configuration names.
#pragma once

#include "metadata/metadata_store.h"
#include "server/config.h"
#include "storage/blob_store.h"

#include <memory>

namespace berth::server {

struct Stores {
  std::unique_ptr<storage::BlobStore> blobs;
  std::unique_ptr<metadata::MetadataStore> metadata;
};

// Creates the data directory with mode 0700 unless it exists.
void ensure_data_directory(const std::string& path);

// Creates the data directory if needed and opens the filesystem blob
// store and the SQLite database inside it. Throws on failure.
Stores open_stores(const Config& config);

}  // namespace berth::server
