// The Vulnerability Advisor part of SqliteStore: package inventories and
// their queue, the imported advisory set, and exemptions. Tagging a
// manifest queues its inventory through the triggers of schema version 6,
// so these methods never see a push.
#include "metadata/sqlite_store.h"
#include "metadata/store_rows.h"

#include "core/error.h"

#include <nlohmann/json.hpp>

#include <set>
#include <stdexcept>

namespace berth::metadata {

using core::Digest;
using nlohmann::json;

void SqliteStore::queue_inventory(const Digest& digest, std::int64_t now) {
  WriteScope scope(*this);
  auto insert = scope.connection().prepare("INSERT OR IGNORE INTO va_inventories (digest, queued_at) VALUES (?, ?)");
  insert.bind(1, digest.str()).bind(2, now).run();
  scope.commit();
}

std::optional<ScanClaim> SqliteStore::claim_inventory(const std::string& holder, std::int64_t now,
                                                      std::int64_t lease_until) {
  // One statement inside BEGIN IMMEDIATE picks and claims the row, so two
  // processes on the same database never claim the same inventory while
  // the first claim is unexpired.
  WriteScope scope(*this);
  std::optional<ScanClaim> claim;
  {
    auto update = scope.connection().prepare(
        "UPDATE va_inventories SET claimed_by = ?1, claim_until = ?3, attempts = attempts + 1 "
        "WHERE rowid = (SELECT rowid FROM va_inventories WHERE state = 'queued' "
        "  AND (claimed_by IS NULL OR claim_until <= ?2) ORDER BY queued_at, rowid LIMIT 1) "
        "RETURNING digest, attempts");
    update.bind(1, holder).bind(2, now).bind(3, lease_until);
    if (update.step()) {
      claim = ScanClaim{.digest = parse_stored_digest(update.column_text(0)), .attempts = update.column_int(1)};
    }
  }
  scope.commit();
  return claim;
}

void SqliteStore::save_inventory(const InventoryRecord& inventory) {
  // The store keeps queued_at and attempts itself while a row is queued,
  // so an existing row keeps them. The record's values are stored only
  // when no row exists.
  WriteScope scope(*this);
  auto upsert = scope.connection().prepare(
      "INSERT INTO va_inventories (digest, state, status, reason, os_id, os_version_id, os_codename, os_name, "
      "package_format, packages, queued_at, indexed_at, attempts, claimed_by, claim_until) "
      "VALUES (?, 'indexed', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0) "
      "ON CONFLICT (digest) DO UPDATE SET state = 'indexed', status = excluded.status, reason = excluded.reason, "
      "os_id = excluded.os_id, os_version_id = excluded.os_version_id, os_codename = excluded.os_codename, "
      "os_name = excluded.os_name, package_format = excluded.package_format, packages = excluded.packages, "
      "indexed_at = excluded.indexed_at, claimed_by = NULL, claim_until = 0");
  upsert.bind(1, inventory.digest.str())
      .bind(2, inventory.status)
      .bind(3, inventory.reason)
      .bind(4, inventory.os_id)
      .bind(5, inventory.os_version_id)
      .bind(6, inventory.os_codename)
      .bind(7, inventory.os_name)
      .bind(8, inventory.package_format)
      .bind(9, inventory.packages_json)
      .bind(10, inventory.queued_at)
      .bind(11, inventory.indexed_at)
      .bind(12, inventory.attempts)
      .run();
  scope.commit();
}

std::optional<InventoryRecord> SqliteStore::find_inventory(const Digest& digest) {
  Lease lease(*this);
  auto query = lease->prepare(
      "SELECT digest, state, status, reason, os_id, os_version_id, os_codename, os_name, package_format, packages, "
      "queued_at, indexed_at, attempts FROM va_inventories WHERE digest = ?");
  query.bind(1, digest.str());
  if (!query.step()) return std::nullopt;
  return read_inventory(query);
}

std::size_t SqliteStore::purge_inventories(std::int64_t indexed_before) {
  // A queued row has indexed_at 0, so a queued row whose digest no
  // manifest or trash entry has is removed too. Nothing is left to index.
  WriteScope scope(*this);
  auto remove = scope.connection().prepare(
      "DELETE FROM va_inventories WHERE indexed_at < ? "
      "AND digest NOT IN (SELECT digest FROM manifests UNION SELECT digest FROM trash)");
  remove.bind(1, indexed_before).run();
  auto removed = static_cast<std::size_t>(scope.connection().changes());
  scope.commit();
  return removed;
}

std::size_t SqliteStore::requeue_inventories(const std::string& status, std::int64_t now) {
  // The stored inventory stays readable until the worker saves a new one,
  // but reports show the image as queued meanwhile.
  WriteScope scope(*this);
  auto requeue = scope.connection().prepare(
      "UPDATE va_inventories SET state = 'queued', queued_at = ?, attempts = 0, claimed_by = NULL, "
      "claim_until = 0 WHERE state = 'indexed' AND status <> 'index' AND (? = '' OR status = ?)");
  requeue.bind(1, now).bind(2, status).bind(3, status).run();
  auto requeued = static_cast<std::size_t>(scope.connection().changes());
  scope.commit();
  return requeued;
}

void SqliteStore::replace_advisories(const std::vector<AdvisoryRecord>& advisories, const AdvisoryFeed& feed) {
  WriteScope scope(*this);
  auto& connection = scope.connection();
  connection.exec("DELETE FROM va_affected");
  connection.exec("DELETE FROM va_advisories");

  for (const auto& advisory : advisories) {
    {
      auto insert = connection.prepare(
          "INSERT INTO va_advisories (id, cves, summary, modified) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING");
      insert.bind(1, advisory.id)
          .bind(2, json(advisory.cves).dump())
          .bind(3, advisory.summary)
          .bind(4, advisory.modified)
          .run();
      // Throwing leaves the transaction uncommitted, so the old set stays.
      if (connection.changes() == 0) {
        throw std::invalid_argument("advisory " + advisory.id + " appears more than once in the import");
      }
    }
    for (const auto& affected : advisory.affected) {
      // A range listed twice in one advisory is stored once.
      auto insert = connection.prepare(
          "INSERT OR IGNORE INTO va_affected (advisory_id, ecosystem, package, introduced, fixed) "
          "VALUES (?, ?, ?, ?, ?)");
      insert.bind(1, advisory.id)
          .bind(2, affected.ecosystem)
          .bind(3, affected.package)
          .bind(4, affected.introduced)
          .bind(5, affected.fixed)
          .run();
    }
  }

  auto upsert = connection.prepare(
      "INSERT INTO va_feed (id, imported_at, source, advisory_count, ecosystems) VALUES (1, ?, ?, ?, ?) "
      "ON CONFLICT (id) DO UPDATE SET imported_at = excluded.imported_at, source = excluded.source, "
      "advisory_count = excluded.advisory_count, ecosystems = excluded.ecosystems");
  upsert.bind(1, feed.imported_at)
      .bind(2, feed.source)
      .bind(3, static_cast<std::int64_t>(feed.advisory_count))
      .bind(4, json(feed.ecosystems).dump())
      .run();
  scope.commit();
}

std::vector<AdvisoryMatch> SqliteStore::find_advisories(const std::string& ecosystem,
                                                        const std::vector<std::string>& packages) {
  Lease lease(*this);
  std::vector<AdvisoryMatch> matches;
  // One read transaction, so that every lookup reads the same advisory
  // set even while an import replaces it. The std::set sorts the packages
  // in byte order and drops repeats. Each lookup uses the unique index
  // that starts with (ecosystem, package).
  Transaction snapshot(*lease, false);
  for (const auto& package : std::set<std::string>(packages.begin(), packages.end())) {
    auto query = lease->prepare(
        "SELECT a.id, a.cves, a.summary, f.introduced, f.fixed FROM va_affected f "
        "JOIN va_advisories a ON a.id = f.advisory_id WHERE f.ecosystem = ? AND f.package = ? "
        "ORDER BY f.advisory_id, f.introduced, f.fixed");
    query.bind(1, ecosystem).bind(2, package);
    while (query.step()) {
      matches.push_back(AdvisoryMatch{.id = query.column_text(0),
                                      .cves = parse_string_array(query.column_text(1), "advisory CVE ids"),
                                      .summary = query.column_text(2),
                                      .affected = AffectedRecord{.ecosystem = ecosystem,
                                                                 .package = package,
                                                                 .introduced = query.column_text(3),
                                                                 .fixed = query.column_text(4)}});
    }
  }
  return matches;
}

std::optional<AdvisoryFeed> SqliteStore::advisory_feed() {
  Lease lease(*this);
  auto query = lease->prepare("SELECT imported_at, source, advisory_count, ecosystems FROM va_feed WHERE id = 1");
  if (!query.step()) return std::nullopt;
  return AdvisoryFeed{.imported_at = query.column_int(0),
                      .source = query.column_text(1),
                      .advisory_count = static_cast<std::uint64_t>(query.column_int(2)),
                      .ecosystems = parse_string_array(query.column_text(3), "advisory ecosystems")};
}

bool SqliteStore::create_exemption(const ExemptionRecord& exemption) {
  check_exemption(exemption);
  WriteScope scope(*this);
  auto& connection = scope.connection();
  {
    auto query = connection.prepare("SELECT 1 FROM accounts WHERE id = ?");
    query.bind(1, exemption.account_id);
    if (!query.step()) throw std::invalid_argument("exemption account " + exemption.account_id + " does not exist");
  }
  auto insert = connection.prepare(
      "INSERT INTO va_exemptions (account_id, issue_type, issue_id, scope_type, namespace_name, repository, tag, "
      "digest, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
  bind_exemption_key(insert, exemption).bind(9, exemption.created_at).run();
  bool created = connection.changes() > 0;
  scope.commit();
  return created;
}

bool SqliteStore::delete_exemption(const ExemptionRecord& exemption) {
  WriteScope scope(*this);
  auto& connection = scope.connection();
  auto remove = connection.prepare(
      "DELETE FROM va_exemptions WHERE account_id = ? AND issue_type = ? AND issue_id = ? AND scope_type = ? "
      "AND namespace_name = ? AND repository = ? AND tag = ? AND digest = ?");
  bind_exemption_key(remove, exemption).run();
  bool deleted = connection.changes() > 0;
  scope.commit();
  return deleted;
}

std::vector<ExemptionRecord> SqliteStore::list_exemptions(const std::string& account_id) {
  Lease lease(*this);
  // Broad scopes first: the account, then namespaces, repositories and
  // images.
  auto query = lease->prepare(
      "SELECT account_id, issue_type, issue_id, scope_type, namespace_name, repository, tag, digest, created_at "
      "FROM va_exemptions WHERE account_id = ? ORDER BY CASE scope_type WHEN 'account' THEN 0 "
      "WHEN 'namespace' THEN 1 WHEN 'repository' THEN 2 ELSE 3 END, namespace_name, repository, tag, digest, "
      "issue_type, issue_id");
  query.bind(1, account_id);
  std::vector<ExemptionRecord> out;
  while (query.step()) out.push_back(read_exemption(query));
  return out;
}

std::size_t SqliteStore::delete_all_exemptions(const std::string& account_id) {
  WriteScope scope(*this);
  auto remove = scope.connection().prepare("DELETE FROM va_exemptions WHERE account_id = ?");
  remove.bind(1, account_id).run();
  auto removed = static_cast<std::size_t>(scope.connection().changes());
  scope.commit();
  return removed;
}

}  // namespace berth::metadata
