// Row readers and checks that SqliteStore and PgStore share. The readers
// are templates over the statement type, because Statement
// (sqlite_connection.h) and PgStatement (pg_connection.h) offer the same
// accessors without a common base class. The SQL that selects the columns
// differs between the backends and stays in each store.
#pragma once

#include "core/digest.h"
#include "core/error.h"
#include "metadata/metadata_store.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::metadata {

// A statement positioned on a result row, read by 0-based column index.
template <typename Row>
concept ResultRow = requires(const Row& row, int column) {
  { row.column_text(column) } -> std::convertible_to<std::string>;
  { row.column_int(column) } -> std::convertible_to<std::int64_t>;
  { row.column_is_null(column) } -> std::convertible_to<bool>;
};

// A statement whose rows are read by calling step() until it returns false.
template <typename Query>
concept ResultQuery = ResultRow<Query> && requires(Query& query) {
  { query.step() } -> std::convertible_to<bool>;
};

// A statement with parameters bound by 1-based index.
template <typename Query>
concept ParameterQuery = requires(Query& query, int index, std::int64_t number, std::string_view text) {
  query.bind(index, number);
  query.bind(index, text);
  query.bind_null(index);
};

// --- Values -----------------------------------------------------------------

// Parses a digest read from the database; throws core::InternalError if
// it is malformed, because only valid digests are ever written.
inline core::Digest parse_stored_digest(const std::string& text) {
  auto digest = core::Digest::parse(text);
  if (!digest) throw core::InternalError("the database contains a malformed digest \"" + text + "\"");
  return *digest;
}

// Reads `column` as an integer, or nullopt when it is NULL.
template <ResultRow Row>
std::optional<std::int64_t> nullable_int(const Row& row, int column) {
  if (row.column_is_null(column)) return std::nullopt;
  return row.column_int(column);
}

template <ParameterQuery Query>
void bind_nullable(Query& statement, int index, const std::optional<std::int64_t>& value) {
  if (value) {
    statement.bind(index, *value);
  } else {
    statement.bind_null(index);
  }
}

// Parses a JSON array of strings that the store wrote. `column` names the
// value in the error.
inline std::vector<std::string> parse_string_array(const std::string& text, const std::string& column) {
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  if (!parsed.is_array()) throw core::InternalError("the database contains malformed " + column + " \"" + text + "\"");
  std::vector<std::string> values;
  for (const auto& value : parsed) {
    if (!value.is_string()) {
      throw core::InternalError("the database contains malformed " + column + " \"" + text + "\"");
    }
    values.push_back(value.get<std::string>());
  }
  return values;
}

// --- Registry ---------------------------------------------------------------

// Reads the manifest columns selected in the order: digest, media_type,
// content, artifact_type, subject_digest, annotations, created_at.
template <ResultRow Row>
ManifestRecord read_manifest(const Row& row, const std::string& repository) {
  ManifestRecord record{.repository = repository,
                        .digest = parse_stored_digest(row.column_text(0)),
                        .media_type = row.column_text(1),
                        .content = row.column_text(2),
                        .artifact_type = row.column_text(3)};
  if (!row.column_is_null(4)) record.subject = parse_stored_digest(row.column_text(4));
  record.annotations_json = row.column_text(5);
  record.created_at = row.column_int(6);
  return record;
}

// Reads the columns: id, repository, received_bytes, algorithm,
// hash_state, driver_state, created_at, updated_at.
template <ResultRow Row>
UploadRecord read_upload(const Row& row) {
  auto algorithm = core::parse_algorithm(row.column_text(3));
  if (!algorithm) throw core::InternalError("upload " + row.column_text(0) + " has an unknown digest algorithm");
  return UploadRecord{.id = row.column_text(0),
                      .repository = row.column_text(1),
                      .received_bytes = static_cast<std::uint64_t>(row.column_int(2)),
                      .algorithm = *algorithm,
                      .hash_state = row.column_text(4),
                      .driver_state = row.column_text(5),
                      .created_at = row.column_int(6),
                      .updated_at = row.column_int(7)};
}

// Reads at most `limit` names from column 0. It sets `more` when a further
// row follows, so the query should select up to `limit` + 1 rows.
template <ResultQuery Query>
NamePage read_names(Query& query, std::size_t limit) {
  NamePage page;
  while (query.step()) {
    if (page.names.size() == limit) {
      page.more = true;
      break;
    }
    page.names.push_back(query.column_text(0));
  }
  return page;
}

// Reads the digests in column 0 of every row.
template <ResultQuery Query>
std::vector<core::Digest> read_digests(Query& query) {
  std::vector<core::Digest> out;
  while (query.step()) out.push_back(parse_stored_digest(query.column_text(0)));
  return out;
}

// --- Images -----------------------------------------------------------------

// Reads the columns digest, config_digest, created, size, architecture,
// os, labels starting at column `first`.
template <ResultRow Row>
ImageFacts read_facts(const Row& row, int first) {
  return ImageFacts{.manifest_digest = parse_stored_digest(row.column_text(first)),
                    .config_digest = row.column_text(first + 1),
                    .created = row.column_int(first + 2),
                    .size = static_cast<std::uint64_t>(row.column_int(first + 3)),
                    .architecture = row.column_text(first + 4),
                    .os = row.column_text(first + 5),
                    .labels_json = row.column_text(first + 6)};
}

using ImageKey = std::pair<std::string, std::string>;  // repository, digest

// Adds the rows of an image query to `images`. The columns are: repository
// name, manifest digest, media type, pushed at, tag (NULL when untagged),
// artifact type, then the facts columns (NULL when none are stored).
template <ResultQuery Query>
void collect_images(Query& query, std::map<ImageKey, ImageEntry>& images) {
  while (query.step()) {
    ImageKey key{query.column_text(0), query.column_text(1)};
    auto it = images.find(key);
    if (it == images.end()) {
      ImageEntry entry{.repository = key.first,
                       .digest = parse_stored_digest(key.second),
                       .media_type = query.column_text(2),
                       .artifact_type = query.column_text(5),
                       .pushed_at = query.column_int(3)};
      if (!query.column_is_null(6)) entry.facts = read_facts(query, 6);
      it = images.emplace(key, std::move(entry)).first;
    }
    ImageEntry& entry = it->second;
    if (!query.column_is_null(4)) {
      std::string tag = query.column_text(4);
      // A manifest reached through both a namespace and its own name
      // yields its rows twice.
      if (entry.tags.empty() || entry.tags.back() != tag) entry.tags.push_back(std::move(tag));
    }
  }
}

// --- Tenants ----------------------------------------------------------------

inline const char* identity_kind_name(IdentityKind kind) {
  return kind == IdentityKind::kServiceId ? "serviceid" : "user";
}

inline IdentityKind stored_identity_kind(const std::string& text) {
  if (text == "user") return IdentityKind::kUser;
  if (text == "serviceid") return IdentityKind::kServiceId;
  throw core::InternalError("the database contains an unknown identity kind \"" + text + "\"");
}

inline bool is_role(const std::string& role) { return role == "Reader" || role == "Writer" || role == "Manager"; }

// Returns the bounds of the repository names inside a namespace. Where
// names compare byte by byte, exactly the names that start with "<name>/"
// lie in ["<name>/", "<name>0"), because '0' is the byte after '/'. A
// range keeps the lookup on the name index, and unlike LIKE it treats '_'
// and '%' as plain characters.
inline std::pair<std::string, std::string> namespace_range(const std::string& name) {
  return {name + "/", name + "0"};
}

// The first path component of a repository name.
inline std::string namespace_of(const std::string& repository) { return repository.substr(0, repository.find('/')); }

// Reads the columns: id, name, plan, created_at.
template <ResultRow Row>
AccountRecord read_account(const Row& row) {
  return AccountRecord{.id = row.column_text(0),
                       .name = row.column_text(1),
                       .plan = row.column_text(2),
                       .created_at = row.column_int(3)};
}

// Reads the columns: id, account_id, kind, name, description, created_at.
template <ResultRow Row>
IdentityRecord read_identity(const Row& row) {
  return IdentityRecord{.id = row.column_text(0),
                        .account_id = row.column_text(1),
                        .kind = stored_identity_kind(row.column_text(2)),
                        .name = row.column_text(3),
                        .description = row.column_text(4),
                        .created_at = row.column_int(5)};
}

// Reads the columns: id, identity_id, account_id, name, description,
// secret_hash, created_at, last_used_at.
template <ResultRow Row>
ApiKeyRecord read_api_key(const Row& row) {
  return ApiKeyRecord{.id = row.column_text(0),
                      .identity_id = row.column_text(1),
                      .account_id = row.column_text(2),
                      .name = row.column_text(3),
                      .description = row.column_text(4),
                      .secret_hash = row.column_text(5),
                      .created_at = row.column_int(6),
                      .last_used_at = row.column_int(7)};
}

// Reads the columns: id, account_id, identity_id, role, namespace_name,
// created_at.
template <ResultRow Row>
PolicyRecord read_access_policy(const Row& row) {
  return PolicyRecord{.id = row.column_text(0),
                      .account_id = row.column_text(1),
                      .identity_id = row.column_text(2),
                      .role = row.column_text(3),
                      .namespace_name = row.column_text(4),
                      .created_at = row.column_int(5)};
}

// Reads the columns: name, account_id, is_public, created_at, updated_at.
template <ResultRow Row>
NamespaceRecord read_namespace(const Row& row) {
  return NamespaceRecord{.name = row.column_text(0),
                         .account_id = row.column_text(1),
                         .is_public = row.column_int(2) != 0,
                         .created_at = row.column_int(3),
                         .updated_at = row.column_int(4)};
}

// Reads the columns: namespace_name, account_id, images_per_repo,
// retain_untagged, deletion_threshold_days, updated_at.
template <ResultRow Row>
RetentionPolicy read_retention_policy(const Row& row) {
  return RetentionPolicy{.namespace_name = row.column_text(0),
                         .account_id = row.column_text(1),
                         .images_per_repo = row.column_int(2),
                         .retain_untagged = row.column_int(3) != 0,
                         .deletion_threshold_days = row.column_int(4),
                         .updated_at = row.column_int(5)};
}

// --- Trash ------------------------------------------------------------------

// Parses the JSON array of tag names stored with a trash entry.
inline std::vector<std::string> parse_tags(const std::string& text) {
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  std::vector<std::string> tags;
  if (!parsed.is_array()) throw core::InternalError("the trash contains malformed tags \"" + text + "\"");
  for (const auto& tag : parsed) tags.push_back(tag.get<std::string>());
  return tags;
}

// Serializes `tags` for a trash entry, sorted and without repeats.
inline std::string dump_tags(std::vector<std::string> tags) {
  std::sort(tags.begin(), tags.end());
  tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
  return nlohmann::json(tags).dump();
}

// --- Vulnerability Advisor --------------------------------------------------

// Reads the columns: digest, state, status, reason, os_id, os_version_id,
// os_codename, os_name, package_format, packages, queued_at, indexed_at,
// attempts.
template <ResultRow Row>
InventoryRecord read_inventory(const Row& row) {
  return InventoryRecord{.digest = parse_stored_digest(row.column_text(0)),
                         .state = row.column_text(1),
                         .status = row.column_text(2),
                         .reason = row.column_text(3),
                         .os_id = row.column_text(4),
                         .os_version_id = row.column_text(5),
                         .os_codename = row.column_text(6),
                         .os_name = row.column_text(7),
                         .package_format = row.column_text(8),
                         .packages_json = row.column_text(9),
                         .queued_at = row.column_int(10),
                         .indexed_at = row.column_int(11),
                         .attempts = row.column_int(12)};
}

// Reads the columns: account_id, issue_type, issue_id, scope_type,
// namespace_name, repository, tag, digest, created_at.
template <ResultRow Row>
ExemptionRecord read_exemption(const Row& row) {
  return ExemptionRecord{.account_id = row.column_text(0),
                         .issue_type = row.column_text(1),
                         .issue_id = row.column_text(2),
                         .scope_type = row.column_text(3),
                         .namespace_name = row.column_text(4),
                         .repository = row.column_text(5),
                         .tag = row.column_text(6),
                         .digest = row.column_text(7),
                         .created_at = row.column_int(8)};
}

// Binds the eight columns that identify an exemption, in table order, from
// parameter 1 on.
template <ParameterQuery Query>
Query& bind_exemption_key(Query& statement, const ExemptionRecord& exemption) {
  return statement.bind(1, exemption.account_id)
      .bind(2, exemption.issue_type)
      .bind(3, exemption.issue_id)
      .bind(4, exemption.scope_type)
      .bind(5, exemption.namespace_name)
      .bind(6, exemption.repository)
      .bind(7, exemption.tag)
      .bind(8, exemption.digest);
}

// Throws std::invalid_argument unless the issue type is known and the
// scope fields that `exemption.scope_type` uses are set and the others are
// empty, so that one scope has one spelling and the uniqueness of rows
// holds.
inline void check_exemption(const ExemptionRecord& exemption) {
  if (exemption.issue_type != "cve" && exemption.issue_type != "sn") {
    throw std::invalid_argument("exemption issue type must be cve or sn, not \"" + exemption.issue_type + "\"");
  }
  if (exemption.issue_id.empty()) throw std::invalid_argument("exemption issue id is missing");

  const auto& scope = exemption.scope_type;
  bool has_namespace = !exemption.namespace_name.empty();
  bool has_repository = !exemption.repository.empty();
  bool has_tag = !exemption.tag.empty();
  bool has_digest = !exemption.digest.empty();
  bool valid = false;
  if (scope == "account") {
    valid = !has_namespace && !has_repository && !has_tag && !has_digest;
  } else if (scope == "namespace") {
    valid = has_namespace && !has_repository && !has_tag && !has_digest;
  } else if (scope == "repository") {
    valid = has_namespace && has_repository && !has_tag && !has_digest;
  } else if (scope == "image") {
    valid = has_namespace && has_repository && has_tag != has_digest;
  } else {
    throw std::invalid_argument("exemption scope type must be account, namespace, repository or image, not \"" +
                                scope + "\"");
  }
  if (!valid) {
    throw std::invalid_argument("exemption scope \"" + scope + "\" has the wrong fields set: namespace \"" +
                                exemption.namespace_name + "\", repository \"" + exemption.repository +
                                "\", tag \"" + exemption.tag + "\", digest \"" + exemption.digest + "\"");
  }
  if (has_repository && exemption.repository.rfind(exemption.namespace_name + "/", 0) != 0) {
    throw std::invalid_argument("exemption repository \"" + exemption.repository + "\" is not inside namespace \"" +
                                exemption.namespace_name + "\"");
  }
}

}  // namespace berth::metadata
