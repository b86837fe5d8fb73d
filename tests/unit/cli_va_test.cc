#include "cli/images.h"
#include "cli/output.h"
#include "cli/va.h"

#include <gmock/gmock.h>

namespace berth::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using nlohmann::json;

const std::string kDigest = "sha256:" + std::string(64, 'c');

std::string failure_message(auto&& call) {
  try {
    call();
  } catch (const Failure& failure) {
    return failure.what();
  }
  return "";
}

std::string render(const gotemplate::Value& value, const std::string& format) {
  return gotemplate::Template::parse(format).execute(value);
}

// A ScanReport as GET /va/api/v4/report/image/{name} returns it: one
// active CVE with one notice and one exempt CVE with two notices.
json failing_report() {
  return json::parse(R"({
    "id": "127.0.0.1:5000/team1/vulnerable:latest",
    "digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
    "scan_time": 1700000000,
    "status": "FAIL",
    "reason": "",
    "os_distribution": {"distribution_id": "debian", "version_id": "12", "version_code_name": "bookworm"},
    "vulnerabilities": [
      {"cve_id": "CVE-2022-40674", "summary": "use-after-free in expat", "cve_exempt": false,
       "exempt_status": "active",
       "security_notices": [
         {"notice_id": "DEBIAN-CVE-2022-40674", "notice": "use-after-free in expat",
          "summary": "use-after-free in expat", "notice_exempt": false,
          "vulnerable_packages": [
            {"package_name": "libexpat1", "installed_version": "2.2.10-2+deb11u5", "fix_version": "2.4.9-1",
             "description": "", "corrective_action": "Upgrade libexpat1 to at least 2.4.9-1"}]}],
       "security_notice_count": 1, "exempt_security_notice_count": 0, "total_security_notice_count": 1},
      {"cve_id": "CVE-2023-0001", "summary": "two notices", "cve_exempt": true, "exempt_status": "exempt",
       "security_notices": [
         {"notice_id": "DSA-1-1", "notice": "n1", "summary": "n1", "notice_exempt": true,
          "vulnerable_packages": [
            {"package_name": "zlib1g", "installed_version": "1:1.2.13.dfsg-1", "fix_version": "1:1.2.13.dfsg-2",
             "description": "", "corrective_action": "Upgrade zlib1g to at least 1:1.2.13.dfsg-2"},
            {"package_name": "libssl3", "installed_version": "3.0.9-1", "fix_version": "3.0.11-1",
             "description": "", "corrective_action": "Upgrade libssl3 to at least 3.0.11-1"}]},
         {"notice_id": "DEBIAN-CVE-2023-0001", "notice": "n2", "summary": "n2", "notice_exempt": true,
          "vulnerable_packages": [
            {"package_name": "zlib1g", "installed_version": "1:1.2.13.dfsg-1", "fix_version": "1:1.2.13.dfsg-2",
             "description": "", "corrective_action": "Upgrade zlib1g to at least 1:1.2.13.dfsg-2"}]}],
       "security_notice_count": 0, "exempt_security_notice_count": 2, "total_security_notice_count": 2}],
    "configuration_issues": []
  })");
}

// The lines of `text`, for checks on whole lines.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// --- Security status of listings ---------------------------------------------

TEST(SecurityStatusText, MapsStatusesAndCounts) {
  EXPECT_EQ(security_status_text({"OK", 0, 0}), "No Issues");
  EXPECT_EQ(security_status_text({"OK", 0, 3}), "No Issues");
  EXPECT_EQ(security_status_text({"WARN", 0, 0}), "No Issues");
  EXPECT_EQ(security_status_text({"FAIL", 1, 0}), "1 Issue");
  EXPECT_EQ(security_status_text({"FAIL", 3, 1}), "3 Issues");
  EXPECT_EQ(security_status_text({"UNSCANNED", 0, 0}), "Scanning");
  EXPECT_EQ(security_status_text({"UNSUPPORTED", 0, 0}), "Unsupported OS");
  EXPECT_EQ(security_status_text({"INCOMPLETE", 0, 0}), "Incomplete");
  EXPECT_EQ(security_status_text({"INCOMPLETE", 2, 0}), "2 Issues");
  EXPECT_EQ(security_status_text({"", 0, 0}), "");
}

TEST(ImageSecurityStatus, ReadsTheListingObject) {
  auto status = image_security_status(json{{"SecurityStatus", {{"Status", "FAIL"}, {"IssueCount", 2}, {"ExemptionCount", 1}}}});
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->status, "FAIL");
  EXPECT_EQ(status->issue_count, 2);
  EXPECT_EQ(status->exemption_count, 1);
  EXPECT_FALSE(image_security_status(json{{"Id", kDigest}}).has_value());
}

TEST(TagSecurityStatus, ReadsDigestListingCounts) {
  auto status = tag_security_status(json{{"configurationIssueCount", 0}, {"exemptIssueCount", 1}, {"issueCount", 4},
                                         {"vulnerabilityCount", 4}, {"vulnerable", true}, {"status", "FAIL"}});
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->status, "FAIL");
  EXPECT_EQ(status->issue_count, 4);
  EXPECT_EQ(status->exemption_count, 1);
  // With exclude_va the tag entries are empty objects.
  EXPECT_FALSE(tag_security_status(json::object()).has_value());
}

TEST(ImageRows, CarrySecurityStatusIntoTemplates) {
  json images = json::parse(R"([{"Id": "sha256:cc", "RepoTags": ["127.0.0.1:5000/team1/app:v1"], "Created": 1,
    "Size": 10, "ManifestType": "OCI Image Manifest v1",
    "SecurityStatus": {"Status": "FAIL", "IssueCount": 1, "ExemptionCount": 2}}])");
  std::vector<ImageRow> rows = image_rows(images);
  ASSERT_EQ(rows.size(), 1u);
  ASSERT_TRUE(rows[0].security_status.has_value());
  EXPECT_EQ(render(template_value(rows[0]),
                   "{{.SecurityStatus.Status}}|{{.SecurityStatus.IssueCount}}|{{.SecurityStatus.ExemptionCount}}"),
            "1 Issue|1|2");

  images[0].erase("SecurityStatus");
  rows = image_rows(images);
  EXPECT_FALSE(rows[0].security_status.has_value());
  EXPECT_EQ(render(template_value(rows[0]), "[{{.SecurityStatus.Status}}]{{.SecurityStatus.IssueCount}}"), "[]0");
}

TEST(DigestRows, TakeTheFirstTagsStatus) {
  json digests = json::parse(R"([{"id": "sha256:cc", "created": 1, "size": 10, "manifestType": "OCI Image Manifest v1",
    "repoTags": {
      "127.0.0.1:5000/team1/app": {
        "v2": {"status": "UNSUPPORTED", "issueCount": 0, "exemptIssueCount": 0},
        "v1": {"status": "UNSUPPORTED", "issueCount": 0, "exemptIssueCount": 0}},
      "127.0.0.1:5000/team1/untagged": {}}}])");
  std::vector<DigestRow> rows = digest_rows(digests);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].repository, "127.0.0.1:5000/team1/app");
  ASSERT_TRUE(rows[0].security_status.has_value());
  EXPECT_EQ(render(template_value(rows[0]), "{{.SecurityStatus.Status}}"), "Unsupported OS");
  EXPECT_FALSE(rows[1].security_status.has_value());
}

// --- va --------------------------------------------------------------------------

TEST(IssueCountText, SingularAndPlural) {
  EXPECT_EQ(issue_count_text(0), "NO ISSUES");
  EXPECT_EQ(issue_count_text(1), "1 ISSUE");
  EXPECT_EQ(issue_count_text(3), "3 ISSUES");
}

TEST(PolicyStatusText, MapsExemptStatus) {
  EXPECT_EQ(policy_status_text("active"), "Active");
  EXPECT_EQ(policy_status_text("exempt"), "Exempt");
  EXPECT_EQ(policy_status_text("partial"), "Partial");
}

TEST(ReportOptions, CombinesFlags) {
  ReportOptions neither = report_options(false, false, false);
  EXPECT_TRUE(neither.vulnerabilities);
  EXPECT_FALSE(neither.configuration_issues);
  ReportOptions only_configuration = report_options(false, false, true);
  EXPECT_FALSE(only_configuration.vulnerabilities);
  EXPECT_TRUE(only_configuration.configuration_issues);
  ReportOptions both = report_options(true, true, true);
  EXPECT_TRUE(both.vulnerabilities);
  EXPECT_TRUE(both.configuration_issues);
  EXPECT_TRUE(both.extended);
}

TEST(ReportCounts, SeparateActiveAndExempt) {
  EXPECT_EQ(active_vulnerability_count(failing_report()), 1);
  EXPECT_EQ(exempt_vulnerability_count(failing_report()), 1);
  EXPECT_EQ(active_vulnerability_count(json::object()), 0);
}

TEST(ReportText, FailingImageTable) {
  std::string image = "127.0.0.1:5000/team1/vulnerable:latest";
  std::vector<std::string> lines = lines_of(report_text(failing_report(), image, report_options(false, false, false)));
  EXPECT_THAT(lines, ElementsAre("Image '" + image + "' was last scanned on 2023-11-14 22:13:20 UTC.",
                                 "The scan results show that 1 ISSUE was found for the image.",
                                 "1 more issue is exempt and does not count.",
                                 "Status: FAIL",
                                 "Operating system: debian 12 (bookworm)",
                                 "",
                                 "Vulnerable Packages Found",
                                 "Vulnerability ID   Policy Status   Affected Packages   How to Resolve",
                                 "CVE-2022-40674     Active          libexpat1           "
                                 "Upgrade libexpat1 to at least 2.4.9-1",
                                 "CVE-2023-0001      Exempt          zlib1g, libssl3     "
                                 "Upgrade zlib1g to at least 1:1.2.13.dfsg-2; Upgrade libssl3 to at least 3.0.11-1"));
}

TEST(ReportText, ExtendedRowsPerPackage) {
  std::string text = report_text(failing_report(), "img", report_options(true, false, false));
  EXPECT_THAT(text, HasSubstr("Vulnerability ID   Policy Status   Security Notice         Affected Packages   "
                              "Installed Version   Fixed Version     How to Resolve\n"));
  EXPECT_THAT(text, HasSubstr("CVE-2022-40674     Active          DEBIAN-CVE-2022-40674   libexpat1           "
                              "2.2.10-2+deb11u5    2.4.9-1           Upgrade libexpat1 to at least 2.4.9-1\n"));
  EXPECT_THAT(text, HasSubstr("CVE-2023-0001      Exempt          DSA-1-1                 libssl3             "
                              "3.0.9-1             3.0.11-1          Upgrade libssl3 to at least 3.0.11-1\n"));
  // Four packages under three notices: one row each, and the header.
  std::vector<std::string> lines = lines_of(text);
  auto header = std::find_if(lines.begin(), lines.end(), [](const std::string& l) { return l.starts_with("Vulnerability ID"); });
  ASSERT_NE(header, lines.end());
  EXPECT_EQ(lines.end() - header - 1, 4);
}

TEST(ReportText, PluralAndNoIssues) {
  json report = failing_report();
  report["vulnerabilities"][1]["cve_exempt"] = false;
  report["vulnerabilities"][1]["exempt_status"] = "partial";
  std::string text = report_text(report, "img", report_options(false, false, false));
  EXPECT_THAT(text, HasSubstr("The scan results show that 2 ISSUES were found for the image.\n"));
  EXPECT_THAT(text, HasSubstr("CVE-2023-0001      Partial"));
  EXPECT_THAT(text, Not(HasSubstr("exempt and")));

  json warn = {{"status", "WARN"}, {"scan_time", 1700000000}, {"reason", "no advisories for debian:13 are imported"},
               {"vulnerabilities", json::array()}, {"configuration_issues", json::array()}};
  text = report_text(warn, "img", report_options(false, false, false));
  EXPECT_THAT(text, HasSubstr("The scan results show that NO ISSUES were found for the image.\n"));
  EXPECT_THAT(text, HasSubstr("Status: WARN\nReason: no advisories for debian:13 are imported\n"));
  EXPECT_THAT(text, HasSubstr("No vulnerable packages were found.\n"));
  EXPECT_THAT(text, Not(HasSubstr("Vulnerable Packages Found")));
}

TEST(ReportText, UnsupportedImageHasNoCount) {
  json report = {{"status", "UNSUPPORTED"}, {"scan_time", 1700000000},
                 {"reason", "no os-release file was found\nno package database that Berth reads was found."},
                 {"vulnerabilities", json::array()}};
  std::string text = report_text(report, "img", report_options(false, false, false));
  EXPECT_THAT(text, HasSubstr("Status: UNSUPPORTED\nReason: no os-release file was found\n"
                              "Reason: no package database that Berth reads was found\n"));
  EXPECT_THAT(text, HasSubstr("was not checked for vulnerabilities"));
  EXPECT_THAT(text, Not(HasSubstr("ISSUES")));
}

TEST(ReportText, ConfigurationIssuesOnlyWithC) {
  std::string text = report_text(failing_report(), "img", report_options(false, false, true));
  EXPECT_THAT(text, HasSubstr("No configuration issues were found."));
  EXPECT_THAT(text, Not(HasSubstr("Vulnerable Packages Found")));
  text = report_text(failing_report(), "img", report_options(false, false, false));
  EXPECT_THAT(text, Not(HasSubstr("configuration issues")));
}

std::vector<std::string> keys_of(const nlohmann::ordered_json& object) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.push_back(key);
  return keys;
}

TEST(ReportOutput, ShapeFollowsFlags) {
  json report = failing_report();
  nlohmann::ordered_json output = report_output(report, "127.0.0.1:5000/team1/vulnerable:latest",
                                                report_options(false, false, false));
  EXPECT_THAT(keys_of(output),
              ElementsAre("image", "status", "reason", "digest", "scan_time", "os_distribution", "vulnerabilities"));
  EXPECT_EQ(output["image"], "127.0.0.1:5000/team1/vulnerable:latest");
  EXPECT_EQ(output["status"], "FAIL");
  EXPECT_EQ(output["scan_time"], 1700000000);
  EXPECT_EQ(output["os_distribution"]["version_code_name"], "bookworm");
  EXPECT_EQ(json::parse(output["vulnerabilities"].dump()), report["vulnerabilities"]);

  EXPECT_THAT(keys_of(report_output(report, "x", report_options(false, true, true))),
              ElementsAre("image", "status", "reason", "digest", "scan_time", "os_distribution", "vulnerabilities",
                          "configuration_issues"));
  EXPECT_THAT(keys_of(report_output(report, "x", report_options(false, false, true))),
              ElementsAre("image", "status", "reason", "digest", "scan_time", "os_distribution",
                          "configuration_issues"));
}

// --- Exemptions ------------------------------------------------------------------

TEST(ParseExemptionScope, AccountNamespaceRepositoryTagDigest) {
  ExemptionScope account = parse_exemption_scope("*", "127.0.0.1:5000");
  EXPECT_TRUE(account.account);
  EXPECT_EQ(account.resource, "");

  ExemptionScope ns = parse_exemption_scope("team1", "127.0.0.1:5000");
  EXPECT_FALSE(ns.account);
  EXPECT_EQ(ns.resource, "team1");

  ExemptionScope repository = parse_exemption_scope("127.0.0.1:5000/team1/app", "127.0.0.1:5000");
  EXPECT_EQ(repository.resource, "team1/app");
  EXPECT_EQ(repository.tag, "");

  ExemptionScope tag = parse_exemption_scope("127.0.0.1:5000/team1/app:v1", "127.0.0.1:5000");
  EXPECT_EQ(tag.resource, "team1/app:v1");
  EXPECT_EQ(tag.repository, "team1/app");
  EXPECT_EQ(tag.tag, "v1");

  ExemptionScope digest = parse_exemption_scope("team1/app@" + kDigest, "127.0.0.1:5000");
  EXPECT_EQ(digest.resource, "team1/app@" + kDigest);
  EXPECT_EQ(digest.digest, kDigest);
}

TEST(ParseExemptionScope, RejectsOtherRegistryAndBadForms) {
  EXPECT_THAT(failure_message([] { parse_exemption_scope("us.icr.io/team1/app", "127.0.0.1:5000"); }),
              HasSubstr("names the registry 'us.icr.io', but berth targets '127.0.0.1:5000'"));
  EXPECT_THAT(failure_message([] { parse_exemption_scope("team1:v1", "127.0.0.1:5000"); }),
              HasSubstr("The scope 'team1:v1' is not valid"));
  EXPECT_THAT(failure_message([] { parse_exemption_scope("", "127.0.0.1:5000"); }), HasSubstr("--scope is empty"));
}

TEST(ParseIssueType, AcceptsCveAndSn) {
  EXPECT_EQ(parse_issue_type("cve"), "cve");
  EXPECT_EQ(parse_issue_type("CVE"), "cve");
  EXPECT_EQ(parse_issue_type("sn"), "sn");
  EXPECT_THAT(failure_message([] { parse_issue_type("configuration"); }),
              HasSubstr("The issue type 'configuration' is not valid"));
}

TEST(ExemptionPath, MapsScopeAndEncodes) {
  ExemptionScope account = parse_exemption_scope("*", "d:1");
  EXPECT_EQ(exemption_path(account, "cve", "CVE-2022-40674"), "/va/api/v4/exempt/image/issue/cve/CVE-2022-40674");
  EXPECT_EQ(exemption_path(parse_exemption_scope("team1", "d:1"), "cve", "CVE-2022-40674"),
            "/va/api/v4/exempt/image/team1/issue/cve/CVE-2022-40674");
  EXPECT_EQ(exemption_path(parse_exemption_scope("d:1/team1/app:v1", "d:1"), "sn", "DSA-5236-1"),
            "/va/api/v4/exempt/image/team1%2Fapp%3Av1/issue/sn/DSA-5236-1");
  EXPECT_EQ(exemption_path(parse_exemption_scope("team1/app@" + kDigest, "d:1"), "sn", "RHSA-2023:1 x"),
            "/va/api/v4/exempt/image/team1%2Fapp%40sha256%3A" + std::string(64, 'c') +
                "/issue/sn/RHSA-2023%3A1%20x");
}

TEST(ExemptionListPath, NoScopeAccountAndImage) {
  EXPECT_EQ(exemption_list_path(std::nullopt), "/va/api/v4/exemptions/account");
  EXPECT_EQ(exemption_list_path(parse_exemption_scope("*", "d:1")), "/va/api/v4/exempt/image");
  EXPECT_EQ(exemption_list_path(parse_exemption_scope("team1", "d:1")), "/va/api/v4/exemptions/account");
  EXPECT_EQ(exemption_list_path(parse_exemption_scope("team1/app:v1", "d:1")),
            "/va/api/v4/exemptions/image/team1%2Fapp%3Av1");
}

json exemption(const std::string& type, const std::string& ns, const std::string& repository, const std::string& tag,
               const std::string& digest, const std::string& issue_id = "CVE-2022-40674") {
  return {{"account_id", "acct"},
          {"issue_type", "cve"},
          {"issue_id", issue_id},
          {"scope", {{"scope_type", type}, {"namespace", ns}, {"repository", repository}, {"tag", tag}, {"digest", digest}}},
          {"created_at", "2024-01-01T00:00:00Z"}};
}

TEST(ExemptionsForScope, LeaveOutOtherTags) {
  json exemptions = json::array({exemption("account", "", "", "", ""), exemption("namespace", "team1", "", "", ""),
                                 exemption("repository", "team1", "app", "", ""),
                                 exemption("image", "team1", "app", "", kDigest),
                                 exemption("image", "team1", "app", "latest", "")});
  json for_repository = exemptions_for_scope(exemptions, parse_exemption_scope("team1/app", "d:1"));
  ASSERT_EQ(for_repository.size(), 4u);
  EXPECT_EQ(for_repository[3]["scope"]["digest"], kDigest);

  json for_tag = exemptions_for_scope(exemptions, parse_exemption_scope("team1/app:latest", "d:1"));
  EXPECT_EQ(for_tag.size(), 5u);
  json for_other_tag = exemptions_for_scope(exemptions, parse_exemption_scope("team1/app:v2", "d:1"));
  EXPECT_EQ(for_other_tag.size(), 4u);
}

TEST(ExemptionsForScope, NamespaceKeepsAccountAndNamespace) {
  json exemptions = json::array({exemption("account", "", "", "", ""), exemption("namespace", "team1", "", "", ""),
                                 exemption("namespace", "team2", "", "", ""),
                                 exemption("repository", "team1", "app", "", ""),
                                 exemption("image", "team1", "app", "latest", "")});
  json applying = exemptions_for_scope(exemptions, parse_exemption_scope("team1", "d:1"));
  ASSERT_EQ(applying.size(), 2u);
  EXPECT_EQ(applying[0]["scope"]["scope_type"], "account");
  EXPECT_EQ(applying[1]["scope"]["namespace"], "team1");
}

TEST(ExemptionRows, ScopeTextAndOrder) {
  json exemptions = json::array({exemption("image", "team1", "app", "v1", "", "CVE-2023-2"),
                                 exemption("account", "", "", "", "", "CVE-2023-9"),
                                 exemption("image", "team1", "app", "", kDigest),
                                 exemption("namespace", "team1", "", "", ""),
                                 exemption("repository", "team1", "app", "", "")});
  std::vector<ExemptionRow> rows = exemption_rows(exemptions, "127.0.0.1:5000");
  std::vector<std::string> scopes;
  for (const auto& row : rows) scopes.push_back(row.scope);
  EXPECT_THAT(scopes, ElementsAre("*", "127.0.0.1:5000/team1", "127.0.0.1:5000/team1/app",
                                  "127.0.0.1:5000/team1/app:v1", "127.0.0.1:5000/team1/app@" + kDigest));
  EXPECT_EQ(rows[0].issue_type, "cve");
  EXPECT_EQ(rows[0].issue_id, "CVE-2023-9");
}

// --- info -----------------------------------------------------------------

TEST(AdvisoriesSummary, ImportedOrNone) {
  json va = {{"version", "v4"},
             {"advisories", {{"imported_at", "2024-05-01T10:00:00Z"}, {"count", 12}, {"ecosystems", {"alpine:3.19", "debian:12"}}}}};
  EXPECT_EQ(advisories_summary(va), "imported 2024-05-01T10:00:00Z (12 advisories: alpine:3.19, debian:12)");
  va["advisories"]["count"] = 1;
  va["advisories"]["ecosystems"] = json::array();
  EXPECT_EQ(advisories_summary(va), "imported 2024-05-01T10:00:00Z (1 advisory)");
  va["advisories"] = {{"imported_at", ""}, {"count", 0}, {"ecosystems", json::array()}};
  EXPECT_THAT(advisories_summary(va), HasSubstr("none imported"));
}

}  // namespace
}  // namespace berth::cli
