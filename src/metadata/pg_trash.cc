#include "metadata/pg_store.h"

#include "core/error.h"

namespace berth::metadata {

TrashOutcome PgStore::trash_manifest(const std::string&, const core::Digest&, std::int64_t) {
  throw core::InternalError("PgStore::trash_manifest is not written yet");
}

std::vector<TrashEntry> PgStore::list_trash(const std::vector<std::string>&) {
  throw core::InternalError("PgStore::list_trash is not written yet");
}

RestoreOutcome PgStore::restore_manifest(const std::string&, const core::Digest&) {
  throw core::InternalError("PgStore::restore_manifest is not written yet");
}

RestoreTagResult PgStore::restore_tag(const std::string&, const std::string&) {
  throw core::InternalError("PgStore::restore_tag is not written yet");
}

std::size_t PgStore::expire_trash(std::int64_t) {
  throw core::InternalError("PgStore::expire_trash is not written yet");
}

}  // namespace berth::metadata
