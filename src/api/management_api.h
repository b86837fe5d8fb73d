// The management API under /api/v1: namespaces, images, account settings,
// and the account's API keys, service IDs and access policies. JSON in and
// out; errors use the registry's error shape. Authenticated like the
// registry: Basic "iamapikey:<API key>" or a Berth token as Bearer. A few
// endpoints (messages, info) need no credentials.
#pragma once

#include "api/access_gate.h"
#include "api/image_facts.h"
#include "api/image_reference.h"
#include "api/retention_service.h"
#include "api/va_service.h"
#include "auth/tenants.h"
#include "core/error.h"
#include "http/exchange.h"
#include "lifecycle/quota_enforcer.h"
#include "lifecycle/retention.h"
#include "metadata/metadata_store.h"
#include "storage/blob_store.h"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace berth::api {

// Facts about the registry that the management API reports.
struct ManagementSettings {
  std::string region = "local";
  // The registry's domain in image names, such as "127.0.0.1:5000". Set
  // once the listening address is known, before requests arrive.
  std::string domain;
  bool tls = false;
  std::string messages;  // operator message; empty when there is none
  std::string version;
};

// One operation of the management API. `path` is a template such as
// "/api/v1/images/{image}/json"; the parameter {image} may contain '/',
// other parameters are one path segment.
struct RouteInfo {
  std::string_view method;  // "GET", "PUT", "POST", "PATCH" or "DELETE"
  std::string_view path;
  bool needs_credentials = true;
};

class ManagementApi {
 public:
  ManagementApi(metadata::MetadataStore& metadata, storage::BlobStore& blobs, AccessGate& gate,
                lifecycle::QuotaEnforcer& quotas, ManagementSettings settings);

  // Every operation, in the order the dispatcher tries their paths.
  static std::vector<RouteInfo> routes();

  // Sets the domain once the listening address is known; not thread-safe,
  // so it must run before the server starts serving.
  void set_domain(std::string domain) { settings_.domain = std::move(domain); }
  const ManagementSettings& settings() const { return settings_; }

  // Serves one request whose path starts with /api/v1/ or /va/api/v4/.
  void handle(http::Exchange& exchange);

  // One request as a handler receives it: the caller (null on endpoints that
  // need no credentials) and the decoded path parameter, if any.
  struct Call {
    http::Exchange& exchange;
    const auth::Principal* caller;
    std::string parameter;

    const auth::Principal& principal() const { return *caller; }
  };

 private:
  struct Route;
  static const std::vector<Route>& route_table();

  // Reads and checks the request's credentials; throws 401 or 403.
  auth::Principal authenticate(http::Exchange& exchange);

  void list_namespaces(Call& call, bool details);
  void put_namespace(Call& call);
  void delete_namespace(Call& call);

  void list_api_keys(Call& call);
  void create_api_key(Call& call);
  void delete_api_key(Call& call);

  void list_service_ids(Call& call);
  void create_service_id(Call& call);
  void delete_service_id(Call& call);

  void list_policies(Call& call);
  void create_policy(Call& call);
  void delete_policy(Call& call);

  // Images, in management_images.cc.
  void list_images(Call& call);
  void list_image_digests(Call& call);
  void tag_image(Call& call);
  void untag_image(Call& call);
  void inspect_image(Call& call);
  void get_image_manifest(Call& call);

  // Settings, messages and the registry's own description, in
  // management_account.cc.
  void get_settings(Call& call);
  void update_settings(Call& call);
  void get_messages(Call& call);
  void get_info(Call& call);
  void get_account(Call& call);

  // Plans, quotas, trash and retention, in management_lifecycle.cc.
  void get_plans(Call& call);
  void update_plans(Call& call);
  void get_quotas(Call& call);
  void update_quotas(Call& call);
  void delete_image(Call& call);
  void bulk_delete_images(Call& call);
  void list_trash(Call& call);
  void restore_tags(Call& call);
  void restore_image(Call& call);
  void list_retentions(Call& call);
  void get_retention(Call& call);
  void set_retention(Call& call);
  void analyze_retention(Call& call);
  lifecycle::AccountQuotaState quota_state(const auth::Principal& caller);
  // Moves the image a reference names to the trash after checking the
  // caller's role; returns its full name. Throws 404 or 409.
  std::string trash_image(Call& call, const ImageReference& reference);
  // Reads a retention policy body; stores its namespace in `ns`.
  lifecycle::RetentionRule read_retention_request(Call& call, std::string& ns);
  nlohmann::json retention_delete_list(const std::vector<lifecycle::RetentionImage>& images) const;

  // The Vulnerability Advisor under /va/api/v4, in management_va.cc.
  void va_image_report(Call& call);
  void va_image_status(Call& call);
  void va_account_report(Call& call, bool summary_only);
  void va_exempt_types(Call& call);
  void va_list_account_scope(Call& call);
  void va_exemption(Call& call);
  void va_list_exemptions(Call& call);
  void va_delete_all_exemptions(Call& call);
  void va_image_exemptions(Call& call);
  void va_images_exemptions(Call& call);
  struct AssessedImage {
    std::string name;  // "DOMAIN/ns/repo:tag" or "DOMAIN/ns/repo@digest"
    scan::Assessment assessment;
  };
  // Checks Reader access and assesses the image a reference names; 404 if
  // there is no such image.
  AssessedImage assess_reference(Call& call, const std::string& text, const VaService::Context& context);
  // The scope an exemption resource names ("*", "ns", "ns/repo",
  // "ns/repo:tag", "ns/repo@digest"); 404 for a namespace of another account.
  metadata::ExemptionRecord exemption_scope(const auth::Principal& caller, const std::string& resource);
  // Throws 403 unless the caller has exemption.manager on the account.
  void require_exemption_manager(Call& call);
  // Throws 403 unless the caller may read reports of the account or of
  // at least one of its namespaces.
  void require_account_scope_reader(Call& call);
  // Throws 403 unless the caller may read the exemptions of `scope`.
  void require_exemption_reader(Call& call, const metadata::ExemptionRecord& scope);
  // `exemptions` with each exemption of a tag of `repository` that points
  // at `digest` rewritten to that digest.
  std::vector<metadata::ExemptionRecord> exemptions_by_digest(std::vector<metadata::ExemptionRecord> exemptions,
                                                              const std::string& repository,
                                                              const std::string& digest);
  // The assessment of a listed image reached through `tag` (may be empty).
  scan::Assessment assess_entry(const VaService::Context& context, const std::string& account_id,
                                const metadata::ImageEntry& entry, const std::string& tag);
  nlohmann::json exemptions_for_image(Call& call, const std::string& text,
                                      const std::vector<metadata::ExemptionRecord>& exemptions);

  // Throws 403 DENIED unless the caller's policies grant `action` on the account.
  void require_account_action(http::Exchange& exchange, const auth::Principal& caller, auth::Action action);
  // Throws 403 DENIED, with the registry's messages, unless the caller may
  // do `action` on the repository's namespace. Inspecting images of a
  // public namespace is allowed to everyone, like pulling them.
  void require_image_action(Call& call, const std::string& repository, auth::Action action);
  auth::AuditContext audit_context(http::Exchange& exchange, const auth::Principal& caller) const;
  // The identity `iam_id` of the caller's account; 404 if there is none.
  metadata::IdentityRecord account_identity(const auth::Principal& caller, const std::string& iam_id);
  core::Error image_unknown(const ImageReference& reference) const;
  // The manifest a reference names; 404 MANIFEST_UNKNOWN if there is none.
  metadata::ManifestRecord find_image(const ImageReference& reference);
  ImageReference parse_reference(std::string_view text) const;
  // The namespaces whose images the caller may list: its account's where
  // it has image.list, and with `include_public` other accounts' public ones.
  std::vector<std::string> listable_namespaces(const auth::Principal& caller, bool include_public);

  metadata::MetadataStore& metadata_;
  AccessGate& gate_;
  lifecycle::QuotaEnforcer& quotas_;
  auth::Tenants tenants_;
  ImageFactsReader facts_;
  RetentionService retention_;
  VaService va_;
  ManagementSettings settings_;
};

// Reads a JSON object body of at most 64 KiB; 400 BAD_REQUEST otherwise.
nlohmann::json read_json_object(http::Exchange& exchange);

}  // namespace berth::api
