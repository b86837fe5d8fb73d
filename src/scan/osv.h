// Advisories in the OSV format (https://ossf.github.io/osv-schema/), as the
// OSV project publishes them per ecosystem: one JSON object per advisory,
// in single files or in the ecosystem's all.zip archive.
#pragma once

#include "metadata/metadata_store.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::scan {

struct OsRelease;

// The normalized key of an OSV ecosystem, or nullopt for one Berth does not
// match: "Debian:12" -> "debian:12", "Alpine:v3.19" -> "alpine:3.19",
// "Ubuntu:22.04:LTS" and "Ubuntu:Pro:22.04:LTS" -> "ubuntu:22.04",
// "Red Hat:enterprise_linux:9::baseos" -> "rhel:9".
std::optional<std::string> normalize_ecosystem(std::string_view osv_ecosystem);

// The key that an image with this OS release matches advisories under, or
// nullopt when Berth has no advisories for its kind: Debian "12", Ubuntu
// "22.04", Alpine "3.19.1" -> "3.19", RHEL and UBI (ID rhel) "9.3" -> "9".
std::optional<std::string> ecosystem_key(const OsRelease& os);

// Converts one OSV record to an advisory. CVE ids come from its id (also
// with a distribution prefix such as "DEBIAN-" or "ALPINE-"), aliases and
// upstream. Only ECOSYSTEM ranges of matched ecosystems with a "fixed" event
// are kept, one AffectedRecord per introduced/fixed pair. Returns nullopt
// when nothing is left, and throws std::runtime_error when the id is missing.
std::optional<metadata::AdvisoryRecord> parse_osv_record(const nlohmann::json& record);

struct OsvImport {
  std::vector<metadata::AdvisoryRecord> advisories;  // sorted by id; one per id (the last one read wins)
  std::size_t files = 0;       // JSON documents read (files, or members of zip archives)
  std::size_t records = 0;     // OSV records seen
  std::size_t skipped = 0;     // records with no fixed range in a matched ecosystem
  std::vector<std::string> ecosystems;  // normalized keys, sorted
};

// Reads a .json file (one record, or an array of records), a .zip archive of
// such files, or a directory of both (not recursive into subdirectories).
// Throws std::runtime_error naming the file and the problem when a file is
// not valid JSON or a zip archive cannot be read.
OsvImport read_osv(const std::filesystem::path& path);

}  // namespace berth::scan
