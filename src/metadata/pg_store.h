// MetadataStore on PostgreSQL, for several berthd nodes sharing one
// database. Every write runs in a SERIALIZABLE transaction that is run
// again from the start on a serialization failure or deadlock, so each
// method behaves as if the writers of all nodes ran one after another, as
// they do on SQLite. Reads run outside transactions on a pool of
// connections. The schema is in docs/database.md.
#pragma once

#include "metadata/metadata_store.h"
#include "metadata/pg_connection.h"

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <type_traits>
#include <utility>
#include <vector>

namespace berth::metadata {

struct PgOptions {
  // libpq connection string or URI, e.g. "host=127.0.0.1 dbname=berth".
  std::string conninfo;
  // The schema of Berth's tables, created if missing.
  std::string schema = "public";
  std::size_t connections = 8;
  // Apply pending migrations on open. When false, opening a database whose
  // schema is older than this build fails and names `berthd admin migrate`.
  bool migrate = true;
};

class PgStore final : public MetadataStore {
 public:
  // Connects, and creates the schema and applies migrations when `options`
  // request it. Throws core::InternalError on failure.
  explicit PgStore(PgOptions options);
  ~PgStore() override;

  // The schema version this build writes.
  static int schema_version();
  // The version the database has now.
  int database_version();
  // Applies pending migrations; returns how many ran. Safe to call from
  // several nodes at once: the first takes an advisory lock, the others
  // wait and then find nothing to do.
  int apply_migrations();

  bool repository_exists(const std::string& repository) override;
  NamePage list_repositories(const std::string& after, std::size_t limit) override;

  std::optional<BlobRecord> find_repository_blob(const std::string& repository, const core::Digest& digest) override;
  void link_blob(const std::string& repository, const core::Digest& digest, std::uint64_t size) override;
  UnlinkBlobResult unlink_blob(const std::string& repository, const core::Digest& digest) override;
  bool link_blob_with_data(const std::string& repository, const core::Digest& digest, std::uint64_t size,
                           const std::string& upload_id, const std::function<bool()>& data_present) override;
  std::vector<BlobRecord> list_blobs() override;

  void create_upload(const UploadRecord& upload) override;
  std::optional<UploadRecord> find_upload(const std::string& id) override;
  bool update_upload(const std::string& id, std::uint64_t expected_bytes, std::uint64_t received_bytes,
                     const std::string& hash_state, const std::string& driver_state) override;
  void complete_upload(const std::string& id, const core::Digest& digest, std::uint64_t size) override;
  bool delete_upload(const std::string& id) override;
  std::vector<UploadRecord> list_uploads() override;

  std::optional<ManifestRecord> find_manifest(const std::string& repository, const core::Digest& digest) override;
  std::optional<ManifestRecord> find_tagged_manifest(const std::string& repository, const std::string& tag) override;
  std::optional<ManifestRecord> find_manifest_by_digest(const core::Digest& digest) override;
  PutManifestResult put_manifest(const ManifestWrite& manifest) override;
  bool delete_manifest(const std::string& repository, const core::Digest& digest) override;
  bool delete_tag(const std::string& repository, const std::string& tag) override;
  std::optional<NamePage> list_tags(const std::string& repository, const std::string& after, std::size_t limit) override;
  std::vector<ReferrerRecord> list_referrers(const std::string& repository, const core::Digest& subject,
                                             const std::optional<std::string>& artifact_type) override;
  std::vector<ManifestRecord> list_manifests() override;
  std::vector<core::Digest> manifest_blob_references(const std::string& repository, const core::Digest& digest) override;
  std::vector<core::Digest> manifest_child_references(const std::string& repository,
                                                      const core::Digest& digest) override;

  // Image listings, facts and copies, implemented in pg_images.cc.
  std::vector<ImageEntry> list_images(const std::vector<std::string>& namespaces,
                                      const std::vector<std::string>& repositories) override;
  std::optional<ImageFacts> find_image_facts(const core::Digest& manifest) override;
  void put_image_facts(const ImageFacts& facts) override;
  CopyManifestResult copy_manifest(const std::string& source, const core::Digest& digest, const std::string& target,
                                   const std::string& tag) override;

  // Tenants, implemented in pg_tenant.cc.
  bool create_account(const AccountRecord& account) override;
  std::optional<AccountRecord> find_account(const std::string& id) override;
  std::optional<AccountRecord> find_account_by_name(const std::string& name) override;
  std::vector<AccountRecord> list_accounts() override;

  bool create_identity(const IdentityRecord& identity) override;
  std::optional<IdentityRecord> find_identity(const std::string& id) override;
  std::optional<IdentityRecord> find_identity_by_name(const std::string& account_id, IdentityKind kind,
                                                      const std::string& name) override;
  std::vector<IdentityRecord> list_identities(const std::string& account_id) override;
  bool delete_identity(const std::string& id) override;

  bool create_api_key(const ApiKeyRecord& key) override;
  std::optional<ApiKeyRecord> find_api_key(const std::string& id) override;
  std::optional<ApiKeyRecord> find_api_key_by_hash(const std::string& secret_hash) override;
  std::vector<ApiKeyRecord> list_api_keys(const std::string& account_id) override;
  bool delete_api_key(const std::string& id) override;
  void touch_api_key(const std::string& id, std::int64_t used_at) override;
  // Returns the counter in access_changes (schema migration 2), which
  // every access change raises in its own transaction.
  std::uint64_t access_generation() override;

  bool create_policy(const PolicyRecord& policy) override;
  std::vector<PolicyRecord> list_policies(const std::string& account_id) override;
  std::vector<PolicyRecord> identity_policies(const std::string& identity_id) override;
  bool delete_policy(const std::string& id) override;

  CreateNamespaceResult create_namespace(const NamespaceRecord& ns, std::size_t max_per_account) override;
  std::optional<NamespaceRecord> find_namespace(const std::string& name) override;
  std::vector<NamespaceRecord> list_namespaces(const std::string& account_id) override;
  std::vector<NamespaceRecord> list_public_namespaces() override;
  bool set_namespace_public(const std::string& name, bool is_public) override;
  bool delete_namespace(const std::string& name) override;
  NamePage list_namespace_repositories(const std::vector<std::string>& namespaces, const std::string& after,
                                       std::size_t limit) override;

  AccountSettings account_settings(const std::string& account_id) override;
  bool set_account_settings(const std::string& account_id, const AccountSettings& settings) override;

  // Trash, implemented in pg_trash.cc.
  TrashOutcome trash_manifest(const std::string& repository, const core::Digest& digest, std::int64_t now) override;
  std::vector<TrashEntry> list_trash(const std::vector<std::string>& namespaces) override;
  RestoreOutcome restore_manifest(const std::string& repository, const core::Digest& digest) override;
  RestoreTagResult restore_tag(const std::string& repository, const std::string& tag) override;
  std::size_t expire_trash(std::int64_t trashed_before) override;

  // Plans, quotas, retention, collection and jobs, in pg_lifecycle.cc.
  bool set_account_plan(const std::string& account_id, const std::string& plan) override;
  QuotaSettings account_quota(const std::string& account_id) override;
  bool set_account_quota(const std::string& account_id, const QuotaSettings& quota) override;
  AccountUsage account_usage(const std::string& account_id, const std::string& month) override;
  std::uint64_t count_storage_usage(const std::string& account_id) override;
  void add_pull_traffic(const std::string& account_id, const std::string& month, std::uint64_t bytes) override;
  std::optional<std::string> repository_account(const std::string& repository) override;
  std::optional<RetentionPolicy> find_retention_policy(const std::string& namespace_name) override;
  std::vector<RetentionPolicy> list_retention_policies(const std::string& account_id) override;
  bool set_retention_policy(const RetentionPolicy& policy) override;
  void touch_blob(const core::Digest& digest, std::uint64_t size, std::int64_t now) override;
  std::vector<BlobRecord> unreferenced_blobs(std::int64_t touched_before, std::size_t limit) override;
  bool collect_blob(const core::Digest& digest, std::int64_t touched_before,
                    const std::function<void()>& remove_data) override;
  bool collect_orphan_data(const core::Digest& digest, const std::function<bool()>& remove_data) override;
  bool acquire_lease(const std::string& job, const std::string& holder, std::int64_t now,
                     std::int64_t expires_at) override;
  void release_lease(const std::string& job, const std::string& holder) override;
  void record_job_run(const JobRun& run) override;
  std::optional<JobRun> last_job_run(const std::string& job) override;

  // Vulnerability Advisor (pg_va.cc).
  void queue_inventory(const core::Digest& digest, std::int64_t now) override;
  std::optional<ScanClaim> claim_inventory(const std::string& holder, std::int64_t now,
                                           std::int64_t lease_until) override;
  void save_inventory(const InventoryRecord& inventory) override;
  std::optional<InventoryRecord> find_inventory(const core::Digest& digest) override;
  std::size_t purge_inventories(std::int64_t indexed_before) override;
  std::size_t requeue_inventories(const std::string& status, std::int64_t now) override;
  void replace_advisories(const std::vector<AdvisoryRecord>& advisories, const AdvisoryFeed& feed) override;
  std::vector<AdvisoryMatch> find_advisories(const std::string& ecosystem,
                                             const std::vector<std::string>& packages) override;
  std::optional<AdvisoryFeed> advisory_feed() override;
  bool create_exemption(const ExemptionRecord& exemption) override;
  bool delete_exemption(const ExemptionRecord& exemption) override;
  std::vector<ExemptionRecord> list_exemptions(const std::string& account_id) override;
  std::size_t delete_all_exemptions(const std::string& account_id) override;

 private:
  // A connection borrowed from the pool for the lifetime of the lease. A
  // connection found broken on return is replaced by a new one.
  class Lease {
   public:
    explicit Lease(PgStore& store);
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    PgConnection& operator*() { return *connection_; }
    PgConnection* operator->() { return connection_.get(); }

   private:
    PgStore& store_;
    std::unique_ptr<PgConnection> connection_;
  };

  // Runs `body(connection)` in a SERIALIZABLE transaction and commits,
  // unless the body called connection.discard_transaction(). On a
  // serialization failure or deadlock the whole body runs again (up to
  // kWriteAttempts times, with a short random backoff), so the body must
  // have no effects outside the database. Returns what the body returns.
  template <typename Body>
  auto write(Body&& body) -> std::invoke_result_t<Body&, PgConnection&> {
    using Result = std::invoke_result_t<Body&, PgConnection&>;
    for (int attempt = 1;; ++attempt) {
      Lease lease(*this);
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
  }

  // Runs `body(connection)` outside a transaction, so each statement reads
  // the data committed when it starts.
  template <typename Body>
  auto read(Body&& body) -> std::invoke_result_t<Body&, PgConnection&> {
    Lease lease(*this);
    return body(*lease);
  }

  // Runs `body(connection)` outside a transaction, for a write of one
  // statement that is atomic by itself, such as adding to a counter. Under
  // READ COMMITTED, an update of a row that another transaction is
  // updating waits for its commit and then applies to the new value.
  // READ COMMITTED raises no serialization errors, which a SERIALIZABLE
  // write on a hot row would.
  template <typename Body>
  auto single_statement(Body&& body) -> std::invoke_result_t<Body&, PgConnection&> {
    return read(std::forward<Body>(body));
  }

  // Runs `body(connection)` in a READ ONLY REPEATABLE READ transaction, so
  // that all its statements see one snapshot.
  template <typename Body>
  auto read_snapshot(Body&& body) -> std::invoke_result_t<Body&, PgConnection&> {
    using Result = std::invoke_result_t<Body&, PgConnection&>;
    Lease lease(*this);
    lease->exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    try {
      if constexpr (std::is_void_v<Result>) {
        body(*lease);
        lease->exec("COMMIT");
      } else {
        Result result = body(*lease);
        lease->exec("COMMIT");
        return result;
      }
    } catch (...) {
      abandon_transaction(*lease);
      throw;
    }
  }

  // Of the writers that update one hot row at once, such as the reference
  // count of a base layer that every push shares, all but one fail and run
  // again. In the store suite's ConcurrentLinksAndManifests (eight threads
  // pushing in a loop, on a heavily loaded host) a write needed up to 16
  // attempts.
  static constexpr int kWriteAttempts = 32;
  void finish_transaction(PgConnection& connection);
  static void abandon_transaction(PgConnection& connection);
  static void back_off(int attempt);

  // LIMIT for a page query: one row more than the page, to learn whether
  // more exist.
  static std::int64_t probe_limit(std::size_t limit);

  std::unique_ptr<PgConnection> connect();

  PgOptions options_;
  std::vector<std::unique_ptr<PgConnection>> idle_;
  std::size_t open_ = 0;
  std::mutex pool_mutex_;
  std::condition_variable pool_available_;
};

}  // namespace berth::metadata
