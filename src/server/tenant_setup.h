// Setting up tenants and token keys: the first-start account, the token
// signing keys, and the offline "berthd admin" commands that create
// accounts, identities, policies, API keys and namespaces.
#pragma once

#include "auth/jwt.h"
#include "metadata/metadata_store.h"
#include "server/config.h"

#include <optional>
#include <ostream>
#include <string>

namespace berth::server {

// The signing key (created on first use) and the accepted earlier keys
// that the configuration names.
auth::KeySet load_token_keys(const Config& config);

// On the first start (no account exists), creates the account "default"
// with a user "admin" who is Manager of it, and an API key for that user.
// Writes the key to <data_dir>/initial-apikey, readable by the owner only,
// and returns it. Repositories stored before accounts existed get their
// namespaces created for this account. Returns nullopt when accounts exist
// already.
std::optional<std::string> bootstrap_default_account(metadata::MetadataStore& store, const std::string& data_dir);

// Arguments of the admin commands; unused fields stay empty.
struct AdminRequest {
  std::string account;      // account name
  std::string name;         // the new object's name
  std::string plan = "lite";
  std::string description;
  std::string user;         // identity by name
  std::string service_id;   // identity by name
  std::string role;
  std::string namespace_name;
  bool is_public = false;
};

// Each prints what it created to `out` and returns the exit status; they
// throw core::Error for invalid requests.
int admin_account_create(metadata::MetadataStore& store, const AdminRequest& request, std::ostream& out);
int admin_identity_create(metadata::MetadataStore& store, const AdminRequest& request, metadata::IdentityKind kind,
                          std::ostream& out);
int admin_policy_add(metadata::MetadataStore& store, const AdminRequest& request, std::ostream& out);
int admin_apikey_create(metadata::MetadataStore& store, const AdminRequest& request, std::ostream& out);
int admin_namespace_add(metadata::MetadataStore& store, const AdminRequest& request, std::ostream& out);
int admin_account_list(metadata::MetadataStore& store, std::ostream& out);

}  // namespace berth::server
