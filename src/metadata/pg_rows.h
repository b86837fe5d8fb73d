// Row helpers that the parts of PgStore share.
#pragma once

#include "metadata/pg_connection.h"

#include <cstdint>
#include <optional>
#include <string>

namespace berth::metadata {

// The id of the repository `name`, or nullopt if it does not exist.
std::optional<std::int64_t> find_repository_id(PgConnection& connection, const std::string& name);

}  // namespace berth::metadata
