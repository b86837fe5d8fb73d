#include "server/stores.h"

#include "core/random.h"
#include "metadata/cached_store.h"
#include "metadata/pg_connection.h"
#include "metadata/pg_store.h"
#include "metadata/sqlite_store.h"
#include "storage/filesystem_store.h"
#include "storage/s3_store.h"

#include <filesystem>

namespace berth::server {

namespace {

// The PostgreSQL schema's version as berth_schema records it; 0 when the
// schema or the table does not exist yet.
int postgres_schema_version(const Config& config) {
  metadata::PgConnection connection(config.postgres_url);
  auto table = connection.prepare("SELECT to_regclass(quote_ident($1) || '.berth_schema') IS NOT NULL");
  table.bind(1, config.postgres_schema);
  if (!table.step() || table.column_int(0) == 0) return 0;
  std::string schema = "\"";
  for (char c : config.postgres_schema) schema += c == '"' ? std::string("\"\"") : std::string(1, c);
  connection.exec("SET search_path TO " + schema + "\"");
  auto version = connection.prepare("SELECT version FROM berth_schema");
  return version.step() ? static_cast<int>(version.column_int(0)) : 0;
}

std::unique_ptr<storage::BlobStore> open_blob_store(const Config& config) {
  if (config.storage_backend == "s3") {
    return std::make_unique<storage::S3Store>(
        storage::S3Options{.endpoint = config.s3_endpoint,
                           .region = config.s3_region,
                           .bucket = config.s3_bucket,
                           .prefix = config.s3_prefix,
                           .path_style = config.s3_path_style,
                           .access_key = config.s3_access_key,
                           .secret_key = config.s3_secret_key,
                           .part_size = static_cast<std::uint64_t>(config.s3_part_size_bytes),
                           .presign_seconds = config.s3_redirect_seconds});
  }
  return std::make_unique<storage::FilesystemStore>(std::filesystem::path(config.data_dir));
}

std::unique_ptr<metadata::MetadataStore> open_sqlite(const Config& config) {
  auto database = std::make_unique<metadata::SqliteStore>(metadata::SqliteOptions{
      .path = (std::filesystem::path(config.data_dir) / "berth.db").string(),
      .connections = static_cast<std::size_t>(config.database_connections),
      .synchronous = config.database_synchronous});
  return std::make_unique<metadata::CachedStore>(std::move(database), static_cast<std::size_t>(config.cache_max_bytes),
                                                 std::chrono::seconds(config.cache_max_age_seconds));
}

// Opens PostgreSQL behind a cache that notifies the other nodes of what
// each write invalidated and listens for their notifications.
void open_postgres(const Config& config, bool listen, Stores& stores) {
  auto database = std::make_unique<metadata::PgStore>(
      metadata::PgOptions{.conninfo = config.postgres_url,
                          .schema = config.postgres_schema,
                          .connections = static_cast<std::size_t>(config.postgres_connections),
                          .migrate = config.postgres_migrate});
  metadata::PgNotifierOptions notifier{
      .conninfo = config.postgres_url, .schema = config.postgres_schema, .node = core::random_hex(8)};
  auto publisher = std::make_shared<metadata::PgInvalidationPublisher>(notifier);
  auto cached = std::make_unique<metadata::CachedStore>(std::move(database),
                                                        static_cast<std::size_t>(config.cache_max_bytes),
                                                        std::chrono::seconds(config.cache_max_age_seconds), publisher,
                                                        /*cache_tags=*/false);
  if (!listen) {
    cached->set_receiving(false);
    stores.metadata = std::move(cached);
    return;
  }
  stores.cache_listener = std::make_unique<metadata::PgInvalidationListener>(notifier, *cached);
  stores.metadata = std::move(cached);
  stores.cache_listener->start();
}

}  // namespace

void ensure_data_directory(const std::string& path) {
  std::filesystem::path data(path);
  // A new data directory is private to the server's user, because it
  // contains the images, the database and the token signing key. An existing one keeps
  // the permissions its operator gave it.
  if (std::filesystem::exists(data)) return;
  std::filesystem::create_directories(data);
  std::filesystem::permissions(data, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace);
}

Stores open_stores(const Config& config, bool listen) {
  ensure_data_directory(config.data_dir);

  Stores stores;
  stores.blobs = open_blob_store(config);
  if (config.metadata_backend == "postgres") {
    open_postgres(config, listen, stores);
  } else {
    stores.metadata = open_sqlite(config);
  }
  return stores;
}

std::optional<std::string> missing_store(const Config& config) {
  if (config.metadata_backend == "postgres") {
    if (postgres_schema_version(config) > 0) return std::nullopt;
    return "the PostgreSQL schema \"" + config.postgres_schema +
           "\" has no Berth tables; create them with `berthd admin migrate`, or set metadata.postgres.schema to the "
           "schema berthd uses";
  }
  if (std::filesystem::exists(std::filesystem::path(config.data_dir) / "berth.db")) return std::nullopt;
  return config.data_dir +
         " is not a Berth data directory (it has no berth.db); pass the one berthd uses with --data DIR, or the "
         "configuration file of a node on PostgreSQL with --config FILE";
}

int admin_migrate(const Config& config, std::ostream& out) {
  if (config.metadata_backend != "postgres") {
    out << "SQLite migrates itself when berthd opens it; nothing to do for metadata.backend " << config.metadata_backend
        << ".\n";
    return 0;
  }
  int before = postgres_schema_version(config);
  metadata::PgStore store(metadata::PgOptions{
      .conninfo = config.postgres_url, .schema = config.postgres_schema, .connections = 1, .migrate = true});
  int after = store.database_version();
  out << "PostgreSQL schema " << config.postgres_schema << ": ";
  if (after == before) {
    out << "already at version " << after << "\n";
  } else {
    out << "version " << before << " -> " << after << "\n";
  }
  return 0;
}

}  // namespace berth::server
