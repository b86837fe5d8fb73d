#include "server/stores.h"

#include "metadata/cached_store.h"
#include "metadata/sqlite_store.h"
#include "storage/filesystem_store.h"

#include <filesystem>

namespace berth::server {

void ensure_data_directory(const std::string& path) {
  std::filesystem::path data(path);
  // A new data directory is private to the server's user, because it
  // contains the images, the database and the token signing key. An existing one keeps
  // the permissions its operator gave it.
  if (std::filesystem::exists(data)) return;
  std::filesystem::create_directories(data);
  std::filesystem::permissions(data, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace);
}

Stores open_stores(const Config& config) {
  std::filesystem::path data(config.data_dir);
  ensure_data_directory(config.data_dir);

  Stores stores;
  stores.blobs = std::make_unique<storage::FilesystemStore>(data);
  auto database = std::make_unique<metadata::SqliteStore>(metadata::SqliteOptions{
      .path = (data / "berth.db").string(),
      .connections = static_cast<std::size_t>(config.database_connections),
      .synchronous = config.database_synchronous});
  stores.metadata = std::make_unique<metadata::CachedStore>(std::move(database),
                                                            static_cast<std::size_t>(config.cache_max_bytes),
                                                            std::chrono::seconds(config.cache_max_age_seconds));
  return stores;
}

}  // namespace berth::server
