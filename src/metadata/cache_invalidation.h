// Cache invalidation between berthd nodes that share one metadata store.
// A node that committed a write sends an Invalidation naming what the
// write may have made stale; every other node drops those cache entries.
// The transport (PostgreSQL LISTEN/NOTIFY, pg_cache_notifier.h) is wired
// by the server, so CachedStore stays independent of the backend.
#pragma once

#include <optional>
#include <string>

namespace berth::metadata {

// The cache entries in other nodes that one write may have made stale.
struct Invalidation {
  enum class Scope {
    kTag,         // one tag of `name`, a repository
    kRepository,  // every entry of repository `name`
    kNamespace,   // every entry of every repository in namespace `name`
    kBlob,        // the links of blob digest `name` in every repository
    kAccess,      // API keys, identities, policies or namespaces (no name)
  };
  Scope scope = Scope::kRepository;
  std::string name;
  std::string tag;  // kTag only

  bool operator==(const Invalidation&) const = default;
};

// The scope's name in messages and logs: "tag", "repository", "namespace",
// "blob" or "access".
const char* invalidation_scope_name(Invalidation::Scope scope);

// Sends invalidations to the other nodes.
class InvalidationPublisher {
 public:
  virtual ~InvalidationPublisher() = default;
  // Sends `invalidation` after the write that caused it committed. Must
  // not throw: the write has happened, and the request that made it must
  // still succeed. A lost message leaves other nodes' entries stale until
  // they reach cache.max_age_seconds.
  virtual void publish(const Invalidation& invalidation) = 0;
};

// Receives invalidations from the other nodes.
class InvalidationSink {
 public:
  virtual ~InvalidationSink() = default;
  // Drops the entries that `invalidation` names.
  virtual void apply(const Invalidation& invalidation) = 0;
  // Called with false when invalidations may be lost from now on (the
  // listener lost its connection): the cache drops everything and serves
  // nothing until it is called with true, once every later invalidation
  // reaches the sink again.
  virtual void set_receiving(bool receiving) = 0;
};

// An invalidation as one message: JSON with the sender's node id and the
// database schema, so that deployments sharing a database ignore each
// other and a node ignores its own messages.
struct InvalidationMessage {
  std::string schema;
  std::string node;
  Invalidation invalidation;
};

std::string encode_invalidation(const InvalidationMessage& message);
// nullopt when `payload` is not a message that encode_invalidation wrote.
std::optional<InvalidationMessage> decode_invalidation(const std::string& payload);

}  // namespace berth::metadata
