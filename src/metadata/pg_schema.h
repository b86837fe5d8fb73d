// The PostgreSQL schema as a list of migrations. Migration N (1-based)
// takes a database from version N-1 to N; the version is kept in
// berth_schema. Version 1 contains the whole model of SQLite's versions 1
// to 6.
#pragma once

#include <span>

namespace berth::metadata {

std::span<const char* const> pg_migrations();

}  // namespace berth::metadata
