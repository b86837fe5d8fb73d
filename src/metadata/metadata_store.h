// MetadataStore: repositories, blob links, manifests, tags and upload
// sessions. Every method is one transaction: it either changes everything it
// describes or nothing. Every method is safe to call from many threads at
// once without external synchronization. Failures of the database throw
// core::InternalError; "not found" is a return value, never an exception.
#pragma once

#include "core/digest.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace berth::metadata {

struct BlobRecord {
  core::Digest digest;
  std::uint64_t size = 0;
  std::int64_t created_at = 0;
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

// One page of a name listing in byte order.
struct NamePage {
  std::vector<std::string> names;
  bool more = false;  // true if names exist after the last one returned
};

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

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
};

}  // namespace berth::metadata
