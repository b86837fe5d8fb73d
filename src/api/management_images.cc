// Image endpoints of the management API: listings by tag and by digest,
// server-side tagging and untagging, inspection and raw manifests. Image
// names in responses carry the registry's domain, so clients can pass them
// back to docker or to these endpoints as they are.

#include "api/json_response.h"
#include "api/management_api.h"
#include "core/error.h"
#include "core/time.h"
#include "oci/media_types.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

namespace berth::api {

using core::Error;
using core::ErrorCode;
using nlohmann::json;

namespace {

// The Vulnerability Advisor's figures that image listings carry.
json security_status_json(const scan::Assessment& assessment) {
  return {{"Status", assessment.status},
          {"IssueCount", assessment.vulnerability_count},
          {"ExemptionCount", assessment.exempt_vulnerability_count}};
}

// A boolean query parameter: "true" or "false" in any case, or absent.
bool bool_parameter(const http::Query& query, std::string_view name, bool fallback) {
  auto value = query.get(name);
  if (!value) return fallback;
  std::string lower = *value;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "true" || lower == "1") return true;
  if (lower == "false" || lower == "0") return false;
  throw Error(ErrorCode::kBadRequest,
              "the query parameter " + std::string(name) + " must be true or false, not \"" + *value + "\"",
              {{"parameter", name}, {"value", *value}});
}

json labels_of(const metadata::ImageFacts& facts) {
  json labels = json::parse(facts.labels_json, nullptr, false);
  return labels.is_object() ? labels : json::object();
}

// The namespace and repository filters of a listing. A name with one
// component is a namespace, one with more a repository.
struct ImageFilter {
  std::vector<std::string> namespaces;
  std::vector<std::string> repositories;

  bool empty() const { return namespaces.empty() && repositories.empty(); }
};

// Keeps only the filters inside `allowed` namespaces; without filters, all
// of `allowed`.
ImageFilter restrict_filter(const ImageFilter& requested, const std::vector<std::string>& allowed) {
  std::set<std::string> permitted(allowed.begin(), allowed.end());
  ImageFilter result;
  if (requested.empty()) {
    result.namespaces = allowed;
    return result;
  }
  for (const auto& ns : requested.namespaces) {
    if (permitted.contains(ns)) result.namespaces.push_back(ns);
  }
  for (const auto& repository : requested.repositories) {
    if (permitted.contains(repository.substr(0, repository.find('/')))) result.repositories.push_back(repository);
  }
  return result;
}

// Adds one filter value, with or without the registry's domain.
void add_filter(ImageFilter& filter, std::string_view value, std::string_view domain) {
  std::string name = strip_domain(value, domain);
  while (!name.empty() && name.back() == '/') name.pop_back();
  if (name.empty()) throw Error(ErrorCode::kBadRequest, "an image filter is empty; name a namespace or repository");
  if (name.find('/') == std::string::npos) {
    filter.namespaces.push_back(std::move(name));
  } else {
    filter.repositories.push_back(std::move(name));
  }
}

bool bool_field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return false;
  if (!it->is_boolean()) throw Error(ErrorCode::kBadRequest, std::string("the field \"") + name + "\" must be a boolean");
  return it->get<bool>();
}

// Picks the child of an index that inspection describes: linux/amd64 if
// the repository has it, else the first child the repository has.
std::optional<core::Digest> default_child(const metadata::ManifestRecord& index, metadata::MetadataStore& store) {
  json body = json::parse(index.content, nullptr, false);
  if (!body.is_object() || !body.contains("manifests") || !body["manifests"].is_array()) return std::nullopt;
  std::optional<core::Digest> first;
  for (const auto& entry : body["manifests"]) {
    if (!entry.is_object() || !entry.contains("digest") || !entry["digest"].is_string()) continue;
    auto digest = core::Digest::parse(entry["digest"].get<std::string>());
    if (!digest || !store.find_manifest(index.repository, *digest)) continue;
    const json platform = entry.value("platform", json::object());
    if (platform.is_object() && platform.value("os", "") == "linux" && platform.value("architecture", "") == "amd64") {
      return digest;
    }
    if (!first) first = digest;
  }
  return first;
}

const json& healthcheck_default() {
  static const json kDefault = {{"Interval", 0}, {"Retries", 0}, {"Test", json::array()}, {"Timeout", 0}};
  return kDefault;
}

// The Docker container configuration fields that inspection reports, with
// the value each has when the image config does not set it.
const std::vector<std::pair<const char*, json>>& container_config_fields() {
  static const std::vector<std::pair<const char*, json>> kFields = {
      {"ArgsEscaped", false},       {"AttachStderr", false},     {"AttachStdin", false},
      {"AttachStdout", false},      {"Cmd", json::array()},      {"Domainname", ""},
      {"Entrypoint", json::array()}, {"Env", json::array()},     {"ExposedPorts", json::object()},
      {"Healthcheck", healthcheck_default()},
      {"Hostname", ""},             {"Image", ""},               {"Labels", json::object()},
      {"MacAddress", ""},           {"NetworkDisabled", false},  {"OnBuild", json::array()},
      {"OpenStdin", false},         {"Shell", json::array()},    {"StdinOnce", false},
      {"StopSignal", ""},           {"StopTimeout", 0},          {"Tty", false},
      {"User", ""},                 {"Volumes", json::object()}, {"WorkingDir", ""},
  };
  return kFields;
}

// Maps the image config's "config" object to the Docker field names. A
// value of another JSON type than the field's is replaced by the default.
json container_config(const json& config) {
  json out = json::object();
  for (const auto& [name, fallback] : container_config_fields()) {
    const json* value = nullptr;
    if (config.is_object() && config.contains(name)) value = &config[name];
    bool same_type = value != nullptr && (value->type() == fallback.type() ||
                                          (value->is_number() && fallback.is_number()));
    out[name] = same_type ? *value : fallback;
  }
  // A partial Healthcheck keeps its fields and gets defaults for the rest.
  // Its durations are nanoseconds in both the OCI and the Docker format.
  json healthcheck = healthcheck_default();
  for (const auto& [key, value] : out["Healthcheck"].items()) healthcheck[key] = value;
  out["Healthcheck"] = std::move(healthcheck);
  return out;
}

std::string string_value(const json& object, const char* name) {
  if (!object.is_object()) return {};
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

ImageReference ManagementApi::parse_reference(std::string_view text) const {
  return parse_image_reference(text, settings_.domain);
}

Error ManagementApi::image_unknown(const ImageReference& reference) const {
  std::string name = reference.full_name(settings_.domain);
  return Error(ErrorCode::kManifestUnknown, "the image " + name + " does not exist",
               {{"image", name}, {"name", reference.repository}});
}

metadata::ManifestRecord ManagementApi::find_image(const ImageReference& reference) {
  std::optional<metadata::ManifestRecord> manifest =
      reference.digest ? metadata_.find_manifest(reference.repository, *reference.digest)
                       : metadata_.find_tagged_manifest(reference.repository, reference.tag);
  if (!manifest) throw image_unknown(reference);
  return *manifest;
}

void ManagementApi::require_image_action(Call& call, const std::string& repository, auth::Action action) {
  if (action == auth::Action::kImageInspect) {
    auto ns = gate_.access().find_namespace(repository.substr(0, repository.find('/')));
    if (ns && ns->is_public) return;
  }
  gate_.require_action(call.exchange, call.principal(), repository, action);
}

std::vector<std::string> ManagementApi::listable_namespaces(const auth::Principal& caller, bool include_public) {
  std::vector<std::string> names = gate_.access().namespaces_allowing(caller, auth::Action::kImageList);
  if (include_public) {
    for (const auto& ns : metadata_.list_public_namespaces()) {
      if (ns.account_id != caller.identity.account_id) names.push_back(ns.name);
    }
  }
  return names;
}

scan::Assessment ManagementApi::assess_entry(const VaService::Context& context, const std::string& account_id,
                                            const metadata::ImageEntry& entry, const std::string& tag) {
  std::string content;
  if (oci::media_type::is_index(entry.media_type)) {
    // The index's content decides which of its images is assessed.
    if (auto manifest = metadata_.find_manifest(entry.repository, entry.digest)) content = manifest->content;
  }
  scan::ImageScope scope{.account_id = account_id,
                         .namespace_name = entry.repository.substr(0, entry.repository.find('/')),
                         .repository = entry.repository,
                         .tag = tag,
                         .digest = entry.digest.str()};
  return va_.assess(context, scope, entry.media_type, content);
}

// --- Listings ------------------------------------------------------------------

void ManagementApi::list_images(Call& call) {
  const http::Query& query = call.exchange.query();
  ImageFilter requested;
  for (const auto& value : query.get_all("namespace")) add_filter(requested, value, settings_.domain);
  for (const auto& value : query.get_all("repository")) add_filter(requested, value, settings_.domain);
  bool include_public = bool_parameter(query, "includeIBM", false);
  bool include_indexes = bool_parameter(query, "includeManifestLists", false);
  // includePrivate is accepted for the hosted registry's clients; every
  // listing includes private images. vulnerabilities=false leaves out the
  // Vulnerability Advisor's figures, which saves assessing every image.
  bool_parameter(query, "includePrivate", true);
  bool with_va = bool_parameter(query, "vulnerabilities", true);
  std::optional<VaService::Context> va_context;
  if (with_va) va_context = va_.context(call.principal().identity.account_id);

  ImageFilter scope = restrict_filter(requested, listable_namespaces(call.principal(), include_public));
  std::vector<metadata::ImageEntry> entries;
  if (!scope.empty()) entries = metadata_.list_images(scope.namespaces, scope.repositories);

  std::vector<std::pair<std::pair<std::string, std::string>, json>> rows;
  const std::string& domain = settings_.domain;
  for (const auto& entry : entries) {
    if (entry.tags.empty()) continue;
    if (!include_indexes && oci::media_type::is_index(entry.media_type)) continue;
    metadata::ImageFacts facts = facts_.facts(entry);
    std::string digest = entry.digest.str();
    std::string repository = domain + "/" + entry.repository;

    json repo_tags = json::array();
    for (const auto& tag : entry.tags) repo_tags.push_back(repository + ":" + tag);
    json image = {{"Id", digest},
                  {"ParentId", ""},
                  {"RepoTags", repo_tags},
                  {"RepoDigests", json::array({repository + "@" + digest})},
                  {"DigestTags", json{{digest, entry.tags}}},
                  {"Created", facts.created},
                  {"Size", facts.size},
                  {"VirtualSize", facts.size},
                  {"Labels", labels_of(facts)},
                  {"ManifestType", manifest_type_name(entry.media_type, entry.artifact_type)}};
    if (va_context) {
      scan::Assessment va = assess_entry(*va_context, call.principal().identity.account_id, entry, entry.tags.front());
      image["Vulnerable"] = va.vulnerability_count > 0 ? "true" : "";
      image["VulnerabilityCount"] = va.vulnerability_count;
      image["ConfigurationIssueCount"] = 0;
      image["IssueCount"] = va.vulnerability_count;
      image["ExemptIssueCount"] = va.exempt_vulnerability_count;
      image["SecurityStatus"] = security_status_json(va);
    }
    rows.push_back({{entry.repository, entry.tags.front()}, std::move(image)});
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });

  json body = json::array();
  for (auto& row : rows) body.push_back(std::move(row.second));
  call.exchange.send(json_response(200, body));
}

void ManagementApi::list_image_digests(Call& call) {
  json request = json::object();
  auto raw = call.exchange.read_body_up_to(64 * 1024);
  if (!raw) throw Error(ErrorCode::kBadRequest, "the request body is larger than 64 KiB");
  if (!raw->empty()) {
    request = json::parse(*raw, nullptr, false);
    if (request.is_discarded() || !request.is_object()) {
      throw Error(ErrorCode::kBadRequest, "the request body must be a JSON object");
    }
  }
  for (const auto& [key, value] : request.items()) {
    if (key != "exclude_tagged" && key != "exclude_va" && key != "include_ibm" && key != "repositories") {
      throw Error(ErrorCode::kBadRequest, "unknown field \"" + key +
                                              "\"; the fields are exclude_tagged, exclude_va, include_ibm and "
                                              "repositories",
                  {{"field", key}});
    }
  }
  bool exclude_tagged = bool_field(request, "exclude_tagged");
  // exclude_va leaves out the Vulnerability Advisor's figures.
  bool exclude_va = bool_field(request, "exclude_va");
  std::optional<VaService::Context> va_context;
  if (!exclude_va) va_context = va_.context(call.principal().identity.account_id);
  bool include_public = bool_field(request, "include_ibm");
  ImageFilter requested;
  if (request.contains("repositories") && !request["repositories"].is_null()) {
    const json& repositories = request["repositories"];
    if (!repositories.is_array()) throw Error(ErrorCode::kBadRequest, "the field \"repositories\" must be an array");
    for (const auto& value : repositories) {
      if (!value.is_string()) {
        throw Error(ErrorCode::kBadRequest, "the field \"repositories\" must be an array of strings");
      }
      add_filter(requested, value.get<std::string>(), settings_.domain);
    }
  }

  ImageFilter scope = restrict_filter(requested, listable_namespaces(call.principal(), include_public));
  std::vector<metadata::ImageEntry> entries;
  if (!scope.empty()) entries = metadata_.list_images(scope.namespaces, scope.repositories);

  // One result per digest, ordered by the first repository that contains it.
  std::map<std::string, json> by_digest;
  std::vector<std::pair<std::string, std::string>> order;  // first repository, digest
  const std::string& domain = settings_.domain;
  for (const auto& entry : entries) {
    if (exclude_tagged && !entry.tags.empty()) continue;
    std::string digest = entry.digest.str();
    auto it = by_digest.find(digest);
    if (it == by_digest.end()) {
      metadata::ImageFacts facts = facts_.facts(entry);
      json image = {{"id", digest},
                    {"created", facts.created},
                    {"size", facts.size},
                    {"manifestType", manifest_type_name(entry.media_type, entry.artifact_type)},
                    {"repoTags", json::object()}};
      it = by_digest.emplace(digest, std::move(image)).first;
      order.emplace_back(entry.repository, digest);
    }
    json tags = json::object();
    for (const auto& tag : entry.tags) {
      if (!va_context) {
        tags[tag] = json::object();
        continue;
      }
      scan::Assessment va = assess_entry(*va_context, call.principal().identity.account_id, entry, tag);
      tags[tag] = {{"configurationIssueCount", 0},
                   {"exemptIssueCount", va.exempt_vulnerability_count},
                   {"issueCount", va.vulnerability_count},
                   {"vulnerabilityCount", va.vulnerability_count},
                   {"vulnerable", va.vulnerability_count > 0},
                   {"status", va.status}};
    }
    it->second["repoTags"][domain + "/" + entry.repository] = std::move(tags);
  }
  std::sort(order.begin(), order.end());

  json body = json::array();
  for (const auto& [repository, digest] : order) body.push_back(std::move(by_digest[digest]));
  call.exchange.send(json_response(200, body));
}

// --- Tags ------------------------------------------------------------------------

void ManagementApi::tag_image(Call& call) {
  const http::Query& query = call.exchange.query();
  auto from = query.get("fromimage");
  auto to = query.get("toimage");
  if (!from || from->empty() || !to || to->empty()) {
    throw Error(ErrorCode::kBadRequest,
                "both query parameters fromimage (the source image) and toimage (the target REPOSITORY:TAG) are "
                "required");
  }
  ImageReference source = parse_reference(*from);
  ImageReference target = parse_reference(*to);
  if (target.digest || !target.tag_given) {
    throw Error(ErrorCode::kBadRequest,
                "the target image '" + *to + "' must name a tag, as in NAMESPACE/REPOSITORY:TAG",
                {{"toimage", *to}});
  }

  require_image_action(call, source.repository, auth::Action::kImagePull);
  require_image_action(call, target.repository, auth::Action::kImagePush);

  metadata::ManifestRecord manifest = find_image(source);
  if (!oci::media_type::is_manifest(manifest.media_type)) {
    throw Error(ErrorCode::kUnsupported, "CRI0302E The manifest type for this image is not supported for tagging.",
                {{"mediaType", manifest.media_type}})
        .with_status(400);
  }
  metadata::CopyManifestResult result =
      metadata_.copy_manifest(source.repository, manifest.digest, target.repository, target.tag);
  // Deleted between the lookup and the copy.
  if (!result.source_found) throw image_unknown(source);
  if (!result.missing_manifests.empty()) {
    Error error(ErrorCode::kManifestBlobUnknown,
                "CRI0304E The manifest list or OCI index that you are tagging references an image that doesn't "
                "exist: " +
                    result.missing_manifests.front().str() + " is not in " + source.repository,
                {{"digest", result.missing_manifests.front().str()}});
    for (std::size_t i = 1; i < result.missing_manifests.size(); ++i) {
      error.add(ErrorCode::kManifestBlobUnknown,
                "the manifest list or OCI index references " + result.missing_manifests[i].str() +
                    ", which is not in " + source.repository,
                {{"digest", result.missing_manifests[i].str()}});
    }
    throw error;
  }

  spdlog::info("image_tagged request_id={} identity={} source={} target={}", call.exchange.request_id(),
               call.principal().identity.id, source.repository + "@" + manifest.digest.str(),
               target.full_name(settings_.domain));
  http::Response response;
  response.status = 201;
  call.exchange.send(std::move(response));
}

void ManagementApi::untag_image(Call& call) {
  ImageReference reference = parse_reference(call.parameter);
  if (reference.digest || !reference.tag_given) {
    throw Error(ErrorCode::kBadRequest,
                "the image '" + call.parameter +
                    "' names no tag; untagging removes one tag, so name it as NAMESPACE/REPOSITORY:TAG",
                {{"image", call.parameter}});
  }
  require_image_action(call, reference.repository, auth::Action::kImageDelete);

  std::string name = reference.full_name(settings_.domain);
  if (!metadata_.delete_tag(reference.repository, reference.tag)) throw image_unknown(reference);
  spdlog::info("image_untagged request_id={} identity={} image={}", call.exchange.request_id(),
               call.principal().identity.id, name);
  call.exchange.send(json_response(200, json{{"Untagged", name}}));
}

// --- Inspection ------------------------------------------------------------------

void ManagementApi::inspect_image(Call& call) {
  ImageReference reference = parse_reference(call.parameter);
  require_image_action(call, reference.repository, auth::Action::kImageInspect);
  metadata::ManifestRecord manifest = find_image(reference);

  if (oci::media_type::is_index(manifest.media_type)) {
    auto child = default_child(manifest, metadata_);
    std::optional<metadata::ManifestRecord> record;
    if (child) record = metadata_.find_manifest(manifest.repository, *child);
    if (!record) {
      std::string name = reference.full_name(settings_.domain);
      throw Error(ErrorCode::kManifestUnknown, "the image " + name + " is an index without any image in " +
                                                   manifest.repository + " to inspect",
                  {{"image", name}});
    }
    manifest = std::move(*record);
  }

  metadata::ImageFacts facts = facts_.facts(manifest);
  json config = json::object();
  if (auto digest = core::Digest::parse(facts.config_digest)) {
    if (auto parsed = facts_.read_config(*digest)) config = std::move(*parsed);
  }
  std::string created = string_value(config, "created");
  if (!core::parse_rfc3339(created)) created = core::format_rfc3339(0);
  const json rootfs = config.value("rootfs", json::object());
  json layers = rootfs.is_object() ? rootfs.value("diff_ids", json::array()) : json::array();
  if (!layers.is_array()) layers = json::array();

  json body = {{"Id", facts.config_digest},
               {"Parent", ""},
               {"Comment", string_value(config, "comment")},
               {"Created", created},
               {"Container", ""},
               {"ContainerConfig", json::object()},
               {"Config", container_config(config.value("config", json::object()))},
               {"DockerVersion", string_value(config, "docker_version")},
               {"Author", string_value(config, "author")},
               {"Architecture", string_value(config, "architecture")},
               {"Os", string_value(config, "os")},
               {"OsVersion", string_value(config, "os.version")},
               {"Size", facts.size},
               {"VirtualSize", facts.size},
               {"ManifestType", manifest_type_name(manifest.media_type, manifest.artifact_type)},
               {"RootFS", {{"Type", rootfs.is_object() ? string_value(rootfs, "type") : ""},
                           {"Layers", layers},
                           {"BaseLayer", ""}}}};
  call.exchange.send(json_response(200, body));
}

void ManagementApi::get_image_manifest(Call& call) {
  ImageReference reference = parse_reference(call.parameter);
  require_image_action(call, reference.repository, auth::Action::kImageInspect);
  metadata::ManifestRecord manifest = find_image(reference);

  http::Response response;
  response.headers.set(http::beast_http::field::content_type, manifest.media_type);
  response.headers.set("Docker-Content-Digest", manifest.digest.str());
  response.body = std::move(manifest.content);
  call.exchange.send(std::move(response));
}

}  // namespace berth::api
