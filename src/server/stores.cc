#include "server/stores.h"

#include "metadata/cached_store.h"
#include "metadata/sqlite_store.h"
#include "storage/filesystem_store.h"

#include <filesystem>

namespace berth::server {

Stores open_stores(const Config& config) {
  std::filesystem::path data(config.data_dir);
  std::filesystem::create_directories(data);

  Stores stores;
  stores.blobs = std::make_unique<storage::FilesystemStore>(data);
  auto database = std::make_unique<metadata::SqliteStore>(metadata::SqliteOptions{
      .path = (data / "berth.db").string(),
      .connections = static_cast<std::size_t>(config.database_connections),
      .synchronous = config.database_synchronous});
  stores.metadata = std::make_unique<metadata::CachedStore>(std::move(database),
                                                            static_cast<std::size_t>(config.cache_max_bytes));
  return stores;
}

}  // namespace berth::server
