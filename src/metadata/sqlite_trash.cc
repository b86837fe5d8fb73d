// The trash part of SqliteStore: moving manifests with their tags into the
// trash, restoring them, and expiring old entries. A trashed manifest lives
// in the trash table with a copy of its references, so that garbage
// collection keeps its blobs, while the triggers of the schema drop it
// from its account's storage usage.
#include "metadata/sqlite_store.h"
#include "metadata/sqlite_rows.h"
#include "metadata/store_rows.h"

#include "core/time.h"

#include <algorithm>
#include <optional>
#include <set>

namespace berth::metadata {

using core::Digest;

namespace {

std::optional<std::int64_t> live_manifest(SqliteConnection& connection, std::int64_t repository, const std::string& digest) {
  auto query = connection.prepare("SELECT id FROM manifests WHERE repository_id = ? AND digest = ?");
  query.bind(1, repository).bind(2, digest);
  if (!query.step()) return std::nullopt;
  return query.column_int(0);
}

// Moves live manifest `id` into the trash of its repository with `tags`,
// merging into an entry of the same digest; returns the entry's id.
std::int64_t move_to_trash(SqliteConnection& connection, std::int64_t repository, std::int64_t id,
                           const std::string& digest, const std::vector<std::string>& tags,
                           std::optional<std::int64_t> part_of, std::int64_t now) {
  std::optional<std::int64_t> entry;
  std::vector<std::string> merged = tags;
  {
    auto query = connection.prepare("SELECT id, tags FROM trash WHERE repository_id = ? AND digest = ?");
    query.bind(1, repository).bind(2, digest);
    if (query.step()) {
      entry = query.column_int(0);
      for (auto& tag : parse_tags(query.column_text(1))) merged.push_back(std::move(tag));
    }
  }
  if (entry) {
    // The same digest has the same content and references, so only the
    // time, the tags and whether it is listed change.
    auto update = connection.prepare(
        "UPDATE trash SET trashed_at = ?, tags = ?, part_of = CASE WHEN ? IS NULL THEN NULL ELSE part_of END "
        "WHERE id = ?");
    update.bind(1, now).bind(2, dump_tags(merged));
    if (part_of) {
      update.bind(3, *part_of);
    } else {
      update.bind_null(3);
    }
    update.bind(4, *entry).run();
  } else {
    auto insert = connection.prepare(
        "INSERT INTO trash (repository_id, digest, media_type, content, artifact_type, subject_digest, annotations, "
        "created_at, tags, trashed_at, part_of) SELECT repository_id, digest, media_type, content, artifact_type, "
        "subject_digest, annotations, created_at, ?, ?, ? FROM manifests WHERE id = ?");
    insert.bind(1, dump_tags(merged)).bind(2, now);
    if (part_of) {
      insert.bind(3, *part_of);
    } else {
      insert.bind_null(3);
    }
    insert.bind(4, id).run();
    entry = connection.last_insert_rowid();
    auto references = connection.prepare(
        "INSERT INTO trash_references (trash_id, kind, digest) SELECT ?, kind, digest FROM manifest_references "
        "WHERE manifest_id = ?");
    references.bind(1, *entry).bind(2, id).run();
  }
  // Tags and references go with the row through ON DELETE CASCADE.
  auto remove = connection.prepare("DELETE FROM manifests WHERE id = ?");
  remove.bind(1, id).run();
  return *entry;
}

// Trashes the untagged children of a just trashed index that no live
// manifest of the repository references any more, at every depth.
void trash_orphaned_children(SqliteConnection& connection, std::int64_t repository, std::int64_t entry,
                             std::int64_t now) {
  std::vector<std::string> children;
  {
    auto query = connection.prepare(
        "SELECT digest FROM trash_references WHERE trash_id = ? AND kind = 'manifest' ORDER BY digest");
    query.bind(1, entry);
    while (query.step()) children.push_back(query.column_text(0));
  }
  for (const auto& child : children) {
    auto id = live_manifest(connection, repository, child);
    if (!id) continue;
    // The statement must be reset before the recursion below, which
    // prepares the same cached statement for the grandchildren.
    {
      auto query = connection.prepare(
          "SELECT (SELECT count(*) FROM tags WHERE manifest_id = ?) + "
          "(SELECT count(*) FROM manifest_references mr JOIN manifests m ON m.id = mr.manifest_id "
          " WHERE m.repository_id = ? AND mr.kind = 'manifest' AND mr.digest = ?)");
      query.bind(1, *id).bind(2, repository).bind(3, child);
      query.step();
      if (query.column_int(0) > 0) continue;
    }
    std::int64_t child_entry = move_to_trash(connection, repository, *id, child, {}, entry, now);
    trash_orphaned_children(connection, repository, child_entry, now);
  }
}

void restore_children_trashed_elsewhere(SqliteConnection& connection, std::int64_t repository, std::int64_t entry);

// Makes trash entry `entry` live again in its repository, children first,
// and removes the entries of its children. A manifest that is live
// already stays as it is.
void make_live(SqliteConnection& connection, std::int64_t repository, std::int64_t entry, const std::string& digest) {
  std::vector<std::pair<std::int64_t, std::string>> children;
  {
    auto query = connection.prepare("SELECT id, digest FROM trash WHERE part_of = ? ORDER BY digest");
    query.bind(1, entry);
    while (query.step()) children.emplace_back(query.column_int(0), query.column_text(1));
  }
  for (const auto& [child, child_digest] : children) {
    make_live(connection, repository, child, child_digest);
    auto remove = connection.prepare("DELETE FROM trash WHERE id = ?");
    remove.bind(1, child).run();
  }
  if (live_manifest(connection, repository, digest)) return;

  {
    auto insert = connection.prepare(
        "INSERT INTO manifests (repository_id, digest, media_type, content, artifact_type, subject_digest, annotations, "
        "created_at) SELECT repository_id, digest, media_type, content, artifact_type, subject_digest, annotations, "
        "created_at FROM trash WHERE id = ?");
    insert.bind(1, entry).run();
  }
  std::int64_t id = connection.last_insert_rowid();
  {
    auto references = connection.prepare(
        "INSERT INTO manifest_references (manifest_id, kind, digest) SELECT ?, kind, digest FROM trash_references "
        "WHERE trash_id = ?");
    references.bind(1, id).bind(2, entry).run();
  }
  {
    // Only live manifests keep their blobs linked, so a client may have
    // unlinked one while the manifest was in the trash. The blob record
    // is still there, because the trash reference keeps it from garbage
    // collection.
    auto link = connection.prepare(
        "INSERT INTO repository_blobs (repository_id, digest, linked_at) "
        "SELECT ?, tr.digest, ? FROM trash_references tr JOIN blobs b ON b.digest = tr.digest "
        "WHERE tr.trash_id = ? AND tr.kind = 'blob' ON CONFLICT (repository_id, digest) DO NOTHING");
    link.bind(1, repository).bind(2, core::unix_now()).bind(3, entry).run();
  }
  restore_children_trashed_elsewhere(connection, repository, entry);
}

// Makes live the children of restored entry `entry` that are in the trash
// under another entry, because a live index must never reference a
// trashed manifest. A child shared by two indexes goes to the trash with
// whichever index is trashed last. The other entry is removed unless it
// keeps tags to restore.
// NOTE: a child whose entry expired already cannot come back, so the
// restored index then references a manifest that no longer exists.
void restore_children_trashed_elsewhere(SqliteConnection& connection, std::int64_t repository, std::int64_t entry) {
  struct Child {
    std::int64_t entry;
    std::string digest;
    bool tagged;
  };
  std::vector<Child> children;
  {
    auto query = connection.prepare(
        "SELECT t.id, t.digest, t.tags FROM trash_references tr JOIN trash t ON t.repository_id = ?1 "
        "AND t.digest = tr.digest WHERE tr.trash_id = ?2 AND tr.kind = 'manifest' AND NOT EXISTS "
        "(SELECT 1 FROM manifests m WHERE m.repository_id = ?1 AND m.digest = tr.digest) ORDER BY t.digest");
    query.bind(1, repository).bind(2, entry);
    while (query.step()) {
      children.push_back({.entry = query.column_int(0),
                          .digest = query.column_text(1),
                          .tagged = !parse_tags(query.column_text(2)).empty()});
    }
  }
  for (const auto& child : children) {
    make_live(connection, repository, child.entry, child.digest);
    if (child.tagged) continue;
    auto remove = connection.prepare("DELETE FROM trash WHERE id = ?");
    remove.bind(1, child.entry).run();
  }
}

// The digest a live tag points at, or nullopt if the tag is not live.
std::optional<std::string> live_tag_digest(SqliteConnection& connection, std::int64_t repository,
                                           const std::string& tag) {
  auto query = connection.prepare(
      "SELECT m.digest FROM tags t JOIN manifests m ON m.id = t.manifest_id WHERE t.repository_id = ? AND t.name = ?");
  query.bind(1, repository).bind(2, tag);
  if (!query.step()) return std::nullopt;
  return query.column_text(0);
}

void point_tag(SqliteConnection& connection, std::int64_t repository, const std::string& tag, const std::string& digest) {
  auto insert = connection.prepare(
      "INSERT INTO tags (repository_id, name, manifest_id, updated_at) "
      "SELECT ?, ?, id, ? FROM manifests WHERE repository_id = ? AND digest = ?");
  insert.bind(1, repository).bind(2, tag).bind(3, core::unix_now()).bind(4, repository).bind(5, digest).run();
}

// Stores the tags an entry keeps, or removes the entry when none is left.
void keep_tags(SqliteConnection& connection, std::int64_t entry, const std::vector<std::string>& tags) {
  if (tags.empty()) {
    auto remove = connection.prepare("DELETE FROM trash WHERE id = ?");
    remove.bind(1, entry).run();
    return;
  }
  auto update = connection.prepare("UPDATE trash SET tags = ? WHERE id = ?");
  update.bind(1, dump_tags(tags)).bind(2, entry).run();
}

}  // namespace

TrashOutcome SqliteStore::trash_manifest(const std::string& repository, const Digest& digest, std::int64_t now) {
  WriteScope scope(*this);
  auto& connection = scope.connection();
  TrashOutcome outcome;
  auto repository_id = find_repository_id(connection, repository);
  if (!repository_id) return outcome;
  auto id = live_manifest(connection, *repository_id, digest.str());
  if (!id) return outcome;

  {
    auto query = connection.prepare(
        "SELECT m.digest FROM manifest_references mr JOIN manifests m ON m.id = mr.manifest_id "
        "WHERE m.repository_id = ? AND mr.kind = 'manifest' AND mr.digest = ? ORDER BY m.digest LIMIT 1");
    query.bind(1, *repository_id).bind(2, digest.str());
    if (query.step()) {
      outcome.result = TrashResult::kReferencedByIndex;
      outcome.index = parse_stored_digest(query.column_text(0));
      return outcome;
    }
  }
  {
    auto query = connection.prepare("SELECT name FROM tags WHERE manifest_id = ? ORDER BY name");
    query.bind(1, *id);
    while (query.step()) outcome.tags.push_back(query.column_text(0));
  }

  std::int64_t entry = move_to_trash(connection, *repository_id, *id, digest.str(), outcome.tags, std::nullopt, now);
  trash_orphaned_children(connection, *repository_id, entry, now);
  scope.commit();
  outcome.result = TrashResult::kTrashed;
  return outcome;
}

std::vector<TrashEntry> SqliteStore::list_trash(const std::vector<std::string>& namespaces) {
  Lease lease(*this);
  Transaction snapshot(*lease, false);
  std::vector<TrashEntry> out;
  for (const auto& name : std::set<std::string>(namespaces.begin(), namespaces.end())) {
    // The names inside a namespace lie in ["<name>/", "<name>0").
    auto query = lease->prepare(
        "SELECT r.name, t.digest, t.media_type, t.tags, t.trashed_at FROM trash t "
        "JOIN repositories r ON r.id = t.repository_id "
        "WHERE t.part_of IS NULL AND r.name >= ? AND r.name < ? ORDER BY t.trashed_at, r.name, t.digest");
    query.bind(1, name + "/").bind(2, name + "0");
    while (query.step()) {
      out.push_back({.repository = query.column_text(0),
                     .digest = parse_stored_digest(query.column_text(1)),
                     .media_type = query.column_text(2),
                     .tags = parse_tags(query.column_text(3)),
                     .trashed_at = query.column_int(4)});
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const TrashEntry& a, const TrashEntry& b) { return a.trashed_at < b.trashed_at; });
  return out;
}

RestoreOutcome SqliteStore::restore_manifest(const std::string& repository, const Digest& digest) {
  WriteScope scope(*this);
  auto& connection = scope.connection();
  RestoreOutcome outcome;
  auto repository_id = find_repository_id(connection, repository);
  if (!repository_id) return outcome;

  std::int64_t entry = 0;
  std::vector<std::string> tags;
  {
    auto query = connection.prepare("SELECT id, tags FROM trash WHERE repository_id = ? AND digest = ?");
    query.bind(1, *repository_id).bind(2, digest.str());
    if (!query.step()) return outcome;
    entry = query.column_int(0);
    tags = parse_tags(query.column_text(1));
  }
  outcome.found = true;

  make_live(connection, *repository_id, entry, digest.str());
  for (const auto& tag : tags) {
    auto live = live_tag_digest(connection, *repository_id, tag);
    if (live && *live == digest.str()) {
      // Someone pushed the same image with this tag again meanwhile.
      outcome.restored.push_back(tag);
    } else if (live) {
      outcome.skipped.push_back(tag);
    } else {
      point_tag(connection, *repository_id, tag, digest.str());
      outcome.restored.push_back(tag);
    }
  }
  keep_tags(connection, entry, outcome.skipped);
  scope.commit();
  return outcome;
}

RestoreTagResult SqliteStore::restore_tag(const std::string& repository, const std::string& tag) {
  WriteScope scope(*this);
  auto& connection = scope.connection();
  auto repository_id = find_repository_id(connection, repository);
  if (!repository_id) return RestoreTagResult::kNotInTrash;

  std::int64_t entry = 0;
  std::string digest;
  std::vector<std::string> tags;
  {
    auto query = connection.prepare(
        "SELECT id, digest, tags FROM trash WHERE repository_id = ? "
        "AND EXISTS (SELECT 1 FROM json_each(trash.tags) WHERE value = ?) ORDER BY trashed_at DESC, id DESC LIMIT 1");
    query.bind(1, *repository_id).bind(2, tag);
    if (!query.step()) return RestoreTagResult::kNotInTrash;
    entry = query.column_int(0);
    digest = query.column_text(1);
    tags = parse_tags(query.column_text(2));
  }
  auto live = live_tag_digest(connection, *repository_id, tag);
  if (live && *live != digest) return RestoreTagResult::kTagLive;

  // A tag that points at this very manifest again (pushed or moved back
  // meanwhile) only leaves the trash.
  make_live(connection, *repository_id, entry, digest);
  if (!live) point_tag(connection, *repository_id, tag, digest);
  tags.erase(std::remove(tags.begin(), tags.end(), tag), tags.end());
  keep_tags(connection, entry, tags);
  scope.commit();
  return RestoreTagResult::kRestored;
}

std::size_t SqliteStore::expire_trash(std::int64_t trashed_before) {
  WriteScope scope(*this);
  // Children go with their index through ON DELETE CASCADE on part_of.
  auto remove = scope.connection().prepare("DELETE FROM trash WHERE part_of IS NULL AND trashed_at < ?");
  remove.bind(1, trashed_before).run();
  auto removed = static_cast<std::size_t>(scope.connection().changes());
  scope.commit();
  return removed;
}

}  // namespace berth::metadata
