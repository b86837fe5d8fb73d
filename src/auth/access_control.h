// Caller identity and permissions: resolves API keys to principals and
// evaluates their policies against namespaces.
#pragma once

#include "auth/roles.h"
#include "auth/scope.h"
#include "metadata/metadata_store.h"

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace berth::auth {

// An authenticated identity with the policies it held when it logged in.
struct Principal {
  metadata::IdentityRecord identity;
  std::string api_key_id;  // the key that authenticated it
  std::vector<metadata::PolicyRecord> policies;
};

enum class Verdict {
  kAllowed,
  kUnauthenticated,   // no principal, and the resource is not public
  kDenied,            // authenticated, but no policy grants the action
  kNamespaceMissing,  // no account owns the namespace
};

// True if one of `policies` grants `action` on namespace `ns`, or on the
// account when `ns` is empty. The caller checks that the namespace belongs
// to the policies' account.
bool policies_allow(const std::vector<metadata::PolicyRecord>& policies, Action action, std::string_view ns);

// The IAM action that a registry token action needs: "pull", "push" or
// "delete"; nullopt for any other.
std::optional<Action> registry_action(std::string_view token_action);

class AccessControl {
 public:
  explicit AccessControl(metadata::MetadataStore& store);

  metadata::MetadataStore& store() { return store_; }

  // The principal of an API key secret, or nullopt if no key matches.
  // Records the key's last use, at most once a minute per key. With
  // `allow_cached`, a principal looked up in the last few seconds may be
  // returned, so requests that send the key every time (Basic auth on
  // /v2/) do not each query the database; logins for tokens pass false.
  std::optional<Principal> principal_for_api_key(std::string_view secret, bool allow_cached = false);
  // Drops every cached principal and namespace. Called after changes to
  // keys, identities, policies and namespaces, so they apply at once on
  // this server.
  void forget_cached();

  // The namespace record, possibly as read in the last few seconds: every
  // request looks up the owner of its repository's namespace.
  std::optional<metadata::NamespaceRecord> find_namespace(const std::string& name);
  // The principal of a key that a token names; nullopt if the key was
  // deleted since, or no longer belongs to the identity.
  std::optional<Principal> principal_for_key(const std::string& identity_id, const std::string& api_key_id);

  // Decides `action` on a repository's namespace. A null principal is an
  // anonymous caller, who may only pull from public namespaces.
  Verdict check_repository(const Principal* principal, std::string_view repository, Action action);
  // Decides an action on the principal's own account.
  bool allows_account(const Principal& principal, Action action) const;
  // The namespaces of the principal's account where `action` is allowed.
  std::vector<std::string> namespaces_allowing(const Principal& principal, Action action);
  std::vector<std::string> public_namespaces();

  // The part of `requested` that the principal may use: actions the
  // policies do not allow are dropped, and so are scopes with none left.
  // "*" stays only when pull, push and delete are all allowed.
  std::vector<ResourceScope> grant(const Principal* principal, const std::vector<ResourceScope>& requested);

 private:
  void record_use(const std::string& api_key_id);

  struct CachedPrincipal {
    Principal principal;
    std::int64_t cached_at = 0;
    std::uint64_t generation = 0;  // the store's access_generation() before the lookup
  };

  metadata::MetadataStore& store_;
  struct CachedNamespace {
    metadata::NamespaceRecord record;
    std::int64_t cached_at = 0;
    std::uint64_t generation = 0;
  };

  std::mutex principals_mutex_;
  std::unordered_map<std::string, CachedPrincipal> principals_;  // by key hash
  std::unordered_map<std::string, CachedNamespace> namespaces_;  // by name, found ones only
  std::mutex last_use_mutex_;
  std::unordered_map<std::string, std::int64_t> last_use_;
};

}  // namespace berth::auth
