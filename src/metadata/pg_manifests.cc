// The registry part of PgStore, ported from sqlite_store.cc: repositories,
// blob links, upload sessions, manifests, tags and referrers.
//
// Writers run in SERIALIZABLE transactions, so a check and the write that
// depends on it (a manifest's references and the manifest, a blob's data
// and its link) cannot interleave with another node's writes. When two
// writers conflict, one of them fails to commit and write() runs it again
// on the other's result. Bodies therefore build their result from scratch.
// A body that returns early without writing still commits, because only a
// committed serializable transaction guarantees that what it read was
// consistent. put_manifest rolls back instead when a reference is missing,
// because it has created the repository by then.
#include "metadata/pg_rows.h"
#include "metadata/pg_store.h"
#include "metadata/store_rows.h"

#include "core/error.h"
#include "core/time.h"

namespace berth::metadata {

using core::Digest;
using core::InternalError;

namespace {

std::int64_t ensure_repository(PgConnection& connection, const std::string& name) {
  // Looking first saves a statement in the usual case, and every statement
  // widens the window in which a concurrent writer makes this one run again.
  if (auto id = find_repository_id(connection, name)) return *id;
  {
    auto insert =
        connection.prepare("INSERT INTO repositories (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING");
    insert.bind(1, name).bind(2, core::unix_now()).run();
  }
  auto id = find_repository_id(connection, name);
  if (!id) throw InternalError("repository " + name + " vanished inside its own transaction");
  return *id;
}

void link_blob_in(PgConnection& connection, std::int64_t repository, const Digest& digest, std::uint64_t size) {
  std::int64_t now = core::unix_now();
  // Linking counts as a use, so that garbage collection gives a mounted or
  // re-uploaded blob a new grace period. A blob touched in this second
  // already is not written again, because pushes that share a base layer
  // link it at the same time, and of concurrent transactions that write
  // one row all but the first fail and run again.
  bool touched = false;
  {
    auto query = connection.prepare("SELECT touched_at >= $2 FROM blobs WHERE digest = $1");
    query.bind(1, digest.str()).bind(2, now);
    touched = query.step() && query.column_int(0) != 0;
  }
  if (!touched) {
    auto blob = connection.prepare(
        "INSERT INTO blobs (digest, size, created_at, touched_at) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (digest) DO UPDATE SET touched_at = GREATEST(blobs.touched_at, excluded.touched_at)");
    blob.bind(1, digest.str()).bind(2, static_cast<std::int64_t>(size)).bind(3, now).bind(4, now).run();
  }
  auto link = connection.prepare(
      "INSERT INTO repository_blobs (repository_id, digest, linked_at) VALUES ($1, $2, $3) "
      "ON CONFLICT (repository_id, digest) DO NOTHING");
  link.bind(1, repository).bind(2, digest.str()).bind(3, now).run();
}

}  // namespace

bool PgStore::repository_exists(const std::string& repository) {
  return read([&](PgConnection& connection) { return find_repository_id(connection, repository).has_value(); });
}

NamePage PgStore::list_repositories(const std::string& after, std::size_t limit) {
  return read([&](PgConnection& connection) {
    auto query = connection.prepare("SELECT name FROM repositories WHERE name > $1 ORDER BY name LIMIT $2");
    query.bind(1, after).bind(2, probe_limit(limit));
    return read_names(query, limit);
  });
}

std::optional<BlobRecord> PgStore::find_repository_blob(const std::string& repository, const Digest& digest) {
  return read([&](PgConnection& connection) -> std::optional<BlobRecord> {
    auto query = connection.prepare(
        "SELECT b.size, b.created_at FROM repository_blobs rb "
        "JOIN repositories r ON r.id = rb.repository_id "
        "JOIN blobs b ON b.digest = rb.digest "
        "WHERE r.name = $1 AND rb.digest = $2");
    query.bind(1, repository).bind(2, digest.str());
    if (!query.step()) return std::nullopt;
    return BlobRecord{
        .digest = digest, .size = static_cast<std::uint64_t>(query.column_int(0)), .created_at = query.column_int(1)};
  });
}

void PgStore::link_blob(const std::string& repository, const Digest& digest, std::uint64_t size) {
  write([&](PgConnection& connection) {
    link_blob_in(connection, ensure_repository(connection, repository), digest, size);
  });
}

bool PgStore::link_blob_with_data(const std::string& repository, const Digest& digest, std::uint64_t size,
                                  const std::string& upload_id, const std::function<bool()>& data_present) {
  return write([&](PgConnection& connection) {
    {
      // Garbage collection locks this key exclusively from before it
      // deletes the blob's record until after it has removed the data, so
      // data_present() below cannot see data that is about to go.
      auto lock = connection.prepare("SELECT pg_advisory_xact_lock_shared($1)");
      lock.bind(1, advisory_key("blob:" + digest.str())).run();
    }
    if (!data_present()) return false;
    link_blob_in(connection, ensure_repository(connection, repository), digest, size);
    if (!upload_id.empty()) {
      auto remove = connection.prepare("DELETE FROM uploads WHERE id = $1");
      remove.bind(1, upload_id).run();
    }
    return true;
  });
}

UnlinkBlobResult PgStore::unlink_blob(const std::string& repository, const Digest& digest) {
  return write([&](PgConnection& connection) {
    UnlinkBlobResult result;
    auto id = find_repository_id(connection, repository);
    if (!id) return result;
    {
      auto query = connection.prepare(
          "SELECT m.digest FROM manifest_references mr JOIN manifests m ON m.id = mr.manifest_id "
          "WHERE m.repository_id = $1 AND mr.kind = 'blob' AND mr.digest = $2 ORDER BY m.digest LIMIT 1");
      query.bind(1, *id).bind(2, digest.str());
      if (query.step()) {
        result.referenced_by = parse_stored_digest(query.column_text(0));
        return result;
      }
    }
    auto statement = connection.prepare("DELETE FROM repository_blobs WHERE repository_id = $1 AND digest = $2");
    statement.bind(1, *id).bind(2, digest.str()).run();
    result.unlinked = statement.changes() > 0;
    return result;
  });
}

std::vector<BlobRecord> PgStore::list_blobs() {
  return read([](PgConnection& connection) {
    auto query = connection.prepare(
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
  });
}

void PgStore::create_upload(const UploadRecord& upload) {
  write([&](PgConnection& connection) {
    auto insert = connection.prepare(
        "INSERT INTO uploads (id, repository, received_bytes, algorithm, hash_state, driver_state, created_at, "
        "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
    insert.bind(1, upload.id)
        .bind(2, upload.repository)
        .bind(3, static_cast<std::int64_t>(upload.received_bytes))
        .bind(4, core::algorithm_name(upload.algorithm))
        .bind_blob(5, upload.hash_state)
        .bind(6, upload.driver_state)
        .bind(7, upload.created_at)
        .bind(8, upload.updated_at)
        .run();
  });
}

std::optional<UploadRecord> PgStore::find_upload(const std::string& id) {
  return read([&](PgConnection& connection) -> std::optional<UploadRecord> {
    auto query = connection.prepare(
        "SELECT id, repository, received_bytes, algorithm, hash_state, driver_state, created_at, updated_at "
        "FROM uploads WHERE id = $1");
    query.bind(1, id);
    if (!query.step()) return std::nullopt;
    return read_upload(query);
  });
}

bool PgStore::update_upload(const std::string& id, std::uint64_t expected_bytes, std::uint64_t received_bytes,
                            const std::string& hash_state, const std::string& driver_state) {
  return write([&](PgConnection& connection) {
    auto update = connection.prepare(
        "UPDATE uploads SET received_bytes = $1, hash_state = $2, driver_state = $3, updated_at = $4 "
        "WHERE id = $5 AND received_bytes = $6");
    update.bind(1, static_cast<std::int64_t>(received_bytes))
        .bind_blob(2, hash_state)
        .bind(3, driver_state)
        .bind(4, core::unix_now())
        .bind(5, id)
        .bind(6, static_cast<std::int64_t>(expected_bytes))
        .run();
    return update.changes() > 0;
  });
}

void PgStore::complete_upload(const std::string& id, const Digest& digest, std::uint64_t size) {
  write([&](PgConnection& connection) {
    std::string repository;
    {
      auto query = connection.prepare("SELECT repository FROM uploads WHERE id = $1");
      query.bind(1, id);
      if (!query.step()) throw InternalError("upload " + id + " vanished before it completed");
      repository = query.column_text(0);
    }
    link_blob_in(connection, ensure_repository(connection, repository), digest, size);
    auto remove = connection.prepare("DELETE FROM uploads WHERE id = $1");
    remove.bind(1, id).run();
  });
}

bool PgStore::delete_upload(const std::string& id) {
  return write([&](PgConnection& connection) {
    auto remove = connection.prepare("DELETE FROM uploads WHERE id = $1");
    remove.bind(1, id).run();
    return remove.changes() > 0;
  });
}

std::vector<UploadRecord> PgStore::list_uploads() {
  return read([](PgConnection& connection) {
    auto query = connection.prepare(
        "SELECT id, repository, received_bytes, algorithm, hash_state, driver_state, created_at, updated_at "
        "FROM uploads ORDER BY created_at, id");
    std::vector<UploadRecord> out;
    while (query.step()) out.push_back(read_upload(query));
    return out;
  });
}

std::optional<ManifestRecord> PgStore::find_manifest(const std::string& repository, const Digest& digest) {
  return read([&](PgConnection& connection) -> std::optional<ManifestRecord> {
    auto query = connection.prepare(
        "SELECT m.digest, m.media_type, m.content, m.artifact_type, m.subject_digest, m.annotations, m.created_at "
        "FROM manifests m JOIN repositories r ON r.id = m.repository_id WHERE r.name = $1 AND m.digest = $2");
    query.bind(1, repository).bind(2, digest.str());
    if (!query.step()) return std::nullopt;
    return read_manifest(query, repository);
  });
}

std::optional<ManifestRecord> PgStore::find_tagged_manifest(const std::string& repository, const std::string& tag) {
  return read([&](PgConnection& connection) -> std::optional<ManifestRecord> {
    auto query = connection.prepare(
        "SELECT m.digest, m.media_type, m.content, m.artifact_type, m.subject_digest, m.annotations, m.created_at "
        "FROM tags t JOIN repositories r ON r.id = t.repository_id JOIN manifests m ON m.id = t.manifest_id "
        "WHERE r.name = $1 AND t.name = $2");
    query.bind(1, repository).bind(2, tag);
    if (!query.step()) return std::nullopt;
    return read_manifest(query, repository);
  });
}

std::optional<ManifestRecord> PgStore::find_manifest_by_digest(const Digest& digest) {
  return read([&](PgConnection& connection) -> std::optional<ManifestRecord> {
    auto query = connection.prepare(
        "SELECT m.digest, m.media_type, m.content, m.artifact_type, m.subject_digest, m.annotations, m.created_at, "
        "r.name FROM manifests m JOIN repositories r ON r.id = m.repository_id WHERE m.digest = $1 "
        "ORDER BY r.name LIMIT 1");
    query.bind(1, digest.str());
    if (!query.step()) return std::nullopt;
    return read_manifest(query, query.column_text(7));
  });
}

PutManifestResult PgStore::put_manifest(const ManifestWrite& manifest) {
  return write([&](PgConnection& connection) {
    std::int64_t repository = ensure_repository(connection, manifest.repository);
    PutManifestResult result;

    for (const auto& digest : manifest.blob_references) {
      auto query = connection.prepare("SELECT 1 FROM repository_blobs WHERE repository_id = $1 AND digest = $2");
      query.bind(1, repository).bind(2, digest.str());
      if (!query.step()) result.missing_blobs.push_back(digest);
    }
    for (const auto& digest : manifest.manifest_references) {
      auto query = connection.prepare("SELECT 1 FROM manifests WHERE repository_id = $1 AND digest = $2");
      query.bind(1, repository).bind(2, digest.str());
      if (!query.step()) result.missing_manifests.push_back(digest);
    }
    if (!result.missing_blobs.empty() || !result.missing_manifests.empty()) {
      // Also takes back the repository that ensure_repository created.
      connection.discard_transaction();
      return result;
    }

    std::int64_t now = core::unix_now();
    std::int64_t manifest_id = 0;
    bool inserted = false;
    {
      auto insert = connection.prepare(
          "INSERT INTO manifests (repository_id, digest, media_type, content, artifact_type, subject_digest, "
          "annotations, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
          "ON CONFLICT (repository_id, digest) DO NOTHING RETURNING id");
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
      insert.bind(7, manifest.annotations_json).bind(8, now);
      // RETURNING yields a row only when the manifest is new.
      if (insert.step()) {
        manifest_id = insert.column_int(0);
        inserted = true;
      }
    }
    if (!inserted) {
      auto query = connection.prepare("SELECT id FROM manifests WHERE repository_id = $1 AND digest = $2");
      query.bind(1, repository).bind(2, manifest.digest.str());
      if (!query.step()) {
        throw InternalError("manifest " + manifest.digest.str() + " vanished inside its own transaction");
      }
      manifest_id = query.column_int(0);
    }

    if (inserted) {
      auto add_reference = [&](const char* kind, const Digest& digest) {
        auto insert = connection.prepare(
            "INSERT INTO manifest_references (manifest_id, kind, digest) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING");
        insert.bind(1, manifest_id).bind(2, kind).bind(3, digest.str()).run();
      };
      for (const auto& digest : manifest.blob_references) add_reference("blob", digest);
      for (const auto& digest : manifest.manifest_references) add_reference("manifest", digest);
    }

    if (manifest.tag) {
      auto tag = connection.prepare(
          "INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES ($1, $2, $3, $4) "
          "ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = excluded.manifest_id, "
          "updated_at = excluded.updated_at");
      tag.bind(1, repository).bind(2, *manifest.tag).bind(3, manifest_id).bind(4, now).run();
    }

    result.stored = true;
    return result;
  });
}

bool PgStore::delete_manifest(const std::string& repository, const Digest& digest) {
  return write([&](PgConnection& connection) {
    // Tags and references go with it through ON DELETE CASCADE.
    auto remove = connection.prepare(
        "DELETE FROM manifests WHERE repository_id = (SELECT id FROM repositories WHERE name = $1) AND digest = $2");
    remove.bind(1, repository).bind(2, digest.str()).run();
    return remove.changes() > 0;
  });
}

bool PgStore::delete_tag(const std::string& repository, const std::string& tag) {
  return write([&](PgConnection& connection) {
    auto remove = connection.prepare(
        "DELETE FROM tags WHERE repository_id = (SELECT id FROM repositories WHERE name = $1) AND name = $2");
    remove.bind(1, repository).bind(2, tag).run();
    return remove.changes() > 0;
  });
}

std::optional<NamePage> PgStore::list_tags(const std::string& repository, const std::string& after, std::size_t limit) {
  return read([&](PgConnection& connection) -> std::optional<NamePage> {
    auto id = find_repository_id(connection, repository);
    if (!id) return std::nullopt;
    auto query =
        connection.prepare("SELECT name FROM tags WHERE repository_id = $1 AND name > $2 ORDER BY name LIMIT $3");
    query.bind(1, *id).bind(2, after).bind(3, probe_limit(limit));
    return read_names(query, limit);
  });
}

std::vector<ReferrerRecord> PgStore::list_referrers(const std::string& repository, const Digest& subject,
                                                    const std::optional<std::string>& artifact_type) {
  return read([&](PgConnection& connection) {
    std::vector<ReferrerRecord> out;
    auto id = find_repository_id(connection, repository);
    if (!id) return out;

    auto query = artifact_type
                     ? connection.prepare(
                           "SELECT digest, media_type, octet_length(content), artifact_type, annotations "
                           "FROM manifests WHERE repository_id = $1 AND subject_digest = $2 AND artifact_type = $3 "
                           "ORDER BY digest")
                     : connection.prepare(
                           "SELECT digest, media_type, octet_length(content), artifact_type, annotations "
                           "FROM manifests WHERE repository_id = $1 AND subject_digest = $2 ORDER BY digest");
    query.bind(1, *id).bind(2, subject.str());
    if (artifact_type) query.bind(3, *artifact_type);

    while (query.step()) {
      out.push_back({.digest = parse_stored_digest(query.column_text(0)),
                     .media_type = query.column_text(1),
                     .size = static_cast<std::uint64_t>(query.column_int(2)),
                     .artifact_type = query.column_text(3),
                     .annotations_json = query.column_text(4)});
    }
    return out;
  });
}

std::vector<ManifestRecord> PgStore::list_manifests() {
  return read([](PgConnection& connection) {
    auto query = connection.prepare(
        "SELECT m.digest, m.media_type, m.content, m.artifact_type, m.subject_digest, m.annotations, m.created_at, "
        "r.name FROM manifests m JOIN repositories r ON r.id = m.repository_id ORDER BY r.name, m.digest");
    std::vector<ManifestRecord> out;
    while (query.step()) out.push_back(read_manifest(query, query.column_text(7)));
    return out;
  });
}

std::vector<Digest> PgStore::manifest_blob_references(const std::string& repository, const Digest& digest) {
  return read([&](PgConnection& connection) {
    auto query = connection.prepare(
        "SELECT mr.digest FROM manifest_references mr JOIN manifests m ON m.id = mr.manifest_id "
        "JOIN repositories r ON r.id = m.repository_id WHERE r.name = $1 AND m.digest = $2 AND mr.kind = 'blob' "
        "ORDER BY mr.digest");
    query.bind(1, repository).bind(2, digest.str());
    return read_digests(query);
  });
}

std::vector<Digest> PgStore::manifest_child_references(const std::string& repository, const Digest& digest) {
  return read([&](PgConnection& connection) {
    auto query = connection.prepare(
        "SELECT mr.digest FROM manifest_references mr JOIN manifests m ON m.id = mr.manifest_id "
        "JOIN repositories r ON r.id = m.repository_id WHERE r.name = $1 AND m.digest = $2 AND mr.kind = 'manifest' "
        "ORDER BY mr.digest");
    query.bind(1, repository).bind(2, digest.str());
    return read_digests(query);
  });
}

}  // namespace berth::metadata
