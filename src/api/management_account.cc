// Account-level endpoints of the management API: settings, the operator's
// messages, and what the registry and the caller's account are, which the
// berth CLI reads to set itself up.

#include "api/json_response.h"
#include "api/management_api.h"
#include "core/error.h"
#include "core/time.h"

namespace berth::api {

using core::Error;
using core::ErrorCode;
using nlohmann::json;

void ManagementApi::get_settings(Call& call) {
  require_account_action(call.exchange, call.principal(), auth::Action::kSettingsGet);
  metadata::AccountSettings settings = metadata_.account_settings(call.principal().identity.account_id);
  call.exchange.send(json_response(200, json{{"platform_metrics", settings.platform_metrics}}));
}

void ManagementApi::update_settings(Call& call) {
  require_account_action(call.exchange, call.principal(), auth::Action::kSettingsSet);
  json request = read_json_object(call.exchange);
  const std::string& account_id = call.principal().identity.account_id;

  // A PATCH changes the fields it names and keeps the others.
  metadata::AccountSettings settings = metadata_.account_settings(account_id);
  for (const auto& [key, value] : request.items()) {
    if (key != "platform_metrics") {
      throw Error(ErrorCode::kBadRequest, "unknown setting \"" + key + "\"; the settings are: platform_metrics",
                  {{"field", key}});
    }
    if (!value.is_boolean()) {
      throw Error(ErrorCode::kBadRequest, "the setting \"platform_metrics\" must be true or false",
                  {{"field", key}});
    }
    settings.platform_metrics = value.get<bool>();
  }
  if (!metadata_.set_account_settings(account_id, settings)) {
    throw Error(ErrorCode::kNotFound, "the account " + account_id + " no longer exists");
  }

  http::Response response;
  response.status = 204;
  call.exchange.send(std::move(response));
}

void ManagementApi::get_messages(Call& call) {
  if (settings_.messages.empty()) {
    http::Response response;
    response.status = 204;
    call.exchange.send(std::move(response));
    return;
  }
  call.exchange.send(json_response(200, json(settings_.messages)));
}

void ManagementApi::get_info(Call& call) {
  std::string scheme = settings_.tls ? "https" : "http";
  // /api/v1/info needs no credentials, so the import's source path, a
  // detail of the server's file system, stays out.
  json advisories = {{"imported_at", ""}, {"count", 0}, {"ecosystems", json::array()}};
  if (auto feed = metadata_.advisory_feed()) {
    advisories = {{"imported_at", core::format_rfc3339(feed->imported_at)},
                  {"count", feed->advisory_count},
                  {"ecosystems", feed->ecosystems}};
  }
  call.exchange.send(json_response(200, json{{"region", settings_.region},
                                             {"domain", settings_.domain},
                                             {"api_endpoint", scheme + "://" + settings_.domain + "/api"},
                                             {"version", settings_.version},
                                             {"va", {{"version", "v4"}, {"advisories", advisories}}}}));
}

void ManagementApi::get_account(Call& call) {
  const metadata::IdentityRecord& identity = call.principal().identity;
  auto account = metadata_.find_account(identity.account_id);
  if (!account) throw Error(ErrorCode::kNotFound, "the account " + identity.account_id + " no longer exists");

  json body = {{"account", {{"id", account->id}, {"name", account->name}, {"plan", account->plan}}},
               {"identity",
                {{"id", identity.id}, {"name", identity.name}, {"kind", auth::identity_kind_name(identity.kind)}}}};
  call.exchange.send(json_response(200, body));
}

}  // namespace berth::api
