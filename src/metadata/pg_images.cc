// The image part of PgStore, ported from sqlite_images.cc: listings of
// manifests with their tags, the cached facts of each manifest digest, and
// server-side copies of a manifest into another repository.
#include "metadata/pg_rows.h"
#include "metadata/pg_store.h"
#include "metadata/store_rows.h"

#include "core/error.h"
#include "core/time.h"

#include <functional>
#include <map>
#include <set>
#include <utility>

namespace berth::metadata {

using core::Digest;
using core::InternalError;

std::vector<ImageEntry> PgStore::list_images(const std::vector<std::string>& namespaces,
                                             const std::vector<std::string>& repositories) {
  // One snapshot, so that every scan reads the same state.
  std::map<ImageKey, ImageEntry> images = read_snapshot([&](PgConnection& connection) {
    std::map<ImageKey, ImageEntry> found;
    // Both scans leave out an untagged manifest that another manifest of
    // the same repository references, because it is a child of an index
    // there and so part of that index's image rather than an image of its
    // own.
    for (const auto& name : std::set<std::string>(namespaces.begin(), namespaces.end())) {
      // The names inside a namespace lie in ["<name>/", "<name>0"), because
      // '0' is the byte after '/' and names use the "C" collation.
      auto query = connection.prepare(
          "SELECT r.name, m.digest, m.media_type, m.created_at, t.name, m.artifact_type, "
          "f.digest, f.config_digest, f.created, f.size, f.architecture, f.os, f.labels "
          "FROM repositories r JOIN manifests m ON m.repository_id = r.id "
          "LEFT JOIN tags t ON t.manifest_id = m.id LEFT JOIN image_facts f ON f.digest = m.digest "
          "WHERE r.name >= $1 AND r.name < $2 AND (EXISTS (SELECT 1 FROM tags own WHERE own.manifest_id = m.id) "
          "OR NOT EXISTS (SELECT 1 FROM manifest_references mr JOIN manifests parent ON parent.id = mr.manifest_id "
          "WHERE mr.kind = 'manifest' AND mr.digest = m.digest AND parent.repository_id = m.repository_id)) "
          "ORDER BY r.name, m.digest, t.name");
      query.bind(1, name + "/").bind(2, name + "0");
      collect_images(query, found);
    }
    for (const auto& name : std::set<std::string>(repositories.begin(), repositories.end())) {
      auto query = connection.prepare(
          "SELECT r.name, m.digest, m.media_type, m.created_at, t.name, m.artifact_type, "
          "f.digest, f.config_digest, f.created, f.size, f.architecture, f.os, f.labels "
          "FROM repositories r JOIN manifests m ON m.repository_id = r.id "
          "LEFT JOIN tags t ON t.manifest_id = m.id LEFT JOIN image_facts f ON f.digest = m.digest "
          "WHERE r.name = $1 AND (EXISTS (SELECT 1 FROM tags own WHERE own.manifest_id = m.id) "
          "OR NOT EXISTS (SELECT 1 FROM manifest_references mr JOIN manifests parent ON parent.id = mr.manifest_id "
          "WHERE mr.kind = 'manifest' AND mr.digest = m.digest AND parent.repository_id = m.repository_id)) "
          "ORDER BY m.digest, t.name");
      query.bind(1, name);
      collect_images(query, found);
    }
    return found;
  });

  std::vector<ImageEntry> out;
  out.reserve(images.size());
  for (auto& [key, entry] : images) out.push_back(std::move(entry));
  return out;
}

std::optional<ImageFacts> PgStore::find_image_facts(const Digest& manifest) {
  return read([&](PgConnection& connection) -> std::optional<ImageFacts> {
    auto query = connection.prepare(
        "SELECT digest, config_digest, created, size, architecture, os, labels FROM image_facts WHERE digest = $1");
    query.bind(1, manifest.str());
    if (!query.step()) return std::nullopt;
    return read_facts(query, 0);
  });
}

void PgStore::put_image_facts(const ImageFacts& facts) {
  write([&](PgConnection& connection) {
    auto insert = connection.prepare(
        "INSERT INTO image_facts (digest, config_digest, created, size, architecture, os, labels) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (digest) DO NOTHING");
    insert.bind(1, facts.manifest_digest.str())
        .bind(2, facts.config_digest)
        .bind(3, facts.created)
        .bind(4, static_cast<std::int64_t>(facts.size))
        .bind(5, facts.architecture)
        .bind(6, facts.os)
        .bind(7, facts.labels_json)
        .run();
  });
}

CopyManifestResult PgStore::copy_manifest(const std::string& source, const Digest& digest, const std::string& target,
                                          const std::string& tag) {
  // The body may run several times, so it starts from an empty result.
  return write([&](PgConnection& connection) {
    CopyManifestResult result;

    auto source_id = find_repository_id(connection, source);
    if (!source_id) return result;

    // The manifests to copy, children before their index, so every copy
    // finds the children it references already in the target.
    std::vector<std::int64_t> order;
    std::set<std::string> visited;
    std::function<bool(const std::string&)> visit = [&](const std::string& manifest_digest) {
      if (!visited.insert(manifest_digest).second) return true;
      std::int64_t id = 0;
      {
        auto query = connection.prepare("SELECT id FROM manifests WHERE repository_id = $1 AND digest = $2");
        query.bind(1, *source_id).bind(2, manifest_digest);
        if (!query.step()) return false;
        id = query.column_int(0);
      }
      std::vector<std::string> children;
      {
        auto query = connection.prepare(
            "SELECT digest FROM manifest_references WHERE manifest_id = $1 AND kind = 'manifest' ORDER BY digest");
        query.bind(1, id);
        while (query.step()) children.push_back(query.column_text(0));
      }
      for (const auto& child : children) {
        if (!visit(child)) result.missing_manifests.push_back(parse_stored_digest(child));
      }
      order.push_back(id);
      return true;
    };
    if (!visit(digest.str())) return result;
    result.source_found = true;
    if (!result.missing_manifests.empty()) return result;  // nothing written yet

    std::int64_t now = core::unix_now();
    {
      auto insert = connection.prepare(
          "INSERT INTO repositories (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING");
      insert.bind(1, target).bind(2, now).run();
    }
    auto target_id = find_repository_id(connection, target);
    if (!target_id) throw InternalError("repository " + target + " vanished inside its own transaction");

    for (std::int64_t id : order) {
      {
        auto link = connection.prepare(
            "INSERT INTO repository_blobs (repository_id, digest, linked_at) "
            "SELECT $1::bigint, digest, $2::bigint FROM manifest_references WHERE manifest_id = $3 AND kind = 'blob' "
            "ON CONFLICT (repository_id, digest) DO NOTHING");
        link.bind(1, *target_id).bind(2, now).bind(3, id).run();
      }
      auto copy = connection.prepare(
          "INSERT INTO manifests (repository_id, digest, media_type, content, artifact_type, subject_digest, "
          "annotations, created_at) SELECT $1::bigint, digest, media_type, content, artifact_type, subject_digest, "
          "annotations, $2::bigint FROM manifests WHERE id = $3 ON CONFLICT (repository_id, digest) DO NOTHING "
          "RETURNING id");
      copy.bind(1, *target_id).bind(2, now).bind(3, id);
      if (copy.step()) {
        auto references = connection.prepare(
            "INSERT INTO manifest_references (manifest_id, kind, digest) "
            "SELECT $1::bigint, kind, digest FROM manifest_references WHERE manifest_id = $2");
        references.bind(1, copy.column_int(0)).bind(2, id).run();
      }
    }

    std::int64_t manifest_id = 0;
    {
      auto query = connection.prepare("SELECT id FROM manifests WHERE repository_id = $1 AND digest = $2");
      query.bind(1, *target_id).bind(2, digest.str());
      if (!query.step()) throw InternalError("manifest " + digest.str() + " vanished inside its own transaction");
      manifest_id = query.column_int(0);
    }
    {
      auto upsert = connection.prepare(
          "INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES ($1, $2, $3, $4) "
          "ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = excluded.manifest_id, "
          "updated_at = excluded.updated_at");
      upsert.bind(1, *target_id).bind(2, tag).bind(3, manifest_id).bind(4, now).run();
    }

    result.copied = true;
    return result;
  });
}

}  // namespace berth::metadata
