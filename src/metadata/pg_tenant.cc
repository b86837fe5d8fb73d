#include "metadata/pg_store.h"

#include "core/error.h"

namespace berth::metadata {

bool PgStore::create_account(const AccountRecord&) {
  throw core::InternalError("PgStore::create_account is not written yet");
}

std::optional<AccountRecord> PgStore::find_account(const std::string&) {
  throw core::InternalError("PgStore::find_account is not written yet");
}

std::optional<AccountRecord> PgStore::find_account_by_name(const std::string&) {
  throw core::InternalError("PgStore::find_account_by_name is not written yet");
}

std::vector<AccountRecord> PgStore::list_accounts() {
  throw core::InternalError("PgStore::list_accounts is not written yet");
}

bool PgStore::create_identity(const IdentityRecord&) {
  throw core::InternalError("PgStore::create_identity is not written yet");
}

std::optional<IdentityRecord> PgStore::find_identity(const std::string&) {
  throw core::InternalError("PgStore::find_identity is not written yet");
}

std::optional<IdentityRecord> PgStore::find_identity_by_name(const std::string&, IdentityKind, const std::string&) {
  throw core::InternalError("PgStore::find_identity_by_name is not written yet");
}

std::vector<IdentityRecord> PgStore::list_identities(const std::string&) {
  throw core::InternalError("PgStore::list_identities is not written yet");
}

bool PgStore::delete_identity(const std::string&) {
  throw core::InternalError("PgStore::delete_identity is not written yet");
}

bool PgStore::create_api_key(const ApiKeyRecord&) {
  throw core::InternalError("PgStore::create_api_key is not written yet");
}

std::optional<ApiKeyRecord> PgStore::find_api_key(const std::string&) {
  throw core::InternalError("PgStore::find_api_key is not written yet");
}

std::optional<ApiKeyRecord> PgStore::find_api_key_by_hash(const std::string&) {
  throw core::InternalError("PgStore::find_api_key_by_hash is not written yet");
}

std::vector<ApiKeyRecord> PgStore::list_api_keys(const std::string&) {
  throw core::InternalError("PgStore::list_api_keys is not written yet");
}

bool PgStore::delete_api_key(const std::string&) {
  throw core::InternalError("PgStore::delete_api_key is not written yet");
}

void PgStore::touch_api_key(const std::string&, std::int64_t) {
  throw core::InternalError("PgStore::touch_api_key is not written yet");
}

bool PgStore::create_policy(const PolicyRecord&) {
  throw core::InternalError("PgStore::create_policy is not written yet");
}

std::vector<PolicyRecord> PgStore::list_policies(const std::string&) {
  throw core::InternalError("PgStore::list_policies is not written yet");
}

std::vector<PolicyRecord> PgStore::identity_policies(const std::string&) {
  throw core::InternalError("PgStore::identity_policies is not written yet");
}

bool PgStore::delete_policy(const std::string&) {
  throw core::InternalError("PgStore::delete_policy is not written yet");
}

CreateNamespaceResult PgStore::create_namespace(const NamespaceRecord&, std::size_t) {
  throw core::InternalError("PgStore::create_namespace is not written yet");
}

std::optional<NamespaceRecord> PgStore::find_namespace(const std::string&) {
  throw core::InternalError("PgStore::find_namespace is not written yet");
}

std::vector<NamespaceRecord> PgStore::list_namespaces(const std::string&) {
  throw core::InternalError("PgStore::list_namespaces is not written yet");
}

std::vector<NamespaceRecord> PgStore::list_public_namespaces() {
  throw core::InternalError("PgStore::list_public_namespaces is not written yet");
}

bool PgStore::set_namespace_public(const std::string&, bool) {
  throw core::InternalError("PgStore::set_namespace_public is not written yet");
}

bool PgStore::delete_namespace(const std::string&) {
  throw core::InternalError("PgStore::delete_namespace is not written yet");
}

NamePage PgStore::list_namespace_repositories(const std::vector<std::string>&, const std::string&, std::size_t) {
  throw core::InternalError("PgStore::list_namespace_repositories is not written yet");
}

AccountSettings PgStore::account_settings(const std::string&) {
  throw core::InternalError("PgStore::account_settings is not written yet");
}

bool PgStore::set_account_settings(const std::string&, const AccountSettings&) {
  throw core::InternalError("PgStore::set_account_settings is not written yet");
}

}  // namespace berth::metadata
