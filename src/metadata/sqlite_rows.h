// Row helpers that the parts of SqliteStore share.
#pragma once

#include "core/digest.h"
#include "metadata/sqlite_connection.h"

#include <cstdint>
#include <optional>
#include <string>

namespace berth::metadata {

// Parses a digest read from the database; throws core::InternalError if
// it is malformed, because only valid digests are ever written.
core::Digest parse_stored_digest(const std::string& text);

// The id of the repository `name`, or nullopt if it does not exist.
std::optional<std::int64_t> find_repository_id(SqliteConnection& connection, const std::string& name);

}  // namespace berth::metadata
