// The Vulnerability Advisor part of PgStore: package inventories and
// their queue, the imported advisory set, and exemptions. Tagging a
// manifest queues its inventory through a trigger of schema version 1, so
// these methods never see a push.
#include "metadata/pg_store.h"
#include "metadata/store_rows.h"

#include "core/error.h"

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string_view>
#include <unordered_set>

namespace berth::metadata {

using core::Digest;
using nlohmann::json;

namespace {

// Advisories sent by one INSERT of replace_advisories. Batches bound the
// size of each statement's parameters while still inserting thousands of
// rows per round trip.
constexpr std::size_t kAdvisoriesPerStatement = 5000;

// A PostgreSQL array literal of text elements, built for one text[]
// parameter. Every element is quoted, so that empty strings and the word
// NULL stay text.
class TextArray {
 public:
  // Appends `value`. Throws std::invalid_argument if it contains a NUL
  // byte, which PostgreSQL text cannot store.
  void add(std::string_view value) {
    auto nul = value.find('\0');
    if (nul != std::string_view::npos) {
      throw std::invalid_argument("the text that starts \"" + std::string(value.substr(0, nul)) +
                                  "\" contains a NUL byte, which PostgreSQL cannot store");
    }
    literal_ += literal_.size() == 1 ? "\"" : ",\"";
    for (char c : value) {
      if (c == '"' || c == '\\') literal_ += '\\';
      literal_ += c;
    }
    literal_ += '"';
  }

  std::string literal() const { return literal_ + "}"; }

 private:
  std::string literal_ = "{";
};

// The rows of va_advisories and va_affected that one pair of INSERTs
// sends, one array per column.
struct AdvisoryBatch {
  TextArray ids;
  TextArray cves;
  TextArray summaries;
  TextArray modified;
  TextArray affected_ids;
  TextArray ecosystems;
  TextArray packages;
  TextArray introduced;
  TextArray fixed;
};

// Splits `advisories` into batches of column arrays. Throws
// std::invalid_argument naming the first id that appears a second time.
std::vector<AdvisoryBatch> batch_advisories(const std::vector<AdvisoryRecord>& advisories) {
  std::vector<AdvisoryBatch> batches;
  std::unordered_set<std::string_view> seen;
  for (std::size_t index = 0; index < advisories.size(); ++index) {
    const auto& advisory = advisories[index];
    if (!seen.insert(advisory.id).second) {
      throw std::invalid_argument("advisory " + advisory.id + " appears more than once in the import");
    }
    if (index % kAdvisoriesPerStatement == 0) batches.emplace_back();
    auto& batch = batches.back();
    batch.ids.add(advisory.id);
    batch.cves.add(json(advisory.cves).dump());
    batch.summaries.add(advisory.summary);
    batch.modified.add(advisory.modified);
    for (const auto& affected : advisory.affected) {
      batch.affected_ids.add(advisory.id);
      batch.ecosystems.add(affected.ecosystem);
      batch.packages.add(affected.package);
      batch.introduced.add(affected.introduced);
      batch.fixed.add(affected.fixed);
    }
  }
  return batches;
}

}  // namespace

void PgStore::queue_inventory(const Digest& digest, std::int64_t now) {
  write([&](PgConnection& connection) {
    auto insert = connection.prepare(
        "INSERT INTO va_inventories (digest, queued_at) VALUES ($1, $2) ON CONFLICT (digest) DO NOTHING");
    insert.bind(1, digest.str()).bind(2, now).run();
  });
}

std::optional<ScanClaim> PgStore::claim_inventory(const std::string& holder, std::int64_t now,
                                                  std::int64_t lease_until) {
  // FOR UPDATE takes a row lock, which makes the claim exclusive, and SKIP
  // LOCKED lets another worker take the next row instead of waiting. The
  // transaction is READ COMMITTED, unlike write(), because at that level
  // PostgreSQL checks the WHERE clause again on the newest version of the
  // row it locks. So a row that another worker claimed and committed
  // meanwhile is passed over, where SERIALIZABLE would raise a
  // serialization failure and run the whole claim again.
  Lease lease(*this);
  auto& connection = *lease;
  connection.exec("BEGIN ISOLATION LEVEL READ COMMITTED");
  try {
    std::optional<ScanClaim> claim;
    auto update = connection.prepare(
        "UPDATE va_inventories SET claimed_by = $1, claim_until = $3, attempts = attempts + 1 "
        "WHERE digest = (SELECT digest FROM va_inventories WHERE state = 'queued' "
        "  AND (claimed_by IS NULL OR claim_until <= $2) ORDER BY queued_at, queue_order LIMIT 1 "
        "  FOR UPDATE SKIP LOCKED) "
        "RETURNING digest, attempts");
    update.bind(1, holder).bind(2, now).bind(3, lease_until);
    if (update.step()) {
      claim = ScanClaim{.digest = parse_stored_digest(update.column_text(0)), .attempts = update.column_int(1)};
    }
    connection.exec("COMMIT");
    return claim;
  } catch (...) {
    abandon_transaction(connection);
    throw;
  }
}

void PgStore::save_inventory(const InventoryRecord& inventory) {
  // The store keeps queued_at and attempts itself while a row is queued,
  // so an existing row keeps them. The record's values are stored only
  // when no row exists.
  write([&](PgConnection& connection) {
    auto upsert = connection.prepare(
        "INSERT INTO va_inventories (digest, state, status, reason, os_id, os_version_id, os_codename, os_name, "
        "package_format, packages, queued_at, indexed_at, attempts, claimed_by, claim_until) "
        "VALUES ($1, 'indexed', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, 0) "
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
  });
}

std::optional<InventoryRecord> PgStore::find_inventory(const Digest& digest) {
  return read([&](PgConnection& connection) -> std::optional<InventoryRecord> {
    auto query = connection.prepare(
        "SELECT digest, state, status, reason, os_id, os_version_id, os_codename, os_name, package_format, packages, "
        "queued_at, indexed_at, attempts FROM va_inventories WHERE digest = $1");
    query.bind(1, digest.str());
    if (!query.step()) return std::nullopt;
    return read_inventory(query);
  });
}

std::size_t PgStore::purge_inventories(std::int64_t indexed_before) {
  // A queued row has indexed_at 0, so a queued row whose digest no
  // manifest or trash entry has is removed too. Nothing is left to index.
  return write([&](PgConnection& connection) {
    auto remove = connection.prepare(
        "DELETE FROM va_inventories v WHERE v.indexed_at < $1 "
        "AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = v.digest) "
        "AND NOT EXISTS (SELECT 1 FROM trash t WHERE t.digest = v.digest)");
    remove.bind(1, indexed_before).run();
    return static_cast<std::size_t>(remove.changes());
  });
}

std::size_t PgStore::requeue_inventories(const std::string& status, std::int64_t now) {
  // The stored inventory stays readable until the worker saves a new one,
  // but reports show the image as queued meanwhile. A requeued row keeps
  // its queue_order.
  return write([&](PgConnection& connection) {
    auto requeue = connection.prepare(
        "UPDATE va_inventories SET state = 'queued', queued_at = $1, attempts = 0, claimed_by = NULL, "
        "claim_until = 0 WHERE state = 'indexed' AND status <> 'index' AND ($2::text = '' OR status = $2::text)");
    requeue.bind(1, now).bind(2, status).run();
    return static_cast<std::size_t>(requeue.changes());
  });
}

void PgStore::replace_advisories(const std::vector<AdvisoryRecord>& advisories, const AdvisoryFeed& feed) {
  // The arrays are built before the transaction, so that a retried
  // transaction only sends them again. A duplicate id throws here, before
  // anything changes, so the old set stays.
  std::vector<AdvisoryBatch> batches = batch_advisories(advisories);
  std::string ecosystems = json(feed.ecosystems).dump();

  write([&](PgConnection& connection) {
    connection.exec("DELETE FROM va_affected");
    connection.exec("DELETE FROM va_advisories");

    for (const auto& batch : batches) {
      {
        auto insert = connection.prepare(
            "INSERT INTO va_advisories (id, cves, summary, modified) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])");
        insert.bind(1, batch.ids.literal())
            .bind(2, batch.cves.literal())
            .bind(3, batch.summaries.literal())
            .bind(4, batch.modified.literal())
            .run();
      }
      // A range listed twice in one advisory is stored once.
      auto insert = connection.prepare(
          "INSERT INTO va_affected (advisory_id, ecosystem, package, introduced, fixed) "
          "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) "
          "ON CONFLICT DO NOTHING");
      insert.bind(1, batch.affected_ids.literal())
          .bind(2, batch.ecosystems.literal())
          .bind(3, batch.packages.literal())
          .bind(4, batch.introduced.literal())
          .bind(5, batch.fixed.literal())
          .run();
    }

    auto upsert = connection.prepare(
        "INSERT INTO va_feed (id, imported_at, source, advisory_count, ecosystems) VALUES (1, $1, $2, $3, $4) "
        "ON CONFLICT (id) DO UPDATE SET imported_at = excluded.imported_at, source = excluded.source, "
        "advisory_count = excluded.advisory_count, ecosystems = excluded.ecosystems");
    upsert.bind(1, feed.imported_at)
        .bind(2, feed.source)
        .bind(3, static_cast<std::int64_t>(feed.advisory_count))
        .bind(4, ecosystems)
        .run();
  });
}

std::vector<AdvisoryMatch> PgStore::find_advisories(const std::string& ecosystem,
                                                    const std::vector<std::string>& packages) {
  // A name with a NUL byte cannot match, because PostgreSQL text never
  // contains one.
  TextArray package_array;
  bool any_package = false;
  for (const auto& package : packages) {
    if (package.find('\0') != std::string::npos) continue;
    package_array.add(package);
    any_package = true;
  }
  if (!any_package) return {};

  // One statement reads one snapshot, so every package is looked up in the
  // same advisory set even while an import replaces it. A package listed
  // twice matches each row once. The scan uses the unique index that
  // starts with (ecosystem, package), and the "C" collation of the
  // columns sorts packages in byte order.
  return read([&](PgConnection& connection) {
    auto query = connection.prepare(
        "SELECT a.id, a.cves, a.summary, f.package, f.introduced, f.fixed FROM va_affected f "
        "JOIN va_advisories a ON a.id = f.advisory_id WHERE f.ecosystem = $1 AND f.package = ANY($2::text[]) "
        "ORDER BY f.package, f.advisory_id, f.introduced, f.fixed");
    query.bind(1, ecosystem).bind(2, package_array.literal());
    std::vector<AdvisoryMatch> matches;
    while (query.step()) {
      matches.push_back(AdvisoryMatch{.id = query.column_text(0),
                                      .cves = parse_string_array(query.column_text(1), "advisory CVE ids"),
                                      .summary = query.column_text(2),
                                      .affected = AffectedRecord{.ecosystem = ecosystem,
                                                                 .package = query.column_text(3),
                                                                 .introduced = query.column_text(4),
                                                                 .fixed = query.column_text(5)}});
    }
    return matches;
  });
}

std::optional<AdvisoryFeed> PgStore::advisory_feed() {
  return read([](PgConnection& connection) -> std::optional<AdvisoryFeed> {
    auto query =
        connection.prepare("SELECT imported_at, source, advisory_count, ecosystems FROM va_feed WHERE id = 1");
    if (!query.step()) return std::nullopt;
    return AdvisoryFeed{.imported_at = query.column_int(0),
                        .source = query.column_text(1),
                        .advisory_count = static_cast<std::uint64_t>(query.column_int(2)),
                        .ecosystems = parse_string_array(query.column_text(3), "advisory ecosystems")};
  });
}

bool PgStore::create_exemption(const ExemptionRecord& exemption) {
  check_exemption(exemption);
  return write([&](PgConnection& connection) {
    {
      auto query = connection.prepare("SELECT 1 FROM accounts WHERE id = $1");
      query.bind(1, exemption.account_id);
      if (!query.step()) throw std::invalid_argument("exemption account " + exemption.account_id + " does not exist");
    }
    auto insert = connection.prepare(
        "INSERT INTO va_exemptions (account_id, issue_type, issue_id, scope_type, namespace_name, repository, tag, "
        "digest, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING");
    bind_exemption_key(insert, exemption).bind(9, exemption.created_at).run();
    return insert.changes() > 0;
  });
}

bool PgStore::delete_exemption(const ExemptionRecord& exemption) {
  return write([&](PgConnection& connection) {
    auto remove = connection.prepare(
        "DELETE FROM va_exemptions WHERE account_id = $1 AND issue_type = $2 AND issue_id = $3 AND scope_type = $4 "
        "AND namespace_name = $5 AND repository = $6 AND tag = $7 AND digest = $8");
    bind_exemption_key(remove, exemption).run();
    return remove.changes() > 0;
  });
}

std::vector<ExemptionRecord> PgStore::list_exemptions(const std::string& account_id) {
  // Broad scopes first: the account, then namespaces, repositories and
  // images.
  return read([&](PgConnection& connection) {
    auto query = connection.prepare(
        "SELECT account_id, issue_type, issue_id, scope_type, namespace_name, repository, tag, digest, created_at "
        "FROM va_exemptions WHERE account_id = $1 ORDER BY CASE scope_type WHEN 'account' THEN 0 "
        "WHEN 'namespace' THEN 1 WHEN 'repository' THEN 2 ELSE 3 END, namespace_name, repository, tag, digest, "
        "issue_type, issue_id");
    query.bind(1, account_id);
    std::vector<ExemptionRecord> out;
    while (query.step()) out.push_back(read_exemption(query));
    return out;
  });
}

std::size_t PgStore::delete_all_exemptions(const std::string& account_id) {
  return write([&](PgConnection& connection) {
    auto remove = connection.prepare("DELETE FROM va_exemptions WHERE account_id = $1");
    remove.bind(1, account_id).run();
    return static_cast<std::size_t>(remove.changes());
  });
}

}  // namespace berth::metadata
