// Output of the Vulnerability Advisor commands (va, the exemption
// commands, and the Security status column of image-list and
// image-digests), built from the /va/api/v4 and /api/v1 responses and kept
// apart from the requests so that unit tests reach it.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::cli {

// The only Vulnerability Advisor version that Berth serves, and its API.
inline constexpr std::string_view kVaVersion = "v4";
inline constexpr std::string_view kVaApi = "/va/api/v4";

// --- Security status of listings --------------------------------------------

// The assessment summary of one image as a listing reports it.
struct SecurityStatus {
  // "OK", "WARN", "FAIL", "UNSUPPORTED", "INCOMPLETE" or "UNSCANNED".
  std::string status;
  std::int64_t issue_count = 0;      // active (not exempt) issues
  std::int64_t exemption_count = 0;  // exempt issues
};

// Returns the Security status column text: "No Issues" for OK and WARN
// with no issue, "1 Issue" or "N Issues" when issues are active, "Scanning"
// for UNSCANNED, "Unsupported OS" for UNSUPPORTED and "Incomplete" for
// INCOMPLETE with no issue. Another status is returned as it is.
std::string security_status_text(const SecurityStatus& status);

// Reads the "SecurityStatus" object ({"Status","IssueCount","ExemptionCount"})
// of a GET /api/v1/images entry. Returns nullopt when the entry has none,
// which is the case when the request excluded the assessment.
std::optional<SecurityStatus> image_security_status(const nlohmann::json& image);
// Reads one tag's entry under "repoTags" of POST /api/v1/images/digests
// ({"status","issueCount","exemptIssueCount",...}). Returns nullopt
// without "status".
std::optional<SecurityStatus> tag_security_status(const nlohmann::json& tag_report);

// --- va ----------------------------------------------------------------------

// The parts of a report that va prints.
struct ReportOptions {
  bool extended = false;              // -e: notices, installed and fixed versions
  bool vulnerabilities = true;        // shown unless only -c was given
  bool configuration_issues = false;  // -c
};
// Combines -e, -v and -c. Without -v and -c, only the vulnerabilities are
// shown. -c alone shows only the configuration issues, and both flags show both.
ReportOptions report_options(bool extended, bool vulnerabilities_flag, bool configuration_issues_flag);

// "NO ISSUES", "1 ISSUE", "3 ISSUES".
std::string issue_count_text(std::int64_t count);
// The Policy Status cell: "Active", "Exempt" or "Partial" for the
// exempt_status values "active", "exempt" and "partial".
std::string policy_status_text(std::string_view exempt_status);
// The number of vulnerabilities (CVEs) in a ScanReport that are not
// exempt, and the number that are.
std::int64_t active_vulnerability_count(const nlohmann::json& report);
std::int64_t exempt_vulnerability_count(const nlohmann::json& report);

// Returns the text that va prints for one ScanReport of
// GET /va/api/v4/report/image/{name}, after its progress line and
// before "OK". `image` is the name to print, with the registry's domain.
std::string report_text(const nlohmann::json& report, const std::string& image, const ReportOptions& options);
// Returns one element of the array that va --output json prints:
// {"image","status","scan_time","os_distribution","vulnerabilities"},
// with "configuration_issues" in place of or after "vulnerabilities" as
// `options` selects.
nlohmann::ordered_json report_output(const nlohmann::json& report, const std::string& image,
                                     const ReportOptions& options);

// --- Exemptions --------------------------------------------------------------

// The --scope of an exemption command, split for the API path.
struct ExemptionScope {
  bool account = false;  // "*"
  // "ns", "ns/repo", "ns/repo:tag" or "ns/repo@sha256:<hex>", without the
  // registry's domain; empty for the account.
  std::string resource;
  std::string repository;  // "ns/repo", or "ns" for a namespace scope
  std::string tag;
  std::string digest;
};
// Parses --scope: "*" for the whole account, or
// [REGISTRY/]NAMESPACE[/REPOSITORY[:TAG|@DIGEST]]. Throws Failure for an
// empty scope, for a tag or digest without a repository, and for a
// registry domain other than `domain`.
ExemptionScope parse_exemption_scope(std::string_view scope, std::string_view domain);

// Checks --issue-type and returns it in lower case. Throws Failure unless
// it is "cve" or "sn".
std::string parse_issue_type(std::string_view issue_type);

// Returns the path of one exemption: /va/api/v4/exempt/image/issue/TYPE/ID
// for the account, /va/api/v4/exempt/image/RESOURCE/issue/TYPE/ID
// otherwise, with the resource and the ID URL-encoded.
std::string exemption_path(const ExemptionScope& scope, std::string_view issue_type, std::string_view issue_id);
// Returns the path that exemption-list reads: /va/api/v4/exemptions/account
// (every exemption) without a scope and for a namespace,
// /va/api/v4/exempt/image (the account scope's) for "*", and
// /va/api/v4/exemptions/image/RESOURCE (those that apply to the image)
// for a repository, tag or digest.
std::string exemption_list_path(const std::optional<ExemptionScope>& scope);

// Returns the exemptions, read from exemption_list_path(scope), that
// exemption-list shows for `scope`. For a namespace these are the
// account's and the namespace's. For a repository, tag or digest,
// exemptions scoped to a tag are left out unless `scope` is that tag.
nlohmann::json exemptions_for_scope(const nlohmann::json& exemptions, const ExemptionScope& scope);

// Returns the Scope cell of an Exemption: "*" for the account, else
// "DOMAIN/ns", "DOMAIN/ns/repo", "DOMAIN/ns/repo:tag" or "DOMAIN/ns/repo@sha256:<hex>".
std::string exemption_scope_text(const nlohmann::json& exemption, std::string_view domain);

// One row of exemption-list.
struct ExemptionRow {
  std::string scope;
  std::string issue_type;
  std::string issue_id;
};
// Returns the rows of an [Exemption] array, sorted by scope, type and ID.
std::vector<ExemptionRow> exemption_rows(const nlohmann::json& exemptions, std::string_view domain);

// --- info --------------------------------------------------------------------

// Returns the "Vulnerability advisories" line of info from the "va" object
// of /api/v1/info: "imported TIME (N advisories: debian:12, ...)", or
// "none imported" with the command that imports them.
std::string advisories_summary(const nlohmann::json& va);

}  // namespace berth::cli
