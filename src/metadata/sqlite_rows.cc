#include "metadata/sqlite_rows.h"

#include "core/error.h"

namespace berth::metadata {

core::Digest parse_stored_digest(const std::string& text) {
  auto digest = core::Digest::parse(text);
  if (!digest) throw core::InternalError("the database contains a malformed digest \"" + text + "\"");
  return *digest;
}

std::optional<std::int64_t> find_repository_id(SqliteConnection& connection, const std::string& name) {
  auto query = connection.prepare("SELECT id FROM repositories WHERE name = ?");
  query.bind(1, name);
  if (!query.step()) return std::nullopt;
  return query.column_int(0);
}

}  // namespace berth::metadata
