#include "api/management_api.h"

#include "api/json_response.h"
#include "auth/audit.h"
#include "core/error.h"
#include "core/time.h"

#include <algorithm>

namespace berth::api {

using core::Error;
using core::ErrorCode;
using http::beast_http::field;
using http::beast_http::verb;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxJsonBytes = 64 * 1024;
constexpr std::string_view kPrefix = "/api/v1/";

void send_json(http::Exchange& exchange, int status, const json& body) { exchange.send(json_response(status, body)); }

void send_empty(http::Exchange& exchange, int status) {
  http::Response response;
  response.status = status;
  exchange.send(std::move(response));
}

Error method_not_allowed(http::Exchange& exchange, std::string_view allowed) {
  Error error(ErrorCode::kUnsupported, std::string(exchange.method_name()) + " is not supported on " +
                                           std::string(exchange.path()) + "; allowed: " + std::string(allowed));
  error.with_header("Allow", std::string(allowed));
  return error;
}

std::string string_field(const json& body, const char* name, bool required) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) {
    if (required) throw Error(ErrorCode::kBadRequest, std::string("the field \"") + name + "\" is missing");
    return {};
  }
  if (!it->is_string()) throw Error(ErrorCode::kBadRequest, std::string("the field \"") + name + "\" must be a string");
  return it->get<std::string>();
}

std::string timestamp(std::int64_t unix_seconds) {
  return unix_seconds > 0 ? core::format_rfc3339(unix_seconds) : std::string();
}

json api_key_json(const metadata::ApiKeyRecord& key) {
  json body = {{"id", key.id},
               {"name", key.name},
               {"description", key.description},
               {"iam_id", key.identity_id},
               {"account_id", key.account_id},
               {"created_at", timestamp(key.created_at)}};
  body["last_used_at"] = key.last_used_at > 0 ? json(timestamp(key.last_used_at)) : json(nullptr);
  return body;
}

json identity_json(const metadata::IdentityRecord& identity) {
  return {{"id", identity.id},
          {"iam_id", identity.id},
          {"kind", auth::identity_kind_name(identity.kind)},
          {"name", identity.name},
          {"description", identity.description},
          {"account_id", identity.account_id},
          {"created_at", timestamp(identity.created_at)}};
}

json policy_json(const metadata::PolicyRecord& policy) {
  return {{"id", policy.id},
          {"iam_id", policy.identity_id},
          {"role", policy.role},
          {"namespace", policy.namespace_name},
          {"account_id", policy.account_id},
          {"created_at", timestamp(policy.created_at)}};
}

}  // namespace

json read_json_object(http::Exchange& exchange) {
  auto body = exchange.read_body_up_to(kMaxJsonBytes);
  if (!body) throw Error(ErrorCode::kBadRequest, "the request body is larger than 64 KiB");
  json parsed = json::parse(*body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    throw Error(ErrorCode::kBadRequest, "the request body must be a JSON object");
  }
  return parsed;
}

ManagementApi::ManagementApi(metadata::MetadataStore& metadata, AccessGate& gate)
    : metadata_(metadata), gate_(gate), tenants_(metadata) {}

void ManagementApi::handle(http::Exchange& exchange) {
  Caller caller = gate_.identify(exchange);
  gate_.require_identity(exchange, caller, false);
  auto principal = gate_.principal_of(caller);
  if (!principal) {
    throw Error(ErrorCode::kUnauthorized, "the API key behind this token was deleted; log in again")
        .with_header("WWW-Authenticate", gate_.challenge(exchange, "", "invalid_token"));
  }
  // The hosted registry's clients send the account in a header; an
  // identity belongs to one account, so only a mismatch matters.
  std::string_view account = exchange.header("Account");
  if (!account.empty() && account != principal->identity.account_id) {
    throw Error(ErrorCode::kDenied, "the Account header names another account than the credentials' account " +
                                        principal->identity.account_id);
  }

  std::string_view path = exchange.path();
  std::string_view rest = path.substr(kPrefix.size());
  verb method = exchange.method();
  auto split = [](std::string_view text, std::string_view collection) -> std::optional<std::string> {
    if (!text.starts_with(collection) || text.size() <= collection.size() + 1 || text[collection.size()] != '/') {
      return std::nullopt;
    }
    std::string_view id = text.substr(collection.size() + 1);
    if (id.find('/') != std::string_view::npos) return std::nullopt;
    return http::percent_decode(id);
  };

  if (rest == "namespaces" || rest == "namespaces/details") {
    if (method != verb::get) throw method_not_allowed(exchange, "GET");
    return list_namespaces(exchange, *principal, rest == "namespaces/details");
  }
  if (auto name = split(rest, "namespaces")) {
    if (method == verb::put) return put_namespace(exchange, *principal, *name);
    if (method == verb::delete_) return delete_namespace(exchange, *principal, *name);
    throw method_not_allowed(exchange, "PUT, DELETE");
  }
  if (rest == "iam/apikeys") {
    if (method == verb::get) return list_api_keys(exchange, *principal);
    if (method == verb::post) return create_api_key(exchange, *principal);
    throw method_not_allowed(exchange, "GET, POST");
  }
  if (auto id = split(rest, "iam/apikeys")) {
    if (method == verb::delete_) return delete_api_key(exchange, *principal, *id);
    throw method_not_allowed(exchange, "DELETE");
  }
  if (rest == "iam/serviceids") {
    if (method == verb::get) return list_service_ids(exchange, *principal);
    if (method == verb::post) return create_service_id(exchange, *principal);
    throw method_not_allowed(exchange, "GET, POST");
  }
  if (auto id = split(rest, "iam/serviceids")) {
    if (method == verb::delete_) return delete_service_id(exchange, *principal, *id);
    throw method_not_allowed(exchange, "DELETE");
  }
  if (rest == "iam/policies") {
    if (method == verb::get) return list_policies(exchange, *principal);
    if (method == verb::post) return create_policy(exchange, *principal);
    throw method_not_allowed(exchange, "GET, POST");
  }
  if (auto id = split(rest, "iam/policies")) {
    if (method == verb::delete_) return delete_policy(exchange, *principal, *id);
    throw method_not_allowed(exchange, "DELETE");
  }
  throw Error(ErrorCode::kNotFound, "no management endpoint matches " + std::string(exchange.method_name()) + " " +
                                        std::string(path));
}

void ManagementApi::require_account_action(http::Exchange& exchange, const auth::Principal& caller,
                                           auth::Action action) {
  if (gate_.access().allows_account(caller, action)) return;
  auth::audit("access_denied", {{"identity", caller.identity.id},
                                {"account", caller.identity.account_id},
                                {"action", auth::action_name(action)},
                                {"client", AccessGate::client_address(exchange)},
                                {"request_id", exchange.request_id()}});
  throw Error(ErrorCode::kDenied, std::string(kDeniedMessage));
}

auth::AuditContext ManagementApi::audit_context(http::Exchange& exchange, const auth::Principal& caller) const {
  return auth::AuditContext{.actor = caller.identity.id,
                            .client = AccessGate::client_address(exchange),
                            .request_id = exchange.request_id()};
}

metadata::IdentityRecord ManagementApi::account_identity(const auth::Principal& caller, const std::string& iam_id) {
  auto identity = metadata_.find_identity(iam_id);
  if (!identity || identity->account_id != caller.identity.account_id) {
    throw Error(ErrorCode::kNotFound, "the account has no user or service ID '" + iam_id + "'");
  }
  return *identity;
}

// --- Namespaces ----------------------------------------------------------------

void ManagementApi::list_namespaces(http::Exchange& exchange, const auth::Principal& caller, bool details) {
  json body = json::array();
  for (const auto& ns : metadata_.list_namespaces(caller.identity.account_id)) {
    if (!auth::policies_allow(caller.policies, auth::Action::kNamespaceList, ns.name)) continue;
    if (!details) {
      body.push_back(ns.name);
      continue;
    }
    body.push_back({{"name", ns.name},
                    {"account", ns.account_id},
                    {"created_date", timestamp(ns.created_at)},
                    {"updated_date", timestamp(ns.updated_at)},
                    {"resource_group", ""},
                    {"public", ns.is_public}});
  }
  send_json(exchange, 200, body);
}

void ManagementApi::put_namespace(http::Exchange& exchange, const auth::Principal& caller, const std::string& name) {
  require_account_action(exchange, caller, auth::Action::kNamespaceCreate);
  bool created = tenants_.create_namespace(caller.identity.account_id, name, audit_context(exchange, caller));
  gate_.access().forget_cached();
  send_json(exchange, created ? 201 : 200, json{{"namespace", name}});
}

void ManagementApi::delete_namespace(http::Exchange& exchange, const auth::Principal& caller,
                                     const std::string& name) {
  require_account_action(exchange, caller, auth::Action::kNamespaceDelete);
  tenants_.delete_namespace(caller.identity.account_id, name, audit_context(exchange, caller));
  gate_.access().forget_cached();
  send_empty(exchange, 204);
}

// --- API keys ------------------------------------------------------------------

void ManagementApi::list_api_keys(http::Exchange& exchange, const auth::Principal& caller) {
  // A Manager gets every key of the account; anyone else gets their own keys.
  bool manager = gate_.access().allows_account(caller, auth::Action::kIamManage);
  json body = json::array();
  for (const auto& key : metadata_.list_api_keys(caller.identity.account_id)) {
    if (manager || key.identity_id == caller.identity.id) body.push_back(api_key_json(key));
  }
  send_json(exchange, 200, body);
}

void ManagementApi::create_api_key(http::Exchange& exchange, const auth::Principal& caller) {
  json request = read_json_object(exchange);
  std::string iam_id = string_field(request, "iam_id", false);
  if (iam_id.empty()) iam_id = caller.identity.id;
  if (iam_id != caller.identity.id) require_account_action(exchange, caller, auth::Action::kIamManage);
  metadata::IdentityRecord owner = account_identity(caller, iam_id);

  auto created = tenants_.create_api_key(owner, string_field(request, "name", true),
                                         string_field(request, "description", false), audit_context(exchange, caller));
  json body = api_key_json(created.record);
  body["apikey"] = created.secret;
  send_json(exchange, 201, body);
}

void ManagementApi::delete_api_key(http::Exchange& exchange, const auth::Principal& caller, const std::string& id) {
  auto key = metadata_.find_api_key(id);
  if (!key || key->account_id != caller.identity.account_id) {
    throw Error(ErrorCode::kNotFound, "the account has no API key '" + id + "'");
  }
  if (key->identity_id != caller.identity.id) require_account_action(exchange, caller, auth::Action::kIamManage);
  tenants_.delete_api_key(*key, audit_context(exchange, caller));
  gate_.access().forget_cached();
  send_empty(exchange, 204);
}

// --- Service IDs ---------------------------------------------------------------

void ManagementApi::list_service_ids(http::Exchange& exchange, const auth::Principal& caller) {
  require_account_action(exchange, caller, auth::Action::kIamManage);
  json body = json::array();
  for (const auto& identity : metadata_.list_identities(caller.identity.account_id)) {
    if (identity.kind == metadata::IdentityKind::kServiceId) body.push_back(identity_json(identity));
  }
  send_json(exchange, 200, body);
}

void ManagementApi::create_service_id(http::Exchange& exchange, const auth::Principal& caller) {
  require_account_action(exchange, caller, auth::Action::kIamManage);
  json request = read_json_object(exchange);
  auto identity = tenants_.create_identity(caller.identity.account_id, metadata::IdentityKind::kServiceId,
                                           string_field(request, "name", true),
                                           string_field(request, "description", false),
                                           audit_context(exchange, caller));
  send_json(exchange, 201, identity_json(identity));
}

void ManagementApi::delete_service_id(http::Exchange& exchange, const auth::Principal& caller,
                                      const std::string& id) {
  require_account_action(exchange, caller, auth::Action::kIamManage);
  metadata::IdentityRecord identity = account_identity(caller, id);
  if (identity.kind != metadata::IdentityKind::kServiceId) {
    throw Error(ErrorCode::kNotFound, "the account has no service ID '" + id + "'");
  }
  tenants_.delete_identity(identity, audit_context(exchange, caller));
  gate_.access().forget_cached();
  send_empty(exchange, 204);
}

// --- Policies ------------------------------------------------------------------

void ManagementApi::list_policies(http::Exchange& exchange, const auth::Principal& caller) {
  require_account_action(exchange, caller, auth::Action::kIamManage);
  json body = json::array();
  for (const auto& policy : metadata_.list_policies(caller.identity.account_id)) body.push_back(policy_json(policy));
  send_json(exchange, 200, body);
}

void ManagementApi::create_policy(http::Exchange& exchange, const auth::Principal& caller) {
  require_account_action(exchange, caller, auth::Action::kIamManage);
  json request = read_json_object(exchange);
  metadata::IdentityRecord identity = account_identity(caller, string_field(request, "iam_id", true));
  auto policy = tenants_.create_policy(identity, string_field(request, "role", true),
                                       string_field(request, "namespace", false), audit_context(exchange, caller));
  gate_.access().forget_cached();
  send_json(exchange, 201, policy_json(policy));
}

void ManagementApi::delete_policy(http::Exchange& exchange, const auth::Principal& caller, const std::string& id) {
  require_account_action(exchange, caller, auth::Action::kIamManage);
  auto policies = metadata_.list_policies(caller.identity.account_id);
  auto it = std::find_if(policies.begin(), policies.end(), [&](const auto& policy) { return policy.id == id; });
  if (it == policies.end()) throw Error(ErrorCode::kNotFound, "the account has no policy '" + id + "'");
  tenants_.delete_policy(*it, audit_context(exchange, caller));
  gate_.access().forget_cached();
  send_empty(exchange, 204);
}

}  // namespace berth::api
