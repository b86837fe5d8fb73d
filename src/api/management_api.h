// The management API under /api/v1: namespaces, and the account's API
// keys, service IDs and access policies. JSON in and out; errors use the
// registry's error shape. Authenticated like the registry: Basic
// "iamapikey:<API key>" or a Berth token as Bearer.
#pragma once

#include "api/access_gate.h"
#include "auth/tenants.h"
#include "http/exchange.h"
#include "metadata/metadata_store.h"

#include <nlohmann/json.hpp>

namespace berth::api {

class ManagementApi {
 public:
  ManagementApi(metadata::MetadataStore& metadata, AccessGate& gate);

  // Serves one request whose path starts with /api/v1/.
  void handle(http::Exchange& exchange);

 private:
  void list_namespaces(http::Exchange& exchange, const auth::Principal& caller, bool details);
  void put_namespace(http::Exchange& exchange, const auth::Principal& caller, const std::string& name);
  void delete_namespace(http::Exchange& exchange, const auth::Principal& caller, const std::string& name);

  void list_api_keys(http::Exchange& exchange, const auth::Principal& caller);
  void create_api_key(http::Exchange& exchange, const auth::Principal& caller);
  void delete_api_key(http::Exchange& exchange, const auth::Principal& caller, const std::string& id);

  void list_service_ids(http::Exchange& exchange, const auth::Principal& caller);
  void create_service_id(http::Exchange& exchange, const auth::Principal& caller);
  void delete_service_id(http::Exchange& exchange, const auth::Principal& caller, const std::string& id);

  void list_policies(http::Exchange& exchange, const auth::Principal& caller);
  void create_policy(http::Exchange& exchange, const auth::Principal& caller);
  void delete_policy(http::Exchange& exchange, const auth::Principal& caller, const std::string& id);

  // Throws 403 DENIED unless the caller's policies grant `action` on the account.
  void require_account_action(http::Exchange& exchange, const auth::Principal& caller, auth::Action action);
  auth::AuditContext audit_context(http::Exchange& exchange, const auth::Principal& caller) const;
  // The identity `iam_id` of the caller's account; 404 if there is none.
  metadata::IdentityRecord account_identity(const auth::Principal& caller, const std::string& iam_id);

  metadata::MetadataStore& metadata_;
  AccessGate& gate_;
  auth::Tenants tenants_;
};

// Reads a JSON object body of at most 64 KiB; 400 BAD_REQUEST otherwise.
nlohmann::json read_json_object(http::Exchange& exchange);

}  // namespace berth::api
