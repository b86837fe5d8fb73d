// berthd admin migrate-storage: copies an embedded deployment (SQLite
// database and filesystem blob store in one data directory) into the
// PostgreSQL database and S3 bucket that the configuration names.
#pragma once

#include "server/config.h"
#include "storage/blob_store.h"

#include <ostream>
#include <string>

namespace berth::server {

struct MigrateStorageOptions {
  // The embedded deployment's data directory, which contains berth.db and the
  // blob files.
  std::string source_dir;
  // Blobs copied or verified at the same time.
  int parallel = 4;
  // Seconds between progress lines.
  int progress_seconds = 5;
};

// Copies the blobs first, hashing each one while it uploads and committing
// it only when it matches its digest. A blob the bucket already has is
// read back and hashed instead, so a run that follows an interrupted one
// continues where that one stopped and trusts nothing it has not checked.
// Then copies the database rows in one PostgreSQL transaction. It compares
// every table's rows with the source, including what PostgreSQL's triggers
// computed (reference counts, storage usage), and checks that every
// manifest parses and that the bucket has each blob it references with the
// right size. Any difference rolls the transaction back. A target that
// already contains exactly this source is only verified.
//
// Holds the source's berth.lock, so berthd must not be running on it.
// Writes the result and the row counts to `out` and progress lines to
// `progress`. Returns 0 when the target contains a verified copy, 1 after
// writing why it does not.
int migrate_storage(const Config& config, const MigrateStorageOptions& options, std::ostream& out,
                    std::ostream& progress);

// The target of copy_deployment().
struct MigrationTarget {
  std::string postgres_url;
  // A schema at this build's version, as PgStore leaves it.
  std::string postgres_schema;
  storage::BlobStore* blobs = nullptr;
  // The blob store as messages name it, such as "the S3 bucket NAME".
  std::string blobs_description;
};

// migrate_storage() after the target is open: the copy and its checks.
int copy_deployment(const MigrateStorageOptions& options, const MigrationTarget& target, std::ostream& out,
                    std::ostream& progress);

}  // namespace berth::server
