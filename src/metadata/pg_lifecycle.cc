// The lifecycle part of PgStore, ported from sqlite_lifecycle.cc: plans,
// custom quotas and usage, retention policies, garbage collection of
// unreferenced blobs, and the leases and last runs of background jobs.
// Storage usage itself is kept by the triggers of the schema.
//
// Writes run in SERIALIZABLE transactions through write(). A body that
// returns early without writing still commits, because only a committed
// serializable transaction guarantees that what it read was consistent.
//
// Removing a blob's data cannot happen inside write(), which may run its
// body several times and cannot undo a deletion in the blob store. So
// collect_blob and collect_orphan_data hold a session-level advisory lock
// on the digest (BlobRemovalLock) across the decision and the removal.
// Every transaction that records or links the blob (touch_blob,
// link_blob_with_data) takes the same lock shared as its first statement,
// so it waits until the data is gone, and then records the blob anew.
#include "metadata/pg_store.h"
#include "metadata/store_rows.h"

#include "core/error.h"
#include "core/time.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <type_traits>
#include <utility>
#include <vector>

namespace berth::metadata {

using core::Digest;
using core::InternalError;

namespace {

// The advisory lock key that serializes removing a blob's data with
// recording or linking the blob.
std::int64_t blob_lock_key(const Digest& digest) { return advisory_key("blob:" + digest.str()); }

// Holds the exclusive session-level advisory lock on a blob's digest on
// `connection` for its lifetime. Session-level, unlike a transaction's
// lock, it stays held after the removal's transaction commits and while
// the blob store deletes the data.
class BlobRemovalLock {
 public:
  BlobRemovalLock(PgConnection& connection, const Digest& digest)
      : connection_(connection), digest_(digest), key_(blob_lock_key(digest)) {
    auto lock = connection_.prepare("SELECT pg_advisory_lock($1)");
    lock.bind(1, key_).run();
  }

  ~BlobRemovalLock() {
    // A lost connection has ended its session, and the lock with it.
    if (connection_.broken()) return;
    try {
      auto unlock = connection_.prepare("SELECT pg_advisory_unlock($1)");
      unlock.bind(1, key_).run();
    } catch (const std::exception& error) {
      // NOTE: the connection goes back to the pool still holding the
      // lock, so uploads of this digest wait until it closes.
      spdlog::error("gc_unlock_failed digest={} error={}", digest_.str(), error.what());
    }
  }

  BlobRemovalLock(const BlobRemovalLock&) = delete;
  BlobRemovalLock& operator=(const BlobRemovalLock&) = delete;

 private:
  PgConnection& connection_;
  const Digest& digest_;
  std::int64_t key_;
};

// A blob record and its repository links as collect_blob deleted them.
struct CollectedBlob {
  std::int64_t size = 0;
  std::int64_t created_at = 0;
  std::int64_t touched_at = 0;
  std::vector<std::pair<std::int64_t, std::int64_t>> links;  // repository id, linked_at
};

}  // namespace

// --- Plans, usage and quotas -------------------------------------------------

bool PgStore::set_account_plan(const std::string& account_id, const std::string& plan) {
  return write([&](PgConnection& connection) {
    auto update = connection.prepare("UPDATE accounts SET plan = $1 WHERE id = $2");
    update.bind(1, plan).bind(2, account_id).run();
    return update.changes() > 0;
  });
}

QuotaSettings PgStore::account_quota(const std::string& account_id) {
  return read([&](PgConnection& connection) -> QuotaSettings {
    auto query =
        connection.prepare("SELECT storage_bytes, traffic_bytes FROM account_quotas WHERE account_id = $1");
    query.bind(1, account_id);
    if (!query.step()) return {};
    return QuotaSettings{.storage_bytes = nullable_int(query, 0), .traffic_bytes = nullable_int(query, 1)};
  });
}

bool PgStore::set_account_quota(const std::string& account_id, const QuotaSettings& quota) {
  return write([&](PgConnection& connection) {
    {
      auto query = connection.prepare("SELECT 1 FROM accounts WHERE id = $1");
      query.bind(1, account_id);
      if (!query.step()) return false;
    }
    auto upsert = connection.prepare(
        "INSERT INTO account_quotas (account_id, storage_bytes, traffic_bytes, updated_at) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (account_id) DO UPDATE SET storage_bytes = excluded.storage_bytes, "
        "traffic_bytes = excluded.traffic_bytes, updated_at = excluded.updated_at");
    upsert.bind(1, account_id);
    bind_nullable(upsert, 2, quota.storage_bytes);
    bind_nullable(upsert, 3, quota.traffic_bytes);
    upsert.bind(4, core::unix_now()).run();
    return true;
  });
}

AccountUsage PgStore::account_usage(const std::string& account_id, const std::string& month) {
  return read([&](PgConnection& connection) {
    AccountUsage usage;
    auto query = connection.prepare(
        "SELECT (SELECT storage_bytes FROM account_usage WHERE account_id = $1), "
        "(SELECT bytes FROM pull_traffic WHERE account_id = $1 AND month = $2)");
    query.bind(1, account_id).bind(2, month);
    if (query.step()) {
      usage.storage_bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(0, query.column_int(0)));
      usage.traffic_bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(0, query.column_int(1)));
    }
    return usage;
  });
}

std::uint64_t PgStore::count_storage_usage(const std::string& account_id) {
  return read([&](PgConnection& connection) {
    // A full count for checking the kept figure, so it scans the
    // account's repositories instead of using an index.
    auto query = connection.prepare(
        "SELECT coalesce(sum(size), 0) FROM (SELECT digest, max(size) AS size FROM ("
        "  SELECT mr.digest AS digest, b.size AS size FROM manifest_references mr "
        "  JOIN manifests m ON m.id = mr.manifest_id JOIN repositories r ON r.id = m.repository_id "
        "  JOIN blobs b ON b.digest = mr.digest WHERE mr.kind = 'blob' AND r.account_id = $1 "
        "  UNION ALL "
        "  SELECT m.digest, octet_length(m.content) FROM manifests m JOIN repositories r ON r.id = m.repository_id "
        "  WHERE r.account_id = $1) AS referenced GROUP BY digest) AS distinct_digests");
    query.bind(1, account_id);
    query.step();
    return static_cast<std::uint64_t>(query.column_int(0));
  });
}

void PgStore::add_pull_traffic(const std::string& account_id, const std::string& month, std::uint64_t bytes) {
  if (bytes == 0) return;
  // Every download of every node adds to one row per account, and as a
  // SERIALIZABLE write all but one of the concurrent ones would fail.
  single_statement([&](PgConnection& connection) {
    auto upsert = connection.prepare(
        "INSERT INTO pull_traffic (account_id, month, bytes) VALUES ($1, $2, $3) "
        "ON CONFLICT (account_id, month) DO UPDATE SET bytes = pull_traffic.bytes + excluded.bytes");
    upsert.bind(1, account_id).bind(2, month).bind(3, static_cast<std::int64_t>(bytes)).run();
  });
}

std::optional<std::string> PgStore::repository_account(const std::string& repository) {
  return read([&](PgConnection& connection) -> std::optional<std::string> {
    auto query = connection.prepare("SELECT account_id FROM namespaces WHERE name = $1");
    query.bind(1, namespace_of(repository));
    if (!query.step()) return std::nullopt;
    return query.column_text(0);
  });
}

// --- Retention policies --------------------------------------------------------

// The policy columns in the order read_retention_policy() reads them,
// with the namespace's account. The statements are string literals because
// the connection caches prepared statements by the address of their text.
#define BERTH_SELECT_POLICIES                                                                                  \
  "SELECT p.namespace_name, n.account_id, p.images_per_repo, p.retain_untagged, p.deletion_threshold_days, " \
  "p.updated_at FROM retention_policies p JOIN namespaces n ON n.name = p.namespace_name "

std::optional<RetentionPolicy> PgStore::find_retention_policy(const std::string& namespace_name) {
  return read([&](PgConnection& connection) -> std::optional<RetentionPolicy> {
    auto query = connection.prepare(BERTH_SELECT_POLICIES "WHERE p.namespace_name = $1");
    query.bind(1, namespace_name);
    if (!query.step()) return std::nullopt;
    return read_retention_policy(query);
  });
}

std::vector<RetentionPolicy> PgStore::list_retention_policies(const std::string& account_id) {
  return read([&](PgConnection& connection) {
    // Two statements rather than SQLite's "?1 = '' OR", so that each plan
    // can use an index: the policies' key for all accounts, the
    // namespaces' account index for one.
    auto query = account_id.empty()
                     ? connection.prepare(BERTH_SELECT_POLICIES "ORDER BY p.namespace_name")
                     : connection.prepare(BERTH_SELECT_POLICIES "WHERE n.account_id = $1 ORDER BY p.namespace_name");
    if (!account_id.empty()) query.bind(1, account_id);
    std::vector<RetentionPolicy> out;
    while (query.step()) out.push_back(read_retention_policy(query));
    return out;
  });
}

#undef BERTH_SELECT_POLICIES

bool PgStore::set_retention_policy(const RetentionPolicy& policy) {
  return write([&](PgConnection& connection) {
    {
      auto query = connection.prepare("SELECT 1 FROM namespaces WHERE name = $1");
      query.bind(1, policy.namespace_name);
      if (!query.step()) return false;
    }
    if (policy.images_per_repo < 0) {
      auto remove = connection.prepare("DELETE FROM retention_policies WHERE namespace_name = $1");
      remove.bind(1, policy.namespace_name).run();
    } else {
      auto upsert = connection.prepare(
          "INSERT INTO retention_policies (namespace_name, images_per_repo, retain_untagged, deletion_threshold_days, "
          "updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (namespace_name) DO UPDATE SET "
          "images_per_repo = excluded.images_per_repo, retain_untagged = excluded.retain_untagged, "
          "deletion_threshold_days = excluded.deletion_threshold_days, updated_at = excluded.updated_at");
      upsert.bind(1, policy.namespace_name)
          .bind(2, policy.images_per_repo)
          .bind(3, policy.retain_untagged ? 1 : 0)
          .bind(4, policy.deletion_threshold_days)
          .bind(5, core::unix_now())
          .run();
    }
    return true;
  });
}

// --- Garbage collection ----------------------------------------------------------

void PgStore::touch_blob(const Digest& digest, std::uint64_t size, std::int64_t now) {
  write([&](PgConnection& connection) {
    // Waits for a removal of this digest's data in progress, so that the
    // upload that follows moves its data into place only after the
    // removal, and a removal that starts later sees this touch.
    {
      auto lock = connection.prepare("SELECT pg_advisory_xact_lock_shared($1)");
      lock.bind(1, blob_lock_key(digest)).run();
    }
    auto upsert = connection.prepare(
        "INSERT INTO blobs (digest, size, created_at, touched_at) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (digest) DO UPDATE SET touched_at = GREATEST(blobs.touched_at, excluded.touched_at)");
    upsert.bind(1, digest.str()).bind(2, static_cast<std::int64_t>(size)).bind(3, now).bind(4, now).run();
  });
}

std::vector<BlobRecord> PgStore::unreferenced_blobs(std::int64_t touched_before, std::size_t limit) {
  return read([&](PgConnection& connection) {
    auto query = connection.prepare(
        "SELECT digest, size, created_at, touched_at FROM blobs WHERE ref_count = 0 AND touched_at < $1 "
        "ORDER BY touched_at LIMIT $2");
    query.bind(1, touched_before).bind(2, probe_limit(limit) - 1);
    std::vector<BlobRecord> out;
    while (query.step()) {
      out.push_back({.digest = parse_stored_digest(query.column_text(0)),
                     .size = static_cast<std::uint64_t>(query.column_int(1)),
                     .created_at = query.column_int(2),
                     .touched_at = query.column_int(3)});
    }
    return out;
  });
}

bool PgStore::collect_blob(const Digest& digest, std::int64_t touched_before,
                           const std::function<void()>& remove_data) {
  Lease lease(*this);
  BlobRemovalLock lock(*lease, digest);
  // Runs `body` as write() does, but on the connection that holds the
  // lock. A second lease taken while holding the lock could wait forever
  // for a pool whose connections all wait for this lock.
  auto write_here = [&](auto&& body) -> std::invoke_result_t<decltype(body)&, PgConnection&> {
    using Result = std::invoke_result_t<decltype(body)&, PgConnection&>;
    for (int attempt = 1;; ++attempt) {
      try {
        lease->exec("BEGIN ISOLATION LEVEL SERIALIZABLE");
        if constexpr (std::is_void_v<Result>) {
          body(*lease);
          finish_transaction(*lease);
          return;
        } else {
          Result result = body(*lease);
          finish_transaction(*lease);
          return result;
        }
      } catch (const PgError& error) {
        abandon_transaction(*lease);
        if (!error.retryable() || attempt >= kWriteAttempts) throw;
        back_off(attempt);
      } catch (...) {
        abandon_transaction(*lease);
        throw;
      }
    }
  };

  auto collected = write_here([&](PgConnection& connection) -> std::optional<CollectedBlob> {
    CollectedBlob blob;
    {
      auto query = connection.prepare("SELECT ref_count, touched_at, size, created_at FROM blobs WHERE digest = $1");
      query.bind(1, digest.str());
      if (!query.step()) return std::nullopt;
      if (query.column_int(0) != 0 || query.column_int(1) >= touched_before) return std::nullopt;
      blob.touched_at = query.column_int(1);
      blob.size = query.column_int(2);
      blob.created_at = query.column_int(3);
    }
    {
      auto unlink = connection.prepare("DELETE FROM repository_blobs WHERE digest = $1 RETURNING repository_id, linked_at");
      unlink.bind(1, digest.str());
      while (unlink.step()) blob.links.emplace_back(unlink.column_int(0), unlink.column_int(1));
    }
    {
      auto remove = connection.prepare("DELETE FROM blobs WHERE digest = $1");
      remove.bind(1, digest.str()).run();
    }
    return blob;
  });
  if (!collected) return false;

  // The record is gone and committed before the data goes, so a failure
  // at any later point leaves data without a record, never a record
  // without data. Such data is an orphan that collect_orphan_data
  // removes on a later run.
  try {
    remove_data();
  } catch (...) {
    // An exception means the data is still there, as SQLite's rollback
    // assumes too, so the record and links come back as they were. The
    // lock kept uploads of the digest waiting. No manifest can have
    // referenced it meanwhile, because put_manifest needs the blob linked
    // to its repository, so ref_count stays at its default of 0. If this
    // transaction fails as well, the data is left as an orphan.
    try {
      write_here([&](PgConnection& connection) {
        {
          auto insert = connection.prepare(
              "INSERT INTO blobs (digest, size, created_at, touched_at) VALUES ($1, $2, $3, $4) "
              "ON CONFLICT (digest) DO NOTHING");
          insert.bind(1, digest.str())
              .bind(2, collected->size)
              .bind(3, collected->created_at)
              .bind(4, collected->touched_at)
              .run();
        }
        for (const auto& [repository_id, linked_at] : collected->links) {
          // A repository deleted meanwhile stays deleted.
          auto link = connection.prepare(
              "INSERT INTO repository_blobs (repository_id, digest, linked_at) "
              "SELECT id, $2::text, $3::bigint FROM repositories WHERE id = $1 ON CONFLICT DO NOTHING");
          link.bind(1, repository_id).bind(2, digest.str()).bind(3, linked_at).run();
        }
      });
    } catch (const std::exception& error) {
      spdlog::error("gc_record_restore_failed digest={} error={}", digest.str(), error.what());
    }
    throw;
  }
  return true;
}

bool PgStore::collect_orphan_data(const Digest& digest, const std::function<bool()>& remove_data) {
  Lease lease(*this);
  BlobRemovalLock lock(*lease, digest);
  // Under the lock, no transaction that records the blob is in progress,
  // and a later one waits until the data is gone. So a record missing now
  // stays missing while remove_data runs.
  {
    auto query = lease->prepare("SELECT 1 FROM blobs WHERE digest = $1");
    query.bind(1, digest.str());
    if (query.step()) return false;
  }
  return remove_data();
}

// --- Background jobs -------------------------------------------------------------

bool PgStore::acquire_lease(const std::string& job, const std::string& holder, std::int64_t now,
                            std::int64_t expires_at) {
  return write([&](PgConnection& connection) {
    // One conditional upsert: the row lock of the existing lease, or the
    // unique key for a new one, lets only one of several concurrent
    // callers change it, and the others fail to serialize, run again and
    // find the lease held.
    auto upsert = connection.prepare(
        "INSERT INTO job_leases (job, holder, expires_at) VALUES ($1, $2, $3) "
        "ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
        "WHERE job_leases.holder = excluded.holder OR job_leases.expires_at <= $4");
    upsert.bind(1, job).bind(2, holder).bind(3, expires_at).bind(4, now).run();
    return upsert.changes() > 0;
  });
}

void PgStore::release_lease(const std::string& job, const std::string& holder) {
  write([&](PgConnection& connection) {
    auto remove = connection.prepare("DELETE FROM job_leases WHERE job = $1 AND holder = $2");
    remove.bind(1, job).bind(2, holder).run();
  });
}

void PgStore::record_job_run(const JobRun& run) {
  write([&](PgConnection& connection) {
    auto upsert = connection.prepare(
        "INSERT INTO job_runs (job, holder, started_at, finished_at, result) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, started_at = excluded.started_at, "
        "finished_at = excluded.finished_at, result = excluded.result");
    upsert.bind(1, run.job)
        .bind(2, run.holder)
        .bind(3, run.started_at)
        .bind(4, run.finished_at)
        .bind(5, run.result_json)
        .run();
  });
}

std::optional<JobRun> PgStore::last_job_run(const std::string& job) {
  return read([&](PgConnection& connection) -> std::optional<JobRun> {
    auto query = connection.prepare("SELECT holder, started_at, finished_at, result FROM job_runs WHERE job = $1");
    query.bind(1, job);
    if (!query.step()) return std::nullopt;
    return JobRun{.job = job,
                  .holder = query.column_text(0),
                  .started_at = query.column_int(1),
                  .finished_at = query.column_int(2),
                  .result_json = query.column_text(3)};
  });
}

}  // namespace berth::metadata
