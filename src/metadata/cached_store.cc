#include "metadata/cached_store.h"

#include <string_view>

namespace berth::metadata {

namespace {

// Bytes charged per entry on top of a manifest's content: keys, list and
// map nodes. An estimate; it only needs to keep tiny entries from being free.
constexpr std::size_t kEntryOverhead = 256;

// Keys are a one-letter kind, then the repository, then the tag or digest,
// joined with '\n', which no repository name, tag or digest contains.
constexpr std::size_t kKindLength = 2;  // the kind letter and its '\n'

std::string tag_key(const std::string& repository, const std::string& tag) { return "t\n" + repository + "\n" + tag; }
std::string manifest_key(const std::string& repository, const core::Digest& digest) {
  return "m\n" + repository + "\n" + digest.str();
}
std::string blob_key(const std::string& repository, const core::Digest& digest) {
  return "b\n" + repository + "\n" + digest.str();
}

}  // namespace

CachedStore::CachedStore(std::unique_ptr<MetadataStore> inner, std::size_t max_bytes,
                         std::chrono::steady_clock::duration max_age,
                         std::shared_ptr<InvalidationPublisher> publisher, bool cache_tags)
    : owned_(std::move(inner)),
      inner_(*owned_),
      max_bytes_(max_bytes),
      max_age_(max_age),
      publisher_(std::move(publisher)),
      cache_tags_(cache_tags) {}

std::uint64_t CachedStore::generation() {
  std::lock_guard<std::mutex> lock(mutex_);
  return generation_;
}

std::optional<CachedStore::Value> CachedStore::lookup(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!receiving_) return std::nullopt;
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  if (std::chrono::steady_clock::now() - it->second->stored_at > max_age_) {
    bytes_ -= it->second->cost;
    entries_.erase(it->second);
    index_.erase(it);
    return std::nullopt;
  }
  entries_.splice(entries_.begin(), entries_, it->second);
  return it->second->value;
}

void CachedStore::insert(const std::string& key, Value value, std::size_t cost, std::uint64_t generation) {
  if (cost > max_bytes_ / 4) return;  // one huge manifest must not flush everything else
  std::lock_guard<std::mutex> lock(mutex_);
  // A write since the lookup began may have changed what was read.
  if (!receiving_ || generation != generation_ || index_.contains(key)) return;
  entries_.push_front(Entry{key, std::move(value), cost, std::chrono::steady_clock::now()});
  index_.emplace(key, entries_.begin());
  bytes_ += cost;
  evict_locked();
}

void CachedStore::evict_locked() {
  while (bytes_ > max_bytes_ && !entries_.empty()) {
    bytes_ -= entries_.back().cost;
    index_.erase(entries_.back().key);
    entries_.pop_back();
  }
}

void CachedStore::changed(const Invalidation& invalidation) {
  apply(invalidation);
  // NOTE: sent after the write committed, so a node that dies in between
  // leaves other nodes' manifest and blob-link entries stale until
  // cache.max_age_seconds. Tags and access records do not depend on it.
  if (publisher_) publisher_->publish(invalidation);
}

void CachedStore::apply(const Invalidation& invalidation) {
  switch (invalidation.scope) {
    case Invalidation::Scope::kTag:
      invalidate(tag_key(invalidation.name, invalidation.tag));
      return;
    case Invalidation::Scope::kRepository:
      invalidate_repositories(invalidation.name + "\n");
      return;
    case Invalidation::Scope::kNamespace:
      invalidate_repositories(invalidation.name + "/");
      return;
    case Invalidation::Scope::kBlob:
      invalidate_blob(invalidation.name);
      return;
    case Invalidation::Scope::kAccess: {
      std::lock_guard<std::mutex> lock(mutex_);
      ++access_generation_;
      return;
    }
  }
}

std::uint64_t CachedStore::access_generation() {
  // A store that counts changes itself (PostgreSQL) is exact. Both numbers
  // only grow, so their sum changes whenever either does.
  std::uint64_t stored = inner_.access_generation();
  std::lock_guard<std::mutex> lock(mutex_);
  // While invalidations may be lost, no access record read earlier can be
  // trusted, so each call returns a number that no entry was cached with.
  if (!receiving_) ++access_generation_;
  return stored + access_generation_;
}

void CachedStore::set_receiving(bool receiving) {
  std::lock_guard<std::mutex> lock(mutex_);
  // Both ways, lookups in progress must not insert what they read: before
  // a loss it may be stale soon, and after one it may be stale already.
  ++generation_;
  ++access_generation_;
  receiving_ = receiving;
  if (!receiving) {
    entries_.clear();
    index_.clear();
    bytes_ = 0;
  }
}

void CachedStore::invalidate(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++generation_;
  auto found = index_.find(key);
  if (found == index_.end()) return;
  bytes_ -= found->second->cost;
  entries_.erase(found->second);
  index_.erase(found);
}

void CachedStore::invalidate_repositories(const std::string& prefix) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++generation_;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (std::string_view(it->key).substr(kKindLength).starts_with(prefix)) {
      bytes_ -= it->cost;
      index_.erase(it->key);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

void CachedStore::invalidate_blob(const std::string& digest) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++generation_;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (std::holds_alternative<BlobRecord>(it->value) && std::get<BlobRecord>(it->value).digest.str() == digest) {
      bytes_ -= it->cost;
      index_.erase(it->key);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

std::optional<BlobRecord> CachedStore::find_repository_blob(const std::string& repository, const core::Digest& digest) {
  std::string key = blob_key(repository, digest);
  if (auto hit = lookup(key)) return std::get<BlobRecord>(*hit);
  std::uint64_t seen = generation();
  auto blob = inner_.find_repository_blob(repository, digest);
  if (blob) insert(key, *blob, kEntryOverhead, seen);
  return blob;
}

UnlinkBlobResult CachedStore::unlink_blob(const std::string& repository, const core::Digest& digest) {
  UnlinkBlobResult result = inner_.unlink_blob(repository, digest);
  // Deleting a blob link is rare, so the repository's entries all go.
  changed({.scope = Invalidation::Scope::kRepository, .name = repository});
  return result;
}

std::optional<ManifestRecord> CachedStore::find_manifest(const std::string& repository, const core::Digest& digest) {
  std::string key = manifest_key(repository, digest);
  if (auto hit = lookup(key)) return *std::get<std::shared_ptr<const ManifestRecord>>(*hit);
  std::uint64_t seen = generation();
  auto manifest = inner_.find_manifest(repository, digest);
  if (manifest) {
    insert(key, std::make_shared<const ManifestRecord>(*manifest), manifest->content.size() + kEntryOverhead, seen);
  }
  return manifest;
}

std::optional<ManifestRecord> CachedStore::find_tagged_manifest(const std::string& repository, const std::string& tag) {
  if (!cache_tags_) return inner_.find_tagged_manifest(repository, tag);
  std::string key = tag_key(repository, tag);
  if (auto hit = lookup(key)) return *std::get<std::shared_ptr<const ManifestRecord>>(*hit);
  std::uint64_t seen = generation();
  auto manifest = inner_.find_tagged_manifest(repository, tag);
  if (manifest) {
    insert(key, std::make_shared<const ManifestRecord>(*manifest), manifest->content.size() + kEntryOverhead, seen);
  }
  return manifest;
}

PutManifestResult CachedStore::put_manifest(const ManifestWrite& manifest) {
  PutManifestResult result = inner_.put_manifest(manifest);
  if (result.stored && manifest.tag) {
    changed({.scope = Invalidation::Scope::kTag, .name = manifest.repository, .tag = *manifest.tag});
  }
  return result;
}

CopyManifestResult CachedStore::copy_manifest(const std::string& source, const core::Digest& digest,
                                              const std::string& target, const std::string& tag) {
  CopyManifestResult result = inner_.copy_manifest(source, digest, target, tag);
  // Only found entries are cached, so the manifests and blob links that
  // the copy added have no stale entries; the moved tag may have one.
  if (result.copied) changed({.scope = Invalidation::Scope::kTag, .name = target, .tag = tag});
  return result;
}

bool CachedStore::delete_manifest(const std::string& repository, const core::Digest& digest) {
  bool deleted = inner_.delete_manifest(repository, digest);
  // Every tag of the repository that pointed at it went too; which ones
  // is not known here.
  changed({.scope = Invalidation::Scope::kRepository, .name = repository});
  return deleted;
}

TrashOutcome CachedStore::trash_manifest(const std::string& repository, const core::Digest& digest,
                                         std::int64_t now) {
  TrashOutcome outcome = inner_.trash_manifest(repository, digest, now);
  // Children of an index may have gone with it, so every manifest entry of
  // the repository is suspect, not only this one.
  if (outcome.result == TrashResult::kTrashed) changed({.scope = Invalidation::Scope::kRepository, .name = repository});
  return outcome;
}

bool CachedStore::collect_blob(const core::Digest& digest, std::int64_t touched_before,
                               const std::function<void()>& remove_data) {
  bool collected = inner_.collect_blob(digest, touched_before, remove_data);
  if (collected) changed({.scope = Invalidation::Scope::kBlob, .name = digest.str()});
  return collected;
}

bool CachedStore::delete_tag(const std::string& repository, const std::string& tag) {
  bool deleted = inner_.delete_tag(repository, tag);
  changed({.scope = Invalidation::Scope::kTag, .name = repository, .tag = tag});
  return deleted;
}

CreateNamespaceResult CachedStore::create_namespace(const NamespaceRecord& ns, std::size_t max_per_account) {
  CreateNamespaceResult result = inner_.create_namespace(ns, max_per_account);
  if (result == CreateNamespaceResult::kCreated) {
    changed({.scope = Invalidation::Scope::kNamespace, .name = ns.name});
    changed({.scope = Invalidation::Scope::kAccess});
  }
  return result;
}

bool CachedStore::delete_namespace(const std::string& name) {
  bool deleted = inner_.delete_namespace(name);
  // The manifests, tags and blob links of every repository in the namespace
  // were deleted.
  changed({.scope = Invalidation::Scope::kNamespace, .name = name});
  changed({.scope = Invalidation::Scope::kAccess});
  return deleted;
}

// Access records: other nodes keep principals and namespace owners in
// memory (auth::AccessControl), keyed on access_generation().

bool CachedStore::delete_identity(const std::string& id) {
  bool deleted = inner_.delete_identity(id);
  changed({.scope = Invalidation::Scope::kAccess});
  return deleted;
}

bool CachedStore::delete_api_key(const std::string& id) {
  bool deleted = inner_.delete_api_key(id);
  changed({.scope = Invalidation::Scope::kAccess});
  return deleted;
}

bool CachedStore::create_policy(const PolicyRecord& policy) {
  bool created = inner_.create_policy(policy);
  changed({.scope = Invalidation::Scope::kAccess});
  return created;
}

bool CachedStore::delete_policy(const std::string& id) {
  bool deleted = inner_.delete_policy(id);
  changed({.scope = Invalidation::Scope::kAccess});
  return deleted;
}

bool CachedStore::set_namespace_public(const std::string& name, bool is_public) {
  bool changed_visibility = inner_.set_namespace_public(name, is_public);
  changed({.scope = Invalidation::Scope::kAccess});
  return changed_visibility;
}

}  // namespace berth::metadata
