#include "metadata/sqlite_rows.h"

namespace berth::metadata {

std::optional<std::int64_t> find_repository_id(SqliteConnection& connection, const std::string& name) {
  auto query = connection.prepare("SELECT id FROM repositories WHERE name = ?");
  query.bind(1, name);
  if (!query.step()) return std::nullopt;
  return query.column_int(0);
}

}  // namespace berth::metadata
