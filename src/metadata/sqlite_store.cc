#include "metadata/sqlite_store.h"

#include "core/error.h"
#include "core/time.h"
#include "metadata/sqlite_rows.h"
#include "metadata/sqlite_schema.h"
#include "metadata/store_rows.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

namespace berth::metadata {

using core::Digest;
using core::InternalError;

namespace {

std::int64_t ensure_repository(SqliteConnection& connection, const std::string& name) {
  {
    auto insert = connection.prepare("INSERT INTO repositories (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING");
    insert.bind(1, name).bind(2, core::unix_now()).run();
  }
  auto id = find_repository_id(connection, name);
  if (!id) throw InternalError("repository " + name + " vanished inside its own transaction");
  return *id;
}

void link_blob_in(SqliteConnection& connection, std::int64_t repository, const Digest& digest, std::uint64_t size) {
  std::int64_t now = core::unix_now();
  {
    // Linking counts as a use, so that garbage collection gives a mounted
    // or re-uploaded blob a new grace period.
    auto blob = connection.prepare(
        "INSERT INTO blobs (digest, size, created_at, touched_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (digest) DO UPDATE SET touched_at = max(blobs.touched_at, excluded.touched_at)");
    blob.bind(1, digest.str()).bind(2, static_cast<std::int64_t>(size)).bind(3, now).bind(4, now).run();
  }
  auto link = connection.prepare(
      "INSERT INTO repository_blobs (repository_id, digest, linked_at) VALUES (?, ?, ?) "
      "ON CONFLICT (repository_id, digest) DO NOTHING");
  link.bind(1, repository).bind(2, digest.str()).bind(3, now).run();
}

}  // namespace

std::int64_t SqliteStore::probe_limit(std::size_t limit) {
  constexpr std::size_t kLargest = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()) - 1;
  return static_cast<std::int64_t>(std::min(limit, kLargest)) + 1;
}

SqliteStore::Lease::Lease(SqliteStore& store) : store_(store) {
  std::unique_lock<std::mutex> lock(store_.pool_mutex_);
  store_.pool_available_.wait(lock, [&] { return !store_.idle_.empty(); });
  connection_ = store_.idle_.back();
  store_.idle_.pop_back();
}

SqliteStore::Lease::~Lease() {
  {
    std::lock_guard<std::mutex> lock(store_.pool_mutex_);
    store_.idle_.push_back(connection_);
  }
  store_.pool_available_.notify_one();
}

SqliteStore::SqliteStore(SqliteOptions options) : options_(std::move(options)) {
  if (options_.synchronous != "full" && options_.synchronous != "normal") {
    throw std::invalid_argument("SQLite synchronous mode must be \"full\" or \"normal\", not \"" + options_.synchronous + "\"");
  }
  if (options_.connections == 0) options_.connections = 1;

  for (std::size_t i = 0; i < options_.connections; ++i) {
    connections_.push_back(std::make_unique<SqliteConnection>(options_.path));
    configure(*connections_.back());
    if (i == 0) migrate(*connections_.back());
    idle_.push_back(connections_.back().get());
  }
}

SqliteStore::~SqliteStore() = default;

int SqliteStore::schema_version() { return static_cast<int>(sqlite_migrations().size()); }

void SqliteStore::configure(SqliteConnection& connection) {
  connection.exec("PRAGMA journal_mode = WAL");
  connection.exec("PRAGMA foreign_keys = ON");
  connection.exec(options_.synchronous == "full" ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
}

void SqliteStore::migrate(SqliteConnection& connection) {
  Transaction transaction(connection, true);
  std::int64_t version = 0;
  {
    auto query = connection.prepare("PRAGMA user_version");
    if (query.step()) version = query.column_int(0);
  }
  auto migrations = sqlite_migrations();
  if (version > static_cast<std::int64_t>(migrations.size())) {
    throw InternalError("database " + options_.path + " has schema version " + std::to_string(version) +
                        ", newer than this berthd supports (" + std::to_string(migrations.size()) +
                        "); run a newer berthd");
  }
  for (auto i = static_cast<std::size_t>(version); i < migrations.size(); ++i) {
    connection.exec(migrations[i]);
    std::string set_version = "PRAGMA user_version = " + std::to_string(i + 1);
    connection.exec(set_version.c_str());
    spdlog::info("schema_migrated database={} version={}", options_.path, i + 1);
  }
  transaction.commit();
}

bool SqliteStore::repository_exists(const std::string& repository) {
  Lease lease(*this);
  return find_repository_id(*lease, repository).has_value();
}

NamePage SqliteStore::list_repositories(const std::string& after, std::size_t limit) {
  Lease lease(*this);
  auto query = lease->prepare("SELECT name FROM repositories WHERE name > ? ORDER BY name LIMIT ?");
  query.bind(1, after).bind(2, probe_limit(limit));
  return read_names(query, limit);
}

std::optional<BlobRecord> SqliteStore::find_repository_blob(const std::string& repository, const Digest& digest) {
  Lease lease(*this);
  auto query = lease->prepare(
      "SELECT b.size, b.created_at FROM repository_blobs rb "
      "JOIN repositories r ON r.id = rb.repository_id "
      "JOIN blobs b ON b.digest = rb.digest "
      "WHERE r.name = ? AND rb.digest = ?");
  query.bind(1, repository).bind(2, digest.str());
  if (!query.step()) return std::nullopt;
  return BlobRecord{.digest = digest, .size = static_cast<std::uint64_t>(query.column_int(0)), .created_at = query.column_int(1)};
}

void SqliteStore::link_blob(const std::string& repository, const Digest& digest, std::uint64_t size) {
  WriteScope scope(*this);
  link_blob_in(scope.connection(), ensure_repository(scope.connection(), repository), digest, size);
  scope.commit();
}

bool SqliteStore::link_blob_with_data(const std::string& repository, const Digest& digest, std::uint64_t size,
                                      const std::string& upload_id, const std::function<bool()>& data_present) {
  WriteScope scope(*this);
  auto& connection = scope.connection();
  if (!data_present()) return false;
  link_blob_in(connection, ensure_repository(connection, repository), digest, size);
  if (!upload_id.empty()) {
    auto remove = connection.prepare("DELETE FROM uploads WHERE id = ?");
    remove.bind(1, upload_id).run();
  }
  scope.commit();
  return true;
}

UnlinkBlobResult SqliteStore::unlink_blob(const std::string& repository, const Digest& digest) {
  WriteScope scope(*this);
  auto& connection = scope.connection();
  UnlinkBlobResult result;
  auto id = find_repository_id(connection, repository);
  if (!id) return result;
  {
    auto query = connection.prepare(
        "SELECT m.digest FROM manifest_references mr JOIN manifests m ON m.id = mr.manifest_id "
        "WHERE m.repository_id = ? AND mr.kind = 'blob' AND mr.digest = ? ORDER BY m.digest LIMIT 1");
    query.bind(1, *id).bind(2, digest.str());
    if (query.step()) {
      result.referenced_by = parse_stored_digest(query.column_text(0));
      return result;
    }
  }
  auto statement = connection.prepare("DELETE FROM repository_blobs WHERE repository_id = ? AND digest = ?");
  statement.bind(1, *id).bind(2, digest.str()).run();
  result.unlinked = connection.changes() > 0;
  scope.commit();
  return result;
}

std::vector<BlobRecord> SqliteStore::list_blobs() {
  Lease lease(*this);
  auto query = lease->prepare(
      "SELECT digest, size, created_at, ref_count, "
      "(SELECT count(*) FROM repository_blobs rb WHERE rb.digest = blobs.digest) FROM blobs ORDER BY digest");
  std::vector<BlobRecord> out;
  while (query.step()) {
    out.push_back({.digest = parse_stored_digest(query.column_text(0)),
                   .size = static_cast<std::uint64_t>(query.column_int(1)),
                   .created_at = query.column_int(2),
                   .ref_count = query.column_int(3),
                   .links = query.column_int(4)});
  }
  return out;
}

void SqliteStore::create_upload(const UploadRecord& upload) {
  WriteScope scope(*this);
  auto insert = scope.connection().prepare(
      "INSERT INTO uploads (id, repository, received_bytes, algorithm, hash_state, driver_state, created_at, updated_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  insert.bind(1, upload.id)
      .bind(2, upload.repository)
      .bind(3, static_cast<std::int64_t>(upload.received_bytes))
      .bind(4, core::algorithm_name(upload.algorithm))
      .bind_blob(5, upload.hash_state)
      .bind(6, upload.driver_state)
      .bind(7, upload.created_at)
      .bind(8, upload.updated_at)
      .run();
  scope.commit();
}

std::optional<UploadRecord> SqliteStore::find_upload(const std::string& id) {
  Lease lease(*this);
  auto query = lease->prepare(
      "SELECT id, repository, received_bytes, algorithm, hash_state, driver_state, created_at, updated_at "
      "FROM uploads WHERE id = ?");
  query.bind(1, id);
  if (!query.step()) return std::nullopt;
  return read_upload(query);
}

bool SqliteStore::update_upload(const std::string& id, std::uint64_t expected_bytes, std::uint64_t received_bytes,
                                const std::string& hash_state, const std::string& driver_state) {
  WriteScope scope(*this);
  auto update = scope.connection().prepare(
      "UPDATE uploads SET received_bytes = ?, hash_state = ?, driver_state = ?, updated_at = ? "
      "WHERE id = ? AND received_bytes = ?");
  update.bind(1, static_cast<std::int64_t>(received_bytes))
      .bind_blob(2, hash_state)
      .bind(3, driver_state)
      .bind(4, core::unix_now())
      .bind(5, id)
      .bind(6, static_cast<std::int64_t>(expected_bytes))
      .run();
  bool updated = scope.connection().changes() > 0;
  scope.commit();
  return updated;
}

void SqliteStore::complete_upload(const std::string& id, const Digest& digest, std::uint64_t size) {
  WriteScope scope(*this);
  auto& connection = scope.connection();
  std::string repository;
  {
    auto query = connection.prepare("SELECT repository FROM uploads WHERE id = ?");
    query.bind(1, id);
    if (!query.step()) throw InternalError("upload " + id + " vanished before it completed");
    repository = query.column_text(0);
  }
  link_blob_in(connection, ensure_repository(connection, repository), digest, size);
  {
    auto remove = connection.prepare("DELETE FROM uploads WHERE id = ?");
    remove.bind(1, id).run();
  }
  scope.commit();
}

bool SqliteStore::delete_upload(const std::string& id) {
  WriteScope scope(*this);
  auto remove = scope.connection().prepare("DELETE FROM uploads WHERE id = ?");
  remove.bind(1, id).run();
  bool removed = scope.connection().changes() > 0;
  scope.commit();
  return removed;
}

std::vector<UploadRecord> SqliteStore::list_uploads() {
  Lease lease(*this);
  auto query = lease->prepare(
      "SELECT id, repository, received_bytes, algorithm, hash_state, driver_state, created_at, updated_at "
      "FROM uploads ORDER BY created_at, id");
  std::vector<UploadRecord> out;
  while (query.step()) out.push_back(read_upload(query));
  return out;
}

std::optional<ManifestRecord> SqliteStore::find_manifest(const std::string& repository, const Digest& digest) {
  Lease lease(*this);
  auto query = lease->prepare(
      "SELECT m.digest, m.media_type, m.content, m.artifact_type, m.subject_digest, m.annotations, m.created_at "
      "FROM manifests m JOIN repositories r ON r.id = m.repository_id WHERE r.name = ? AND m.digest = ?");
  query.bind(1, repository).bind(2, digest.str());
  if (!query.step()) return std::nullopt;
  return read_manifest(query, repository);
}

std::optional<ManifestRecord> SqliteStore::find_tagged_manifest(const std::string& repository, const std::string& tag) {
  Lease lease(*this);
  auto query = lease->prepare(
      "SELECT m.digest, m.media_type, m.content, m.artifact_type, m.subject_digest, m.annotations, m.created_at "
      "FROM tags t JOIN repositories r ON r.id = t.repository_id JOIN manifests m ON m.id = t.manifest_id "
      "WHERE r.name = ? AND t.name = ?");
  query.bind(1, repository).bind(2, tag);
  if (!query.step()) return std::nullopt;
  return read_manifest(query, repository);
}

std::optional<ManifestRecord> SqliteStore::find_manifest_by_digest(const Digest& digest) {
  Lease lease(*this);
  auto query = lease->prepare(
      "SELECT m.digest, m.media_type, m.content, m.artifact_type, m.subject_digest, m.annotations, m.created_at, "
      "r.name FROM manifests m JOIN repositories r ON r.id = m.repository_id WHERE m.digest = ? "
      "ORDER BY r.name LIMIT 1");
  query.bind(1, digest.str());
  if (!query.step()) return std::nullopt;
  return read_manifest(query, query.column_text(7));
}

PutManifestResult SqliteStore::put_manifest(const ManifestWrite& manifest) {
  WriteScope scope(*this);
  auto& connection = scope.connection();
  std::int64_t repository = ensure_repository(connection, manifest.repository);
  PutManifestResult result;

  for (const auto& digest : manifest.blob_references) {
    auto query = connection.prepare("SELECT 1 FROM repository_blobs WHERE repository_id = ? AND digest = ?");
    query.bind(1, repository).bind(2, digest.str());
    if (!query.step()) result.missing_blobs.push_back(digest);
  }
  for (const auto& digest : manifest.manifest_references) {
    auto query = connection.prepare("SELECT 1 FROM manifests WHERE repository_id = ? AND digest = ?");
    query.bind(1, repository).bind(2, digest.str());
    if (!query.step()) result.missing_manifests.push_back(digest);
  }
  if (!result.missing_blobs.empty() || !result.missing_manifests.empty()) return result;  // rolls back

  std::int64_t now = core::unix_now();
  {
    auto insert = connection.prepare(
        "INSERT INTO manifests (repository_id, digest, media_type, content, artifact_type, subject_digest, annotations, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (repository_id, digest) DO NOTHING");
    insert.bind(1, repository)
        .bind(2, manifest.digest.str())
        .bind(3, manifest.media_type)
        .bind_blob(4, manifest.content)
        .bind(5, manifest.artifact_type);
    if (manifest.subject) {
      insert.bind(6, manifest.subject->str());
    } else {
      insert.bind_null(6);
    }
    insert.bind(7, manifest.annotations_json).bind(8, now).run();
  }
  bool inserted = connection.changes() > 0;

  std::int64_t manifest_id = 0;
  {
    auto query = connection.prepare("SELECT id FROM manifests WHERE repository_id = ? AND digest = ?");
    query.bind(1, repository).bind(2, manifest.digest.str());
    if (!query.step()) throw InternalError("manifest " + manifest.digest.str() + " vanished inside its own transaction");
    manifest_id = query.column_int(0);
  }

  if (inserted) {
    auto add_reference = [&](const char* kind, const Digest& digest) {
      auto insert = connection.prepare(
          "INSERT INTO manifest_references (manifest_id, kind, digest) VALUES (?, ?, ?) ON CONFLICT DO NOTHING");
      insert.bind(1, manifest_id).bind(2, kind).bind(3, digest.str()).run();
    };
    for (const auto& digest : manifest.blob_references) add_reference("blob", digest);
    for (const auto& digest : manifest.manifest_references) add_reference("manifest", digest);
  }

  if (manifest.tag) {
    auto tag = connection.prepare(
        "INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = excluded.manifest_id, updated_at = excluded.updated_at");
    tag.bind(1, repository).bind(2, *manifest.tag).bind(3, manifest_id).bind(4, now).run();
  }

  scope.commit();
  result.stored = true;
  return result;
}

bool SqliteStore::delete_manifest(const std::string& repository, const Digest& digest) {
  WriteScope scope(*this);
  // Tags and references go with it through ON DELETE CASCADE.
  auto remove = scope.connection().prepare(
      "DELETE FROM manifests WHERE repository_id = (SELECT id FROM repositories WHERE name = ?) AND digest = ?");
  remove.bind(1, repository).bind(2, digest.str()).run();
  bool removed = scope.connection().changes() > 0;
  scope.commit();
  return removed;
}

bool SqliteStore::delete_tag(const std::string& repository, const std::string& tag) {
  WriteScope scope(*this);
  auto remove = scope.connection().prepare(
      "DELETE FROM tags WHERE repository_id = (SELECT id FROM repositories WHERE name = ?) AND name = ?");
  remove.bind(1, repository).bind(2, tag).run();
  bool removed = scope.connection().changes() > 0;
  scope.commit();
  return removed;
}

std::optional<NamePage> SqliteStore::list_tags(const std::string& repository, const std::string& after, std::size_t limit) {
  Lease lease(*this);
  auto id = find_repository_id(*lease, repository);
  if (!id) return std::nullopt;
  auto query = lease->prepare("SELECT name FROM tags WHERE repository_id = ? AND name > ? ORDER BY name LIMIT ?");
  query.bind(1, *id).bind(2, after).bind(3, probe_limit(limit));
  return read_names(query, limit);
}

std::vector<ReferrerRecord> SqliteStore::list_referrers(const std::string& repository, const Digest& subject,
                                                        const std::optional<std::string>& artifact_type) {
  Lease lease(*this);
  auto id = find_repository_id(*lease, repository);
  if (!id) return {};

  auto query = artifact_type
                   ? lease->prepare(
                         "SELECT digest, media_type, length(content), artifact_type, annotations FROM manifests "
                         "WHERE repository_id = ? AND subject_digest = ? AND artifact_type = ? ORDER BY digest")
                   : lease->prepare(
                         "SELECT digest, media_type, length(content), artifact_type, annotations FROM manifests "
                         "WHERE repository_id = ? AND subject_digest = ? ORDER BY digest");
  query.bind(1, *id).bind(2, subject.str());
  if (artifact_type) query.bind(3, *artifact_type);

  std::vector<ReferrerRecord> out;
  while (query.step()) {
    out.push_back({.digest = parse_stored_digest(query.column_text(0)),
                   .media_type = query.column_text(1),
                   .size = static_cast<std::uint64_t>(query.column_int(2)),
                   .artifact_type = query.column_text(3),
                   .annotations_json = query.column_text(4)});
  }
  return out;
}

std::vector<ManifestRecord> SqliteStore::list_manifests() {
  Lease lease(*this);
  auto query = lease->prepare(
      "SELECT m.digest, m.media_type, m.content, m.artifact_type, m.subject_digest, m.annotations, m.created_at, r.name "
      "FROM manifests m JOIN repositories r ON r.id = m.repository_id ORDER BY r.name, m.digest");
  std::vector<ManifestRecord> out;
  while (query.step()) out.push_back(read_manifest(query, query.column_text(7)));
  return out;
}

std::vector<Digest> SqliteStore::manifest_blob_references(const std::string& repository, const Digest& digest) {
  Lease lease(*this);
  auto query = lease->prepare(
      "SELECT mr.digest FROM manifest_references mr JOIN manifests m ON m.id = mr.manifest_id "
      "JOIN repositories r ON r.id = m.repository_id WHERE r.name = ? AND m.digest = ? AND mr.kind = 'blob' "
      "ORDER BY mr.digest");
  query.bind(1, repository).bind(2, digest.str());
  return read_digests(query);
}

std::vector<Digest> SqliteStore::manifest_child_references(const std::string& repository, const Digest& digest) {
  Lease lease(*this);
  auto query = lease->prepare(
      "SELECT mr.digest FROM manifest_references mr JOIN manifests m ON m.id = mr.manifest_id "
      "JOIN repositories r ON r.id = m.repository_id WHERE r.name = ? AND m.digest = ? AND mr.kind = 'manifest' "
      "ORDER BY mr.digest");
  query.bind(1, repository).bind(2, digest.str());
  return read_digests(query);
}

}  // namespace berth::metadata
