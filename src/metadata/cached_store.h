// A MetadataStore decorator that keeps recently read manifests, tag
// lookups and blob links in memory, so the hot pulls of a popular image
// skip the database. Only found entries are cached; every write through
// this store drops the entries it may change. Writes that bypass it (another
// process on the same database) are not seen: the server owns its database.
#pragma once

#include "metadata/metadata_store.h"

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <variant>

namespace berth::metadata {

class CachedStore final : public MetadataStore {
 public:
  // Wraps and owns `inner`. `max_bytes` bounds the manifest bytes held
  // (each entry also counts a fixed overhead).
  CachedStore(std::unique_ptr<MetadataStore> inner, std::size_t max_bytes);

  bool repository_exists(const std::string& repository) override { return inner_.repository_exists(repository); }
  NamePage list_repositories(const std::string& after, std::size_t limit) override {
    return inner_.list_repositories(after, limit);
  }

  std::optional<BlobRecord> find_repository_blob(const std::string& repository, const core::Digest& digest) override;
  void link_blob(const std::string& repository, const core::Digest& digest, std::uint64_t size) override {
    inner_.link_blob(repository, digest, size);
  }
  UnlinkBlobResult unlink_blob(const std::string& repository, const core::Digest& digest) override;
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

 private:
  using Value = std::variant<std::shared_ptr<const ManifestRecord>, BlobRecord>;
  struct Entry {
    std::string key;
    Value value;
    std::size_t cost;
  };

  // Looks up `key`; returns nullopt on a miss. Moves a hit to the front.
  std::optional<Value> lookup(const std::string& key);
  // Stores `value` unless a write happened since `generation` was read.
  void insert(const std::string& key, Value value, std::size_t cost, std::uint64_t generation);
  // Drops `key` (or, when `key` is empty, every tag entry) and makes
  // lookups that started before this call unable to insert.
  void invalidate(const std::string& key, bool all_tags = false);
  std::uint64_t generation();
  void evict_locked();

  std::unique_ptr<MetadataStore> owned_;
  MetadataStore& inner_;
  std::size_t max_bytes_;

  std::mutex mutex_;
  std::uint64_t generation_ = 0;
  std::size_t bytes_ = 0;
  std::list<Entry> entries_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace berth::metadata
