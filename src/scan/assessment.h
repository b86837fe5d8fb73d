// The assessment of one image: its stored inventory matched against the
// current advisories, with the account's exemptions applied. Computed on
// every query, so a new advisory import changes reports without a rescan.
#pragma once

#include "metadata/metadata_store.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace berth::scan {

// The image being assessed, for exemption scopes.
struct ImageScope {
  std::string account_id;
  std::string namespace_name;
  std::string repository;  // "ns/repo"
  std::string tag;         // empty when queried by digest
  std::string digest;      // "sha256:..."
};

// True if `exemption` applies to the image.
bool exemption_applies(const metadata::ExemptionRecord& exemption, const ImageScope& image);

// One vulnerable package under one advisory.
struct VulnerablePackage {
  std::string package_name;
  std::string installed_version;
  std::string fix_version;
  std::string corrective_action;  // "Upgrade libexpat1 to at least 2.4.9-1"
};

struct SecurityNotice {
  std::string notice_id;  // the advisory id
  std::string summary;
  bool exempt = false;
  std::vector<VulnerablePackage> packages;
};

struct Vulnerability {
  std::string cve_id;  // a CVE id, or the advisory id for an advisory that names no CVE
  std::string summary;
  bool cve_exempt = false;
  std::string exempt_status;  // "exempt", "partial" or "active"
  std::vector<SecurityNotice> notices;
};

struct Assessment {
  // "OK", "WARN", "FAIL", "UNSUPPORTED", "INCOMPLETE" or "UNSCANNED".
  std::string status;
  std::string reason;  // why the status is not OK or FAIL; empty otherwise
  std::int64_t scan_time = 0;
  metadata::InventoryRecord inventory;
  std::vector<Vulnerability> vulnerabilities;  // sorted by cve_id
  int vulnerability_count = 0;                 // active ones
  int exempt_vulnerability_count = 0;
};

// Looks up the advisory ranges of an ecosystem for packages; the store's
// find_advisories in the server.
using AdvisoryLookup = std::function<std::vector<metadata::AdvisoryMatch>(
    const std::string& ecosystem, const std::vector<std::string>& packages)>;

// Statuses (docs/va.md):
//   UNSCANNED    no inventory, or still queued
//   UNSUPPORTED  inventory status "unsupported" (no OS or package database Berth reads)
//   INCOMPLETE   inventory status "incomplete" and no active vulnerability
//   FAIL         at least one active (not exempt) vulnerability, whatever the inventory status
//   WARN         complete inventory, but no advisory of the imported set covers its OS release
//   OK           otherwise; exempt vulnerabilities are listed but do not count
// For Debian, packages built from the source package "linux" are skipped,
// as the hosted registry does.
Assessment assess(const std::optional<metadata::InventoryRecord>& inventory, const AdvisoryLookup& lookup,
                  const std::vector<std::string>& feed_ecosystems,
                  const std::vector<metadata::ExemptionRecord>& exemptions, const ImageScope& image);

// The hosted registry's ScanReport JSON (docs/va.md) and ScanreportSummary.
nlohmann::json scan_report_json(const Assessment& assessment, const std::string& id);
nlohmann::json scan_summary_json(const Assessment& assessment);

}  // namespace berth::scan
