#include "api/management_api.h"

#include "api/json_response.h"
#include "auth/audit.h"
#include "core/error.h"
#include "core/time.h"

#include <algorithm>
#include <optional>

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

struct ManagementApi::Route {
  RouteInfo info;
  void (*handler)(ManagementApi& api, Call& call);
};

namespace {

// Matches `path` against a route template. Returns the raw (still
// percent-encoded) parameter, empty for a template without one, or nullopt
// when the path does not match.
std::optional<std::string_view> match_template(std::string_view pattern, std::string_view path) {
  std::size_t open = pattern.find('{');
  if (open == std::string_view::npos) {
    if (pattern != path) return std::nullopt;
    return std::string_view();
  }
  std::size_t close = pattern.find('}', open);
  std::string_view prefix = pattern.substr(0, open);
  std::string_view name = pattern.substr(open + 1, close - open - 1);
  std::string_view suffix = pattern.substr(close + 1);
  if (path.size() <= prefix.size() + suffix.size() || !path.starts_with(prefix) || !path.ends_with(suffix)) {
    return std::nullopt;
  }
  std::string_view value = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
  // Image references contain '/' unless the client encodes it as %2F.
  if (name != "image" && value.find('/') != std::string_view::npos) return std::nullopt;
  return value;
}

}  // namespace

const std::vector<ManagementApi::Route>& ManagementApi::route_table() {
  // Literal paths come before templates that could also match them, and
  // the routes of one path stay together.
  static const std::vector<Route> kRoutes = {
      {{"GET", "/api/v1/info", false}, [](ManagementApi& api, Call& call) { api.get_info(call); }},
      {{"GET", "/api/v1/messages", false}, [](ManagementApi& api, Call& call) { api.get_messages(call); }},
      {{"GET", "/api/v1/account"}, [](ManagementApi& api, Call& call) { api.get_account(call); }},
      {{"GET", "/api/v1/settings"}, [](ManagementApi& api, Call& call) { api.get_settings(call); }},
      {{"PATCH", "/api/v1/settings"}, [](ManagementApi& api, Call& call) { api.update_settings(call); }},

      {{"GET", "/api/v1/namespaces"}, [](ManagementApi& api, Call& call) { api.list_namespaces(call, false); }},
      {{"GET", "/api/v1/namespaces/details"},
       [](ManagementApi& api, Call& call) { api.list_namespaces(call, true); }},
      {{"PUT", "/api/v1/namespaces/{name}"}, [](ManagementApi& api, Call& call) { api.put_namespace(call); }},
      {{"DELETE", "/api/v1/namespaces/{name}"}, [](ManagementApi& api, Call& call) { api.delete_namespace(call); }},

      {{"GET", "/api/v1/plans"}, [](ManagementApi& api, Call& call) { api.get_plans(call); }},
      {{"PATCH", "/api/v1/plans"}, [](ManagementApi& api, Call& call) { api.update_plans(call); }},
      {{"GET", "/api/v1/quotas"}, [](ManagementApi& api, Call& call) { api.get_quotas(call); }},
      {{"PATCH", "/api/v1/quotas"}, [](ManagementApi& api, Call& call) { api.update_quotas(call); }},

      {{"GET", "/api/v1/images"}, [](ManagementApi& api, Call& call) { api.list_images(call); }},
      {{"POST", "/api/v1/images/digests"}, [](ManagementApi& api, Call& call) { api.list_image_digests(call); }},
      {{"POST", "/api/v1/images/tags"}, [](ManagementApi& api, Call& call) { api.tag_image(call); }},
      {{"POST", "/api/v1/images/bulkdelete"},
       [](ManagementApi& api, Call& call) { api.bulk_delete_images(call); }},
      {{"GET", "/api/v1/images/{image}/json"}, [](ManagementApi& api, Call& call) { api.inspect_image(call); }},
      {{"GET", "/api/v1/images/{image}/manifest"},
       [](ManagementApi& api, Call& call) { api.get_image_manifest(call); }},
      {{"DELETE", "/api/v1/images/{image}"}, [](ManagementApi& api, Call& call) { api.delete_image(call); }},
      {{"DELETE", "/api/v1/tags/{image}"}, [](ManagementApi& api, Call& call) { api.untag_image(call); }},

      {{"GET", "/api/v1/trash"}, [](ManagementApi& api, Call& call) { api.list_trash(call); }},
      {{"POST", "/api/v1/trash/{image}/restoretags"},
       [](ManagementApi& api, Call& call) { api.restore_tags(call); }},
      {{"POST", "/api/v1/trash/{image}/restore"}, [](ManagementApi& api, Call& call) { api.restore_image(call); }},

      {{"GET", "/api/v1/retentions"}, [](ManagementApi& api, Call& call) { api.list_retentions(call); }},
      {{"POST", "/api/v1/retentions"}, [](ManagementApi& api, Call& call) { api.set_retention(call); }},
      {{"POST", "/api/v1/retentions/analyze"},
       [](ManagementApi& api, Call& call) { api.analyze_retention(call); }},
      {{"GET", "/api/v1/retentions/{namespace}"},
       [](ManagementApi& api, Call& call) { api.get_retention(call); }},

      {{"GET", "/va/api/v4/report/account"}, [](ManagementApi& api, Call& call) { api.va_account_report(call, false); }},
      {{"GET", "/va/api/v4/report/account/status"},
       [](ManagementApi& api, Call& call) { api.va_account_report(call, true); }},
      {{"GET", "/va/api/v4/report/image/status/{image}"},
       [](ManagementApi& api, Call& call) { api.va_image_status(call); }},
      {{"GET", "/va/api/v4/report/image/{image}"}, [](ManagementApi& api, Call& call) { api.va_image_report(call); }},
      {{"GET", "/va/api/v4/exempt/types", false}, [](ManagementApi& api, Call& call) { api.va_exempt_types(call); }},
      {{"GET", "/va/api/v4/exempt/image"}, [](ManagementApi& api, Call& call) { api.va_list_account_scope(call); }},
      {{"GET", "/va/api/v4/exempt/image/{image}"}, [](ManagementApi& api, Call& call) { api.va_exemption(call); }},
      {{"POST", "/va/api/v4/exempt/image/{image}"}, [](ManagementApi& api, Call& call) { api.va_exemption(call); }},
      {{"DELETE", "/va/api/v4/exempt/image/{image}"}, [](ManagementApi& api, Call& call) { api.va_exemption(call); }},
      {{"GET", "/va/api/v4/exemptions/account"}, [](ManagementApi& api, Call& call) { api.va_list_exemptions(call); }},
      {{"POST", "/va/api/v4/exemptions/deleteAll"},
       [](ManagementApi& api, Call& call) { api.va_delete_all_exemptions(call); }},
      {{"POST", "/va/api/v4/exemptions/images"},
       [](ManagementApi& api, Call& call) { api.va_images_exemptions(call); }},
      {{"GET", "/va/api/v4/exemptions/image/{image}"},
       [](ManagementApi& api, Call& call) { api.va_image_exemptions(call); }},
      {{"GET", "/api/v1/iam/apikeys"}, [](ManagementApi& api, Call& call) { api.list_api_keys(call); }},
      {{"POST", "/api/v1/iam/apikeys"}, [](ManagementApi& api, Call& call) { api.create_api_key(call); }},
      {{"DELETE", "/api/v1/iam/apikeys/{id}"}, [](ManagementApi& api, Call& call) { api.delete_api_key(call); }},
      {{"GET", "/api/v1/iam/serviceids"}, [](ManagementApi& api, Call& call) { api.list_service_ids(call); }},
      {{"POST", "/api/v1/iam/serviceids"}, [](ManagementApi& api, Call& call) { api.create_service_id(call); }},
      {{"DELETE", "/api/v1/iam/serviceids/{id}"},
       [](ManagementApi& api, Call& call) { api.delete_service_id(call); }},
      {{"GET", "/api/v1/iam/policies"}, [](ManagementApi& api, Call& call) { api.list_policies(call); }},
      {{"POST", "/api/v1/iam/policies"}, [](ManagementApi& api, Call& call) { api.create_policy(call); }},
      {{"DELETE", "/api/v1/iam/policies/{id}"}, [](ManagementApi& api, Call& call) { api.delete_policy(call); }},
  };
  return kRoutes;
}

std::vector<RouteInfo> ManagementApi::routes() {
  std::vector<RouteInfo> out;
  for (const auto& route : route_table()) out.push_back(route.info);
  return out;
}

ManagementApi::ManagementApi(metadata::MetadataStore& metadata, storage::BlobStore& blobs, AccessGate& gate,
                             lifecycle::QuotaEnforcer& quotas, ManagementSettings settings)
    : metadata_(metadata),
      gate_(gate),
      quotas_(quotas),
      tenants_(metadata),
      facts_(metadata, blobs),
      retention_(metadata, facts_),
      va_(metadata),
      settings_(std::move(settings)) {}

auth::Principal ManagementApi::authenticate(http::Exchange& exchange) {
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
  return *principal;
}

void ManagementApi::handle(http::Exchange& exchange) {
  std::string_view path = exchange.path();

  // The first template that matches the path decides between the routes
  // of that path, and 405 lists their methods.
  std::string_view matched_path;
  std::string_view raw_parameter;
  std::string allowed;
  const Route* route = nullptr;
  for (const auto& candidate : route_table()) {
    if (!matched_path.empty() && candidate.info.path != matched_path) continue;
    auto parameter = match_template(candidate.info.path, path);
    if (!parameter) continue;
    matched_path = candidate.info.path;
    raw_parameter = *parameter;
    if (!allowed.empty()) allowed += ", ";
    allowed += candidate.info.method;
    if (candidate.info.method == exchange.method_name()) route = &candidate;
  }

  std::optional<auth::Principal> principal;
  if (route == nullptr || route->info.needs_credentials) principal = authenticate(exchange);
  if (matched_path.empty()) {
    throw Error(ErrorCode::kNotFound, "no management endpoint matches " + std::string(exchange.method_name()) + " " +
                                          std::string(path));
  }
  if (route == nullptr) throw method_not_allowed(exchange, allowed);

  auto parameter = http::percent_decode(raw_parameter);
  if (!parameter) {
    throw Error(ErrorCode::kBadRequest, "the path " + std::string(path) + " contains a malformed percent-escape");
  }
  Call call{.exchange = exchange, .caller = principal ? &*principal : nullptr, .parameter = std::move(*parameter)};
  route->handler(*this, call);
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

void ManagementApi::list_namespaces(Call& call, bool details) {
  const auth::Principal& caller = call.principal();
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
  send_json(call.exchange, 200, body);
}

void ManagementApi::put_namespace(Call& call) {
  http::Exchange& exchange = call.exchange;
  const auth::Principal& caller = call.principal();
  const std::string& name = call.parameter;
  require_account_action(exchange, caller, auth::Action::kNamespaceCreate);
  bool created = tenants_.create_namespace(caller.identity.account_id, name, audit_context(exchange, caller));
  gate_.access().forget_cached();
  send_json(exchange, created ? 201 : 200, json{{"namespace", name}});
}

void ManagementApi::delete_namespace(Call& call) {
  http::Exchange& exchange = call.exchange;
  const auth::Principal& caller = call.principal();
  const std::string& name = call.parameter;
  require_account_action(exchange, caller, auth::Action::kNamespaceDelete);
  tenants_.delete_namespace(caller.identity.account_id, name, audit_context(exchange, caller));
  gate_.access().forget_cached();
  send_empty(exchange, 204);
}

// --- API keys ------------------------------------------------------------------

void ManagementApi::list_api_keys(Call& call) {
  http::Exchange& exchange = call.exchange;
  const auth::Principal& caller = call.principal();
  // A Manager gets every key of the account; anyone else gets their own keys.
  bool manager = gate_.access().allows_account(caller, auth::Action::kIamManage);
  json body = json::array();
  for (const auto& key : metadata_.list_api_keys(caller.identity.account_id)) {
    if (manager || key.identity_id == caller.identity.id) body.push_back(api_key_json(key));
  }
  send_json(exchange, 200, body);
}

void ManagementApi::create_api_key(Call& call) {
  http::Exchange& exchange = call.exchange;
  const auth::Principal& caller = call.principal();
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

void ManagementApi::delete_api_key(Call& call) {
  http::Exchange& exchange = call.exchange;
  const auth::Principal& caller = call.principal();
  const std::string& id = call.parameter;
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

void ManagementApi::list_service_ids(Call& call) {
  http::Exchange& exchange = call.exchange;
  const auth::Principal& caller = call.principal();
  require_account_action(exchange, caller, auth::Action::kIamManage);
  json body = json::array();
  for (const auto& identity : metadata_.list_identities(caller.identity.account_id)) {
    if (identity.kind == metadata::IdentityKind::kServiceId) body.push_back(identity_json(identity));
  }
  send_json(exchange, 200, body);
}

void ManagementApi::create_service_id(Call& call) {
  http::Exchange& exchange = call.exchange;
  const auth::Principal& caller = call.principal();
  require_account_action(exchange, caller, auth::Action::kIamManage);
  json request = read_json_object(exchange);
  auto identity = tenants_.create_identity(caller.identity.account_id, metadata::IdentityKind::kServiceId,
                                           string_field(request, "name", true),
                                           string_field(request, "description", false),
                                           audit_context(exchange, caller));
  send_json(exchange, 201, identity_json(identity));
}

void ManagementApi::delete_service_id(Call& call) {
  http::Exchange& exchange = call.exchange;
  const auth::Principal& caller = call.principal();
  const std::string& id = call.parameter;
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

void ManagementApi::list_policies(Call& call) {
  http::Exchange& exchange = call.exchange;
  const auth::Principal& caller = call.principal();
  require_account_action(exchange, caller, auth::Action::kIamManage);
  json body = json::array();
  for (const auto& policy : metadata_.list_policies(caller.identity.account_id)) body.push_back(policy_json(policy));
  send_json(exchange, 200, body);
}

void ManagementApi::create_policy(Call& call) {
  http::Exchange& exchange = call.exchange;
  const auth::Principal& caller = call.principal();
  require_account_action(exchange, caller, auth::Action::kIamManage);
  json request = read_json_object(exchange);
  metadata::IdentityRecord identity = account_identity(caller, string_field(request, "iam_id", true));
  auto policy = tenants_.create_policy(identity, string_field(request, "role", true),
                                       string_field(request, "namespace", false), audit_context(exchange, caller));
  gate_.access().forget_cached();
  send_json(exchange, 201, policy_json(policy));
}

void ManagementApi::delete_policy(Call& call) {
  http::Exchange& exchange = call.exchange;
  const auth::Principal& caller = call.principal();
  const std::string& id = call.parameter;
  require_account_action(exchange, caller, auth::Action::kIamManage);
  auto policies = metadata_.list_policies(caller.identity.account_id);
  auto it = std::find_if(policies.begin(), policies.end(), [&](const auto& policy) { return policy.id == id; });
  if (it == policies.end()) throw Error(ErrorCode::kNotFound, "the account has no policy '" + id + "'");
  tenants_.delete_policy(*it, audit_context(exchange, caller));
  gate_.access().forget_cached();
  send_empty(exchange, 204);
}

}  // namespace berth::api
