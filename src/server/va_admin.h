// The Vulnerability Advisor's side of berthd: the indexing worker's
// settings from the configuration, and the operator commands
// `berthd admin va-import` and `berthd admin va-index`.
#pragma once

#include "metadata/metadata_store.h"
#include "scan/index_worker.h"
#include "server/config.h"
#include "storage/blob_store.h"

#include <ostream>
#include <string>

namespace berth::server {

scan::IndexSettings index_settings(const Config& config);

// Replaces the advisory database with the OSV records in PATH (a .json
// file, a .zip archive as OSV publishes them, or a directory of both) and
// prints what was imported. Returns the exit status.
int admin_va_import(metadata::MetadataStore& metadata, const std::string& path, std::ostream& out,
                    std::ostream& err);

// Indexes every queued image now, in this process, and prints how many.
// A non-empty `requeue` ("incomplete", "unsupported", "complete" or "all")
// first queues the images indexed with that status again.
int admin_va_index(const Config& config, metadata::MetadataStore& metadata, storage::BlobStore& blobs,
                   const std::string& requeue, std::ostream& out);

}  // namespace berth::server
