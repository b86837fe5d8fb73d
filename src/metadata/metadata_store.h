// MetadataStore: repositories, blob links, manifests, tags and upload
// sessions, and the tenants that own them: accounts, identities, API keys,
// access policies and namespaces. Every method is one transaction: it either changes everything it
// describes or nothing. Every method is safe to call from many threads at
// once without external synchronization. Failures of the database throw
// core::InternalError; "not found" is a return value, never an exception.
#pragma once

#include "core/digest.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace berth::metadata {

struct BlobRecord {
  core::Digest digest;
  std::uint64_t size = 0;
  std::int64_t created_at = 0;
  // Filled in by list_blobs() only: live and trashed manifests that
  // reference the blob, and repositories that link it.
  std::int64_t ref_count = 0;
  std::int64_t links = 0;
  // Filled in by unreferenced_blobs() only: the last upload, link or mount.
  std::int64_t touched_at = 0;
};

struct ManifestRecord {
  std::string repository;
  core::Digest digest;
  std::string media_type;
  std::string content;  // the exact bytes that were pushed
  std::string artifact_type;
  std::optional<core::Digest> subject;
  std::string annotations_json;  // empty when the manifest has none
  std::int64_t created_at = 0;
};

// A manifest to store, with the references the store must check.
struct ManifestWrite {
  std::string repository;
  core::Digest digest;
  std::string media_type;
  std::string content;
  std::vector<core::Digest> blob_references;      // must be linked to the repository
  std::vector<core::Digest> manifest_references;  // must be manifests of the repository
  std::optional<core::Digest> subject;            // may name a manifest that does not exist
  std::string artifact_type;
  std::string annotations_json;
  std::optional<std::string> tag;  // the tag to point at the manifest, if any
};

struct UnlinkBlobResult {
  bool unlinked = false;
  // Set when the blob stayed linked because this manifest of the
  // repository references it.
  std::optional<core::Digest> referenced_by;
};

struct PutManifestResult {
  bool stored = false;
  std::vector<core::Digest> missing_blobs;
  std::vector<core::Digest> missing_manifests;
};

struct ReferrerRecord {
  core::Digest digest;
  std::string media_type;
  std::uint64_t size = 0;
  std::string artifact_type;
  std::string annotations_json;
};

struct UploadRecord {
  std::string id;
  std::string repository;
  std::uint64_t received_bytes = 0;
  core::DigestAlgorithm algorithm = core::DigestAlgorithm::kSha256;
  std::string hash_state;    // core::Hasher::save_state() after received_bytes
  std::string driver_state;  // opaque state of the blob store driver, if it keeps any
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

// Facts about one manifest that image listings show. A manifest digest
// fixes the manifest's content, and with it its config and children, so
// the facts of a digest never change once computed.
struct ImageFacts {
  core::Digest manifest_digest;
  std::string config_digest;  // empty for an index
  std::int64_t created = 0;   // Unix seconds from the config's "created"; 0 when absent
  std::uint64_t size = 0;     // config and layers; for an index, the sum over its children
  std::string architecture;   // empty for an index and for configs without one
  std::string os;
  std::string labels_json = "{}";  // the config's config.Labels as a JSON object

  bool operator==(const ImageFacts&) const = default;
};

// A manifest of a repository with the tags that point at it.
struct ImageEntry {
  std::string repository;
  core::Digest digest;
  std::string media_type;
  std::string artifact_type;      // as in ManifestRecord
  std::vector<std::string> tags;  // in byte order; empty when untagged
  std::int64_t pushed_at = 0;
  std::optional<ImageFacts> facts;  // nullopt until someone stores them
};

struct CopyManifestResult {
  bool copied = false;
  bool source_found = false;  // false: the source repository has no such manifest
  // Child manifests (at any depth) that the source repository lacks; then
  // nothing was copied.
  std::vector<core::Digest> missing_manifests;
};

// One page of a name listing in byte order.
struct NamePage {
  std::vector<std::string> names;
  bool more = false;  // true if names exist after the last one returned
};


// --- Tenants ----------------------------------------------------------------

struct AccountRecord {
  std::string id;    // 32 lowercase hex digits
  std::string name;  // unique in the region
  std::string plan = "lite";
  std::int64_t created_at = 0;
};

enum class IdentityKind { kUser, kServiceId };

// A user or a service ID; both belong to one account.
struct IdentityRecord {
  std::string id;  // "User-<uuid>" or "ServiceId-<uuid>"
  std::string account_id;
  IdentityKind kind = IdentityKind::kUser;
  std::string name;  // unique per account and kind
  std::string description;
  std::int64_t created_at = 0;
};

struct ApiKeyRecord {
  std::string id;  // "ApiKey-<uuid>"
  std::string identity_id;
  std::string account_id;  // the identity's account, filled in by the store on reads
  std::string name;
  std::string description;
  std::string secret_hash;  // hex SHA-256 of the secret; the secret itself is never stored
  std::int64_t created_at = 0;
  std::int64_t last_used_at = 0;  // 0 until first used
};

// One role for one identity, on the whole account (namespace empty) or on
// one namespace of it. Policies add up.
struct PolicyRecord {
  std::string id;
  std::string account_id;
  std::string identity_id;
  std::string role;            // "Reader", "Writer" or "Manager"
  std::string namespace_name;  // empty: the whole account
  std::int64_t created_at = 0;
};

struct NamespaceRecord {
  std::string name;
  std::string account_id;
  bool is_public = false;  // anyone may pull, without credentials
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

// Per-account settings of the management API; a new account has the defaults.
struct AccountSettings {
  bool platform_metrics = false;
};

// --- Lifecycle: trash, usage, quotas, retention, background jobs -------------

// A manifest in the trash with the tags it had in its repository. Child
// manifests of an index that were trashed with it are part of its entry.
struct TrashEntry {
  std::string repository;
  core::Digest digest;
  std::string media_type;
  std::vector<std::string> tags;  // in byte order
  std::int64_t trashed_at = 0;
};

enum class TrashResult {
  kTrashed,
  kNotFound,          // the repository has no live manifest with the digest
  kReferencedByIndex  // a live index of the repository references it; nothing changed
};

struct TrashOutcome {
  TrashResult result = TrashResult::kNotFound;
  std::vector<std::string> tags;        // tags that went to the trash with the manifest
  std::optional<core::Digest> index;    // set with kReferencedByIndex
};

struct RestoreOutcome {
  bool found = false;                   // false: no trash entry; nothing changed
  std::vector<std::string> restored;    // tags that point at the manifest again
  std::vector<std::string> skipped;     // tags that are live on another manifest; they stay in the trash
};

enum class RestoreTagResult { kRestored, kNotInTrash, kTagLive };

// Custom quotas of an account in bytes; nullopt where the account uses its
// plan's limit, -1 for unlimited.
struct QuotaSettings {
  std::optional<std::int64_t> storage_bytes;
  std::optional<std::int64_t> traffic_bytes;

  bool operator==(const QuotaSettings&) const = default;
};

struct AccountUsage {
  std::uint64_t storage_bytes = 0;  // distinct blobs and manifests of live images
  std::uint64_t traffic_bytes = 0;  // blob bytes sent in the month asked for
};

struct RetentionPolicy {
  std::string namespace_name;
  std::string account_id;                    // filled in by the store on reads
  std::int64_t images_per_repo = -1;         // -1: keep all
  bool retain_untagged = false;
  std::int64_t deletion_threshold_days = 0;  // 0: no threshold
  std::int64_t updated_at = 0;
};

// One finished run of a background job.
struct JobRun {
  std::string job;
  std::string holder;  // the node that ran it
  std::int64_t started_at = 0;
  std::int64_t finished_at = 0;
  std::string result_json = "{}";  // job-specific counts
};

// --- Vulnerability Advisor records (see docs/va.md) ---------------------------

// The package inventory of one image manifest, keyed by its digest: the
// inventory describes content, so every repository holding the digest
// shares it.
struct InventoryRecord {
  core::Digest digest;
  std::string state = "queued";  // "queued" (waiting for the worker) or "indexed"
  // Set when indexed: "complete", "incomplete", "unsupported", or "index"
  // for an image index (its image manifests are queued on their own).
  std::string status;
  std::string reason;            // notes joined by "\n"; empty when complete
  std::string os_id;             // os-release ID, VERSION_ID, VERSION_CODENAME, PRETTY_NAME
  std::string os_version_id;
  std::string os_codename;
  std::string os_name;
  std::string package_format;    // "dpkg", "apk", "rpm" or empty
  std::string packages_json = "[]";  // [{"name","version","source","source_version","architecture"}]
  std::int64_t queued_at = 0;
  std::int64_t indexed_at = 0;   // 0 while queued
  std::int64_t attempts = 0;     // claims so far; the worker gives up after a few

  bool operator==(const InventoryRecord&) const = default;
};

// A queued inventory that a worker claimed until `lease_until`.
struct ScanClaim {
  core::Digest digest;
  std::int64_t attempts = 0;  // including this claim
};

// One affected package range of an advisory: versions from `introduced`
// (empty or "0": every version) up to, not including, `fixed`.
struct AffectedRecord {
  std::string ecosystem;  // normalized key, see scan::ecosystem_key: "debian:12", "alpine:3.19", "ubuntu:22.04", "rhel:9"
  std::string package;    // source package for dpkg and apk, binary package for rpm
  std::string introduced;
  std::string fixed;

  bool operator==(const AffectedRecord&) const = default;
};

// One advisory (security notice) as imported from OSV.
struct AdvisoryRecord {
  std::string id;                  // OSV id: "DSA-5417-1", "DEBIAN-CVE-2023-1234", "ALPINE-CVE-...", "RHSA-2024:1234"
  std::vector<std::string> cves;   // CVE ids it covers, sorted; may be empty
  std::string summary;
  std::string modified;            // OSV "modified", RFC 3339
  std::vector<AffectedRecord> affected;  // only ranges with a fixed version

  bool operator==(const AdvisoryRecord&) const = default;
};

// An advisory range that affects one package of one ecosystem.
struct AdvisoryMatch {
  std::string id;
  std::vector<std::string> cves;
  std::string summary;
  AffectedRecord affected;

  bool operator==(const AdvisoryMatch&) const = default;
};

// The summary of the last import of the advisory database.
struct AdvisoryFeed {
  std::int64_t imported_at = 0;
  std::string source;                   // the path given to va-import
  std::uint64_t advisory_count = 0;
  std::vector<std::string> ecosystems;  // normalized keys, sorted

  bool operator==(const AdvisoryFeed&) const = default;
};

// An exemption of one issue for a scope of an account. Scope types:
// "account" (every field empty), "namespace" (namespace_name),
// "repository" (namespace_name, repository "ns/repo"), "image"
// (namespace_name, repository and either tag or digest).
struct ExemptionRecord {
  std::string account_id;
  std::string issue_type;  // "cve" or "sn"
  std::string issue_id;
  std::string scope_type;
  std::string namespace_name;
  std::string repository;
  std::string tag;
  std::string digest;
  std::int64_t created_at = 0;

  bool operator==(const ExemptionRecord&) const = default;
};

enum class CreateNamespaceResult {
  kCreated,
  kAlreadyOwned,          // the account owns it already; nothing changed
  kOwnedByOtherAccount,   // nothing changed
  kLimitReached,          // the account has max_per_account namespaces
  kAccountUnknown,
};

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

  // A number that changes whenever an API key, identity, policy or
  // namespace may have changed, here or on another node that shares the
  // database. Callers that keep such records in memory keep them only
  // while it stays the same. A store that nothing else writes to returns
  // a constant, and its callers rely on their own invalidation.
  virtual std::uint64_t access_generation() { return 0; }

  // --- Repositories -------------------------------------------------------

  // Repositories exist from their first linked blob or stored manifest.
  virtual bool repository_exists(const std::string& repository) = 0;
  // Names strictly after `after` (all when empty), at most `limit`.
  virtual NamePage list_repositories(const std::string& after, std::size_t limit) = 0;

  // --- Blobs --------------------------------------------------------------

  // The blob if `repository` links it, else nullopt.
  virtual std::optional<BlobRecord> find_repository_blob(const std::string& repository, const core::Digest& digest) = 0;
  // Records the blob (if new) and links it to the repository (created if
  // new). Linking an already linked blob changes nothing.
  virtual void link_blob(const std::string& repository, const core::Digest& digest, std::uint64_t size) = 0;
  // Removes the link unless a manifest of the repository references the
  // blob. `unlinked` is false if the repository did not link it or a
  // manifest references it (then `referenced_by` names one).
  virtual UnlinkBlobResult unlink_blob(const std::string& repository, const core::Digest& digest) = 0;
  // Links the blob as link_blob does. With a non-empty `upload_id` it also
  // removes that upload session, as complete_upload does. It does both only
  // if `data_present` returns true when called inside the write
  // transaction, and otherwise returns false and changes nothing. Garbage
  // collection removes data inside its own write transaction, so a blob
  // linked this way has its data and a fresh last-use time.
  virtual bool link_blob_with_data(const std::string& repository, const core::Digest& digest, std::uint64_t size,
                                   const std::string& upload_id, const std::function<bool()>& data_present) = 0;
  // Every blob recorded (offline checks).
  virtual std::vector<BlobRecord> list_blobs() = 0;

  // --- Upload sessions ----------------------------------------------------

  virtual void create_upload(const UploadRecord& upload) = 0;
  virtual std::optional<UploadRecord> find_upload(const std::string& id) = 0;
  // Records progress if the session is still at `expected_bytes`; returns
  // false (and changes nothing) if it is not, or no longer exists.
  virtual bool update_upload(const std::string& id, std::uint64_t expected_bytes, std::uint64_t received_bytes,
                             const std::string& hash_state, const std::string& driver_state) = 0;
  // Links the finished blob to the upload's repository and removes the
  // session, in one transaction.
  virtual void complete_upload(const std::string& id, const core::Digest& digest, std::uint64_t size) = 0;
  // Returns false if there was no such session.
  virtual bool delete_upload(const std::string& id) = 0;
  virtual std::vector<UploadRecord> list_uploads() = 0;

  // --- Manifests and tags -------------------------------------------------

  virtual std::optional<ManifestRecord> find_manifest(const std::string& repository, const core::Digest& digest) = 0;
  virtual std::optional<ManifestRecord> find_tagged_manifest(const std::string& repository, const std::string& tag) = 0;
  // Returns the manifest with `digest` from any repository (the first by
  // name), since its content is the same everywhere; nullopt when none
  // contains it.
  virtual std::optional<ManifestRecord> find_manifest_by_digest(const core::Digest& digest) = 0;
  // Checks every reference inside the transaction; stores the manifest, its
  // references and the tag only if none is missing. Storing a manifest that
  // exists already only moves the tag.
  virtual PutManifestResult put_manifest(const ManifestWrite& manifest) = 0;
  // Removes the manifest and every tag that points at it; false if absent.
  virtual bool delete_manifest(const std::string& repository, const core::Digest& digest) = 0;
  // Removes one tag, leaving the manifest; false if absent.
  virtual bool delete_tag(const std::string& repository, const std::string& tag) = 0;
  // Tags strictly after `after` in byte order, at most `limit`; nullopt if
  // the repository does not exist.
  virtual std::optional<NamePage> list_tags(const std::string& repository, const std::string& after, std::size_t limit) = 0;
  // Manifests of the repository whose subject is `subject`, optionally only
  // those of one artifact type, ordered by digest.
  virtual std::vector<ReferrerRecord> list_referrers(const std::string& repository, const core::Digest& subject,
                                                     const std::optional<std::string>& artifact_type) = 0;
  // Every manifest of every repository (offline checks).
  virtual std::vector<ManifestRecord> list_manifests() = 0;
  // Blob digests that a stored manifest references, for offline checks.
  virtual std::vector<core::Digest> manifest_blob_references(const std::string& repository, const core::Digest& digest) = 0;
  // Child manifest digests that a stored index references, in byte order,
  // for offline checks. Empty for an image manifest or an unknown manifest.
  virtual std::vector<core::Digest> manifest_child_references(const std::string& repository,
                                                              const core::Digest& digest) = 0;

  // --- Image listings ---------------------------------------------------------

  // The images of the repositories inside `namespaces` and of the
  // repositories named in `repositories`: every manifest, tagged or not,
  // except an untagged one that another manifest of the same repository
  // references (a child of an index, listed through that index). Each
  // manifest appears once, ordered by repository name, then digest, with
  // its tags and its stored facts. Unknown names contribute nothing.
  virtual std::vector<ImageEntry> list_images(const std::vector<std::string>& namespaces,
                                              const std::vector<std::string>& repositories) = 0;
  // The facts stored for a manifest digest, in any repository.
  virtual std::optional<ImageFacts> find_image_facts(const core::Digest& manifest) = 0;
  // Stores the facts of a manifest digest. Facts stored earlier for the
  // same digest are kept, because they describe the same content.
  virtual void put_image_facts(const ImageFacts& facts) = 0;
  // Copies manifest `digest` of repository `source` into `target` (created
  // if new) and points `tag` of `target` at it. Child manifests of an index
  // are copied first, at every depth, and every blob the copied manifests
  // reference is linked to `target`. Nothing changes unless the source
  // contains the manifest and all its children. Copying into the source
  // repository itself only moves the tag.
  virtual CopyManifestResult copy_manifest(const std::string& source, const core::Digest& digest,
                                           const std::string& target, const std::string& tag) = 0;

  // --- Accounts and identities ---------------------------------------------

  // False (and nothing changes) if an account with the id or name exists.
  virtual bool create_account(const AccountRecord& account) = 0;
  virtual std::optional<AccountRecord> find_account(const std::string& id) = 0;
  virtual std::optional<AccountRecord> find_account_by_name(const std::string& name) = 0;
  virtual std::vector<AccountRecord> list_accounts() = 0;

  // False if the account does not exist or has an identity of the same
  // kind and name.
  virtual bool create_identity(const IdentityRecord& identity) = 0;
  virtual std::optional<IdentityRecord> find_identity(const std::string& id) = 0;
  virtual std::optional<IdentityRecord> find_identity_by_name(const std::string& account_id, IdentityKind kind,
                                                              const std::string& name) = 0;
  virtual std::vector<IdentityRecord> list_identities(const std::string& account_id) = 0;
  // Removes the identity with its API keys and policies; false if absent.
  virtual bool delete_identity(const std::string& id) = 0;

  // --- API keys -------------------------------------------------------------

  // False if the identity does not exist or the id or hash is taken.
  virtual bool create_api_key(const ApiKeyRecord& key) = 0;
  virtual std::optional<ApiKeyRecord> find_api_key(const std::string& id) = 0;
  virtual std::optional<ApiKeyRecord> find_api_key_by_hash(const std::string& secret_hash) = 0;
  // Keys of every identity of the account, oldest first.
  virtual std::vector<ApiKeyRecord> list_api_keys(const std::string& account_id) = 0;
  virtual bool delete_api_key(const std::string& id) = 0;
  // Sets last_used_at to `used_at` unless it is later already. Does nothing
  // if the key does not exist.
  virtual void touch_api_key(const std::string& id, std::int64_t used_at) = 0;

  // --- Access policies ------------------------------------------------------

  // False if the identity does not belong to policy.account_id, or the same
  // identity, role and namespace are granted already. Throws
  // std::invalid_argument if the role is not one of the three.
  virtual bool create_policy(const PolicyRecord& policy) = 0;
  virtual std::vector<PolicyRecord> list_policies(const std::string& account_id) = 0;
  virtual std::vector<PolicyRecord> identity_policies(const std::string& identity_id) = 0;
  virtual bool delete_policy(const std::string& id) = 0;

  // --- Namespaces -----------------------------------------------------------

  virtual CreateNamespaceResult create_namespace(const NamespaceRecord& ns, std::size_t max_per_account) = 0;
  virtual std::optional<NamespaceRecord> find_namespace(const std::string& name) = 0;
  // The account's namespaces by name.
  virtual std::vector<NamespaceRecord> list_namespaces(const std::string& account_id) = 0;
  virtual std::vector<NamespaceRecord> list_public_namespaces() = 0;
  // Returns false if the namespace does not exist.
  virtual bool set_namespace_public(const std::string& name, bool is_public) = 0;
  // Removes the namespace and, in the same transaction, every repository
  // in it with its manifests, tags, blob links and upload sessions, and the
  // policies granted on it. The name becomes free. False if it did not exist.
  virtual bool delete_namespace(const std::string& name) = 0;
  // Like list_repositories, restricted to repositories whose first path
  // component is one of `namespaces`.
  virtual NamePage list_namespace_repositories(const std::vector<std::string>& namespaces, const std::string& after,
                                               std::size_t limit) = 0;

  // --- Account settings -----------------------------------------------------

  // The account's settings; the defaults when none were stored or the
  // account does not exist.
  virtual AccountSettings account_settings(const std::string& account_id) = 0;
  // Replaces the account's settings; false (and nothing changes) if the
  // account does not exist.
  virtual bool set_account_settings(const std::string& account_id, const AccountSettings& settings) = 0;

  // --- Trash ----------------------------------------------------------------

  // Moves a live manifest and every tag pointing at it to the trash, with
  // the child manifests of an index that no other live manifest of the
  // repository references and that have no tag. A trashed manifest cannot
  // be read through the other methods and counts toward no usage. Trashing
  // a digest whose entry exists already merges the tags into that entry.
  virtual TrashOutcome trash_manifest(const std::string& repository, const core::Digest& digest,
                                      std::int64_t now) = 0;
  // The trash entries of the repositories inside `namespaces`, oldest first.
  virtual std::vector<TrashEntry> list_trash(const std::vector<std::string>& namespaces) = 0;
  // Makes the manifest live again (a no-op if it is live) and points each
  // of its trashed tags at it unless the tag is live on another manifest
  // (a tag live on this one counts as restored). The entry leaves the
  // trash unless some tags were skipped; those stay in it.
  virtual RestoreOutcome restore_manifest(const std::string& repository, const core::Digest& digest) = 0;
  // Restores the manifest that `tag` pointed at when it was trashed (the
  // newest entry with that tag) and points the tag at it. kTagLive when
  // the tag is live on another manifest; live on this one, it counts as
  // restored. The entry keeps
  // its other tags and leaves the trash when none is left.
  virtual RestoreTagResult restore_tag(const std::string& repository, const std::string& tag) = 0;
  // Removes every entry trashed before `trashed_before` for good; returns
  // how many top-level entries went.
  virtual std::size_t expire_trash(std::int64_t trashed_before) = 0;

  // --- Plans, usage and quotas ------------------------------------------------

  // False if the account does not exist.
  virtual bool set_account_plan(const std::string& account_id, const std::string& plan) = 0;
  virtual QuotaSettings account_quota(const std::string& account_id) = 0;
  // Replaces the custom quotas; false if the account does not exist.
  virtual bool set_account_quota(const std::string& account_id, const QuotaSettings& quota) = 0;
  // Storage in use now and pull traffic of `month` ("YYYY-MM", UTC). The
  // store keeps storage up to date in the transaction of every change.
  virtual AccountUsage account_usage(const std::string& account_id, const std::string& month) = 0;
  // Storage computed from scratch from the live manifests, for checks that
  // the kept figure is right.
  virtual std::uint64_t count_storage_usage(const std::string& account_id) = 0;
  virtual void add_pull_traffic(const std::string& account_id, const std::string& month, std::uint64_t bytes) = 0;
  // The account that owns the repository's namespace, if any.
  virtual std::optional<std::string> repository_account(const std::string& repository) = 0;

  // --- Retention policies -----------------------------------------------------

  virtual std::optional<RetentionPolicy> find_retention_policy(const std::string& namespace_name) = 0;
  // Policies of the account's namespaces, or of every account when empty.
  virtual std::vector<RetentionPolicy> list_retention_policies(const std::string& account_id) = 0;
  // Stores the policy; images_per_repo -1 (keep all) removes it, because
  // such a policy deletes nothing whatever its other settings.
  // False if the namespace does not exist.
  virtual bool set_retention_policy(const RetentionPolicy& policy) = 0;

  // --- Garbage collection -----------------------------------------------------

  // Marks the blob as in use at `now` and records it (unlinked, with no
  // references) if new. Upload completion calls it before moving the data
  // into place, so that collection in another transaction never removes
  // data that a new record is about to describe.
  virtual void touch_blob(const core::Digest& digest, std::uint64_t size, std::int64_t now) = 0;
  // Blobs that no live or trashed manifest references, untouched since
  // before `touched_before`, at most `limit`, oldest first.
  virtual std::vector<BlobRecord> unreferenced_blobs(std::int64_t touched_before, std::size_t limit) = 0;
  // If the blob is still unreferenced and untouched since `touched_before`,
  // removes its record and links and calls `remove_data`, while no upload
  // can record the same digest. An exception from `remove_data` restores
  // the record. Returns whether it removed the blob.
  virtual bool collect_blob(const core::Digest& digest, std::int64_t touched_before,
                            const std::function<void()>& remove_data) = 0;
  // Calls `remove_data` if the store has no record of the blob, while no
  // upload can record it; returns what `remove_data` returns, or false.
  virtual bool collect_orphan_data(const core::Digest& digest, const std::function<bool()>& remove_data) = 0;

  // --- Background jobs ----------------------------------------------------------

  // Takes or renews the lease on `job` for `holder` until `expires_at`;
  // false if another holder has an unexpired lease.
  virtual bool acquire_lease(const std::string& job, const std::string& holder, std::int64_t now,
                             std::int64_t expires_at) = 0;
  virtual void release_lease(const std::string& job, const std::string& holder) = 0;
  virtual void record_job_run(const JobRun& run) = 0;
  virtual std::optional<JobRun> last_job_run(const std::string& job) = 0;

  // --- Vulnerability Advisor --------------------------------------------------------

  // Queues `digest` for indexing unless it has an inventory row already.
  // Tagging a manifest queues it too, through the store itself (a trigger
  // in SQLite), so every path that creates a tag is covered.
  virtual void queue_inventory(const core::Digest& digest, std::int64_t now) = 0;
  // Claims the oldest queued inventory that no other holder has an
  // unexpired claim on, until `lease_until`; nullopt when none is waiting.
  virtual std::optional<ScanClaim> claim_inventory(const std::string& holder, std::int64_t now,
                                                   std::int64_t lease_until) = 0;
  // Stores an indexed inventory (state "indexed") and drops the claim. An
  // existing row keeps its queued_at and attempts.
  virtual void save_inventory(const InventoryRecord& inventory) = 0;
  virtual std::optional<InventoryRecord> find_inventory(const core::Digest& digest) = 0;
  // Removes the inventories indexed before `indexed_before` whose digest is
  // in no repository and no trash entry, and returns how many.
  virtual std::size_t purge_inventories(std::int64_t indexed_before) = 0;
  // Queues the indexed inventories with `status` ("incomplete",
  // "unsupported", "complete"), or all of them when `status` is empty, so
  // the worker reads them again with the current limits. Returns how many.
  virtual std::size_t requeue_inventories(const std::string& status, std::int64_t now) = 0;

  // Replaces every advisory with `advisories` in one transaction, so a
  // query reads either the old set or the new one.
  virtual void replace_advisories(const std::vector<AdvisoryRecord>& advisories, const AdvisoryFeed& feed) = 0;
  // The advisory ranges of `ecosystem` for any of `packages`, ordered by
  // package, then advisory id.
  virtual std::vector<AdvisoryMatch> find_advisories(const std::string& ecosystem,
                                                     const std::vector<std::string>& packages) = 0;
  // The last import; nullopt before the first.
  virtual std::optional<AdvisoryFeed> advisory_feed() = 0;

  // False if the same exemption (account, type, id and scope) exists.
  virtual bool create_exemption(const ExemptionRecord& exemption) = 0;
  // Deletes the exemption with the same account, type, id and scope.
  virtual bool delete_exemption(const ExemptionRecord& exemption) = 0;
  // Every exemption of the account, ordered by scope, then type and id.
  virtual std::vector<ExemptionRecord> list_exemptions(const std::string& account_id) = 0;
  virtual std::size_t delete_all_exemptions(const std::string& account_id) = 0;
};

}  // namespace berth::metadata
