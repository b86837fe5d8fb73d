#include "auth/tenants.h"

#include "auth/audit.h"
#include "auth/credentials.h"
#include "auth/roles.h"
#include "core/error.h"
#include "core/random.h"
#include "core/time.h"

namespace berth::auth {

using core::Error;
using core::ErrorCode;

namespace {

// Identity and key names are shown in listings and logs; keep them short
// and printable.
void require_display_name(std::string_view object, const std::string& name) {
  if (name.empty() || name.size() > 100) {
    throw Error(ErrorCode::kBadRequest, std::string(object) + " name must have 1 to 100 characters");
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      throw Error(ErrorCode::kBadRequest, std::string(object) + " name contains a control character");
    }
  }
}

void require_description(const std::string& description) {
  if (description.size() > 1000) throw Error(ErrorCode::kBadRequest, "the description is longer than 1000 characters");
}

}  // namespace

std::string_view identity_kind_name(metadata::IdentityKind kind) {
  return kind == metadata::IdentityKind::kUser ? "user" : "serviceid";
}

metadata::AccountRecord Tenants::create_account(const std::string& name, const std::string& plan,
                                                const AuditContext& context) {
  require_display_name("an account", name);
  if (plan != "lite" && plan != "standard") {
    throw Error(ErrorCode::kBadRequest, "unknown plan '" + plan + "'; use lite or standard");
  }
  metadata::AccountRecord account{.id = core::random_hex(16), .name = name, .plan = plan, .created_at = core::unix_now()};
  if (!store_.create_account(account)) {
    throw Error(ErrorCode::kConflict, "an account named '" + name + "' exists already");
  }
  audit("account_created", {{"account", account.id}, {"name", name}, {"actor", context.actor},
                            {"client", context.client}, {"request_id", context.request_id}});
  return account;
}

metadata::IdentityRecord Tenants::create_identity(const std::string& account_id, metadata::IdentityKind kind,
                                                  const std::string& name, const std::string& description,
                                                  const AuditContext& context) {
  require_display_name(kind == metadata::IdentityKind::kUser ? "a user" : "a service ID", name);
  require_description(description);
  std::string prefix = kind == metadata::IdentityKind::kUser ? "User-" : "ServiceId-";
  metadata::IdentityRecord identity{.id = prefix + core::random_uuid(),
                                    .account_id = account_id,
                                    .kind = kind,
                                    .name = name,
                                    .description = description,
                                    .created_at = core::unix_now()};
  if (!store_.create_identity(identity)) {
    if (!store_.find_account(account_id)) throw Error(ErrorCode::kNotFound, "the account " + account_id + " does not exist");
    throw Error(ErrorCode::kConflict, "the account already has a " + std::string(identity_kind_name(kind)) +
                                          " named '" + name + "'");
  }
  audit("identity_created", {{"identity", identity.id}, {"kind", identity_kind_name(kind)}, {"name", name},
                             {"account", account_id}, {"actor", context.actor}, {"client", context.client},
                             {"request_id", context.request_id}});
  return identity;
}

CreatedApiKey Tenants::create_api_key(const metadata::IdentityRecord& identity, const std::string& name,
                                      const std::string& description, const AuditContext& context) {
  require_display_name("an API key", name);
  require_description(description);
  CreatedApiKey created{.secret = generate_api_key()};
  created.record = metadata::ApiKeyRecord{.id = "ApiKey-" + core::random_uuid(),
                                          .identity_id = identity.id,
                                          .account_id = identity.account_id,
                                          .name = name,
                                          .description = description,
                                          .secret_hash = hash_api_key(created.secret),
                                          .created_at = core::unix_now()};
  if (!store_.create_api_key(created.record)) {
    throw Error(ErrorCode::kNotFound, "the identity " + identity.id + " no longer exists");
  }
  audit("api_key_created", {{"api_key", created.record.id}, {"identity", identity.id}, {"account", identity.account_id},
                            {"actor", context.actor}, {"client", context.client}, {"request_id", context.request_id}});
  return created;
}

metadata::PolicyRecord Tenants::create_policy(const metadata::IdentityRecord& identity, const std::string& role,
                                              const std::string& namespace_name, const AuditContext& context) {
  auto parsed = parse_role(role);
  if (!parsed) throw Error(ErrorCode::kBadRequest, "unknown role '" + role + "'; use Reader, Writer or Manager");
  if (!namespace_name.empty()) {
    auto ns = store_.find_namespace(namespace_name);
    if (!ns || ns->account_id != identity.account_id) {
      throw Error(ErrorCode::kNotFound, "the account has no namespace '" + namespace_name + "'");
    }
  }
  metadata::PolicyRecord policy{.id = core::random_uuid(),
                                .account_id = identity.account_id,
                                .identity_id = identity.id,
                                .role = std::string(role_name(*parsed)),
                                .namespace_name = namespace_name,
                                .created_at = core::unix_now()};
  if (!store_.create_policy(policy)) {
    throw Error(ErrorCode::kConflict, identity.id + " already has the role " + policy.role + " on " +
                                          (namespace_name.empty() ? "the account" : "namespace " + namespace_name));
  }
  audit("policy_created", {{"policy", policy.id}, {"identity", identity.id}, {"role", policy.role},
                           {"namespace", namespace_name}, {"account", identity.account_id}, {"actor", context.actor},
                           {"client", context.client}, {"request_id", context.request_id}});
  return policy;
}

bool Tenants::create_namespace(const std::string& account_id, const std::string& name, const AuditContext& context) {
  if (auto problem = namespace_name_problem(name)) {
    throw Error(ErrorCode::kNameInvalid, "invalid namespace name: " + *problem, {{"namespace", name}});
  }
  std::int64_t now = core::unix_now();
  metadata::NamespaceRecord ns{.name = name, .account_id = account_id, .created_at = now, .updated_at = now};
  switch (store_.create_namespace(ns, kMaxNamespacesPerAccount)) {
    case metadata::CreateNamespaceResult::kCreated:
      audit("namespace_created", {{"namespace", name}, {"account", account_id}, {"actor", context.actor},
                                  {"client", context.client}, {"request_id", context.request_id}});
      return true;
    case metadata::CreateNamespaceResult::kAlreadyOwned:
      return false;
    case metadata::CreateNamespaceResult::kOwnedByOtherAccount:
      throw Error(ErrorCode::kConflict, "the namespace '" + name +
                                            "' is already in use; namespace names are unique in the region, so "
                                            "choose another name",
                  {{"namespace", name}});
    case metadata::CreateNamespaceResult::kLimitReached:
      throw Error(ErrorCode::kConflict, "the account already has " + std::to_string(kMaxNamespacesPerAccount) +
                                            " namespaces, the maximum; remove one it no longer needs first",
                  {{"namespace", name}});
    case metadata::CreateNamespaceResult::kAccountUnknown:
      break;
  }
  throw Error(ErrorCode::kNotFound, "the account " + account_id + " does not exist");
}

void Tenants::delete_namespace(const std::string& account_id, const std::string& name, const AuditContext& context) {
  auto ns = store_.find_namespace(name);
  if (!ns || ns->account_id != account_id || !store_.delete_namespace(name)) {
    throw Error(ErrorCode::kNotFound, "the account has no namespace '" + name + "'", {{"namespace", name}});
  }
  audit("namespace_deleted", {{"namespace", name}, {"account", account_id}, {"actor", context.actor},
                              {"client", context.client}, {"request_id", context.request_id}});
}

void Tenants::delete_api_key(const metadata::ApiKeyRecord& key, const AuditContext& context) {
  if (!store_.delete_api_key(key.id)) throw Error(ErrorCode::kNotFound, "no API key " + key.id);
  audit("api_key_deleted", {{"api_key", key.id}, {"identity", key.identity_id}, {"account", key.account_id},
                            {"actor", context.actor}, {"client", context.client}, {"request_id", context.request_id}});
}

void Tenants::delete_identity(const metadata::IdentityRecord& identity, const AuditContext& context) {
  if (!store_.delete_identity(identity.id)) throw Error(ErrorCode::kNotFound, "no identity " + identity.id);
  audit("identity_deleted", {{"identity", identity.id}, {"account", identity.account_id}, {"actor", context.actor},
                             {"client", context.client}, {"request_id", context.request_id}});
}

void Tenants::delete_policy(const metadata::PolicyRecord& policy, const AuditContext& context) {
  if (!store_.delete_policy(policy.id)) throw Error(ErrorCode::kNotFound, "no policy " + policy.id);
  audit("policy_deleted", {{"policy", policy.id}, {"identity", policy.identity_id}, {"role", policy.role},
                           {"namespace", policy.namespace_name}, {"account", policy.account_id},
                           {"actor", context.actor}, {"client", context.client}, {"request_id", context.request_id}});
}

}  // namespace berth::auth
