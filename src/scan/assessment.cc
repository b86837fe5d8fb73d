#include "scan/assessment.h"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <tuple>
#include <utility>

#include "scan/inventory.h"
#include "scan/osv.h"
#include "scan/version.h"

namespace berth::scan {
namespace {

std::optional<PackageFormat> parse_package_format(const std::string& name) {
  if (name == "dpkg") return PackageFormat::kDpkg;
  if (name == "apk") return PackageFormat::kApk;
  if (name == "rpm") return PackageFormat::kRpm;
  return std::nullopt;
}

// Reads InventoryRecord.packages_json. Returns nullopt and sets `problem`
// when the text is not an array of package objects with string fields.
std::optional<std::vector<Package>> parse_packages(const std::string& text, std::string& problem) {
  nlohmann::json document = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    problem = "the stored package list is not valid JSON";
    return std::nullopt;
  }
  if (!document.is_array()) {
    problem = "the stored package list is not a JSON array";
    return std::nullopt;
  }

  std::vector<Package> packages;
  for (const nlohmann::json& item : document) {
    auto field = [&item](const char* key) -> std::optional<std::string> {
      auto it = item.find(key);
      if (it == item.end()) return std::string();
      if (!it->is_string()) return std::nullopt;
      return it->get<std::string>();
    };
    if (!item.is_object()) {
      problem = "the stored package list contains an entry that is not a JSON object";
      return std::nullopt;
    }
    auto name = field("name");
    auto version = field("version");
    auto source = field("source");
    auto source_version = field("source_version");
    auto architecture = field("architecture");
    if (!name || !version || !source || !source_version || !architecture || name->empty() || version->empty()) {
      problem = "the stored package list contains an entry without a name and version string";
      return std::nullopt;
    }
    packages.push_back(Package{.name = *name,
                               .version = *version,
                               .source = *source,
                               .source_version = *source_version,
                               .architecture = *architecture});
  }
  return packages;
}

// The OS release as the record stores it. The record keeps no ID_LIKE, but
// CentOS, Rocky Linux and AlmaLinux all declare "rhel" in theirs, so their
// ID alone restores it for ecosystem_key.
OsRelease os_release_of(const metadata::InventoryRecord& inventory) {
  OsRelease os{.id = inventory.os_id,
               .id_like = "",
               .version_id = inventory.os_version_id,
               .version_codename = inventory.os_codename,
               .pretty_name = inventory.os_name};
  if (os.id == "centos" || os.id == "rocky" || os.id == "almalinux") os.id_like = "rhel";
  return os;
}

// The name that advisories use for an installed package: Debian, Ubuntu
// and Alpine advisories name source packages, Red Hat's name binary RPMs.
const std::string& advisory_name_of(const Package& package, PackageFormat format) {
  if (format == PackageFormat::kRpm || package.source.empty()) return package.name;
  return package.source;
}

// The version that advisory ranges are compared with. A binary-only
// rebuild of a Debian package ("2.5.0-1+b1") keeps the source version
// ("2.5.0-1") that the advisories name.
const std::string& compared_version_of(const Package& package, PackageFormat format) {
  if (format == PackageFormat::kDpkg && !package.source_version.empty()) return package.source_version;
  return package.version;
}

bool is_in_range(PackageFormat format, const std::string& version, const metadata::AffectedRecord& range) {
  bool after_introduced =
      range.introduced.empty() || range.introduced == "0" || compare_versions(format, version, range.introduced) >= 0;
  return after_introduced && compare_versions(format, version, range.fixed) < 0;
}

// One advisory with the installed packages it affects.
struct NoticeMatch {
  SecurityNotice notice;
  std::vector<std::string> cves;
};

// Matches the packages against the advisory ranges, one entry per advisory
// id that affects at least one installed package.
std::map<std::string, NoticeMatch> match_notices(const std::vector<Package>& packages, PackageFormat format,
                                                 const std::vector<metadata::AdvisoryMatch>& matches) {
  std::multimap<std::string, const Package*> by_advisory_name;
  for (const Package& package : packages) by_advisory_name.emplace(advisory_name_of(package, format), &package);

  std::map<std::string, NoticeMatch> notices;
  for (const metadata::AdvisoryMatch& match : matches) {
    auto [first, last] = by_advisory_name.equal_range(match.affected.package);
    for (auto it = first; it != last; ++it) {
      const Package& package = *it->second;
      if (!is_in_range(format, compared_version_of(package, format), match.affected)) continue;

      auto [entry, created] = notices.try_emplace(match.id);
      NoticeMatch& notice = entry->second;
      if (created) {
        notice.notice.notice_id = match.id;
        notice.notice.summary = match.summary;
        notice.cves = match.cves;
      }
      // Two ranges of one advisory can both contain the installed version.
      // The package is then listed once, with the first fix found.
      std::vector<VulnerablePackage>& listed = notice.notice.packages;
      bool already_listed = std::any_of(listed.begin(), listed.end(), [&](const VulnerablePackage& vulnerable) {
        return vulnerable.package_name == package.name && vulnerable.installed_version == package.version;
      });
      if (already_listed) continue;
      listed.push_back(
          VulnerablePackage{.package_name = package.name,
                            .installed_version = package.version,
                            .fix_version = match.affected.fixed,
                            .corrective_action = "Upgrade " + package.name + " to at least " + match.affected.fixed});
    }
  }

  for (auto& [id, notice] : notices) {
    std::sort(notice.notice.packages.begin(), notice.notice.packages.end(),
              [](const VulnerablePackage& a, const VulnerablePackage& b) {
                return std::tie(a.package_name, a.installed_version) < std::tie(b.package_name, b.installed_version);
              });
  }
  return notices;
}

// The summary of a CVE: that of its own advisory ("DEBIAN-CVE-2022-40674"
// for "CVE-2022-40674") when one matched, else of the first notice that
// has one.
std::string summary_of(const Vulnerability& vulnerability) {
  for (const SecurityNotice& notice : vulnerability.notices) {
    bool is_own_advisory =
        notice.notice_id == vulnerability.cve_id || notice.notice_id.ends_with("-" + vulnerability.cve_id);
    if (is_own_advisory && !notice.summary.empty()) return notice.summary;
  }
  for (const SecurityNotice& notice : vulnerability.notices) {
    if (!notice.summary.empty()) return notice.summary;
  }
  return {};
}

// Groups the advisories by CVE (an advisory that names none under its own
// id), applies the exemptions and counts active and exempt CVEs into
// `assessment`.
void group_by_cve(std::map<std::string, NoticeMatch> notices, const std::vector<metadata::ExemptionRecord>& exemptions,
                  const ImageScope& image, Assessment& assessment) {
  std::set<std::string> exempt_cves;
  std::set<std::string> exempt_notices;
  for (const metadata::ExemptionRecord& exemption : exemptions) {
    if (!exemption_applies(exemption, image)) continue;
    if (exemption.issue_type == "cve") exempt_cves.insert(exemption.issue_id);
    if (exemption.issue_type == "sn") exempt_notices.insert(exemption.issue_id);
  }

  std::map<std::string, Vulnerability> by_cve;
  for (auto& [id, match] : notices) {
    match.notice.exempt = exempt_notices.contains(id);
    std::vector<std::string> keys = match.cves.empty() ? std::vector<std::string>{id} : match.cves;
    for (const std::string& key : keys) {
      Vulnerability& vulnerability = by_cve[key];
      vulnerability.cve_id = key;
      vulnerability.notices.push_back(match.notice);  // in notice id order, because `notices` is sorted
    }
  }

  for (auto& [cve, vulnerability] : by_cve) {
    vulnerability.summary = summary_of(vulnerability);
    std::size_t exempt_count = std::count_if(vulnerability.notices.begin(), vulnerability.notices.end(),
                                             [](const SecurityNotice& notice) { return notice.exempt; });
    bool all_notices_exempt = exempt_count == vulnerability.notices.size();
    vulnerability.cve_exempt = exempt_cves.contains(cve) || all_notices_exempt;
    if (vulnerability.cve_exempt) {
      vulnerability.exempt_status = "exempt";
      ++assessment.exempt_vulnerability_count;
    } else {
      vulnerability.exempt_status = exempt_count > 0 ? "partial" : "active";
      ++assessment.vulnerability_count;
    }
    assessment.vulnerabilities.push_back(std::move(vulnerability));
  }
}

std::string no_advisories_reason(const std::optional<std::string>& key, const OsRelease& os) {
  if (key) return "no advisories for " + *key + " are imported";
  return "no advisories match the OS release \"" + os.id + "\" version \"" + os.version_id +
         "\"; Berth matches Debian, Ubuntu, Alpine and Red Hat Enterprise Linux releases";
}

nlohmann::json vulnerable_package_json(const VulnerablePackage& package) {
  return {{"package_name", package.package_name},
          {"installed_version", package.installed_version},
          {"fix_version", package.fix_version},
          {"description", ""},
          {"corrective_action", package.corrective_action}};
}

nlohmann::json security_notice_json(const SecurityNotice& notice) {
  nlohmann::json packages = nlohmann::json::array();
  for (const VulnerablePackage& package : notice.packages) packages.push_back(vulnerable_package_json(package));
  return {{"notice_id", notice.notice_id},
          {"notice", notice.summary},
          {"summary", notice.summary},
          {"notice_exempt", notice.exempt},
          {"vulnerable_packages", std::move(packages)}};
}

nlohmann::json vulnerability_json(const Vulnerability& vulnerability) {
  nlohmann::json notices = nlohmann::json::array();
  int exempt_notices = 0;
  for (const SecurityNotice& notice : vulnerability.notices) {
    notices.push_back(security_notice_json(notice));
    if (notice.exempt) ++exempt_notices;
  }
  int total_notices = static_cast<int>(vulnerability.notices.size());
  return {{"cve_id", vulnerability.cve_id},
          {"summary", vulnerability.summary},
          {"cve_exempt", vulnerability.cve_exempt},
          {"exempt_status", vulnerability.exempt_status},
          {"security_notices", std::move(notices)},
          {"security_notice_count", total_notices - exempt_notices},
          {"exempt_security_notice_count", exempt_notices},
          {"total_security_notice_count", total_notices}};
}

}  // namespace

// NOTE: a tag-scoped exemption applies only when the image is reached
// through that tag. ImageScope carries one tag, so an image queried by digest
// does not get the exemptions of the tags it has.
bool exemption_applies(const metadata::ExemptionRecord& exemption, const ImageScope& image) {
  if (exemption.account_id != image.account_id) return false;
  if (exemption.scope_type == "account") return true;
  if (exemption.scope_type == "namespace") return exemption.namespace_name == image.namespace_name;
  if (exemption.scope_type == "repository") return exemption.repository == image.repository;
  if (exemption.scope_type == "image") {
    if (exemption.repository != image.repository) return false;
    if (!exemption.tag.empty()) return exemption.tag == image.tag;
    return !exemption.digest.empty() && exemption.digest == image.digest;
  }
  return false;
}

Assessment assess(const std::optional<metadata::InventoryRecord>& inventory, const AdvisoryLookup& lookup,
                  const std::vector<std::string>& feed_ecosystems,
                  const std::vector<metadata::ExemptionRecord>& exemptions, const ImageScope& image) {
  if (!inventory) {
    // An Assessment always carries an inventory record, so a missing
    // inventory becomes an empty record of the image's digest.
    std::optional<core::Digest> digest = core::Digest::parse(image.digest);
    if (!digest) {
      throw std::invalid_argument("invalid image digest \"" + image.digest +
                                  "\": an image without an inventory is reported by its digest");
    }
    return Assessment{.status = "UNSCANNED",
                      .reason = "the image has not been indexed yet",
                      .inventory = metadata::InventoryRecord{.digest = *digest}};
  }

  Assessment assessment{.status = "UNSCANNED", .reason = "", .scan_time = 0, .inventory = *inventory};
  if (inventory->state != "indexed") {
    assessment.reason = "the image is queued for indexing";
    return assessment;
  }
  assessment.scan_time = inventory->indexed_at;

  if (inventory->status == "unsupported") {
    assessment.status = "UNSUPPORTED";
    assessment.reason =
        inventory->reason.empty() ? "no OS release or package database that Berth reads was found" : inventory->reason;
    return assessment;
  }
  if (inventory->status == "index") {
    assessment.status = "UNSUPPORTED";
    assessment.reason = "an image index has no packages of its own; assess one of its image manifests";
    return assessment;
  }
  if (inventory->status != "complete" && inventory->status != "incomplete") {
    assessment.status = "INCOMPLETE";
    assessment.reason = "the inventory has an unknown status \"" + inventory->status + "\"";
    return assessment;
  }

  std::optional<PackageFormat> format = parse_package_format(inventory->package_format);
  if (!format) {
    // A layer cut short before any package database was read leaves no
    // format; its reason names the layer, so the report keeps it.
    assessment.status = "INCOMPLETE";
    assessment.reason = inventory->status == "incomplete" && inventory->package_format.empty()
                            ? inventory->reason
                            : "the inventory has an unknown package format \"" + inventory->package_format + "\"";
    return assessment;
  }
  std::string problem;
  std::optional<std::vector<Package>> packages = parse_packages(inventory->packages_json, problem);
  if (!packages) {
    assessment.status = "INCOMPLETE";
    assessment.reason = problem;
    return assessment;
  }

  OsRelease os = os_release_of(*inventory);
  std::optional<std::string> key = ecosystem_key(os);
  bool covered = key && std::find(feed_ecosystems.begin(), feed_ecosystems.end(), *key) != feed_ecosystems.end();

  if (covered) {
    // Debian's kernel advisories are skipped, as IBM Cloud's Vulnerability
    // Advisor does. The binaries of source "linux" in an image
    // (linux-libc-dev) are headers, not the kernel the container runs on.
    bool skip_kernel = key->starts_with("debian:");
    std::vector<Package> matched;
    for (Package& package : *packages) {
      if (skip_kernel && package.source == "linux") continue;
      matched.push_back(std::move(package));
    }

    std::set<std::string> names;
    for (const Package& package : matched) names.insert(advisory_name_of(package, *format));
    std::vector<metadata::AdvisoryMatch> matches = lookup(*key, {names.begin(), names.end()});
    group_by_cve(match_notices(matched, *format, matches), exemptions, image, assessment);
  }

  if (assessment.vulnerability_count > 0) {
    assessment.status = "FAIL";
  } else if (inventory->status == "incomplete") {
    assessment.status = "INCOMPLETE";
    assessment.reason = inventory->reason;
    if (!covered) assessment.reason += (assessment.reason.empty() ? "" : "\n") + no_advisories_reason(key, os);
  } else if (!covered) {
    assessment.status = "WARN";
    assessment.reason = no_advisories_reason(key, os);
  } else {
    assessment.status = "OK";
  }
  return assessment;
}

nlohmann::json scan_report_json(const Assessment& assessment, const std::string& id) {
  nlohmann::json vulnerabilities = nlohmann::json::array();
  for (const Vulnerability& vulnerability : assessment.vulnerabilities) {
    vulnerabilities.push_back(vulnerability_json(vulnerability));
  }
  const metadata::InventoryRecord& inventory = assessment.inventory;
  return {{"id", id},
          {"digest", inventory.digest.str()},
          {"scan_time", assessment.scan_time},
          {"status", assessment.status},
          {"reason", assessment.reason},
          {"os_distribution",
           {{"distribution_id", inventory.os_id},
            {"version_id", inventory.os_version_id},
            {"version_code_name", inventory.os_codename}}},
          {"vulnerabilities", std::move(vulnerabilities)},
          {"configuration_issues", nlohmann::json::array()}};
}

nlohmann::json scan_summary_json(const Assessment& assessment) {
  // Berth reports no configuration issues, so issues are vulnerabilities.
  return {{"status", assessment.status},
          {"scan_time", assessment.scan_time},
          {"issue_count", assessment.vulnerability_count},
          {"vulnerability_count", assessment.vulnerability_count},
          {"exempt_issue_count", assessment.exempt_vulnerability_count},
          {"exempt_vulnerability_count", assessment.exempt_vulnerability_count},
          {"configuration_issue_count", 0},
          {"exempt_configuration_issue_count", 0}};
}

}  // namespace berth::scan
