// The package inventory of an image: its OS release and installed packages,
// read from its layers in order with libarchive. Layers are streamed; only
// the few files the inventory needs are kept, each under a size limit.
#pragma once

#include "scan/version.h"
#include "storage/blob_store.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::scan {

// Fields of /etc/os-release (or /usr/lib/os-release) that matching uses.
struct OsRelease {
  std::string id;                // "debian", "ubuntu", "alpine", "rhel"
  std::string id_like;
  std::string version_id;        // "12", "22.04", "3.19.1", "9.3"
  std::string version_codename;  // "bookworm"
  std::string pretty_name;

  bool operator==(const OsRelease&) const = default;
};

struct Package {
  std::string name;            // binary package name
  std::string version;         // installed version; for rpm "[epoch:]version-release"
  std::string source;          // source package (dpkg Source, apk origin, rpm source name); name if none
  std::string source_version;  // version of the source package when it differs; else empty
  std::string architecture;

  bool operator==(const Package&) const = default;
};

enum class InventoryStatus {
  kComplete,     // every layer read to its end
  kUnsupported,  // no supported OS release or package database found
  kIncomplete,   // some layer could not be read in full; packages are from what was read
};

struct Inventory {
  InventoryStatus status = InventoryStatus::kUnsupported;
  OsRelease os;
  std::optional<PackageFormat> format;  // the package database found, if any
  std::vector<Package> packages;        // sorted by name, then version
  // Why the status is not kComplete, or what was skipped: one sentence each,
  // naming the layer digest and the entry.
  std::vector<std::string> notes;
};

// Limits that keep a hostile layer from using unbounded time, memory or disk.
struct LayerLimits {
  std::uint64_t max_layer_bytes = 8ull << 30;      // uncompressed bytes read per layer
  std::uint64_t max_entries = 1'000'000;           // tar entries per layer
  std::uint64_t max_text_file_bytes = 64ull << 20; // os-release, dpkg status, apk installed
  std::uint64_t max_rpmdb_bytes = 512ull << 20;    // rpmdb.sqlite, copied to a temporary file
};

// One layer: its digest (for notes) and a way to open its bytes.
struct LayerInput {
  std::string digest;
  std::string media_type;
  std::function<std::unique_ptr<storage::BlobReader>()> open;
};

// Reads the layers bottom to top, applying whiteouts (.wh.NAME) and opaque
// directories (.wh..wh..opq), and returns the inventory of the resulting
// root filesystem. Bad layer content never throws. A layer that cannot be
// read (not a tar, truncated, over a limit) makes the status kIncomplete
// with a note. An entry whose path leaves the root ("../") is skipped with
// a note and also makes it kIncomplete. `temp_dir` receives the copy of an
// RPM database while it is read.
Inventory read_inventory(const std::vector<LayerInput>& layers, const LayerLimits& limits,
                         const std::filesystem::path& temp_dir);

// Parsers of the files themselves, for tests and for read_inventory.
OsRelease parse_os_release(std::string_view text);
// Only packages whose files are on disk: Status "install ok installed", and
// also held packages, packages selected for removal but not yet removed, and
// packages unpacked or awaiting triggers. In a distroless status.d file,
// which has no Status field, every stanza counts.
std::vector<Package> parse_dpkg_status(std::string_view text);
std::vector<Package> parse_apk_installed(std::string_view text);
// Reads the Packages table of an rpmdb.sqlite file (rpm 4.16 and later).
// Throws std::runtime_error with a readable message if the file is not one.
std::vector<Package> read_rpmdb_sqlite(const std::filesystem::path& path);

}  // namespace berth::scan
