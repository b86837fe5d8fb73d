// The lifecycle part of the management API: plans, quotas and usage,
// deleting images to the trash and restoring them, and retention policies.
#include "api/json_response.h"
#include "api/management_api.h"
#include "auth/credentials.h"
#include "core/error.h"
#include "core/time.h"
#include "lifecycle/quota.h"
#include "lifecycle/quota_enforcer.h"
#include "lifecycle/trash.h"
#include "oci/name.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <set>

namespace berth::api {

using core::Error;
using core::ErrorCode;
using nlohmann::json;

namespace {

constexpr std::int64_t kSecondsPerDay = 86400;

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// An integer field; nullopt when absent. Throws 400 for another type.
std::optional<std::int64_t> integer_field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) {
    throw Error(ErrorCode::kBadRequest, std::string("the field \"") + name + "\" must be an integer");
  }
  return it->get<std::int64_t>();
}

bool boolean_field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return false;
  if (!it->is_boolean()) throw Error(ErrorCode::kBadRequest, std::string("the field \"") + name + "\" must be true or false");
  return it->get<bool>();
}

json retention_json(const std::string& ns, const std::string& account_id,
                    const std::optional<metadata::RetentionPolicy>& policy) {
  json body = {{"namespace", ns},
               {"account", account_id},
               {"images_per_repo", policy ? policy->images_per_repo : -1},
               {"retain_untagged", policy ? policy->retain_untagged : false}};
  if (policy && policy->deletion_threshold_days > 0) body["deletion_threshold_days"] = policy->deletion_threshold_days;
  return body;
}

// Throws 400 NAME_INVALID unless `ns` is a valid namespace name; a
// retention policy belongs to a whole namespace, never to a repository.
void require_namespace_name(const std::string& ns) {
  if (auto problem = auth::namespace_name_problem(ns)) {
    throw Error(ErrorCode::kNameInvalid, "invalid namespace name: " + *problem, {{"namespace", ns}});
  }
}

}  // namespace

lifecycle::AccountQuotaState ManagementApi::quota_state(const auth::Principal& caller) {
  auto state = quotas_.state(caller.identity.account_id);
  if (!state) throw Error(ErrorCode::kNotFound, "the account " + caller.identity.account_id + " no longer exists");
  return *state;
}

// --- Plans and quotas ------------------------------------------------------------

void ManagementApi::get_plans(Call& call) {
  require_account_action(call.exchange, call.principal(), auth::Action::kPlanGet);
  call.exchange.send(json_response(200, json{{"plan", quota_state(call.principal()).plan}}));
}

void ManagementApi::update_plans(Call& call) {
  require_account_action(call.exchange, call.principal(), auth::Action::kPlanSet);
  json body = read_json_object(call.exchange);
  auto it = body.find("plan");
  if (it == body.end() || !it->is_string()) {
    throw Error(ErrorCode::kBadRequest, "the field \"plan\" is missing; name the plan: \"standard\"");
  }
  std::string plan = lowercase(it->get<std::string>());
  if (!lifecycle::plan_limits(plan)) {
    throw Error(ErrorCode::kBadRequest, "unknown plan '" + it->get<std::string>() + "'; the plans are lite and standard",
                {{"plan", it->get<std::string>()}});
  }
  std::string current = quota_state(call.principal()).plan;
  if (!lifecycle::is_upgrade_or_same(current, plan)) {
    throw Error(ErrorCode::kBadRequest, "The account is on the '" + current + "' plan, and a plan cannot be downgraded to '" +
                                            plan + "'.",
                {{"plan", plan}});
  }
  metadata_.set_account_plan(call.principal().identity.account_id, plan);
  spdlog::info("plan_changed request_id={} identity={} account={} from={} to={}", call.exchange.request_id(),
               call.principal().identity.id, call.principal().identity.account_id, current, plan);
  http::Response response;
  response.status = 204;
  call.exchange.send(std::move(response));
}

void ManagementApi::get_quotas(Call& call) {
  require_account_action(call.exchange, call.principal(), auth::Action::kQuotaGet);
  lifecycle::AccountQuotaState state = quota_state(call.principal());
  json body = {{"limit", {{"storage_bytes", state.limits.storage_bytes}, {"traffic_bytes", state.limits.traffic_bytes}}},
               {"usage", {{"storage_bytes", state.usage.storage_bytes}, {"traffic_bytes", state.usage.traffic_bytes}}}};
  call.exchange.send(json_response(200, body));
}

void ManagementApi::update_quotas(Call& call) {
  require_account_action(call.exchange, call.principal(), auth::Action::kQuotaSet);
  json body = read_json_object(call.exchange);
  for (const auto& [key, value] : body.items()) {
    if (key != "storage_megabytes" && key != "traffic_megabytes") {
      throw Error(ErrorCode::kBadRequest,
                  "unknown field \"" + key + "\"; the quotas are storage_megabytes and traffic_megabytes");
    }
  }
  auto storage = integer_field(body, "storage_megabytes");
  auto traffic = integer_field(body, "traffic_megabytes");
  if (!storage && !traffic) {
    throw Error(ErrorCode::kBadRequest, "set storage_megabytes, traffic_megabytes or both (-1 for unlimited)");
  }

  const std::string& account_id = call.principal().identity.account_id;
  std::string plan = quota_state(call.principal()).plan;
  metadata::QuotaSettings quota = metadata_.account_quota(account_id);
  auto to_bytes = [](std::int64_t megabytes) {
    return megabytes < 0 ? megabytes : megabytes * lifecycle::kMegabyte;
  };
  auto check = [&](std::optional<std::int64_t> megabytes, const char* what, std::optional<std::int64_t>& slot) {
    if (!megabytes) return;
    if (*megabytes > std::numeric_limits<std::int64_t>::max() / lifecycle::kMegabyte) {
      throw Error(ErrorCode::kBadRequest, std::string("the ") + what + " quota is too large");
    }
    if (auto problem = lifecycle::quota_problem(plan, what, to_bytes(*megabytes))) {
      throw Error(ErrorCode::kBadRequest, *problem, {{what, *megabytes}});
    }
    slot = to_bytes(*megabytes);
  };
  check(storage, "storage", quota.storage_bytes);
  check(traffic, "traffic", quota.traffic_bytes);
  metadata_.set_account_quota(account_id, quota);
  spdlog::info("quota_changed request_id={} identity={} account={} storage_bytes={} traffic_bytes={}",
               call.exchange.request_id(), call.principal().identity.id, account_id,
               quota.storage_bytes.value_or(0), quota.traffic_bytes.value_or(0));
  call.exchange.send(json_response(200, json::object()));
}

// --- Deleting to the trash ---------------------------------------------------------

std::string ManagementApi::trash_image(Call& call, const ImageReference& reference) {
  require_image_action(call, reference.repository, auth::Action::kImageDelete);
  metadata::ManifestRecord manifest = find_image(reference);
  metadata::TrashOutcome outcome = metadata_.trash_manifest(reference.repository, manifest.digest, core::unix_now());
  if (outcome.result == metadata::TrashResult::kNotFound) throw image_unknown(reference);
  if (outcome.result == metadata::TrashResult::kReferencedByIndex) {
    throw Error(ErrorCode::kConflict,
                "the image " + reference.full_name(settings_.domain) + " is part of the multi-platform image " +
                    reference.repository + "@" + outcome.index->str() + "; delete that one instead",
                {{"digest", manifest.digest.str()}, {"index", outcome.index->str()}});
  }
  std::string name = reference.full_name(settings_.domain);
  spdlog::info("image_trashed request_id={} identity={} image={} digest={} tags={}", call.exchange.request_id(),
               call.principal().identity.id, name, manifest.digest.str(), outcome.tags.size());
  return name;
}

void ManagementApi::delete_image(Call& call) {
  ImageReference reference = parse_reference(call.parameter);
  std::string name = trash_image(call, reference);
  call.exchange.send(json_response(200, json{{"Untagged", name}}));
}

void ManagementApi::bulk_delete_images(Call& call) {
  auto text = call.exchange.read_body_up_to(1024 * 1024);
  if (!text) throw Error(ErrorCode::kBadRequest, "the request body is larger than 1 MiB");
  json body = json::parse(*text, nullptr, false);
  if (body.is_discarded() || !body.is_array()) {
    throw Error(ErrorCode::kBadRequest, "the request body must be a JSON array of image references");
  }
  // Every item is checked before any image is deleted, so a malformed
  // request changes nothing.
  for (const auto& item : body) {
    if (!item.is_string()) throw Error(ErrorCode::kBadRequest, "every image reference must be a string");
  }
  json success = json::array();
  json errors = json::object();
  for (const auto& item : body) {
    std::string text_reference = item.get<std::string>();
    try {
      ImageReference reference = parse_reference(text_reference);
      trash_image(call, reference);
      success.push_back(text_reference);
    } catch (const Error& error) {
      errors[text_reference] = {{"code", std::string(core::error_code_name(error.code()))},
                                {"message", error.what()}};
    }
  }
  call.exchange.send(json_response(200, json{{"success", success}, {"error", errors}}));
}

// --- Trash -------------------------------------------------------------------------------

void ManagementApi::list_trash(Call& call) {
  std::vector<std::string> namespaces = listable_namespaces(call.principal(), false);
  auto requested = call.exchange.query().get_all("namespace");
  if (!requested.empty()) {
    std::set<std::string> wanted;
    for (const auto& name : requested) wanted.insert(strip_domain(name, settings_.domain));
    std::erase_if(namespaces, [&](const std::string& ns) { return !wanted.contains(ns); });
  }
  std::int64_t now = core::unix_now();
  json body = json::object();
  for (const auto& entry : metadata_.list_trash(namespaces)) {
    std::int64_t left = entry.trashed_at + lifecycle::kTrashRetentionSeconds - now;
    std::int64_t days = left <= 0 ? 0 : (left + kSecondsPerDay - 1) / kSecondsPerDay;
    ImageReference reference{.repository = entry.repository, .digest = entry.digest};
    body[reference.full_name(settings_.domain)] = {{"daysUntilExpiry", days}, {"tags", entry.tags}};
  }
  call.exchange.send(json_response(200, body));
}

void ManagementApi::restore_tags(Call& call) {
  ImageReference reference = parse_reference(call.parameter);
  if (!reference.digest) {
    throw Error(ErrorCode::kBadRequest,
                "the image '" + call.parameter + "' names no digest; restore by digest as NAMESPACE/REPOSITORY@DIGEST, "
                "or restore one tag with POST /api/v1/trash/{image}/restore",
                {{"image", call.parameter}});
  }
  require_image_action(call, reference.repository, auth::Action::kImagePush);
  metadata::RestoreOutcome outcome = metadata_.restore_manifest(reference.repository, *reference.digest);
  std::string name = reference.full_name(settings_.domain);
  if (!outcome.found) {
    throw Error(ErrorCode::kNotFound, "the image " + name + " is not in the trash", {{"image", name}});
  }
  spdlog::info("image_restored request_id={} identity={} image={} restored_tags={} skipped_tags={}",
               call.exchange.request_id(), call.principal().identity.id, name, outcome.restored.size(),
               outcome.skipped.size());
  call.exchange.send(json_response(200, json{{"successful", outcome.restored}, {"unsuccessful", outcome.skipped}}));
}

void ManagementApi::restore_image(Call& call) {
  ImageReference reference = parse_reference(call.parameter);
  if (reference.digest) {
    // A digest restores the image with its tags, as restoretags does.
    restore_tags(call);
    return;
  }
  require_image_action(call, reference.repository, auth::Action::kImagePush);
  std::string name = reference.full_name(settings_.domain);
  switch (metadata_.restore_tag(reference.repository, reference.tag)) {
    case metadata::RestoreTagResult::kNotInTrash:
      throw Error(ErrorCode::kNotFound, "the image " + name + " is not in the trash", {{"image", name}});
    case metadata::RestoreTagResult::kTagLive:
      throw Error(ErrorCode::kConflict,
                  "CRT0500E The tagged image already exists. You can restore this image by using the digest.",
                  {{"image", name}});
    case metadata::RestoreTagResult::kRestored:
      break;
  }
  spdlog::info("image_restored request_id={} identity={} image={}", call.exchange.request_id(),
               call.principal().identity.id, name);
  call.exchange.send(json_response(200, json::object()));
}

// --- Retention ---------------------------------------------------------------------------

lifecycle::RetentionRule ManagementApi::read_retention_request(Call& call, std::string& ns) {
  json body = read_json_object(call.exchange);
  auto it = body.find("namespace");
  if (it == body.end() || !it->is_string() || it->get<std::string>().empty()) {
    throw Error(ErrorCode::kBadRequest, "the field \"namespace\" is missing");
  }
  ns = strip_domain(it->get<std::string>(), settings_.domain);
  require_namespace_name(ns);
  lifecycle::RetentionRule rule;
  auto images = integer_field(body, "images_per_repo");
  if (!images) throw Error(ErrorCode::kBadRequest, "the field \"images_per_repo\" is missing; -1 keeps all images");
  if (*images < -1) {
    throw Error(ErrorCode::kBadRequest, "images_per_repo must be 0 or more, or -1 to keep all images",
                {{"images_per_repo", *images}});
  }
  rule.images_per_repo = *images;
  rule.retain_untagged = boolean_field(body, "retain_untagged");
  rule.deletion_threshold_days = integer_field(body, "deletion_threshold_days").value_or(0);
  if (rule.deletion_threshold_days < 0) {
    throw Error(ErrorCode::kBadRequest, "deletion_threshold_days must be a positive number of days, or 0 for none",
                {{"deletion_threshold_days", rule.deletion_threshold_days}});
  }
  return rule;
}

json ManagementApi::retention_delete_list(const std::vector<lifecycle::RetentionImage>& images) const {
  json list = json::array();
  for (const auto& image : images) {
    list.push_back(ImageReference{.repository = image.repository, .digest = image.digest}.full_name(settings_.domain));
  }
  return list;
}

void ManagementApi::list_retentions(Call& call) {
  require_account_action(call.exchange, call.principal(), auth::Action::kRetentionList);
  const std::string& account_id = call.principal().identity.account_id;
  json body = json::object();
  for (const auto& ns : metadata_.list_namespaces(account_id)) {
    body[ns.name] = retention_json(ns.name, account_id, metadata_.find_retention_policy(ns.name));
  }
  call.exchange.send(json_response(200, body));
}

void ManagementApi::get_retention(Call& call) {
  std::string ns = strip_domain(call.parameter, settings_.domain);
  require_namespace_name(ns);
  gate_.require_action(call.exchange, call.principal(), ns, auth::Action::kRetentionGet);
  call.exchange.send(
      json_response(200, retention_json(ns, call.principal().identity.account_id, metadata_.find_retention_policy(ns))));
}

void ManagementApi::set_retention(Call& call) {
  std::string ns;
  lifecycle::RetentionRule rule = read_retention_request(call, ns);
  gate_.require_action(call.exchange, call.principal(), ns, auth::Action::kRetentionSet);
  metadata::RetentionPolicy policy{.namespace_name = ns,
                                   .images_per_repo = rule.images_per_repo,
                                   .retain_untagged = rule.retain_untagged,
                                   .deletion_threshold_days = rule.deletion_threshold_days};
  if (!metadata_.set_retention_policy(policy)) {
    // The namespace was deleted after the access check. Checking again
    // raises the registry's error for a missing namespace.
    gate_.require_action(call.exchange, call.principal(), ns, auth::Action::kRetentionSet);
    throw core::InternalError("namespace " + ns + " is missing from the store but passes the access check");
  }
  auto deleted = retention_.apply(ns, rule, core::unix_now());
  spdlog::info("retention_set request_id={} identity={} namespace={} images_per_repo={} retain_untagged={} "
               "deletion_threshold_days={} trashed={}",
               call.exchange.request_id(), call.principal().identity.id, ns, rule.images_per_repo,
               rule.retain_untagged, rule.deletion_threshold_days, deleted.size());
  call.exchange.send(json_response(201, json{{"deleted", retention_delete_list(deleted)}}));
}

void ManagementApi::analyze_retention(Call& call) {
  std::string ns;
  lifecycle::RetentionRule rule = read_retention_request(call, ns);
  gate_.require_action(call.exchange, call.principal(), ns, auth::Action::kRetentionAnalyze);
  json body = json::object();
  for (const auto& image : retention_.analyze(ns, rule, core::unix_now())) {
    std::string repository = settings_.domain.empty() ? image.repository : settings_.domain + "/" + image.repository;
    body[repository].push_back(
        ImageReference{.repository = image.repository, .digest = image.digest}.full_name(settings_.domain));
  }
  call.exchange.send(json_response(200, body));
}

}  // namespace berth::api
