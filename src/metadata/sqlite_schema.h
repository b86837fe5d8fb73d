// The SQLite schema as an ordered list of migrations. Migration i (from 0)
// takes the database from PRAGMA user_version i to i + 1. Never edit a
// released migration; append a new one. docs/database.md describes the
// resulting schema.
#pragma once

#include <span>

namespace berth::metadata {

std::span<const char* const> sqlite_migrations();

}  // namespace berth::metadata
