#include "auth/access_control.h"

#include "auth/credentials.h"
#include "core/time.h"
#include "oci/name.h"

#include <algorithm>

namespace berth::auth {

namespace {

// How often a key's last-used time is written, so that a busy key does not
// turn every request into a database write.
constexpr std::int64_t kLastUseInterval = 60;

// How long a principal looked up for Basic auth, or a namespace's owner,
// may be reused. Changes made through this server's management API drop
// the cache at once, and so do changes on other nodes that share the
// database (MetadataStore::access_generation). Changes made elsewhere
// (the offline admin commands on the embedded store) apply within this
// time.
constexpr std::int64_t kPrincipalCacheSeconds = 5;
constexpr std::size_t kPrincipalCacheEntries = 4096;

}  // namespace

bool policies_allow(const std::vector<metadata::PolicyRecord>& policies, Action action, std::string_view ns) {
  for (const auto& policy : policies) {
    auto role = parse_role(policy.role);
    if (!role || !role_allows(*role, action)) continue;
    if (policy.namespace_name.empty()) return true;
    if (!is_account_action(action) && !ns.empty() && policy.namespace_name == ns) return true;
  }
  return false;
}

std::optional<Action> registry_action(std::string_view token_action) {
  if (token_action == "pull") return Action::kImagePull;
  if (token_action == "push") return Action::kImagePush;
  if (token_action == "delete") return Action::kImageDelete;
  return std::nullopt;
}

AccessControl::AccessControl(metadata::MetadataStore& store) : store_(store) {}

std::optional<Principal> AccessControl::principal_for_api_key(std::string_view secret, bool allow_cached) {
  if (!secret.starts_with(kApiKeyPrefix)) return std::nullopt;
  std::string hash = hash_api_key(secret);
  std::int64_t now = core::unix_now();
  // Read before the lookup, so a change during it makes the entry stale.
  std::uint64_t generation = store_.access_generation();
  if (allow_cached) {
    std::lock_guard<std::mutex> lock(principals_mutex_);
    auto it = principals_.find(hash);
    if (it != principals_.end() && it->second.generation == generation &&
        now - it->second.cached_at < kPrincipalCacheSeconds) {
      return it->second.principal;
    }
  }

  auto key = store_.find_api_key_by_hash(hash);
  // The lookup compares hashes, which a caller cannot steer byte by byte;
  // the final check still compares in constant time.
  std::optional<Principal> principal;
  if (key && constant_time_equal(key->secret_hash, hash)) principal = principal_for_key(key->identity_id, key->id);
  if (!principal) {
    std::lock_guard<std::mutex> lock(principals_mutex_);
    principals_.erase(hash);
    return std::nullopt;
  }
  record_use(key->id);

  std::lock_guard<std::mutex> lock(principals_mutex_);
  if (principals_.size() >= kPrincipalCacheEntries) principals_.clear();
  principals_[hash] = CachedPrincipal{.principal = *principal, .cached_at = now, .generation = generation};
  return principal;
}

void AccessControl::forget_cached() {
  std::lock_guard<std::mutex> lock(principals_mutex_);
  principals_.clear();
  namespaces_.clear();
}

std::optional<metadata::NamespaceRecord> AccessControl::find_namespace(const std::string& name) {
  std::int64_t now = core::unix_now();
  std::uint64_t generation = store_.access_generation();
  {
    std::lock_guard<std::mutex> lock(principals_mutex_);
    auto it = namespaces_.find(name);
    if (it != namespaces_.end() && it->second.generation == generation &&
        now - it->second.cached_at < kPrincipalCacheSeconds) {
      return it->second.record;
    }
  }
  auto record = store_.find_namespace(name);
  std::lock_guard<std::mutex> lock(principals_mutex_);
  if (!record) {
    namespaces_.erase(name);
    return std::nullopt;
  }
  if (namespaces_.size() >= kPrincipalCacheEntries) namespaces_.clear();
  namespaces_[name] = CachedNamespace{.record = *record, .cached_at = now, .generation = generation};
  return record;
}

std::optional<Principal> AccessControl::principal_for_key(const std::string& identity_id,
                                                          const std::string& api_key_id) {
  auto key = store_.find_api_key(api_key_id);
  if (!key || key->identity_id != identity_id) return std::nullopt;
  auto identity = store_.find_identity(identity_id);
  if (!identity) return std::nullopt;
  return Principal{.identity = *identity, .api_key_id = api_key_id, .policies = store_.identity_policies(identity_id)};
}

void AccessControl::record_use(const std::string& api_key_id) {
  std::int64_t now = core::unix_now();
  {
    std::lock_guard<std::mutex> lock(last_use_mutex_);
    auto [it, inserted] = last_use_.try_emplace(api_key_id, now);
    if (!inserted) {
      if (now - it->second < kLastUseInterval) return;
      it->second = now;
    }
  }
  store_.touch_api_key(api_key_id, now);
}

Verdict AccessControl::check_repository(const Principal* principal, std::string_view repository, Action action) {
  std::string ns(namespace_of(repository));
  auto record = find_namespace(ns);
  if (record && record->is_public && action == Action::kImagePull) return Verdict::kAllowed;
  if (!principal) return Verdict::kUnauthenticated;
  if (!record) return Verdict::kNamespaceMissing;
  if (record->account_id != principal->identity.account_id) return Verdict::kDenied;
  return policies_allow(principal->policies, action, ns) ? Verdict::kAllowed : Verdict::kDenied;
}

bool AccessControl::allows_account(const Principal& principal, Action action) const {
  return policies_allow(principal.policies, action, "");
}

std::vector<std::string> AccessControl::namespaces_allowing(const Principal& principal, Action action) {
  std::vector<std::string> names;
  for (const auto& ns : store_.list_namespaces(principal.identity.account_id)) {
    if (policies_allow(principal.policies, action, ns.name)) names.push_back(ns.name);
  }
  return names;
}

std::vector<std::string> AccessControl::public_namespaces() {
  std::vector<std::string> names;
  for (const auto& ns : store_.list_public_namespaces()) names.push_back(ns.name);
  return names;
}

std::vector<ResourceScope> AccessControl::grant(const Principal* principal,
                                                const std::vector<ResourceScope>& requested) {
  std::vector<ResourceScope> granted;
  auto merge = [&granted](const ResourceScope& scope) {
    for (auto& existing : granted) {
      if (existing.type != scope.type || existing.name != scope.name) continue;
      for (const auto& action : scope.actions) {
        if (std::find(existing.actions.begin(), existing.actions.end(), action) == existing.actions.end()) {
          existing.actions.push_back(action);
        }
      }
      return;
    }
    granted.push_back(scope);
  };

  for (const auto& scope : requested) {
    if (scope.type == "registry" && scope.name == "catalog") {
      // The catalog lists only what the caller may see, so any identity
      // may read it.
      if (principal && std::find(scope.actions.begin(), scope.actions.end(), "*") != scope.actions.end()) {
        merge(ResourceScope{.type = "registry", .name = "catalog", .actions = {"*"}});
      }
      continue;
    }
    if (scope.type != "repository" || !oci::is_valid_repository_name(scope.name)) continue;

    auto allowed = [&](Action action) { return check_repository(principal, scope.name, action) == Verdict::kAllowed; };
    ResourceScope result{.type = scope.type, .name = scope.name};
    for (const auto& action : scope.actions) {
      if (action == "*") {
        bool pull = allowed(Action::kImagePull);
        bool push = allowed(Action::kImagePush);
        bool remove = allowed(Action::kImageDelete);
        if (pull) result.actions.push_back("pull");
        if (push) result.actions.push_back("push");
        if (remove) result.actions.push_back("delete");
        if (pull && push && remove) result.actions.push_back("*");
        continue;
      }
      auto iam = registry_action(action);
      if (iam && allowed(*iam)) result.actions.push_back(action);
    }
    if (!result.actions.empty()) merge(result);
  }

  for (auto& scope : granted) {
    std::sort(scope.actions.begin(), scope.actions.end());
    scope.actions.erase(std::unique(scope.actions.begin(), scope.actions.end()), scope.actions.end());
  }
  return granted;
}

}  // namespace berth::auth
