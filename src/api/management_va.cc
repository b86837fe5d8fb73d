// The Vulnerability Advisor's API under /va/api/v4, with the hosted
// registry's paths and models (docs/va.md): image and account reports,
// status summaries and exemptions.
#include "api/json_response.h"
#include "api/management_api.h"
#include "core/error.h"
#include "core/time.h"
#include "oci/media_types.h"

#include <algorithm>
#include <cctype>
#include <regex>
#include <set>

namespace berth::api {

using core::Error;
using core::ErrorCode;
using nlohmann::json;

namespace {

const std::regex kCvePattern("^CVE-[0-9]{4}-[0-9]{4,}$");
const std::regex kNoticePattern("^[A-Za-z0-9][A-Za-z0-9:._-]{0,127}$");
constexpr const char* kCveRegexText = "^CVE-[0-9]{4}-[0-9]{4,}$";
constexpr const char* kNoticeRegexText = "^[A-Za-z0-9][A-Za-z0-9:._-]{0,127}$";

json exemption_json(const metadata::ExemptionRecord& exemption) {
  std::string repository = exemption.repository;
  if (auto slash = repository.find('/'); slash != std::string::npos) repository = repository.substr(slash + 1);
  return {{"account_id", exemption.account_id},
          {"issue_type", exemption.issue_type},
          {"issue_id", exemption.issue_id},
          {"scope",
           {{"scope_type", exemption.scope_type},
            {"namespace", exemption.namespace_name},
            {"repository", repository},
            {"tag", exemption.tag},
            {"digest", exemption.digest}}},
          {"created_at", exemption.created_at > 0 ? core::format_rfc3339(exemption.created_at) : std::string()}};
}

// Checks an issue type and id; throws 400 naming what is wrong.
void check_issue(const std::string& type, const std::string& id) {
  if (type == "cve") {
    if (!std::regex_match(id, kCvePattern)) {
      throw Error(ErrorCode::kBadRequest, "'" + id + "' is not a CVE ID; a CVE ID looks like CVE-2023-12345",
                  {{"issue_type", type}, {"issue_id", id}});
    }
    return;
  }
  if (type == "sn") {
    if (!std::regex_match(id, kNoticePattern)) {
      throw Error(ErrorCode::kBadRequest,
                  "'" + id + "' is not a security notice ID; use the ID from a report, such as DSA-5417-1",
                  {{"issue_type", type}, {"issue_id", id}});
    }
    return;
  }
  throw Error(ErrorCode::kBadRequest, "the issue type '" + type + "' is not supported; the types are cve and sn",
              {{"issue_type", type}});
}

// Splits "RESOURCE/issue/TYPE/ID" (RESOURCE may be empty or contain '/')
// into its parts; false when the text does not end that way.
bool split_issue(const std::string& text, std::string& resource, std::string& type, std::string& id) {
  std::size_t last = text.rfind('/');
  if (last == std::string::npos) return false;
  std::size_t middle = text.rfind('/', last - 1);
  if (middle == std::string::npos || last == 0) return false;
  std::string_view head(text.data(), middle);
  if (head == "issue") {
    resource.clear();
  } else if (head.ends_with("/issue")) {
    resource = std::string(head.substr(0, head.size() - 6));
  } else {
    return false;
  }
  type = text.substr(middle + 1, last - middle - 1);
  id = text.substr(last + 1);
  return !type.empty() && !id.empty();
}

}  // namespace

// --- Scopes and names -------------------------------------------------------------

metadata::ExemptionRecord ManagementApi::exemption_scope(const auth::Principal& caller, const std::string& resource) {
  metadata::ExemptionRecord scope;
  scope.account_id = caller.identity.account_id;
  if (resource.empty() || resource == "*") {
    scope.scope_type = "account";
    return scope;
  }

  std::string name = strip_domain(resource, settings_.domain);
  std::string ns = name.substr(0, name.find('/'));
  auto record = metadata_.find_namespace(ns);
  if (!record || record->account_id != caller.identity.account_id) {
    throw Error(ErrorCode::kNotFound,
                "the namespace '" + ns + "' does not exist in your account; 'berth namespace-list' lists yours",
                {{"namespace", ns}});
  }
  scope.namespace_name = ns;
  if (name.find('/') == std::string::npos) {
    scope.scope_type = "namespace";
    return scope;
  }

  ImageReference reference = parse_reference(name);
  scope.repository = reference.repository;
  if (reference.digest) {
    scope.scope_type = "image";
    scope.digest = reference.digest->str();
  } else if (reference.tag_given) {
    scope.scope_type = "image";
    scope.tag = reference.tag;
  } else {
    scope.scope_type = "repository";
  }
  return scope;
}

void ManagementApi::require_exemption_manager(Call& call) {
  // exemption.manager is an account-level action (as in the hosted
  // registry), so a namespace's Manager cannot change exemptions.
  require_account_action(call.exchange, call.principal(), auth::Action::kExemptionManage);
}

std::vector<metadata::ExemptionRecord> ManagementApi::exemptions_by_digest(
    std::vector<metadata::ExemptionRecord> exemptions, const std::string& repository, const std::string& digest) {
  // An image named by digest still has its tags: an exemption of one of
  // them applies, so it is rewritten to the digest it points at now.
  for (auto& exemption : exemptions) {
    if (exemption.scope_type != "image" || exemption.tag.empty() || exemption.repository != repository) continue;
    auto tagged = metadata_.find_tagged_manifest(repository, exemption.tag);
    if (!tagged || tagged->digest.str() != digest) continue;
    exemption.tag.clear();
    exemption.digest = digest;
  }
  return exemptions;
}

// --- Reports ----------------------------------------------------------------------

ManagementApi::AssessedImage ManagementApi::assess_reference(Call& call, const std::string& text,
                                                             const VaService::Context& context) {
  ImageReference reference = parse_reference(text);
  gate_.require_action(call.exchange, call.principal(), reference.repository, auth::Action::kExemptionList);
  metadata::ManifestRecord manifest = find_image(reference);
  scan::ImageScope scope{.account_id = call.principal().identity.account_id,
                         .namespace_name = reference.namespace_name(),
                         .repository = reference.repository,
                         .tag = reference.digest ? std::string() : reference.tag,
                         .digest = manifest.digest.str()};
  if (!reference.digest) {
    return AssessedImage{.name = reference.full_name(settings_.domain),
                         .assessment = va_.assess(context, scope, manifest.media_type, manifest.content)};
  }
  VaService::Context by_digest = context;
  by_digest.exemptions = exemptions_by_digest(context.exemptions, scope.repository, scope.digest);
  return AssessedImage{.name = reference.full_name(settings_.domain),
                       .assessment = va_.assess(by_digest, scope, manifest.media_type, manifest.content)};
}

void ManagementApi::va_image_report(Call& call) {
  VaService::Context context = va_.context(call.principal().identity.account_id);
  AssessedImage image = assess_reference(call, call.parameter, context);
  if (image.assessment.status == "UNSCANNED") {
    throw Error(ErrorCode::kNotFound, "BXNVA0009E: '" + image.name + "' has not been scanned. Try again later.",
                {{"code", "BXNVA0009E"}, {"image", image.name}});
  }
  call.exchange.send(json_response(200, scan::scan_report_json(image.assessment, image.name)));
}

void ManagementApi::va_image_status(Call& call) {
  VaService::Context context = va_.context(call.principal().identity.account_id);
  AssessedImage image = assess_reference(call, call.parameter, context);
  call.exchange.send(json_response(200, scan::scan_summary_json(image.assessment)));
}

void ManagementApi::va_account_report(Call& call, bool summary_only) {
  const auth::Principal& caller = call.principal();
  std::vector<std::string> allowed = gate_.access().namespaces_allowing(caller, auth::Action::kExemptionList);
  std::vector<std::string> namespaces;
  std::vector<std::string> repositories;
  std::vector<std::string> requested = call.exchange.query().get_all("repository");
  if (requested.empty()) {
    namespaces = allowed;
  } else {
    for (const auto& value : requested) {
      std::string name = strip_domain(value, settings_.domain);
      std::string ns = name.substr(0, name.find('/'));
      if (std::find(allowed.begin(), allowed.end(), ns) == allowed.end()) continue;
      if (name.find('/') == std::string::npos) {
        namespaces.push_back(name);
      } else {
        repositories.push_back(name);
      }
    }
  }
  std::vector<metadata::ImageEntry> entries;
  if (!namespaces.empty() || !repositories.empty()) entries = metadata_.list_images(namespaces, repositories);

  VaService::Context context = va_.context(caller.identity.account_id);
  json assessments = json::object();
  json images = json::array();
  for (const auto& entry : entries) {
    if (entry.tags.empty()) continue;
    auto manifest = metadata_.find_manifest(entry.repository, entry.digest);
    if (!manifest) continue;  // deleted since the listing
    for (const auto& tag : entry.tags) {
      scan::ImageScope scope{.account_id = caller.identity.account_id,
                             .namespace_name = entry.repository.substr(0, entry.repository.find('/')),
                             .repository = entry.repository,
                             .tag = tag,
                             .digest = entry.digest.str()};
      scan::Assessment assessment = va_.assess(context, scope, manifest->media_type, manifest->content);
      std::string name = settings_.domain + "/" + entry.repository + ":" + tag;
      if (summary_only) {
        json summary = scan::scan_summary_json(assessment);
        summary["name"] = name;
        summary["created_time"] = entry.pushed_at;
        images.push_back(std::move(summary));
      } else {
        assessments[name] = scan::scan_report_json(assessment, name);
      }
    }
  }
  if (summary_only) {
    call.exchange.send(json_response(200, json{{"images", images}}));
  } else {
    call.exchange.send(json_response(200, json{{"assessments", assessments}}));
  }
}

// --- Exemptions --------------------------------------------------------------------

void ManagementApi::va_exempt_types(Call& call) {
  json types = json::array({{{"identifier", "cve"},
                             {"display_name", "CVE"},
                             {"translationKey", "cve"},
                             {"validation_regex", kCveRegexText}},
                            {{"identifier", "sn"},
                             {"display_name", "Security Notice"},
                             {"translationKey", "sn"},
                             {"validation_regex", kNoticeRegexText}}});
  call.exchange.send(json_response(200, types));
}

void ManagementApi::require_account_scope_reader(Call& call) {
  // Account-wide exemptions change the reports of every namespace, so any
  // caller with Reader access to some namespace may read them.
  const auth::Principal& caller = call.principal();
  if (gate_.access().allows_account(caller, auth::Action::kExemptionList)) return;
  if (!gate_.access().namespaces_allowing(caller, auth::Action::kExemptionList).empty()) return;
  require_account_action(call.exchange, caller, auth::Action::kExemptionList);
}

void ManagementApi::require_exemption_reader(Call& call, const metadata::ExemptionRecord& scope) {
  if (scope.scope_type == "account") {
    require_account_scope_reader(call);
    return;
  }
  gate_.require_action(call.exchange, call.principal(),
                       scope.repository.empty() ? scope.namespace_name : scope.repository,
                       auth::Action::kExemptionList);
}

void ManagementApi::va_list_account_scope(Call& call) {
  const auth::Principal& caller = call.principal();
  require_account_scope_reader(call);
  json body = json::array();
  for (const auto& exemption : metadata_.list_exemptions(caller.identity.account_id)) {
    if (exemption.scope_type == "account") body.push_back(exemption_json(exemption));
  }
  call.exchange.send(json_response(200, body));
}

void ManagementApi::va_exemption(Call& call) {
  const auth::Principal& caller = call.principal();
  std::string resource;
  std::string type;
  std::string id;
  bool single = split_issue(call.parameter, resource, type, id);
  if (!single) resource = call.parameter;
  metadata::ExemptionRecord scope = exemption_scope(caller, resource);
  std::string_view method = call.exchange.method_name();

  if (!single) {
    if (method != "GET") {
      throw Error(ErrorCode::kNotFound, "name the issue to exempt: " + std::string(method) +
                                            " /va/api/v4/exempt/image/RESOURCE/issue/TYPE/ID");
    }
    require_exemption_reader(call, scope);
    json body = json::array();
    for (const auto& exemption : metadata_.list_exemptions(caller.identity.account_id)) {
      if (exemption.scope_type == scope.scope_type && exemption.namespace_name == scope.namespace_name &&
          exemption.repository == scope.repository && exemption.tag == scope.tag && exemption.digest == scope.digest) {
        body.push_back(exemption_json(exemption));
      }
    }
    call.exchange.send(json_response(200, body));
    return;
  }

  // Types and CVE IDs are matched as the hosted registry writes them:
  // "cve", "CVE-2022-40674".
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::tolower(c); });
  if (type == "cve") std::transform(id.begin(), id.end(), id.begin(), [](unsigned char c) { return std::toupper(c); });
  check_issue(type, id);
  scope.issue_type = type;
  scope.issue_id = id;
  auto same = [&](const metadata::ExemptionRecord& e) {
    return e.issue_type == scope.issue_type && e.issue_id == scope.issue_id && e.scope_type == scope.scope_type &&
           e.namespace_name == scope.namespace_name && e.repository == scope.repository && e.tag == scope.tag &&
           e.digest == scope.digest;
  };
  auto find_existing = [&]() -> std::optional<metadata::ExemptionRecord> {
    for (const auto& exemption : metadata_.list_exemptions(caller.identity.account_id)) {
      if (same(exemption)) return exemption;
    }
    return std::nullopt;
  };

  if (method == "GET") {
    require_exemption_reader(call, scope);
    auto existing = find_existing();
    if (!existing) throw Error(ErrorCode::kNotFound, "no exemption for " + type + " " + id + " in this scope");
    call.exchange.send(json_response(200, exemption_json(*existing)));
    return;
  }
  require_exemption_manager(call);
  if (method == "POST") {
    // NOTE: a repository, tag or digest scope is stored even when no such
    // image exists, so a mistyped tag exempts nothing and no warning is given.
    scope.created_at = core::unix_now();
    bool created = metadata_.create_exemption(scope);
    auto stored = created ? std::optional(scope) : find_existing();
    call.exchange.send(json_response(created ? 201 : 200, exemption_json(stored ? *stored : scope)));
    return;
  }
  if (!metadata_.delete_exemption(scope)) {
    throw Error(ErrorCode::kNotFound, "no exemption for " + type + " " + id + " in this scope");
  }
  call.exchange.send(json_response(200, json::object()));
}

void ManagementApi::va_list_exemptions(Call& call) {
  const auth::Principal& caller = call.principal();
  std::vector<std::string> readable = gate_.access().namespaces_allowing(caller, auth::Action::kExemptionList);
  bool account_reader = gate_.access().allows_account(caller, auth::Action::kExemptionList) || !readable.empty();
  std::set<std::string> namespaces(readable.begin(), readable.end());
  json body = json::array();
  for (const auto& exemption : metadata_.list_exemptions(caller.identity.account_id)) {
    bool visible = exemption.scope_type == "account" ? account_reader : namespaces.contains(exemption.namespace_name);
    if (visible) body.push_back(exemption_json(exemption));
  }
  call.exchange.send(json_response(200, body));
}

void ManagementApi::va_delete_all_exemptions(Call& call) {
  const auth::Principal& caller = call.principal();
  require_account_action(call.exchange, caller, auth::Action::kExemptionManage);
  std::size_t deleted = metadata_.delete_all_exemptions(caller.identity.account_id);
  call.exchange.send(json_response(200, json{{"number_of_exemptions_deleted", deleted}}));
}

json ManagementApi::exemptions_for_image(Call& call, const std::string& text,
                                         const std::vector<metadata::ExemptionRecord>& exemptions) {
  ImageReference reference = parse_reference(text);
  gate_.require_action(call.exchange, call.principal(), reference.repository, auth::Action::kExemptionList);
  std::optional<metadata::ManifestRecord> manifest =
      reference.digest ? metadata_.find_manifest(reference.repository, *reference.digest)
                       : metadata_.find_tagged_manifest(reference.repository, reference.tag);
  scan::ImageScope scope{.account_id = call.principal().identity.account_id,
                         .namespace_name = reference.namespace_name(),
                         .repository = reference.repository,
                         .tag = reference.digest ? std::string() : reference.tag,
                         .digest = manifest ? manifest->digest.str() : std::string()};
  json body = json::array();
  for (const auto& exemption : exemptions) {
    bool applies = scan::exemption_applies(exemption, scope);
    if (!applies && reference.digest && manifest) {
      // A tag's exemption applies to the digest the tag points at.
      applies = scan::exemption_applies(exemptions_by_digest({exemption}, scope.repository, scope.digest).front(),
                                        scope);
    }
    if (applies) body.push_back(exemption_json(exemption));
  }
  return body;
}

void ManagementApi::va_image_exemptions(Call& call) {
  auto exemptions = metadata_.list_exemptions(call.principal().identity.account_id);
  call.exchange.send(json_response(200, exemptions_for_image(call, call.parameter, exemptions)));
}

void ManagementApi::va_images_exemptions(Call& call) {
  auto raw = call.exchange.read_body_up_to(64 * 1024);
  if (!raw) throw Error(ErrorCode::kBadRequest, "the request body is larger than 64 KiB");
  json names = json::parse(*raw, nullptr, false);
  if (names.is_discarded() || !names.is_array() ||
      !std::all_of(names.begin(), names.end(), [](const json& n) { return n.is_string(); })) {
    throw Error(ErrorCode::kBadRequest, "the request body must be a JSON array of image names");
  }
  auto exemptions = metadata_.list_exemptions(call.principal().identity.account_id);
  json body = json::object();
  for (const auto& name : names) {
    std::string text = name.get<std::string>();
    body[text] = exemptions_for_image(call, text, exemptions);
  }
  call.exchange.send(json_response(200, body));
}

}  // namespace berth::api
