// Creating and removing accounts, identities, API keys, policies and
// namespaces, with the checks and audit lines that the management API and
// the offline admin commands share. Invalid input raises core::Error with
// a message that names the value and the rule.
#pragma once

#include "metadata/metadata_store.h"

#include <string>
#include <string_view>

namespace berth::auth {

// The origin of a change, for the audit log.
struct AuditContext {
  std::string actor;  // identity id, or "admin" for the offline commands
  std::string client;
  std::string request_id;
};

struct CreatedApiKey {
  metadata::ApiKeyRecord record;
  std::string secret;  // shown once; only its hash is stored
};

class Tenants {
 public:
  explicit Tenants(metadata::MetadataStore& store) : store_(store) {}

  metadata::AccountRecord create_account(const std::string& name, const std::string& plan, const AuditContext& context);
  metadata::IdentityRecord create_identity(const std::string& account_id, metadata::IdentityKind kind,
                                           const std::string& name, const std::string& description,
                                           const AuditContext& context);
  CreatedApiKey create_api_key(const metadata::IdentityRecord& identity, const std::string& name,
                               const std::string& description, const AuditContext& context);
  metadata::PolicyRecord create_policy(const metadata::IdentityRecord& identity, const std::string& role,
                                       const std::string& namespace_name, const AuditContext& context);
  // Returns true if created, false if the account owned it already.
  bool create_namespace(const std::string& account_id, const std::string& name, const AuditContext& context);
  // Deletes one of the account's namespaces with its images; raises
  // NOT_FOUND if the account has no such namespace.
  void delete_namespace(const std::string& account_id, const std::string& name, const AuditContext& context);

  void delete_api_key(const metadata::ApiKeyRecord& key, const AuditContext& context);
  void delete_identity(const metadata::IdentityRecord& identity, const AuditContext& context);
  void delete_policy(const metadata::PolicyRecord& policy, const AuditContext& context);

 private:
  metadata::MetadataStore& store_;
};

std::string_view identity_kind_name(metadata::IdentityKind kind);  // "user" or "serviceid"

}  // namespace berth::auth
