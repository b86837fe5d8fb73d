// The lifecycle part of SqliteStore: plans, custom quotas and usage,
// retention policies, garbage collection of unreferenced blobs, and the
// leases and last runs of background jobs. Storage usage itself is kept by
// the triggers of schema version 5.
#include "metadata/sqlite_store.h"
#include "metadata/store_rows.h"

#include "core/error.h"
#include "core/time.h"

namespace berth::metadata {

using core::Digest;
using core::InternalError;

bool SqliteStore::set_account_plan(const std::string& account_id, const std::string& plan) {
  WriteScope scope(*this);
  auto update = scope.connection().prepare("UPDATE accounts SET plan = ? WHERE id = ?");
  update.bind(1, plan).bind(2, account_id).run();
  bool updated = scope.connection().changes() > 0;
  scope.commit();
  return updated;
}

QuotaSettings SqliteStore::account_quota(const std::string& account_id) {
  Lease lease(*this);
  auto query = lease->prepare("SELECT storage_bytes, traffic_bytes FROM account_quotas WHERE account_id = ?");
  query.bind(1, account_id);
  if (!query.step()) return {};
  return QuotaSettings{.storage_bytes = nullable_int(query, 0), .traffic_bytes = nullable_int(query, 1)};
}

bool SqliteStore::set_account_quota(const std::string& account_id, const QuotaSettings& quota) {
  WriteScope scope(*this);
  auto& connection = scope.connection();
  {
    auto query = connection.prepare("SELECT 1 FROM accounts WHERE id = ?");
    query.bind(1, account_id);
    if (!query.step()) return false;
  }
  auto upsert = connection.prepare(
      "INSERT INTO account_quotas (account_id, storage_bytes, traffic_bytes, updated_at) VALUES (?, ?, ?, ?) "
      "ON CONFLICT (account_id) DO UPDATE SET storage_bytes = excluded.storage_bytes, "
      "traffic_bytes = excluded.traffic_bytes, updated_at = excluded.updated_at");
  upsert.bind(1, account_id);
  bind_nullable(upsert, 2, quota.storage_bytes);
  bind_nullable(upsert, 3, quota.traffic_bytes);
  upsert.bind(4, core::unix_now()).run();
  scope.commit();
  return true;
}

AccountUsage SqliteStore::account_usage(const std::string& account_id, const std::string& month) {
  Lease lease(*this);
  AccountUsage usage;
  auto query = lease->prepare(
      "SELECT (SELECT storage_bytes FROM account_usage WHERE account_id = ?1), "
      "(SELECT bytes FROM pull_traffic WHERE account_id = ?1 AND month = ?2)");
  query.bind(1, account_id).bind(2, month);
  if (query.step()) {
    usage.storage_bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(0, query.column_int(0)));
    usage.traffic_bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(0, query.column_int(1)));
  }
  return usage;
}

std::uint64_t SqliteStore::count_storage_usage(const std::string& account_id) {
  Lease lease(*this);
  auto query = lease->prepare(
      "SELECT coalesce(sum(size), 0) FROM (SELECT digest, max(size) AS size FROM ("
      "  SELECT mr.digest AS digest, b.size AS size FROM manifest_references mr "
      "  JOIN manifests m ON m.id = mr.manifest_id JOIN repositories r ON r.id = m.repository_id "
      "  JOIN blobs b ON b.digest = mr.digest WHERE mr.kind = 'blob' AND r.account_id = ?1 "
      "  UNION ALL "
      "  SELECT m.digest, length(m.content) FROM manifests m JOIN repositories r ON r.id = m.repository_id "
      "  WHERE r.account_id = ?1) GROUP BY digest)");
  query.bind(1, account_id);
  query.step();
  return static_cast<std::uint64_t>(query.column_int(0));
}

void SqliteStore::add_pull_traffic(const std::string& account_id, const std::string& month, std::uint64_t bytes) {
  if (bytes == 0) return;
  WriteScope scope(*this);
  auto upsert = scope.connection().prepare(
      "INSERT INTO pull_traffic (account_id, month, bytes) VALUES (?, ?, ?) "
      "ON CONFLICT (account_id, month) DO UPDATE SET bytes = bytes + excluded.bytes");
  upsert.bind(1, account_id).bind(2, month).bind(3, static_cast<std::int64_t>(bytes)).run();
  scope.commit();
}

std::optional<std::string> SqliteStore::repository_account(const std::string& repository) {
  Lease lease(*this);
  auto query = lease->prepare("SELECT account_id FROM namespaces WHERE name = ?");
  query.bind(1, namespace_of(repository));
  if (!query.step()) return std::nullopt;
  return query.column_text(0);
}

// The policy columns in the order read_retention_policy() reads them,
// with the namespace's account. The statements are string literals because
// the connection caches prepared statements by the address of their text.
#define BERTH_SELECT_POLICIES                                                                                  \
  "SELECT p.namespace_name, n.account_id, p.images_per_repo, p.retain_untagged, p.deletion_threshold_days, " \
  "p.updated_at FROM retention_policies p JOIN namespaces n ON n.name = p.namespace_name "

std::optional<RetentionPolicy> SqliteStore::find_retention_policy(const std::string& namespace_name) {
  Lease lease(*this);
  auto query = lease->prepare(BERTH_SELECT_POLICIES "WHERE p.namespace_name = ?");
  query.bind(1, namespace_name);
  if (!query.step()) return std::nullopt;
  return read_retention_policy(query);
}

std::vector<RetentionPolicy> SqliteStore::list_retention_policies(const std::string& account_id) {
  Lease lease(*this);
  auto query = lease->prepare(BERTH_SELECT_POLICIES "WHERE ?1 = '' OR n.account_id = ?1 ORDER BY p.namespace_name");
  query.bind(1, account_id);
  std::vector<RetentionPolicy> out;
  while (query.step()) out.push_back(read_retention_policy(query));
  return out;
}

bool SqliteStore::set_retention_policy(const RetentionPolicy& policy) {
  WriteScope scope(*this);
  auto& connection = scope.connection();
  {
    auto query = connection.prepare("SELECT 1 FROM namespaces WHERE name = ?");
    query.bind(1, policy.namespace_name);
    if (!query.step()) return false;
  }
  if (policy.images_per_repo < 0) {
    auto remove = connection.prepare("DELETE FROM retention_policies WHERE namespace_name = ?");
    remove.bind(1, policy.namespace_name).run();
  } else {
    auto upsert = connection.prepare(
        "INSERT INTO retention_policies (namespace_name, images_per_repo, retain_untagged, deletion_threshold_days, "
        "updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (namespace_name) DO UPDATE SET "
        "images_per_repo = excluded.images_per_repo, retain_untagged = excluded.retain_untagged, "
        "deletion_threshold_days = excluded.deletion_threshold_days, updated_at = excluded.updated_at");
    upsert.bind(1, policy.namespace_name)
        .bind(2, policy.images_per_repo)
        .bind(3, policy.retain_untagged ? 1 : 0)
        .bind(4, policy.deletion_threshold_days)
        .bind(5, core::unix_now())
        .run();
  }
  scope.commit();
  return true;
}

void SqliteStore::touch_blob(const Digest& digest, std::uint64_t size, std::int64_t now) {
  WriteScope scope(*this);
  auto upsert = scope.connection().prepare(
      "INSERT INTO blobs (digest, size, created_at, touched_at) VALUES (?, ?, ?, ?) "
      "ON CONFLICT (digest) DO UPDATE SET touched_at = max(blobs.touched_at, excluded.touched_at)");
  upsert.bind(1, digest.str()).bind(2, static_cast<std::int64_t>(size)).bind(3, now).bind(4, now).run();
  scope.commit();
}

std::vector<BlobRecord> SqliteStore::unreferenced_blobs(std::int64_t touched_before, std::size_t limit) {
  Lease lease(*this);
  auto query = lease->prepare(
      "SELECT digest, size, created_at, touched_at FROM blobs WHERE ref_count = 0 AND touched_at < ? "
      "ORDER BY touched_at LIMIT ?");
  query.bind(1, touched_before).bind(2, probe_limit(limit) - 1);
  std::vector<BlobRecord> out;
  while (query.step()) {
    out.push_back({.digest = parse_stored_digest(query.column_text(0)),
                   .size = static_cast<std::uint64_t>(query.column_int(1)),
                   .created_at = query.column_int(2),
                   .touched_at = query.column_int(3)});
  }
  return out;
}

bool SqliteStore::collect_blob(const Digest& digest, std::int64_t touched_before,
                               const std::function<void()>& remove_data) {
  WriteScope scope(*this);
  auto& connection = scope.connection();
  {
    auto query = connection.prepare("SELECT ref_count, touched_at FROM blobs WHERE digest = ?");
    query.bind(1, digest.str());
    if (!query.step()) return false;
    if (query.column_int(0) != 0 || query.column_int(1) >= touched_before) return false;
  }
  {
    auto unlink = connection.prepare("DELETE FROM repository_blobs WHERE digest = ?");
    unlink.bind(1, digest.str()).run();
  }
  {
    auto remove = connection.prepare("DELETE FROM blobs WHERE digest = ?");
    remove.bind(1, digest.str()).run();
  }
  // The data goes while this transaction holds the write lock, so no
  // upload can record the blob again between the check and the removal.
  remove_data();
  scope.commit();
  return true;
}

bool SqliteStore::collect_orphan_data(const Digest& digest, const std::function<bool()>& remove_data) {
  WriteScope scope(*this);
  {
    auto query = scope.connection().prepare("SELECT 1 FROM blobs WHERE digest = ?");
    query.bind(1, digest.str());
    if (query.step()) return false;
  }
  bool removed = remove_data();
  scope.commit();
  return removed;
}

bool SqliteStore::acquire_lease(const std::string& job, const std::string& holder, std::int64_t now,
                                std::int64_t expires_at) {
  WriteScope scope(*this);
  auto& connection = scope.connection();
  {
    auto query = connection.prepare("SELECT holder, expires_at FROM job_leases WHERE job = ?");
    query.bind(1, job);
    if (query.step() && query.column_text(0) != holder && query.column_int(1) > now) return false;
  }
  auto upsert = connection.prepare(
      "INSERT INTO job_leases (job, holder, expires_at) VALUES (?, ?, ?) "
      "ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at");
  upsert.bind(1, job).bind(2, holder).bind(3, expires_at).run();
  scope.commit();
  return true;
}

void SqliteStore::release_lease(const std::string& job, const std::string& holder) {
  WriteScope scope(*this);
  auto remove = scope.connection().prepare("DELETE FROM job_leases WHERE job = ? AND holder = ?");
  remove.bind(1, job).bind(2, holder).run();
  scope.commit();
}

void SqliteStore::record_job_run(const JobRun& run) {
  WriteScope scope(*this);
  auto upsert = scope.connection().prepare(
      "INSERT INTO job_runs (job, holder, started_at, finished_at, result) VALUES (?, ?, ?, ?, ?) "
      "ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, started_at = excluded.started_at, "
      "finished_at = excluded.finished_at, result = excluded.result");
  upsert.bind(1, run.job).bind(2, run.holder).bind(3, run.started_at).bind(4, run.finished_at).bind(5, run.result_json).run();
  scope.commit();
}

std::optional<JobRun> SqliteStore::last_job_run(const std::string& job) {
  Lease lease(*this);
  auto query = lease->prepare("SELECT holder, started_at, finished_at, result FROM job_runs WHERE job = ?");
  query.bind(1, job);
  if (!query.step()) return std::nullopt;
  return JobRun{.job = job,
                .holder = query.column_text(0),
                .started_at = query.column_int(1),
                .finished_at = query.column_int(2),
                .result_json = query.column_text(3)};
}

}  // namespace berth::metadata
