// A MetadataStore decorator that keeps recently read manifests, tag
// lookups and blob links in memory, so the hot pulls of a popular image
// skip the database. Only found entries are cached; every write through
// this store drops the entries it may change, and with a publisher sends
// the same invalidation to the other nodes on the database, whose stores
// receive it as an InvalidationSink. Writes that bypass every cache, such
// as berthd admin jobs in another process on a SQLite database, are seen
// once the entries they affect reach their maximum age.
#pragma once

#include "metadata/cache_invalidation.h"
#include "metadata/metadata_store.h"

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <variant>

namespace berth::metadata {

class CachedStore final : public MetadataStore, public InvalidationSink {
 public:
  // Wraps and owns `inner`. `max_bytes` bounds the manifest bytes held
  // (each entry also counts a fixed overhead); an entry older than
  // `max_age` is read again. `publisher`, if set, receives what each write
  // invalidated, after the write returned. Without `cache_tags`, tag
  // lookups always read `inner`. Nodes that share a database need this,
  // because a notification arrives a moment after the sending node sent
  // its response, and a moved tag must be seen at once.
  CachedStore(std::unique_ptr<MetadataStore> inner, std::size_t max_bytes,
              std::chrono::steady_clock::duration max_age = std::chrono::seconds(5),
              std::shared_ptr<InvalidationPublisher> publisher = nullptr, bool cache_tags = true);

  // InvalidationSink: invalidations from other nodes. Safe to call from
  // any thread.
  void apply(const Invalidation& invalidation) override;
  void set_receiving(bool receiving) override;

  // Changes with every access invalidation, local or from another node,
  // and on every call while invalidations may be lost.
  std::uint64_t access_generation() override;

  bool repository_exists(const std::string& repository) override { return inner_.repository_exists(repository); }
  NamePage list_repositories(const std::string& after, std::size_t limit) override {
    return inner_.list_repositories(after, limit);
  }

  std::optional<BlobRecord> find_repository_blob(const std::string& repository, const core::Digest& digest) override;
  void link_blob(const std::string& repository, const core::Digest& digest, std::uint64_t size) override {
    inner_.link_blob(repository, digest, size);
  }
  UnlinkBlobResult unlink_blob(const std::string& repository, const core::Digest& digest) override;
  bool link_blob_with_data(const std::string& repository, const core::Digest& digest, std::uint64_t size,
                           const std::string& upload_id, const std::function<bool()>& data_present) override {
    return inner_.link_blob_with_data(repository, digest, size, upload_id, data_present);
  }
  std::vector<BlobRecord> list_blobs() override { return inner_.list_blobs(); }

  void create_upload(const UploadRecord& upload) override { inner_.create_upload(upload); }
  std::optional<UploadRecord> find_upload(const std::string& id) override { return inner_.find_upload(id); }
  bool update_upload(const std::string& id, std::uint64_t expected_bytes, std::uint64_t received_bytes,
                     const std::string& hash_state, const std::string& driver_state) override {
    return inner_.update_upload(id, expected_bytes, received_bytes, hash_state, driver_state);
  }
  void complete_upload(const std::string& id, const core::Digest& digest, std::uint64_t size) override {
    inner_.complete_upload(id, digest, size);
  }
  bool delete_upload(const std::string& id) override { return inner_.delete_upload(id); }
  std::vector<UploadRecord> list_uploads() override { return inner_.list_uploads(); }

  std::optional<ManifestRecord> find_manifest(const std::string& repository, const core::Digest& digest) override;
  std::optional<ManifestRecord> find_tagged_manifest(const std::string& repository, const std::string& tag) override;
  std::optional<ManifestRecord> find_manifest_by_digest(const core::Digest& digest) override {
    return inner_.find_manifest_by_digest(digest);
  }
  PutManifestResult put_manifest(const ManifestWrite& manifest) override;
  bool delete_manifest(const std::string& repository, const core::Digest& digest) override;
  bool delete_tag(const std::string& repository, const std::string& tag) override;
  std::optional<NamePage> list_tags(const std::string& repository, const std::string& after,
                                    std::size_t limit) override {
    return inner_.list_tags(repository, after, limit);
  }
  std::vector<ReferrerRecord> list_referrers(const std::string& repository, const core::Digest& subject,
                                             const std::optional<std::string>& artifact_type) override {
    return inner_.list_referrers(repository, subject, artifact_type);
  }
  std::vector<ManifestRecord> list_manifests() override { return inner_.list_manifests(); }
  std::vector<core::Digest> manifest_blob_references(const std::string& repository, const core::Digest& digest) override {
    return inner_.manifest_blob_references(repository, digest);
  }
  std::vector<core::Digest> manifest_child_references(const std::string& repository,
                                                      const core::Digest& digest) override {
    return inner_.manifest_child_references(repository, digest);
  }

  // Listings and facts are read from the database each time; a copy moves
  // a tag of the target, so it drops that tag's entry.
  std::vector<ImageEntry> list_images(const std::vector<std::string>& namespaces,
                                      const std::vector<std::string>& repositories) override {
    return inner_.list_images(namespaces, repositories);
  }
  std::optional<ImageFacts> find_image_facts(const core::Digest& manifest) override {
    return inner_.find_image_facts(manifest);
  }
  void put_image_facts(const ImageFacts& facts) override { inner_.put_image_facts(facts); }
  CopyManifestResult copy_manifest(const std::string& source, const core::Digest& digest, const std::string& target,
                                   const std::string& tag) override;

  // Tenant records are not cached. Creating and deleting a namespace drop
  // the cached entries of its repositories.
  bool create_account(const AccountRecord& account) override { return inner_.create_account(account); }
  std::optional<AccountRecord> find_account(const std::string& id) override { return inner_.find_account(id); }
  std::optional<AccountRecord> find_account_by_name(const std::string& name) override {
    return inner_.find_account_by_name(name);
  }
  std::vector<AccountRecord> list_accounts() override { return inner_.list_accounts(); }

  bool create_identity(const IdentityRecord& identity) override { return inner_.create_identity(identity); }
  std::optional<IdentityRecord> find_identity(const std::string& id) override { return inner_.find_identity(id); }
  std::optional<IdentityRecord> find_identity_by_name(const std::string& account_id, IdentityKind kind,
                                                      const std::string& name) override {
    return inner_.find_identity_by_name(account_id, kind, name);
  }
  std::vector<IdentityRecord> list_identities(const std::string& account_id) override {
    return inner_.list_identities(account_id);
  }
  bool delete_identity(const std::string& id) override;

  bool create_api_key(const ApiKeyRecord& key) override { return inner_.create_api_key(key); }
  std::optional<ApiKeyRecord> find_api_key(const std::string& id) override { return inner_.find_api_key(id); }
  std::optional<ApiKeyRecord> find_api_key_by_hash(const std::string& secret_hash) override {
    return inner_.find_api_key_by_hash(secret_hash);
  }
  std::vector<ApiKeyRecord> list_api_keys(const std::string& account_id) override {
    return inner_.list_api_keys(account_id);
  }
  bool delete_api_key(const std::string& id) override;
  void touch_api_key(const std::string& id, std::int64_t used_at) override { inner_.touch_api_key(id, used_at); }

  bool create_policy(const PolicyRecord& policy) override;
  std::vector<PolicyRecord> list_policies(const std::string& account_id) override {
    return inner_.list_policies(account_id);
  }
  std::vector<PolicyRecord> identity_policies(const std::string& identity_id) override {
    return inner_.identity_policies(identity_id);
  }
  bool delete_policy(const std::string& id) override;

  CreateNamespaceResult create_namespace(const NamespaceRecord& ns, std::size_t max_per_account) override;
  std::optional<NamespaceRecord> find_namespace(const std::string& name) override { return inner_.find_namespace(name); }
  std::vector<NamespaceRecord> list_namespaces(const std::string& account_id) override {
    return inner_.list_namespaces(account_id);
  }
  std::vector<NamespaceRecord> list_public_namespaces() override { return inner_.list_public_namespaces(); }
  bool set_namespace_public(const std::string& name, bool is_public) override;
  bool delete_namespace(const std::string& name) override;
  NamePage list_namespace_repositories(const std::vector<std::string>& namespaces, const std::string& after,
                                       std::size_t limit) override {
    return inner_.list_namespace_repositories(namespaces, after, limit);
  }

  AccountSettings account_settings(const std::string& account_id) override {
    return inner_.account_settings(account_id);
  }
  bool set_account_settings(const std::string& account_id, const AccountSettings& settings) override {
    return inner_.set_account_settings(account_id, settings);
  }

  // The trash moves manifests and tags out of sight, so trashing drops
  // the entries of the repository; restoring only adds what was absent.
  TrashOutcome trash_manifest(const std::string& repository, const core::Digest& digest, std::int64_t now) override;
  std::vector<TrashEntry> list_trash(const std::vector<std::string>& namespaces) override {
    return inner_.list_trash(namespaces);
  }
  RestoreOutcome restore_manifest(const std::string& repository, const core::Digest& digest) override {
    return inner_.restore_manifest(repository, digest);
  }
  RestoreTagResult restore_tag(const std::string& repository, const std::string& tag) override {
    return inner_.restore_tag(repository, tag);
  }
  std::size_t expire_trash(std::int64_t trashed_before) override { return inner_.expire_trash(trashed_before); }

  bool set_account_plan(const std::string& account_id, const std::string& plan) override {
    return inner_.set_account_plan(account_id, plan);
  }
  QuotaSettings account_quota(const std::string& account_id) override { return inner_.account_quota(account_id); }
  bool set_account_quota(const std::string& account_id, const QuotaSettings& quota) override {
    return inner_.set_account_quota(account_id, quota);
  }
  AccountUsage account_usage(const std::string& account_id, const std::string& month) override {
    return inner_.account_usage(account_id, month);
  }
  std::uint64_t count_storage_usage(const std::string& account_id) override {
    return inner_.count_storage_usage(account_id);
  }
  void add_pull_traffic(const std::string& account_id, const std::string& month, std::uint64_t bytes) override {
    inner_.add_pull_traffic(account_id, month, bytes);
  }
  std::optional<std::string> repository_account(const std::string& repository) override {
    return inner_.repository_account(repository);
  }
  std::optional<RetentionPolicy> find_retention_policy(const std::string& namespace_name) override {
    return inner_.find_retention_policy(namespace_name);
  }
  std::vector<RetentionPolicy> list_retention_policies(const std::string& account_id) override {
    return inner_.list_retention_policies(account_id);
  }
  bool set_retention_policy(const RetentionPolicy& policy) override { return inner_.set_retention_policy(policy); }

  // Collecting a blob removes its links from every repository, so it drops
  // the cached links of that digest.
  void touch_blob(const core::Digest& digest, std::uint64_t size, std::int64_t now) override {
    inner_.touch_blob(digest, size, now);
  }
  std::vector<BlobRecord> unreferenced_blobs(std::int64_t touched_before, std::size_t limit) override {
    return inner_.unreferenced_blobs(touched_before, limit);
  }
  bool collect_blob(const core::Digest& digest, std::int64_t touched_before,
                    const std::function<void()>& remove_data) override;
  bool collect_orphan_data(const core::Digest& digest, const std::function<bool()>& remove_data) override {
    return inner_.collect_orphan_data(digest, remove_data);
  }
  bool acquire_lease(const std::string& job, const std::string& holder, std::int64_t now,
                     std::int64_t expires_at) override {
    return inner_.acquire_lease(job, holder, now, expires_at);
  }
  void release_lease(const std::string& job, const std::string& holder) override { inner_.release_lease(job, holder); }
  void record_job_run(const JobRun& run) override { inner_.record_job_run(run); }
  std::optional<JobRun> last_job_run(const std::string& job) override { return inner_.last_job_run(job); }

  // The Vulnerability Advisor's rows are read by the worker and on report
  // queries, never on the registry's hot path, so nothing is cached.
  void queue_inventory(const core::Digest& digest, std::int64_t now) override { inner_.queue_inventory(digest, now); }
  std::optional<ScanClaim> claim_inventory(const std::string& holder, std::int64_t now,
                                           std::int64_t lease_until) override {
    return inner_.claim_inventory(holder, now, lease_until);
  }
  void save_inventory(const InventoryRecord& inventory) override { inner_.save_inventory(inventory); }
  std::optional<InventoryRecord> find_inventory(const core::Digest& digest) override {
    return inner_.find_inventory(digest);
  }
  std::size_t purge_inventories(std::int64_t indexed_before) override {
    return inner_.purge_inventories(indexed_before);
  }
  std::size_t requeue_inventories(const std::string& status, std::int64_t now) override {
    return inner_.requeue_inventories(status, now);
  }
  void replace_advisories(const std::vector<AdvisoryRecord>& advisories, const AdvisoryFeed& feed) override {
    inner_.replace_advisories(advisories, feed);
  }
  std::vector<AdvisoryMatch> find_advisories(const std::string& ecosystem,
                                             const std::vector<std::string>& packages) override {
    return inner_.find_advisories(ecosystem, packages);
  }
  std::optional<AdvisoryFeed> advisory_feed() override { return inner_.advisory_feed(); }
  bool create_exemption(const ExemptionRecord& exemption) override { return inner_.create_exemption(exemption); }
  bool delete_exemption(const ExemptionRecord& exemption) override { return inner_.delete_exemption(exemption); }
  std::vector<ExemptionRecord> list_exemptions(const std::string& account_id) override {
    return inner_.list_exemptions(account_id);
  }
  std::size_t delete_all_exemptions(const std::string& account_id) override {
    return inner_.delete_all_exemptions(account_id);
  }

 private:
  using Value = std::variant<std::shared_ptr<const ManifestRecord>, BlobRecord>;
  struct Entry {
    std::string key;
    Value value;
    std::size_t cost;
    std::chrono::steady_clock::time_point stored_at;
  };

  // Looks up `key`; returns nullopt on a miss, and while not receiving.
  // Moves a hit to the front.
  std::optional<Value> lookup(const std::string& key);
  // Stores `value` unless a write happened since `generation` was read.
  void insert(const std::string& key, Value value, std::size_t cost, std::uint64_t generation);
  // Drops what a write through this store invalidated, then sends it to
  // the other nodes.
  void changed(const Invalidation& invalidation);
  // Each drops the entries named and makes lookups that started before
  // the call unable to insert. invalidate() drops `key`.
  void invalidate(const std::string& key);
  // Drops every entry of every repository whose name starts with `prefix`.
  void invalidate_repositories(const std::string& prefix);
  // Drops the cached links of `digest` in every repository.
  void invalidate_blob(const std::string& digest);
  std::uint64_t generation();
  void evict_locked();

  std::unique_ptr<MetadataStore> owned_;
  MetadataStore& inner_;
  std::size_t max_bytes_;
  std::chrono::steady_clock::duration max_age_;
  std::shared_ptr<InvalidationPublisher> publisher_;
  bool cache_tags_;

  std::mutex mutex_;
  std::uint64_t generation_ = 0;
  std::uint64_t access_generation_ = 0;
  bool receiving_ = true;
  std::size_t bytes_ = 0;
  std::list<Entry> entries_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace berth::metadata
