#include "metadata/pg_rows.h"

namespace berth::metadata {

std::optional<std::int64_t> find_repository_id(PgConnection& connection, const std::string& name) {
  auto query = connection.prepare("SELECT id FROM repositories WHERE name = $1");
  query.bind(1, name);
  if (!query.step()) return std::nullopt;
  return query.column_int(0);
}

}  // namespace berth::metadata
