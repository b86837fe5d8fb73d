#include <gmock/gmock.h>

#include <algorithm>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "scan/assessment.h"
#include "scan/inventory.h"
#include "support/printers.h"

namespace berth::scan {
namespace {

using metadata::AdvisoryMatch;
using metadata::ExemptionRecord;
using metadata::InventoryRecord;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::string kDigest = "sha256:" + std::string(64, 'a');
constexpr std::int64_t kIndexedAt = 1733390000;

const ImageScope kImage{
    .account_id = "acct-1", .namespace_name = "team", .repository = "team/app", .tag = "1.0", .digest = kDigest};

std::string packages_json(const std::vector<Package>& packages) {
  json list = json::array();
  for (const Package& package : packages) {
    list.push_back({{"name", package.name},
                    {"version", package.version},
                    {"source", package.source},
                    {"source_version", package.source_version},
                    {"architecture", package.architecture}});
  }
  return list.dump();
}

InventoryRecord indexed(const std::string& os_id, const std::string& version_id, const std::string& format,
                        const std::vector<Package>& packages, const std::string& status = "complete") {
  return InventoryRecord{
      .digest = *core::Digest::parse(kDigest),
      .state = "indexed",
      .status = status,
      .reason = status == "complete" ? "" : "layer sha256:ab stops after 1048576 bytes: truncated gzip stream",
      .os_id = os_id,
      .os_version_id = version_id,
      .os_codename = os_id == "debian" ? "bookworm" : "",
      .os_name = os_id + " " + version_id,
      .package_format = format,
      .packages_json = packages_json(packages),
      .queued_at = kIndexedAt - 60,
      .indexed_at = kIndexedAt,
      .attempts = 1};
}

Package dpkg(const std::string& name, const std::string& version, const std::string& source,
             const std::string& source_version = "") {
  return Package{
      .name = name, .version = version, .source = source, .source_version = source_version, .architecture = "amd64"};
}

AdvisoryMatch advisory(const std::string& id, std::vector<std::string> cves, const std::string& ecosystem,
                       const std::string& package, const std::string& fixed, const std::string& introduced = "0") {
  return AdvisoryMatch{
      .id = id,
      .cves = std::move(cves),
      .summary = "summary of " + id,
      .affected = {.ecosystem = ecosystem, .package = package, .introduced = introduced, .fixed = fixed}};
}

// An advisory store in memory that returns matches as find_advisories
// does and records the last request.
class FakeAdvisories {
 public:
  explicit FakeAdvisories(std::vector<AdvisoryMatch> matches) : matches_(std::move(matches)) {}

  AdvisoryLookup lookup() {
    return [this](const std::string& ecosystem, const std::vector<std::string>& packages) {
      ++calls;
      requested_ecosystem = ecosystem;
      requested_packages = packages;
      std::vector<AdvisoryMatch> found;
      for (const AdvisoryMatch& match : matches_) {
        bool requested = std::find(packages.begin(), packages.end(), match.affected.package) != packages.end();
        if (match.affected.ecosystem == ecosystem && requested) found.push_back(match);
      }
      std::sort(found.begin(), found.end(), [](const AdvisoryMatch& a, const AdvisoryMatch& b) {
        return std::tie(a.affected.package, a.id) < std::tie(b.affected.package, b.id);
      });
      return found;
    };
  }

  int calls = 0;
  std::string requested_ecosystem;
  std::vector<std::string> requested_packages;

 private:
  std::vector<AdvisoryMatch> matches_;
};

// The fixture advisories for expat in Debian 12.
std::vector<AdvisoryMatch> expat_advisories() {
  return {advisory("DEBIAN-CVE-2022-40674", {"CVE-2022-40674"}, "debian:12", "expat", "2.4.9-1"),
          advisory("DSA-5242-1", {"CVE-2022-40674", "CVE-2022-43680"}, "debian:12", "expat", "2.5.0-1")};
}

// A bookworm image with bullseye's libexpat1, as the vulnerable fixture image.
InventoryRecord vulnerable_debian() {
  return indexed("debian", "12", "dpkg",
                 {dpkg("bash", "5.2.15-2+b2", "bash", "5.2.15-2"), dpkg("libexpat1", "2.2.10-2+deb11u5", "expat"),
                  dpkg("zlib1g", "1:1.2.13.dfsg-1", "zlib")});
}

const std::vector<std::string> kAllEcosystems = {"alpine:3.19", "debian:12", "rhel:9"};

ExemptionRecord exemption(const std::string& type, const std::string& id, const std::string& scope_type = "account") {
  return ExemptionRecord{.account_id = "acct-1", .issue_type = type, .issue_id = id, .scope_type = scope_type};
}

std::vector<std::string> cve_ids(const Assessment& assessment) {
  std::vector<std::string> ids;
  for (const Vulnerability& vulnerability : assessment.vulnerabilities) ids.push_back(vulnerability.cve_id);
  return ids;
}

std::vector<std::string> notice_ids(const Vulnerability& vulnerability) {
  std::vector<std::string> ids;
  for (const SecurityNotice& notice : vulnerability.notices) ids.push_back(notice.notice_id);
  return ids;
}

std::vector<std::string> package_names(const Assessment& assessment) {
  std::set<std::string> names;
  for (const Vulnerability& vulnerability : assessment.vulnerabilities) {
    for (const SecurityNotice& notice : vulnerability.notices) {
      for (const VulnerablePackage& package : notice.packages) names.insert(package.package_name);
    }
  }
  return {names.begin(), names.end()};
}

std::set<std::string> keys_of(const json& object) {
  std::set<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.insert(key);
  return keys;
}

// --- Statuses ------------------------------------------------------------------

TEST(Assessment, NoInventoryIsUnscanned) {
  FakeAdvisories advisories(expat_advisories());
  Assessment result = assess(std::nullopt, advisories.lookup(), kAllEcosystems, {}, kImage);
  EXPECT_EQ(result.status, "UNSCANNED");
  EXPECT_EQ(result.scan_time, 0);
  EXPECT_EQ(result.inventory.digest.str(), kDigest);
  EXPECT_THAT(result.vulnerabilities, IsEmpty());
  EXPECT_EQ(advisories.calls, 0);
}

TEST(Assessment, NoInventoryNeedsValidDigest) {
  FakeAdvisories advisories({});
  ImageScope image = kImage;
  image.digest = "";
  EXPECT_THROW(assess(std::nullopt, advisories.lookup(), kAllEcosystems, {}, image), std::invalid_argument);
}

TEST(Assessment, QueuedInventoryIsUnscanned) {
  FakeAdvisories advisories(expat_advisories());
  InventoryRecord queued{.digest = *core::Digest::parse(kDigest), .queued_at = kIndexedAt};
  Assessment result = assess(queued, advisories.lookup(), kAllEcosystems, {}, kImage);
  EXPECT_EQ(result.status, "UNSCANNED");
  EXPECT_EQ(result.scan_time, 0);
  EXPECT_EQ(advisories.calls, 0);
}

TEST(Assessment, UnsupportedInventory) {
  FakeAdvisories advisories(expat_advisories());
  InventoryRecord busybox = indexed("", "", "", {}, "unsupported");
  busybox.reason = "no OS release file was found";
  Assessment result = assess(busybox, advisories.lookup(), kAllEcosystems, {}, kImage);
  EXPECT_EQ(result.status, "UNSUPPORTED");
  EXPECT_EQ(result.reason, "no OS release file was found");
  EXPECT_EQ(result.scan_time, kIndexedAt);
  EXPECT_EQ(advisories.calls, 0);
}

TEST(Assessment, IncompleteWithoutVulnerability) {
  FakeAdvisories advisories(expat_advisories());
  InventoryRecord partial = indexed("debian", "12", "dpkg", {dpkg("zlib1g", "1:1.2.13.dfsg-1", "zlib")}, "incomplete");
  Assessment result = assess(partial, advisories.lookup(), kAllEcosystems, {}, kImage);
  EXPECT_EQ(result.status, "INCOMPLETE");
  EXPECT_THAT(result.reason, HasSubstr("truncated gzip stream"));
  EXPECT_EQ(advisories.calls, 1);
}

TEST(Assessment, IncompleteWithVulnerabilityFails) {
  FakeAdvisories advisories(expat_advisories());
  InventoryRecord partial =
      indexed("debian", "12", "dpkg", {dpkg("libexpat1", "2.2.10-2+deb11u5", "expat")}, "incomplete");
  Assessment result = assess(partial, advisories.lookup(), kAllEcosystems, {}, kImage);
  EXPECT_EQ(result.status, "FAIL");
  EXPECT_EQ(result.vulnerability_count, 2);
}

TEST(Assessment, MalformedPackagesAreIncomplete) {
  FakeAdvisories advisories(expat_advisories());
  for (const std::string& text :
       {std::string("[{\"name\": \"libexpat1\","), std::string("{}"), std::string("[1]"),
        std::string("[{\"name\": \"libexpat1\"}]"), std::string("[{\"name\": \"libexpat1\", \"version\": 2}]")}) {
    InventoryRecord broken = vulnerable_debian();
    broken.packages_json = text;
    Assessment result = assess(broken, advisories.lookup(), kAllEcosystems, {}, kImage);
    EXPECT_EQ(result.status, "INCOMPLETE") << text;
    EXPECT_THAT(result.reason, HasSubstr("package list")) << text;
    EXPECT_THAT(result.vulnerabilities, IsEmpty()) << text;
  }
  EXPECT_EQ(advisories.calls, 0);
}

TEST(Assessment, UnknownPackageFormatIsIncomplete) {
  FakeAdvisories advisories(expat_advisories());
  InventoryRecord record = vulnerable_debian();
  record.package_format = "pacman";
  Assessment result = assess(record, advisories.lookup(), kAllEcosystems, {}, kImage);
  EXPECT_EQ(result.status, "INCOMPLETE");
  EXPECT_THAT(result.reason, HasSubstr("pacman"));
}

TEST(Assessment, NoAdvisoriesForReleaseWarns) {
  FakeAdvisories advisories(expat_advisories());
  InventoryRecord trixie = vulnerable_debian();
  trixie.os_version_id = "13";
  Assessment result = assess(trixie, advisories.lookup(), kAllEcosystems, {}, kImage);
  EXPECT_EQ(result.status, "WARN");
  EXPECT_EQ(result.reason, "no advisories for debian:13 are imported");
  EXPECT_EQ(advisories.calls, 0);
}

TEST(Assessment, UnmatchedOsWarns) {
  FakeAdvisories advisories({});
  InventoryRecord fedora = indexed("fedora", "39", "rpm", {Package{.name = "bash", .version = "5.2.21-1.fc39"}});
  Assessment result = assess(fedora, advisories.lookup(), kAllEcosystems, {}, kImage);
  EXPECT_EQ(result.status, "WARN");
  EXPECT_THAT(result.reason, HasSubstr("\"fedora\""));
  EXPECT_EQ(advisories.calls, 0);
}

TEST(Assessment, NothingAffectedIsOk) {
  FakeAdvisories advisories({advisory("DEBIAN-CVE-2023-45853", {"CVE-2023-45853"}, "debian:12", "zlib", "0.1-1"),
                             advisory("DEBIAN-CVE-2022-40674", {"CVE-2022-40674"}, "debian:12", "expat", "2.0.0-1")});
  Assessment result = assess(vulnerable_debian(), advisories.lookup(), kAllEcosystems, {}, kImage);
  EXPECT_EQ(result.status, "OK");
  EXPECT_EQ(result.reason, "");
  EXPECT_EQ(result.scan_time, kIndexedAt);
  EXPECT_THAT(result.vulnerabilities, IsEmpty());
  EXPECT_EQ(advisories.requested_ecosystem, "debian:12");
  EXPECT_THAT(advisories.requested_packages, ElementsAre("bash", "expat", "zlib"));
}

// --- Grouping ------------------------------------------------------------------

TEST(Assessment, GroupsNoticesByCve) {
  FakeAdvisories advisories(expat_advisories());
  InventoryRecord record = vulnerable_debian();
  record.packages_json = packages_json(
      {dpkg("libexpat1", "2.2.10-2+deb11u5", "expat"), dpkg("libexpat1-dev", "2.2.10-2+deb11u5", "expat")});
  Assessment result = assess(record, advisories.lookup(), kAllEcosystems, {}, kImage);

  EXPECT_EQ(result.status, "FAIL");
  EXPECT_EQ(result.reason, "");
  EXPECT_EQ(result.vulnerability_count, 2);
  EXPECT_EQ(result.exempt_vulnerability_count, 0);
  ASSERT_THAT(cve_ids(result), ElementsAre("CVE-2022-40674", "CVE-2022-43680"));

  const Vulnerability& both = result.vulnerabilities[0];
  EXPECT_THAT(notice_ids(both), ElementsAre("DEBIAN-CVE-2022-40674", "DSA-5242-1"));
  EXPECT_EQ(both.summary, "summary of DEBIAN-CVE-2022-40674");
  EXPECT_EQ(both.exempt_status, "active");
  EXPECT_FALSE(both.cve_exempt);

  const SecurityNotice& own = both.notices[0];
  ASSERT_EQ(own.packages.size(), 2u);
  EXPECT_EQ(own.packages[0].package_name, "libexpat1");
  EXPECT_EQ(own.packages[0].installed_version, "2.2.10-2+deb11u5");
  EXPECT_EQ(own.packages[0].fix_version, "2.4.9-1");
  EXPECT_EQ(own.packages[0].corrective_action, "Upgrade libexpat1 to at least 2.4.9-1");
  EXPECT_EQ(own.packages[1].package_name, "libexpat1-dev");
  EXPECT_EQ(both.notices[1].packages.at(0).fix_version, "2.5.0-1");

  const Vulnerability& dsa_only = result.vulnerabilities[1];
  EXPECT_THAT(notice_ids(dsa_only), ElementsAre("DSA-5242-1"));
  EXPECT_EQ(dsa_only.summary, "summary of DSA-5242-1");
}

TEST(Assessment, AdvisoryWithoutCveGroupsUnderItsId) {
  FakeAdvisories advisories({advisory("DSA-9999-1", {}, "debian:12", "expat", "2.5.0-1")});
  Assessment result = assess(vulnerable_debian(), advisories.lookup(), kAllEcosystems, {}, kImage);
  EXPECT_EQ(result.status, "FAIL");
  ASSERT_THAT(cve_ids(result), ElementsAre("DSA-9999-1"));
  EXPECT_THAT(notice_ids(result.vulnerabilities[0]), ElementsAre("DSA-9999-1"));
}

TEST(Assessment, IntroducedBoundsRange) {
  FakeAdvisories advisories({advisory("DSA-1-1", {"CVE-2024-1111"}, "debian:12", "expat", "2.6.0-1", "2.4.0-1"),
                             advisory("DSA-2-1", {"CVE-2024-2222"}, "debian:12", "expat", "2.6.0-1", "2.2.10-2"),
                             advisory("DSA-3-1", {"CVE-2024-3333"}, "debian:12", "expat", "2.6.0-1", "")});
  Assessment result = assess(vulnerable_debian(), advisories.lookup(), kAllEcosystems, {}, kImage);
  EXPECT_THAT(cve_ids(result), ElementsAre("CVE-2024-2222", "CVE-2024-3333"));
}

TEST(Assessment, SkipsDebianKernelSource) {
  FakeAdvisories advisories({advisory("DEBIAN-CVE-2024-26581", {"CVE-2024-26581"}, "debian:12", "linux", "6.1.76-1")});
  InventoryRecord record = indexed(
      "debian", "12", "dpkg", {dpkg("linux-libc-dev", "6.1.69-1", "linux"), dpkg("zlib1g", "1:1.2.13.dfsg-1", "zlib")});
  Assessment result = assess(record, advisories.lookup(), kAllEcosystems, {}, kImage);
  EXPECT_EQ(result.status, "OK");
  EXPECT_THAT(result.vulnerabilities, IsEmpty());
  EXPECT_THAT(advisories.requested_packages, ElementsAre("zlib"));
}

TEST(Assessment, KeepsUbuntuKernelSource) {
  FakeAdvisories advisories(
      {advisory("UBUNTU-CVE-2024-26581", {"CVE-2024-26581"}, "ubuntu:22.04", "linux", "5.15.0-100.110")});
  InventoryRecord record = indexed("ubuntu", "22.04", "dpkg", {dpkg("linux-libc-dev", "5.15.0-91.101", "linux")});
  Assessment result = assess(record, advisories.lookup(), {"ubuntu:22.04"}, {}, kImage);
  EXPECT_EQ(result.status, "FAIL");
  EXPECT_THAT(package_names(result), ElementsAre("linux-libc-dev"));
}

TEST(Assessment, DpkgComparesSourceVersion) {
  // gcc-defaults builds cpp with a version of its own: the binary's
  // "4:12.2.0-3" sorts after the fix, the source's "1.203" before it.
  FakeAdvisories advisories({advisory("DSA-7777-1", {"CVE-2024-7777"}, "debian:12", "gcc-defaults", "1.204")});
  InventoryRecord record = indexed("debian", "12", "dpkg", {dpkg("cpp", "4:12.2.0-3", "gcc-defaults", "1.203")});
  Assessment result = assess(record, advisories.lookup(), kAllEcosystems, {}, kImage);
  EXPECT_EQ(result.status, "FAIL");
  ASSERT_EQ(result.vulnerabilities.size(), 1u);
  const VulnerablePackage& package = result.vulnerabilities[0].notices.at(0).packages.at(0);
  EXPECT_EQ(package.package_name, "cpp");
  EXPECT_EQ(package.installed_version, "4:12.2.0-3");
  EXPECT_EQ(package.fix_version, "1.204");

  // A binary-only rebuild ("+b1") of the fixed source is not vulnerable.
  InventoryRecord rebuilt = indexed("debian", "12", "dpkg", {dpkg("cpp", "1.204+b1", "gcc-defaults", "1.204")});
  EXPECT_EQ(assess(rebuilt, advisories.lookup(), kAllEcosystems, {}, kImage).status, "OK");
}

TEST(Assessment, ApkMatchesOrigin) {
  FakeAdvisories advisories({advisory("ALPINE-CVE-2024-0727", {"CVE-2024-0727"}, "alpine:3.19", "openssl", "3.1.4-r5"),
                             advisory("ALPINE-CVE-2025-26519", {"CVE-2025-26519"}, "alpine:3.19", "musl", "1.2.4-r3")});
  InventoryRecord record = indexed("alpine", "3.19.1", "apk",
                                   {Package{.name = "libssl3", .version = "3.1.4-r1", .source = "openssl"},
                                    Package{.name = "musl", .version = "1.2.4-r2", .source = "musl"},
                                    Package{.name = "zlib", .version = "1.3-r2", .source = "zlib"}});
  Assessment result = assess(record, advisories.lookup(), kAllEcosystems, {}, kImage);
  EXPECT_EQ(result.status, "FAIL");
  EXPECT_EQ(advisories.requested_ecosystem, "alpine:3.19");
  EXPECT_THAT(cve_ids(result), ElementsAre("CVE-2024-0727", "CVE-2025-26519"));
  EXPECT_THAT(package_names(result), ElementsAre("libssl3", "musl"));
}

TEST(Assessment, RpmMatchesBinaryNameWithEpoch) {
  FakeAdvisories advisories(
      {advisory("RHSA-2024:0310", {"CVE-2023-5678"}, "rhel:9", "openssl-libs", "1:3.0.7-25.el9_3"),
       advisory("RHSA-2024:0001", {"CVE-2024-0001"}, "rhel:9", "openssl", "1:3.0.7-25.el9_3"),
       advisory("RHSA-2024:0002", {"CVE-2024-0002"}, "rhel:9", "zlib", "1.2.11-39.el9"),
       advisory("RHSA-2024:0003", {"CVE-2024-0003"}, "rhel:9", "tzdata", "2024a-1.el9")});
  InventoryRecord record = indexed("rhel", "9.3", "rpm",
                                   {Package{.name = "openssl-libs", .version = "1:3.0.7-24.el9", .source = "openssl"},
                                    Package{.name = "zlib", .version = "1.2.11-40.el9", .source = "zlib"},
                                    // Epoch 1 sorts after any version of epoch 0.
                                    Package{.name = "tzdata", .version = "1:2023c-1.el9", .source = "tzdata"}});
  Assessment result = assess(record, advisories.lookup(), kAllEcosystems, {}, kImage);
  EXPECT_EQ(advisories.requested_ecosystem, "rhel:9");
  EXPECT_THAT(advisories.requested_packages, ElementsAre("openssl-libs", "tzdata", "zlib"));
  EXPECT_EQ(result.status, "FAIL");
  EXPECT_THAT(cve_ids(result), ElementsAre("CVE-2023-5678"));
  EXPECT_EQ(result.vulnerabilities[0].notices.at(0).packages.at(0).fix_version, "1:3.0.7-25.el9_3");
}

// --- Exemptions in the assessment ------------------------------------------------

TEST(Assessment, CveExemptionChangesStatus) {
  FakeAdvisories advisories(expat_advisories());
  std::vector<ExemptionRecord> exemptions = {exemption("cve", "CVE-2022-40674")};
  Assessment result = assess(vulnerable_debian(), advisories.lookup(), kAllEcosystems, exemptions, kImage);
  EXPECT_EQ(result.status, "FAIL");  // CVE-2022-43680 is still active
  EXPECT_EQ(result.vulnerability_count, 1);
  EXPECT_EQ(result.exempt_vulnerability_count, 1);
  EXPECT_TRUE(result.vulnerabilities[0].cve_exempt);
  EXPECT_EQ(result.vulnerabilities[0].exempt_status, "exempt");
  EXPECT_FALSE(result.vulnerabilities[1].cve_exempt);

  exemptions.push_back(exemption("cve", "CVE-2022-43680", "namespace"));
  exemptions.back().namespace_name = "team";
  result = assess(vulnerable_debian(), advisories.lookup(), kAllEcosystems, exemptions, kImage);
  EXPECT_EQ(result.status, "OK");
  EXPECT_EQ(result.vulnerability_count, 0);
  EXPECT_EQ(result.exempt_vulnerability_count, 2);
  EXPECT_EQ(result.vulnerabilities.size(), 2u);  // exempt CVEs are still listed
}

TEST(Assessment, ExemptionOnIncompleteInventory) {
  FakeAdvisories advisories(expat_advisories());
  InventoryRecord partial =
      indexed("debian", "12", "dpkg", {dpkg("libexpat1", "2.2.10-2+deb11u5", "expat")}, "incomplete");
  std::vector<ExemptionRecord> exemptions = {exemption("cve", "CVE-2022-40674"), exemption("cve", "CVE-2022-43680")};
  Assessment result = assess(partial, advisories.lookup(), kAllEcosystems, exemptions, kImage);
  EXPECT_EQ(result.status, "INCOMPLETE");
  EXPECT_EQ(result.exempt_vulnerability_count, 2);
}

TEST(Assessment, NoticeExemptionIsPartial) {
  FakeAdvisories advisories(expat_advisories());
  std::vector<ExemptionRecord> exemptions = {exemption("sn", "DEBIAN-CVE-2022-40674")};
  Assessment result = assess(vulnerable_debian(), advisories.lookup(), kAllEcosystems, exemptions, kImage);
  EXPECT_EQ(result.status, "FAIL");
  EXPECT_EQ(result.vulnerability_count, 2);
  const Vulnerability& both = result.vulnerabilities.at(0);
  EXPECT_EQ(both.exempt_status, "partial");
  EXPECT_FALSE(both.cve_exempt);
  EXPECT_TRUE(both.notices.at(0).exempt);
  EXPECT_FALSE(both.notices.at(1).exempt);
}

TEST(Assessment, ExemptingEveryNoticeExemptsCve) {
  FakeAdvisories advisories(expat_advisories());
  std::vector<ExemptionRecord> exemptions = {exemption("sn", "DSA-5242-1")};
  Assessment result = assess(vulnerable_debian(), advisories.lookup(), kAllEcosystems, exemptions, kImage);
  // CVE-2022-43680 has DSA-5242-1 as its only notice; CVE-2022-40674 keeps one active notice.
  EXPECT_EQ(result.vulnerabilities.at(0).exempt_status, "partial");
  EXPECT_EQ(result.vulnerabilities.at(1).exempt_status, "exempt");
  EXPECT_TRUE(result.vulnerabilities.at(1).cve_exempt);
  EXPECT_EQ(result.vulnerability_count, 1);
  EXPECT_EQ(result.exempt_vulnerability_count, 1);

  exemptions.push_back(exemption("sn", "DEBIAN-CVE-2022-40674"));
  result = assess(vulnerable_debian(), advisories.lookup(), kAllEcosystems, exemptions, kImage);
  EXPECT_EQ(result.status, "OK");
  EXPECT_EQ(result.vulnerabilities.at(0).exempt_status, "exempt");
}

TEST(Assessment, OtherScopesDoNotExempt) {
  FakeAdvisories advisories(expat_advisories());
  ExemptionRecord other_account = exemption("cve", "CVE-2022-40674");
  other_account.account_id = "acct-2";
  ExemptionRecord other_repository = exemption("cve", "CVE-2022-43680", "repository");
  other_repository.namespace_name = "team";
  other_repository.repository = "team/other";
  ExemptionRecord wrong_type = exemption("sn", "CVE-2022-43680");
  Assessment result = assess(vulnerable_debian(), advisories.lookup(), kAllEcosystems,
                             {other_account, other_repository, wrong_type}, kImage);
  EXPECT_EQ(result.status, "FAIL");
  EXPECT_EQ(result.vulnerability_count, 2);
  EXPECT_EQ(result.exempt_vulnerability_count, 0);
}

// --- exemption_applies -------------------------------------------------------------

TEST(ExemptionScope, AppliesByScope) {
  ExemptionRecord account = exemption("cve", "CVE-2022-40674", "account");
  EXPECT_TRUE(exemption_applies(account, kImage));

  ExemptionRecord name_space = exemption("cve", "CVE-2022-40674", "namespace");
  name_space.namespace_name = "team";
  EXPECT_TRUE(exemption_applies(name_space, kImage));
  name_space.namespace_name = "other";
  EXPECT_FALSE(exemption_applies(name_space, kImage));

  ExemptionRecord repository = exemption("cve", "CVE-2022-40674", "repository");
  repository.namespace_name = "team";
  repository.repository = "team/app";
  EXPECT_TRUE(exemption_applies(repository, kImage));
  repository.repository = "team/app2";
  EXPECT_FALSE(exemption_applies(repository, kImage));

  ExemptionRecord tag = exemption("cve", "CVE-2022-40674", "image");
  tag.namespace_name = "team";
  tag.repository = "team/app";
  tag.tag = "1.0";
  EXPECT_TRUE(exemption_applies(tag, kImage));
  tag.tag = "2.0";
  EXPECT_FALSE(exemption_applies(tag, kImage));
  tag.tag = "1.0";
  tag.repository = "team/other";
  EXPECT_FALSE(exemption_applies(tag, kImage));

  ExemptionRecord digest = exemption("cve", "CVE-2022-40674", "image");
  digest.namespace_name = "team";
  digest.repository = "team/app";
  digest.digest = kDigest;
  EXPECT_TRUE(exemption_applies(digest, kImage));
  digest.digest = "sha256:" + std::string(64, 'b');
  EXPECT_FALSE(exemption_applies(digest, kImage));
}

TEST(ExemptionScope, TagScopeNeedsTag) {
  ImageScope by_digest = kImage;
  by_digest.tag = "";
  ExemptionRecord tag = exemption("cve", "CVE-2022-40674", "image");
  tag.namespace_name = "team";
  tag.repository = "team/app";
  tag.tag = "1.0";
  EXPECT_FALSE(exemption_applies(tag, by_digest));

  ExemptionRecord digest = tag;
  digest.tag = "";
  digest.digest = kDigest;
  EXPECT_TRUE(exemption_applies(digest, by_digest));

  // An image exemption with neither tag nor digest matches nothing.
  ExemptionRecord empty = tag;
  empty.tag = "";
  EXPECT_FALSE(exemption_applies(empty, by_digest));
  EXPECT_FALSE(exemption_applies(empty, kImage));
}

TEST(ExemptionScope, OtherAccountNeverApplies) {
  for (const char* scope_type : {"account", "namespace", "repository", "image"}) {
    ExemptionRecord record = exemption("cve", "CVE-2022-40674", scope_type);
    record.account_id = "acct-2";
    record.namespace_name = "team";
    record.repository = "team/app";
    record.tag = "1.0";
    EXPECT_FALSE(exemption_applies(record, kImage)) << scope_type;
  }
}

TEST(ExemptionScope, UnknownScopeTypeNeverApplies) {
  ExemptionRecord record = exemption("cve", "CVE-2022-40674", "region");
  EXPECT_FALSE(exemption_applies(record, kImage));
}

// --- JSON ----------------------------------------------------------------------

TEST(AssessmentJson, ReportHasContractFields) {
  FakeAdvisories advisories(expat_advisories());
  std::vector<ExemptionRecord> exemptions = {exemption("sn", "DSA-5242-1")};
  Assessment result = assess(vulnerable_debian(), advisories.lookup(), kAllEcosystems, exemptions, kImage);
  json report = scan_report_json(result, "127.0.0.1:5000/team/app:1.0");

  EXPECT_EQ(keys_of(report), (std::set<std::string>{"id", "digest", "scan_time", "status", "reason", "os_distribution",
                                                    "vulnerabilities", "configuration_issues"}));
  EXPECT_EQ(report["id"], "127.0.0.1:5000/team/app:1.0");
  EXPECT_EQ(report["digest"], kDigest);
  EXPECT_EQ(report["scan_time"], kIndexedAt);
  EXPECT_EQ(report["status"], "FAIL");
  EXPECT_EQ(report["reason"], "");
  EXPECT_EQ(report["os_distribution"],
            (json{{"distribution_id", "debian"}, {"version_id", "12"}, {"version_code_name", "bookworm"}}));
  EXPECT_EQ(report["configuration_issues"], json::array());

  ASSERT_EQ(report["vulnerabilities"].size(), 2u);
  const json& cve = report["vulnerabilities"][0];
  EXPECT_EQ(keys_of(cve), (std::set<std::string>{"cve_id", "summary", "cve_exempt", "exempt_status", "security_notices",
                                                 "security_notice_count", "exempt_security_notice_count",
                                                 "total_security_notice_count"}));
  EXPECT_EQ(cve["cve_id"], "CVE-2022-40674");
  EXPECT_EQ(cve["summary"], "summary of DEBIAN-CVE-2022-40674");
  EXPECT_EQ(cve["cve_exempt"], false);
  EXPECT_EQ(cve["exempt_status"], "partial");
  EXPECT_EQ(cve["security_notice_count"], 1);
  EXPECT_EQ(cve["exempt_security_notice_count"], 1);
  EXPECT_EQ(cve["total_security_notice_count"], 2);

  const json& notice = cve["security_notices"][1];
  EXPECT_EQ(keys_of(notice),
            (std::set<std::string>{"notice_id", "notice", "summary", "notice_exempt", "vulnerable_packages"}));
  EXPECT_EQ(notice["notice_id"], "DSA-5242-1");
  EXPECT_EQ(notice["notice"], "summary of DSA-5242-1");
  EXPECT_EQ(notice["summary"], "summary of DSA-5242-1");
  EXPECT_EQ(notice["notice_exempt"], true);
  EXPECT_EQ(notice["vulnerable_packages"],
            json::array({{{"package_name", "libexpat1"},
                          {"installed_version", "2.2.10-2+deb11u5"},
                          {"fix_version", "2.5.0-1"},
                          {"description", ""},
                          {"corrective_action", "Upgrade libexpat1 to at least 2.5.0-1"}}}));

  EXPECT_EQ(report["vulnerabilities"][1]["cve_exempt"], true);
  EXPECT_EQ(report["vulnerabilities"][1]["exempt_status"], "exempt");
}

TEST(AssessmentJson, SummaryHasContractFields) {
  FakeAdvisories advisories(expat_advisories());
  std::vector<ExemptionRecord> exemptions = {exemption("cve", "CVE-2022-43680")};
  Assessment result = assess(vulnerable_debian(), advisories.lookup(), kAllEcosystems, exemptions, kImage);
  EXPECT_EQ(scan_summary_json(result), (json{{"status", "FAIL"},
                                             {"scan_time", kIndexedAt},
                                             {"issue_count", 1},
                                             {"vulnerability_count", 1},
                                             {"exempt_issue_count", 1},
                                             {"exempt_vulnerability_count", 1},
                                             {"configuration_issue_count", 0},
                                             {"exempt_configuration_issue_count", 0}}));
}

TEST(AssessmentJson, UnscannedReport) {
  FakeAdvisories advisories({});
  Assessment result = assess(std::nullopt, advisories.lookup(), kAllEcosystems, {}, kImage);
  json report = scan_report_json(result, "127.0.0.1:5000/team/app:1.0");
  EXPECT_EQ(report["status"], "UNSCANNED");
  EXPECT_EQ(report["digest"], kDigest);
  EXPECT_EQ(report["scan_time"], 0);
  EXPECT_EQ(report["vulnerabilities"], json::array());
  EXPECT_EQ(report["os_distribution"], (json{{"distribution_id", ""}, {"version_id", ""}, {"version_code_name", ""}}));
  EXPECT_EQ(scan_summary_json(result)["status"], "UNSCANNED");
  EXPECT_EQ(scan_summary_json(result)["issue_count"], 0);
}

}  // namespace
}  // namespace berth::scan
