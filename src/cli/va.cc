#include "cli/va.h"

#include "cli/client.h"
#include "cli/images.h"
#include "cli/output.h"
#include "core/time.h"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <tuple>

namespace berth::cli {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

std::string text_field(const json& object, const char* name) {
  if (!object.is_object()) return "";
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

std::int64_t integer_field(const json& object, const char* name) {
  if (!object.is_object()) return 0;
  auto it = object.find(name);
  return it != object.end() && it->is_number() ? it->get<std::int64_t>() : 0;
}

bool bool_field(const json& object, const char* name) {
  if (!object.is_object()) return false;
  auto it = object.find(name);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

// Returns the array `object[name]`, or an empty array when it is missing.
const json& array_field(const json& object, const char* name) {
  static const json kEmpty = json::array();
  if (!object.is_object()) return kEmpty;
  auto it = object.find(name);
  return it != object.end() && it->is_array() ? *it : kEmpty;
}

std::string join(const std::vector<std::string>& items, const char* separator) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : separator) + item;
  return text;
}

void add_unique(std::vector<std::string>& items, const std::string& item) {
  if (!item.empty() && std::find(items.begin(), items.end(), item) == items.end()) items.push_back(item);
}

bool is_exempt(const json& vulnerability) {
  return bool_field(vulnerability, "cve_exempt") || text_field(vulnerability, "exempt_status") == "exempt";
}

// "debian 12 (bookworm)" from os_distribution; empty when it names no distribution.
std::string distribution_text(const json& report) {
  auto it = report.find("os_distribution");
  if (it == report.end() || !it->is_object()) return "";
  std::string text = text_field(*it, "distribution_id");
  if (text.empty()) return "";
  std::string version = text_field(*it, "version_id");
  if (!version.empty()) text += " " + version;
  std::string code_name = text_field(*it, "version_code_name");
  if (!code_name.empty()) text += " (" + code_name + ")";
  return text;
}

// Writes "Status: WARN" and a "Reason: ..." line for each line of the
// report's reason, because the server puts one cause on each line.
void print_status(std::ostream& out, const json& report) {
  out << "Status: " << text_field(report, "status") << '\n';
  std::istringstream reasons(text_field(report, "reason"));
  for (std::string reason; std::getline(reasons, reason);) {
    while (!reason.empty() && (reason.back() == '.' || reason.back() == ' ')) reason.pop_back();
    if (!reason.empty()) out << "Reason: " << reason << '\n';
  }
}

void print_vulnerabilities(std::ostream& out, const json& report, bool extended) {
  const json& vulnerabilities = array_field(report, "vulnerabilities");
  if (vulnerabilities.empty()) {
    out << "No vulnerable packages were found.\n";
    return;
  }
  out << "Vulnerable Packages Found\n";
  if (!extended) {
    Table table({"Vulnerability ID", "Policy Status", "Affected Packages", "How to Resolve"});
    for (const auto& vulnerability : vulnerabilities) {
      std::vector<std::string> packages;
      std::vector<std::string> actions;
      for (const auto& notice : array_field(vulnerability, "security_notices")) {
        for (const auto& package : array_field(notice, "vulnerable_packages")) {
          add_unique(packages, text_field(package, "package_name"));
          add_unique(actions, text_field(package, "corrective_action"));
        }
      }
      std::string policy = policy_status_text(text_field(vulnerability, "exempt_status"));
      table.add_row({text_field(vulnerability, "cve_id"), policy, join(packages, ", "), join(actions, "; ")});
    }
    table.print(out);
    return;
  }
  // One row per package of each security notice. A notice is Exempt when
  // it or its CVE is exempt, and Active otherwise.
  Table table({"Vulnerability ID", "Policy Status", "Security Notice", "Affected Packages", "Installed Version",
               "Fixed Version", "How to Resolve"});
  for (const auto& vulnerability : vulnerabilities) {
    std::string cve_id = text_field(vulnerability, "cve_id");
    for (const auto& notice : array_field(vulnerability, "security_notices")) {
      std::string policy = is_exempt(vulnerability) || bool_field(notice, "notice_exempt") ? "Exempt" : "Active";
      std::string notice_id = text_field(notice, "notice_id");
      const json& packages = array_field(notice, "vulnerable_packages");
      if (packages.empty()) table.add_row({cve_id, policy, notice_id});
      for (const auto& package : packages) {
        table.add_row({cve_id, policy, notice_id, text_field(package, "package_name"),
                       text_field(package, "installed_version"), text_field(package, "fix_version"),
                       text_field(package, "corrective_action")});
      }
    }
  }
  table.print(out);
}

void print_configuration_issues(std::ostream& out, const json& report) {
  std::size_t count = array_field(report, "configuration_issues").size();
  if (count == 0) {
    out << "No configuration issues were found. Berth does not check image configuration.\n";
    return;
  }
  out << count << (count == 1 ? " configuration issue was" : " configuration issues were")
      << " found. Run the command with --output json to see them.\n";
}

}  // namespace

// --- Security status of listings --------------------------------------------

std::string security_status_text(const SecurityStatus& status) {
  if (status.status == "UNSCANNED") return "Scanning";
  if (status.status == "UNSUPPORTED") return "Unsupported OS";
  if (status.issue_count > 0) {
    return std::to_string(status.issue_count) + (status.issue_count == 1 ? " Issue" : " Issues");
  }
  if (status.status == "OK" || status.status == "WARN") return "No Issues";
  if (status.status == "INCOMPLETE") return "Incomplete";
  return status.status;
}

std::optional<SecurityStatus> image_security_status(const json& image) {
  if (!image.is_object()) return std::nullopt;
  auto it = image.find("SecurityStatus");
  if (it == image.end() || !it->is_object()) return std::nullopt;
  return SecurityStatus{text_field(*it, "Status"), integer_field(*it, "IssueCount"),
                        integer_field(*it, "ExemptionCount")};
}

std::optional<SecurityStatus> tag_security_status(const json& tag_report) {
  if (!tag_report.is_object() || !tag_report.contains("status")) return std::nullopt;
  return SecurityStatus{text_field(tag_report, "status"), integer_field(tag_report, "issueCount"),
                        integer_field(tag_report, "exemptIssueCount")};
}

// --- va ----------------------------------------------------------------------

ReportOptions report_options(bool extended, bool vulnerabilities_flag, bool configuration_issues_flag) {
  ReportOptions options;
  options.extended = extended;
  options.vulnerabilities = vulnerabilities_flag || !configuration_issues_flag;
  options.configuration_issues = configuration_issues_flag;
  return options;
}

std::string issue_count_text(std::int64_t count) {
  if (count <= 0) return "NO ISSUES";
  return std::to_string(count) + (count == 1 ? " ISSUE" : " ISSUES");
}

std::string policy_status_text(std::string_view exempt_status) {
  if (exempt_status == "exempt") return "Exempt";
  if (exempt_status == "partial") return "Partial";
  return "Active";
}

std::int64_t active_vulnerability_count(const json& report) {
  const json& vulnerabilities = array_field(report, "vulnerabilities");
  return std::count_if(vulnerabilities.begin(), vulnerabilities.end(), [](const json& v) { return !is_exempt(v); });
}

std::int64_t exempt_vulnerability_count(const json& report) {
  const json& vulnerabilities = array_field(report, "vulnerabilities");
  return std::count_if(vulnerabilities.begin(), vulnerabilities.end(), [](const json& v) { return is_exempt(v); });
}

std::string report_text(const json& report, const std::string& image, const ReportOptions& options) {
  std::ostringstream out;
  std::string status = text_field(report, "status");
  std::int64_t scan_time = integer_field(report, "scan_time");
  if (status == "UNSCANNED") {
    out << "Image '" << image << "' has not been scanned yet. Try again later.\n";
    return out.str();
  }
  if (scan_time > 0) {
    out << "Image '" << image << "' was last scanned on " << core::format_utc(scan_time, "%Y-%m-%d %H:%M:%S UTC")
        << ".\n";
  }
  if (status == "UNSUPPORTED") {
    print_status(out, report);
    out << "The image was not checked for vulnerabilities, because Berth does not read its operating system or "
           "package database.\n";
    return out.str();
  }

  std::int64_t active = active_vulnerability_count(report);
  if (options.configuration_issues) {
    active += static_cast<std::int64_t>(array_field(report, "configuration_issues").size());
  }
  out << "The scan results show that " << issue_count_text(active) << (active == 1 ? " was" : " were")
      << " found for the image.\n";
  std::int64_t exempt = exempt_vulnerability_count(report);
  if (exempt > 0) {
    out << exempt << (exempt == 1 ? " more issue is exempt and does" : " more issues are exempt and do")
        << " not count.\n";
  }
  print_status(out, report);
  std::string distribution = distribution_text(report);
  if (!distribution.empty()) out << "Operating system: " << distribution << '\n';

  if (options.vulnerabilities) {
    out << '\n';
    print_vulnerabilities(out, report, options.extended);
  }
  if (options.configuration_issues) {
    out << '\n';
    print_configuration_issues(out, report);
  }
  return out.str();
}

ordered_json report_output(const json& report, const std::string& image, const ReportOptions& options) {
  ordered_json output;
  output["image"] = image;
  output["status"] = text_field(report, "status");
  // The reason for a status other than OK or FAIL, and the digest that was
  // assessed (for an index, its linux/amd64 image), for pipelines to report.
  output["reason"] = text_field(report, "reason");
  output["digest"] = text_field(report, "digest");
  output["scan_time"] = integer_field(report, "scan_time");
  auto distribution = report.find("os_distribution");
  output["os_distribution"] = distribution != report.end() && distribution->is_object()
                                  ? ordered_json::parse(distribution->dump())
                                  : ordered_json::object();
  if (options.vulnerabilities) output["vulnerabilities"] = array_field(report, "vulnerabilities");
  if (options.configuration_issues) output["configuration_issues"] = array_field(report, "configuration_issues");
  return output;
}

// --- Exemptions --------------------------------------------------------------

ExemptionScope parse_exemption_scope(std::string_view scope, std::string_view domain) {
  if (scope.empty()) {
    throw Failure("--scope is empty. Give '*' for the whole account, or a namespace, NAMESPACE/REPOSITORY, "
                  "NAMESPACE/REPOSITORY:TAG or NAMESPACE/REPOSITORY@DIGEST.");
  }
  ExemptionScope parsed;
  if (scope == "*") {
    parsed.account = true;
    return parsed;
  }
  ImageName name = parse_image_name(scope);
  if (!name.domain.empty() && name.domain != domain) {
    throw Failure("The scope '" + std::string(scope) + "' names the registry '" + name.domain +
                  "', but berth targets '" + std::string(domain) +
                  "'. Leave the registry out, or run 'berth region-set' to target it.");
  }
  if (name.repository.empty() || (name.repository.find('/') == std::string::npos &&
                                  (!name.tag.empty() || !name.digest.empty()))) {
    throw Failure("The scope '" + std::string(scope) + "' is not valid. Give '*' for the whole account, or NAMESPACE, "
                  "NAMESPACE/REPOSITORY, NAMESPACE/REPOSITORY:TAG or NAMESPACE/REPOSITORY@DIGEST.");
  }
  parsed.repository = name.repository;
  parsed.tag = name.tag;
  parsed.digest = name.digest;
  parsed.resource = name.repository;
  if (!name.tag.empty()) parsed.resource += ":" + name.tag;
  if (!name.digest.empty()) parsed.resource += "@" + name.digest;
  return parsed;
}

std::string parse_issue_type(std::string_view issue_type) {
  std::string lower(issue_type);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower != "cve" && lower != "sn") {
    throw Failure("The issue type '" + std::string(issue_type) + "' is not valid. Give cve or sn; run "
                  "'berth exemption-types' to list the types.");
  }
  return lower;
}

std::string exemption_path(const ExemptionScope& scope, std::string_view issue_type, std::string_view issue_id) {
  std::string path = std::string(kVaApi) + "/exempt/image/";
  if (!scope.account) path += ApiClient::escape(scope.resource) + "/";
  return path + "issue/" + ApiClient::escape(issue_type) + "/" + ApiClient::escape(issue_id);
}

namespace {

bool is_namespace_scope(const ExemptionScope& scope) {
  return !scope.account && scope.repository.find('/') == std::string::npos;
}

}  // namespace

std::string exemption_list_path(const std::optional<ExemptionScope>& scope) {
  // exemptions/image/{name} takes an image, so a namespace's list is
  // filtered from the account's.
  if (!scope || is_namespace_scope(*scope)) return std::string(kVaApi) + "/exemptions/account";
  if (scope->account) return std::string(kVaApi) + "/exempt/image";
  return std::string(kVaApi) + "/exemptions/image/" + ApiClient::escape(scope->resource);
}

json exemptions_for_scope(const json& exemptions, const ExemptionScope& scope) {
  json applying = json::array();
  if (!exemptions.is_array()) return applying;
  for (const auto& exemption : exemptions) {
    const json& exemption_scope = exemption.is_object() && exemption.contains("scope") ? exemption["scope"] : json();
    std::string type = text_field(exemption_scope, "scope_type");
    std::string ns = text_field(exemption_scope, "namespace");
    std::string tag = text_field(exemption_scope, "tag");
    if (is_namespace_scope(scope)) {
      bool applies = type == "account" || (type == "namespace" && ns == scope.repository);
      if (!applies) continue;
    } else if (type == "image" && !tag.empty()) {
      if (scope.tag != tag || scope.repository != ns + "/" + text_field(exemption_scope, "repository")) continue;
    }
    applying.push_back(exemption);
  }
  return applying;
}

std::string exemption_scope_text(const json& exemption, std::string_view domain) {
  const json& scope = exemption.is_object() && exemption.contains("scope") ? exemption["scope"] : json();
  std::string type = text_field(scope, "scope_type");
  if (type == "account" || type.empty()) return "*";
  // Appended piece by piece: GCC 12 reports a false -Wrestrict overlap
  // for `text += "/" + ...` at -O3.
  std::string text(domain);
  text.append("/").append(text_field(scope, "namespace"));
  if (type == "namespace") return text;
  text.append("/").append(text_field(scope, "repository"));
  std::string tag = text_field(scope, "tag");
  std::string digest = text_field(scope, "digest");
  if (!tag.empty()) text.append(":").append(tag);
  if (!digest.empty()) text.append("@").append(digest);
  return text;
}

std::vector<ExemptionRow> exemption_rows(const json& exemptions, std::string_view domain) {
  std::vector<ExemptionRow> rows;
  if (!exemptions.is_array()) return rows;
  for (const auto& exemption : exemptions) {
    if (!exemption.is_object()) continue;
    rows.push_back({exemption_scope_text(exemption, domain), text_field(exemption, "issue_type"),
                    text_field(exemption, "issue_id")});
  }
  std::sort(rows.begin(), rows.end(), [](const ExemptionRow& a, const ExemptionRow& b) {
    return std::tie(a.scope, a.issue_type, a.issue_id) < std::tie(b.scope, b.issue_type, b.issue_id);
  });
  return rows;
}

// --- info --------------------------------------------------------------------

std::string advisories_summary(const json& va) {
  const json& advisories = va.is_object() && va.contains("advisories") ? va["advisories"] : json();
  std::string imported_at = text_field(advisories, "imported_at");
  if (imported_at.empty()) return "none imported (an operator imports them with 'berthd admin va-import')";
  std::int64_t count = integer_field(advisories, "count");
  std::vector<std::string> ecosystems;
  for (const auto& ecosystem : array_field(advisories, "ecosystems")) {
    if (ecosystem.is_string()) ecosystems.push_back(ecosystem.get<std::string>());
  }
  return "imported " + imported_at + " (" + std::to_string(count) + (count == 1 ? " advisory" : " advisories") +
         (ecosystems.empty() ? "" : ": " + join(ecosystems, ", ")) + ")";
}

}  // namespace berth::cli
