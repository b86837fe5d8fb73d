// Opens the blob store and metadata store that a configuration names.
#pragma once

#include "metadata/metadata_store.h"
#include "metadata/pg_cache_notifier.h"
#include "server/config.h"
#include "storage/blob_store.h"

#include <memory>
#include <optional>
#include <ostream>
#include <string>

namespace berth::server {

struct Stores {
  std::unique_ptr<storage::BlobStore> blobs;
  std::unique_ptr<metadata::MetadataStore> metadata;
  // With PostgreSQL: the thread that applies other nodes' cache
  // invalidations to `metadata`. Declared last so that it stops before the
  // store it feeds is destroyed.
  std::unique_ptr<metadata::PgInvalidationListener> cache_listener;
};

// Creates the data directory with mode 0700 unless it exists.
void ensure_data_directory(const std::string& path);

// Opens the configured blob store (the filesystem in the data directory,
// or S3) and metadata store (SQLite in the data directory, or PostgreSQL),
// behind the cache. The data directory is created in either case, because
// it also holds node-local files: the lock, the token signing key by
// default and temporary files. Throws on failure.
//
// On PostgreSQL, a server (`listen` true) listens for other nodes' cache
// invalidations. A one-shot command does not listen, so its cache serves
// nothing. Its writes still notify the running nodes.
Stores open_stores(const Config& config, bool listen = true);

// Why the configured metadata store is not an existing Berth store
// (SQLite: no berth.db in the data directory; PostgreSQL: no Berth tables
// in the schema), or nullopt when it is one. Commands that must not create
// an empty store check this first. Throws when PostgreSQL is unreachable.
std::optional<std::string> missing_store(const Config& config);

// berthd admin migrate: applies pending PostgreSQL schema migrations and
// prints the versions before and after. Returns the exit status.
int admin_migrate(const Config& config, std::ostream& out);

}  // namespace berth::server
