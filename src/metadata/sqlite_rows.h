// Row helpers that the parts of SqliteStore share.
#pragma once

#include "metadata/sqlite_connection.h"

#include <cstdint>
#include <optional>
#include <string>

namespace berth::metadata {

// The id of the repository `name`, or nullopt if it does not exist.
std::optional<std::int64_t> find_repository_id(SqliteConnection& connection, const std::string& name);

}  // namespace berth::metadata
