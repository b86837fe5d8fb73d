// The image inventory reader: the parsers of os-release, dpkg status, apk
// installed and rpmdb.sqlite, and read_inventory over layers written here
// with libarchive. The layers cover whiteouts, opaque directories, symbolic
// and hard links, and gzip, zstd and uncompressed data. Hostile layers have
// path traversal, decompression bombs, truncated and random data, sparse
// files and huge path names. The RPM cases use databases written by the
// real rpm tool, and the Debian fixture image is checked against dpkg-query.
#include "scan/inventory.h"

#include "support/temp_directory.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace berth::scan {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr std::string_view kGzipTar = "application/vnd.oci.image.layer.v1.tar+gzip";
constexpr std::string_view kZstdTar = "application/vnd.oci.image.layer.v1.tar+zstd";
constexpr std::string_view kPlainTar = "application/vnd.oci.image.layer.v1.tar";

constexpr std::string_view kDebianOsRelease =
    "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
    "NAME=\"Debian GNU/Linux\"\n"
    "VERSION_ID=\"12\"\n"
    "VERSION=\"12 (bookworm)\"\n"
    "VERSION_CODENAME=bookworm\n"
    "ID=debian\n"
    "HOME_URL=\"https://www.debian.org/\"\n";

constexpr std::string_view kAlpineOsRelease =
    "NAME=\"Alpine Linux\"\n"
    "ID=alpine\n"
    "VERSION_ID=3.19.1\n"
    "PRETTY_NAME=\"Alpine Linux v3.19\"\n";

constexpr std::string_view kRhelOsRelease =
    "NAME=\"Red Hat Enterprise Linux\"\n"
    "VERSION=\"9.3 (Plow)\"\n"
    "ID=\"rhel\"\n"
    "ID_LIKE=\"fedora\"\n"
    "VERSION_ID=\"9.3\"\n"
    "PRETTY_NAME=\"Red Hat Enterprise Linux 9.3 (Plow)\"\n";

// Installed packages, a held one, one whose Source has a version, and two
// that are not installed.
constexpr std::string_view kDpkgStatus =
    "Package: libc6\n"
    "Status: install ok installed\n"
    "Priority: optional\n"
    "Architecture: amd64\n"
    "Source: glibc\n"
    "Version: 2.36-9+deb12u4\n"
    "Description: GNU C Library: Shared libraries\n"
    " Package: not-a-package\n"
    " Version: 0\n"
    "\n"
    "Package: zlib1g\n"
    "Status: install ok installed\n"
    "Architecture: amd64\n"
    "Source: zlib (1:1.2.13.dfsg-1)\n"
    "Version: 1:1.2.13.dfsg-1+b1\n"
    "\n"
    "Package: libexpat1\n"
    "Status: hold ok installed\n"
    "Architecture: amd64\n"
    "Source: expat\n"
    "Version: 2.5.0-1\n"
    "\n"
    "Package: removed-package\n"
    "Status: deinstall ok config-files\n"
    "Architecture: amd64\n"
    "Version: 1.0-1\n"
    "\n"
    "Package: purged-package\n"
    "Status: purge ok not-installed\n"
    "Architecture: amd64\n"
    "\n"
    "Package: base-files\n"
    "Status: install ok installed\n"
    "Architecture: amd64\n"
    "Version: 12.4+deb12u5\n";

constexpr std::string_view kOtherDpkgStatus =
    "Package: tzdata\n"
    "Status: install ok installed\n"
    "Architecture: all\n"
    "Version: 2024a-0+deb12u1\n";

constexpr std::string_view kApkInstalled =
    "C:Q1fake0checksum0000000000000000000=\n"
    "P:musl\n"
    "V:1.2.4-r2\n"
    "A:x86_64\n"
    "S:383152\n"
    "o:musl\n"
    "\n"
    "P:libssl3\n"
    "V:3.1.4-r1\n"
    "A:x86_64\n"
    "o:openssl\n"
    "F:lib\n"
    "R:libssl.so.3\n"
    "\n"
    "P:busybox\n"
    "V:1.36.1-r15\n"
    "A:x86_64\n";

Package package(std::string name, std::string version, std::string source, std::string source_version,
                std::string architecture) {
  return Package{.name = std::move(name),
                 .version = std::move(version),
                 .source = std::move(source),
                 .source_version = std::move(source_version),
                 .architecture = std::move(architecture)};
}

std::vector<std::string> names(const Inventory& inventory) {
  std::vector<std::string> result;
  for (const Package& package : inventory.packages) result.push_back(package.name);
  return result;
}

std::string joined_notes(const Inventory& inventory) {
  std::string result;
  for (const std::string& note : inventory.notes) result += note + "\n";
  return result;
}

// --- Layers written with libarchive ---

enum class Compression { kNone, kGzip, kZstd };

// Writes a pax tar layer to a file, entry by entry.
class LayerWriter {
 public:
  LayerWriter(const fs::path& path, Compression compression) : archive_(archive_write_new()) {
    if (compression == Compression::kGzip) archive_write_add_filter_gzip(archive_);
    if (compression == Compression::kZstd) archive_write_add_filter_zstd(archive_);
    // Fast compression keeps writing the 1 GiB bombs cheap.
    if (compression == Compression::kGzip) archive_write_set_filter_option(archive_, "gzip", "compression-level", "1");
    archive_write_set_format_pax_restricted(archive_);
    check(archive_write_open_filename(archive_, path.c_str()), "open");
  }
  ~LayerWriter() { archive_write_free(archive_); }
  LayerWriter(const LayerWriter&) = delete;
  LayerWriter& operator=(const LayerWriter&) = delete;

  LayerWriter& file(const std::string& path, std::string_view content) {
    archive_entry* entry = new_entry(path, AE_IFREG, 0644);
    archive_entry_set_size(entry, static_cast<la_int64_t>(content.size()));
    write_header(entry);
    if (!content.empty() && archive_write_data(archive_, content.data(), content.size()) < 0) fail("data");
    return *this;
  }

  LayerWriter& directory(const std::string& path) {
    write_header(new_entry(path, AE_IFDIR, 0755));
    return *this;
  }

  LayerWriter& symlink(const std::string& path, const std::string& target) {
    archive_entry* entry = new_entry(path, AE_IFLNK, 0777);
    archive_entry_set_symlink(entry, target.c_str());
    write_header(entry);
    return *this;
  }

  LayerWriter& hardlink(const std::string& path, const std::string& target) {
    archive_entry* entry = new_entry(path, AE_IFREG, 0644);
    archive_entry_set_hardlink(entry, target.c_str());
    archive_entry_set_size(entry, 0);
    write_header(entry);
    return *this;
  }

  // A file of `size` zero bytes, written in 1 MiB pieces.
  LayerWriter& zeros(const std::string& path, std::uint64_t size) {
    archive_entry* entry = new_entry(path, AE_IFREG, 0644);
    archive_entry_set_size(entry, static_cast<la_int64_t>(size));
    write_header(entry);
    write_zeros(size);
    return *this;
  }

  // A sparse file of `size` bytes whose only data is `data` at its end.
  LayerWriter& sparse(const std::string& path, std::uint64_t size, std::string_view data) {
    archive_entry* entry = new_entry(path, AE_IFREG, 0644);
    archive_entry_set_size(entry, static_cast<la_int64_t>(size));
    archive_entry_sparse_add_entry(entry, static_cast<la_int64_t>(size - data.size()),
                                   static_cast<la_int64_t>(data.size()));
    write_header(entry);
    // The pax writer drops what the caller writes for the holes.
    write_zeros(size - data.size());
    if (archive_write_data(archive_, data.data(), data.size()) < 0) fail("data");
    return *this;
  }

  void close() { check(archive_write_close(archive_), "close"); }

 private:
  static archive_entry* new_entry(const std::string& path, unsigned type, int permissions) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, path.c_str());
    archive_entry_set_filetype(entry, type);
    archive_entry_set_perm(entry, permissions);
    archive_entry_set_mtime(entry, 1700000000, 0);
    return entry;
  }

  void write_header(archive_entry* entry) {
    int status = archive_write_header(archive_, entry);
    archive_entry_free(entry);
    check(status, "header");
  }

  void write_zeros(std::uint64_t size) {
    static const std::vector<char> kZeros(1 << 20, 0);
    while (size > 0) {
      std::size_t piece = static_cast<std::size_t>(std::min<std::uint64_t>(size, kZeros.size()));
      la_ssize_t written = archive_write_data(archive_, kZeros.data(), piece);
      if (written <= 0) fail("data");
      size -= static_cast<std::uint64_t>(written);
    }
  }

  void check(int status, const char* step) {
    if (status < ARCHIVE_WARN) fail(step);
  }
  [[noreturn]] void fail(const char* step) {
    throw std::runtime_error(std::string("libarchive write ") + step + " failed: " + archive_error_string(archive_));
  }

  struct archive* archive_;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

void write_file(const fs::path& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out) throw std::runtime_error("writing " + path.string() + " failed");
}

// --- A BlobReader over a file that counts what was read ---

struct ReadCounter {
  std::uint64_t bytes = 0;
};

class FileBlobReader final : public storage::BlobReader {
 public:
  FileBlobReader(const fs::path& path, std::shared_ptr<ReadCounter> counter)
      : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)), counter_(std::move(counter)) {
    if (fd_ < 0) throw std::runtime_error("opening " + path.string() + " failed: " + std::strerror(errno));
    size_ = fs::file_size(path);
  }
  ~FileBlobReader() override { ::close(fd_); }

  std::uint64_t size() const override { return size_; }

  std::size_t read_at(std::uint64_t offset, char* buffer, std::size_t length) override {
    ssize_t count = ::pread(fd_, buffer, length, static_cast<off_t>(offset));
    if (count < 0) throw std::runtime_error(std::string("pread failed: ") + std::strerror(errno));
    counter_->bytes += static_cast<std::uint64_t>(count);
    return static_cast<std::size_t>(count);
  }

 private:
  int fd_;
  std::uint64_t size_ = 0;
  std::shared_ptr<ReadCounter> counter_;
};

LayerInput layer_input(const fs::path& path, std::string_view media_type,
                       std::shared_ptr<ReadCounter> counter = std::make_shared<ReadCounter>()) {
  return LayerInput{.digest = "sha256:" + path.filename().string(),
                    .media_type = std::string(media_type),
                    .open = [path, counter] { return std::make_unique<FileBlobReader>(path, counter); }};
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Runs a shell command and returns its standard output. Throws when the
// command exits with a non-zero status.
std::string run_command(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed for " + command);
  std::string output;
  std::array<char, 4096> buffer{};
  std::size_t count = 0;
  while ((count = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), count);
  int status = ::pclose(pipe);
  if (status != 0) throw std::runtime_error("command failed (status " + std::to_string(status) + "): " + command);
  return output;
}

class ScanInventoryTest : public ::testing::Test {
 protected:
  ScanInventoryTest() { fs::create_directories(temp_dir()); }

  fs::path layer_path(const std::string& name) const { return directory_.path() / name; }
  fs::path temp_dir() const { return directory_.path() / "rpm-copies"; }

  Inventory read(const std::vector<LayerInput>& layers) { return read_inventory(layers, limits_, temp_dir()); }

  // A gzip layer with Debian's os-release and the dpkg status above.
  fs::path debian_layer(const std::string& name) {
    LayerWriter writer(layer_path(name), Compression::kGzip);
    writer.directory("etc").file("etc/os-release", kDebianOsRelease).file("var/lib/dpkg/status", kDpkgStatus);
    writer.close();
    return layer_path(name);
  }

  LayerLimits limits_;

 private:
  test_support::TempDirectory directory_;
};

// --- Parsers ---

TEST(OsReleaseParse, QuotingAndComments) {
  OsRelease release = parse_os_release(
      "# a comment\n"
      "ID=ubuntu\n"
      "ID_LIKE=debian\n"
      "VERSION_ID=\"22.04\"\r\n"
      "VERSION_CODENAME='jammy'\n"
      "PRETTY_NAME=\"Ubuntu \\\"22.04\\\" LTS\"\n"
      "not a key value line\n"
      "UNKNOWN=x\n");

  EXPECT_EQ(release.id, "ubuntu");
  EXPECT_EQ(release.id_like, "debian");
  EXPECT_EQ(release.version_id, "22.04");
  EXPECT_EQ(release.version_codename, "jammy");
  EXPECT_EQ(release.pretty_name, "Ubuntu \"22.04\" LTS");
}

TEST(OsReleaseParse, InvalidUtf8Replaced) {
  OsRelease release = parse_os_release("PRETTY_NAME=\"Caf\xc3\xa9 \xff\x01 OS\"\n");

  EXPECT_EQ(release.pretty_name, "Caf\xc3\xa9 ?? OS");
}

TEST(DpkgStatusParse, InstalledPackagesOnly) {
  std::vector<Package> packages = parse_dpkg_status(kDpkgStatus);

  EXPECT_THAT(packages, ElementsAre(package("libc6", "2.36-9+deb12u4", "glibc", "", "amd64"),
                                    package("zlib1g", "1:1.2.13.dfsg-1+b1", "zlib", "1:1.2.13.dfsg-1", "amd64"),
                                    package("libexpat1", "2.5.0-1", "expat", "", "amd64"),
                                    package("base-files", "12.4+deb12u5", "base-files", "", "amd64")));
}

TEST(DpkgStatusParse, DistrolessStanzaWithoutStatus) {
  std::vector<Package> packages = parse_dpkg_status(
      "Package: libssl3\n"
      "Version: 3.0.11-1~deb12u2\n"
      "Architecture: amd64\n"
      "Source: openssl\n");

  EXPECT_THAT(packages, ElementsAre(package("libssl3", "3.0.11-1~deb12u2", "openssl", "", "amd64")));
}

TEST(DpkgStatusParse, MalformedStanzasSkipped) {
  std::vector<Package> packages = parse_dpkg_status(
      "Package: no-version\n"
      "Status: install ok installed\n"
      "\n"
      "Package: bad name\n"
      "Version: 1.0\n"
      "\n"
      "Package: open-parenthesis\n"
      "Version: 1.0\n"
      "Source: src (1.0\n"
      "\n"
      "Package: good\n"
      "Version: 1.0\n");

  EXPECT_THAT(packages, ElementsAre(package("good", "1.0", "good", "", "")));
}

TEST(ApkInstalledParse, Packages) {
  std::vector<Package> packages = parse_apk_installed(kApkInstalled);

  EXPECT_THAT(packages, ElementsAre(package("musl", "1.2.4-r2", "musl", "", "x86_64"),
                                    package("libssl3", "3.1.4-r1", "openssl", "", "x86_64"),
                                    package("busybox", "1.36.1-r15", "busybox", "", "x86_64")));
}

// --- Layers ---

TEST_F(ScanInventoryTest, DebianLayerComplete) {
  Inventory inventory = read({layer_input(debian_layer("debian.tar.gz"), kGzipTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kComplete) << joined_notes(inventory);
  EXPECT_EQ(inventory.os.id, "debian");
  EXPECT_EQ(inventory.os.version_id, "12");
  EXPECT_EQ(inventory.os.version_codename, "bookworm");
  EXPECT_EQ(inventory.format, PackageFormat::kDpkg);
  EXPECT_THAT(names(inventory), ElementsAre("base-files", "libc6", "libexpat1", "zlib1g"));
  EXPECT_THAT(inventory.packages,
              Contains(package("zlib1g", "1:1.2.13.dfsg-1+b1", "zlib", "1:1.2.13.dfsg-1", "amd64")));
  EXPECT_THAT(inventory.notes, IsEmpty());
}

TEST_F(ScanInventoryTest, DistrolessStatusDirectory) {
  LayerWriter writer(layer_path("distroless.tar.gz"), Compression::kGzip);
  writer.file("etc/os-release", kDebianOsRelease)
      .file("var/lib/dpkg/status.d/libssl3",
            "Package: libssl3\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\nSource: openssl\n")
      .file("var/lib/dpkg/status.d/libssl3.md5sums", "0123 usr/lib/libssl.so.3\n")
      .file("var/lib/dpkg/status.d/tzdata", kOtherDpkgStatus);
  writer.close();

  Inventory inventory = read({layer_input(layer_path("distroless.tar.gz"), kGzipTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kComplete) << joined_notes(inventory);
  EXPECT_EQ(inventory.format, PackageFormat::kDpkg);
  EXPECT_THAT(inventory.packages, ElementsAre(package("libssl3", "3.0.11-1~deb12u2", "openssl", "", "amd64"),
                                              package("tzdata", "2024a-0+deb12u1", "tzdata", "", "all")));
}

TEST_F(ScanInventoryTest, PathsWithDotSlashAndLeadingSlash) {
  LayerWriter writer(layer_path("paths.tar.gz"), Compression::kGzip);
  writer.file("./etc/os-release", kDebianOsRelease).file("/var/lib//dpkg/./status", kDpkgStatus);
  writer.close();

  Inventory inventory = read({layer_input(layer_path("paths.tar.gz"), kGzipTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kComplete) << joined_notes(inventory);
  EXPECT_EQ(inventory.os.id, "debian");
  EXPECT_EQ(inventory.packages.size(), 4u);
}

TEST_F(ScanInventoryTest, WhiteoutRemovesLowerStatus) {
  LayerWriter upper(layer_path("upper.tar.gz"), Compression::kGzip);
  upper.file("var/lib/dpkg/.wh.status", "");
  upper.close();

  Inventory inventory = read({layer_input(debian_layer("lower.tar.gz"), kGzipTar),
                              layer_input(layer_path("upper.tar.gz"), kGzipTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kUnsupported);
  EXPECT_EQ(inventory.os.id, "debian");
  EXPECT_FALSE(inventory.format.has_value());
  EXPECT_THAT(inventory.packages, IsEmpty());
  EXPECT_THAT(inventory.notes, Contains(HasSubstr("no supported package database")));
}

TEST_F(ScanInventoryTest, WhiteoutOfParentDirectory) {
  LayerWriter upper(layer_path("upper.tar.gz"), Compression::kGzip);
  upper.file("var/lib/.wh.dpkg", "");
  upper.close();

  Inventory inventory = read({layer_input(debian_layer("lower.tar.gz"), kGzipTar),
                              layer_input(layer_path("upper.tar.gz"), kGzipTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kUnsupported);
  EXPECT_FALSE(inventory.format.has_value());
}

TEST_F(ScanInventoryTest, WhiteoutKeepsFileOfSameLayer) {
  // The new status comes first: a whiteout hides lower layers only.
  LayerWriter upper(layer_path("upper.tar.gz"), Compression::kGzip);
  upper.file("var/lib/dpkg/status", kOtherDpkgStatus).file("var/lib/dpkg/.wh.status", "");
  upper.close();

  Inventory inventory = read({layer_input(debian_layer("lower.tar.gz"), kGzipTar),
                              layer_input(layer_path("upper.tar.gz"), kGzipTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kComplete) << joined_notes(inventory);
  EXPECT_THAT(names(inventory), ElementsAre("tzdata"));
}

TEST_F(ScanInventoryTest, OpaqueDirectoryHidesLowerFiles) {
  LayerWriter lower_extra(layer_path("distroless.tar.gz"), Compression::kGzip);
  lower_extra.file("var/lib/dpkg/status.d/libssl3", "Package: libssl3\nVersion: 3.0.11-1~deb12u2\n");
  lower_extra.close();
  LayerWriter upper(layer_path("upper.tar.gz"), Compression::kGzip);
  upper.directory("var/lib/dpkg").file("var/lib/dpkg/status", kOtherDpkgStatus).file("var/lib/dpkg/.wh..wh..opq", "");
  upper.close();

  Inventory inventory = read({layer_input(debian_layer("lower.tar.gz"), kGzipTar),
                              layer_input(layer_path("distroless.tar.gz"), kGzipTar),
                              layer_input(layer_path("upper.tar.gz"), kGzipTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kComplete) << joined_notes(inventory);
  EXPECT_EQ(inventory.os.id, "debian");
  EXPECT_THAT(names(inventory), ElementsAre("tzdata"));
}

TEST_F(ScanInventoryTest, UpperLayerReplacesStatus) {
  LayerWriter upper(layer_path("upper.tar.gz"), Compression::kGzip);
  upper.file("var/lib/dpkg/status", kOtherDpkgStatus);
  upper.close();

  Inventory inventory = read({layer_input(debian_layer("lower.tar.gz"), kGzipTar),
                              layer_input(layer_path("upper.tar.gz"), kGzipTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kComplete) << joined_notes(inventory);
  EXPECT_THAT(names(inventory), ElementsAre("tzdata"));
}

TEST_F(ScanInventoryTest, OsReleaseSymlinkToUsrLib) {
  LayerWriter writer(layer_path("symlink.tar.gz"), Compression::kGzip);
  writer.symlink("etc/os-release", "../usr/lib/os-release")
      .file("usr/lib/os-release", kDebianOsRelease)
      .file("var/lib/dpkg/status", kDpkgStatus);
  writer.close();

  Inventory inventory = read({layer_input(layer_path("symlink.tar.gz"), kGzipTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kComplete) << joined_notes(inventory);
  EXPECT_EQ(inventory.os.id, "debian");
  EXPECT_EQ(inventory.os.version_id, "12");
}

TEST_F(ScanInventoryTest, UpperSymlinkReplacesOsRelease) {
  LayerWriter lower(layer_path("lower.tar.gz"), Compression::kGzip);
  lower.file("etc/os-release", kAlpineOsRelease)
      .file("usr/lib/os-release", kDebianOsRelease)
      .file("var/lib/dpkg/status", kDpkgStatus);
  lower.close();
  LayerWriter upper(layer_path("upper.tar.gz"), Compression::kGzip);
  upper.symlink("etc/os-release", "../usr/lib/os-release");
  upper.close();

  Inventory inventory = read({layer_input(layer_path("lower.tar.gz"), kGzipTar),
                              layer_input(layer_path("upper.tar.gz"), kGzipTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kComplete) << joined_notes(inventory);
  EXPECT_EQ(inventory.os.id, "debian");
}

TEST_F(ScanInventoryTest, HardLinkToKeptFile) {
  LayerWriter writer(layer_path("hardlink.tar.gz"), Compression::kGzip);
  writer.file("usr/lib/os-release", kDebianOsRelease)
      .hardlink("etc/os-release", "usr/lib/os-release")
      .file("var/lib/dpkg/status", kDpkgStatus);
  writer.close();

  Inventory inventory = read({layer_input(layer_path("hardlink.tar.gz"), kGzipTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kComplete) << joined_notes(inventory);
  EXPECT_EQ(inventory.os.id, "debian");
}

TEST_F(ScanInventoryTest, HardLinkToUnreadFile) {
  LayerWriter writer(layer_path("hardlink.tar.gz"), Compression::kGzip);
  writer.file("etc/os-release", kDebianOsRelease)
      .file("tmp/status-copy", kDpkgStatus)
      .hardlink("var/lib/dpkg/status", "tmp/status-copy");
  writer.close();

  Inventory inventory = read({layer_input(layer_path("hardlink.tar.gz"), kGzipTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kIncomplete);
  EXPECT_THAT(inventory.notes,
              Contains(AllOf(HasSubstr("\"var/lib/dpkg/status\" is a hard link to \"tmp/status-copy\""),
                             HasSubstr("sha256:hardlink.tar.gz"))));
}

TEST_F(ScanInventoryTest, ZstdLayer) {
  LayerWriter writer(layer_path("alpine.tar.zst"), Compression::kZstd);
  writer.file("etc/os-release", kAlpineOsRelease).file("lib/apk/db/installed", kApkInstalled);
  writer.close();

  Inventory inventory = read({layer_input(layer_path("alpine.tar.zst"), kZstdTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kComplete) << joined_notes(inventory);
  EXPECT_EQ(inventory.os.id, "alpine");
  EXPECT_EQ(inventory.os.version_id, "3.19.1");
  EXPECT_EQ(inventory.format, PackageFormat::kApk);
  EXPECT_THAT(inventory.packages, ElementsAre(package("busybox", "1.36.1-r15", "busybox", "", "x86_64"),
                                              package("libssl3", "3.1.4-r1", "openssl", "", "x86_64"),
                                              package("musl", "1.2.4-r2", "musl", "", "x86_64")));
}

TEST_F(ScanInventoryTest, UncompressedLayer) {
  LayerWriter writer(layer_path("debian.tar"), Compression::kNone);
  writer.zeros("usr/share/big", 8 << 20)
      .file("etc/os-release", kDebianOsRelease)
      .file("var/lib/dpkg/status", kDpkgStatus);
  writer.close();
  auto counter = std::make_shared<ReadCounter>();

  Inventory inventory = read({layer_input(layer_path("debian.tar"), kPlainTar, counter)});

  EXPECT_EQ(inventory.status, InventoryStatus::kComplete) << joined_notes(inventory);
  EXPECT_EQ(inventory.packages.size(), 4u);
  // The 8 MiB file is skipped by seeking, not read.
  EXPECT_LT(counter->bytes, 1u << 20);
}

TEST_F(ScanInventoryTest, LayerOfUnknownMediaType) {
  std::string helm_chart = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
  Inventory inventory = read({layer_input(debian_layer("debian.tar.gz"), kGzipTar),
                              layer_input(layer_path("debian.tar.gz"), helm_chart)});

  EXPECT_EQ(inventory.status, InventoryStatus::kUnsupported);
  EXPECT_THAT(inventory.notes, ElementsAre("layer sha256:debian.tar.gz is not a container image layer: "
                                           "application/vnd.cncf.helm.chart.content.v1.tar+gzip"));
}

TEST_F(ScanInventoryTest, MissingBlob) {
  LayerInput missing{.digest = "sha256:missing", .media_type = std::string(kGzipTar), .open = [] {
                       return std::unique_ptr<storage::BlobReader>();
                     }};

  Inventory inventory = read({layer_input(debian_layer("debian.tar.gz"), kGzipTar), missing});

  EXPECT_EQ(inventory.status, InventoryStatus::kIncomplete);
  EXPECT_EQ(inventory.packages.size(), 4u);
  EXPECT_THAT(inventory.notes, ElementsAre("layer sha256:missing is not in the blob store"));
}

TEST_F(ScanInventoryTest, BusyboxImageUnsupported) {
  LayerWriter writer(layer_path("busybox.tar.gz"), Compression::kGzip);
  writer.file("bin/busybox", "\x7f" "ELF not really")
      .hardlink("bin/sh", "bin/busybox")
      .file("etc/passwd", "root:x:0:0::/root:/bin/sh\n");
  writer.close();

  Inventory inventory = read({layer_input(layer_path("busybox.tar.gz"), kGzipTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kUnsupported);
  EXPECT_FALSE(inventory.format.has_value());
  EXPECT_THAT(inventory.notes,
              ElementsAre(HasSubstr("no os-release file"), HasSubstr("no supported package database")));
}

TEST_F(ScanInventoryTest, BerkeleyDbRpmDatabaseNoted) {
  LayerWriter writer(layer_path("ubi7.tar.gz"), Compression::kGzip);
  writer.file("etc/os-release", kRhelOsRelease).file("var/lib/rpm/Packages", "BerkeleyDB hash file");
  writer.close();

  Inventory inventory = read({layer_input(layer_path("ubi7.tar.gz"), kGzipTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kUnsupported);
  EXPECT_THAT(inventory.notes, Contains("the RPM database is in the BerkeleyDB format (RHEL/UBI 7 and older), "
                                        "which Berth does not read"));
}

// --- Limits ---

TEST_F(ScanInventoryTest, TextFileOverLimit) {
  limits_.max_text_file_bytes = 512;

  Inventory inventory = read({layer_input(debian_layer("debian.tar.gz"), kGzipTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kIncomplete);
  EXPECT_THAT(inventory.notes,
              Contains(HasSubstr("skipped \"var/lib/dpkg/status\" (" + std::to_string(kDpkgStatus.size()) +
                                 " bytes) because it is over max_text_file_bytes (512 bytes)")));
  EXPECT_EQ(inventory.os.id, "debian");
  EXPECT_THAT(inventory.packages, IsEmpty());
}

TEST_F(ScanInventoryTest, TooManyEntries) {
  limits_.max_entries = 10;
  LayerWriter writer(layer_path("many.tar.gz"), Compression::kGzip);
  writer.file("etc/os-release", kDebianOsRelease);
  for (int i = 0; i < 20; ++i) writer.file("usr/share/doc/file" + std::to_string(i), "x");
  writer.file("var/lib/dpkg/status", kDpkgStatus);
  writer.close();

  Inventory inventory = read({layer_input(layer_path("many.tar.gz"), kGzipTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kIncomplete);
  EXPECT_THAT(inventory.notes, Contains(HasSubstr("it has more than max_entries (10) entries")));
  EXPECT_EQ(inventory.os.id, "debian");
  EXPECT_THAT(inventory.packages, IsEmpty());
}

// --- Hostile layers ---

TEST_F(ScanInventoryTest, ParentDirectoryPathSkipped) {
  LayerWriter writer(layer_path("traversal.tar.gz"), Compression::kGzip);
  writer.file("../etc/passwd", "root::0:0::/:/bin/sh\n")
      .file("etc/os-release", kDebianOsRelease)
      .file("var/lib/dpkg/../../../../etc/shadow", "root::1::::::\n")
      .file("var/lib/dpkg/status", kDpkgStatus);
  writer.close();

  Inventory inventory = read({layer_input(layer_path("traversal.tar.gz"), kGzipTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kIncomplete);
  EXPECT_THAT(inventory.notes, ElementsAre(HasSubstr("skipped entry \"../etc/passwd\""),
                                           HasSubstr("skipped entry \"var/lib/dpkg/../../../../etc/shadow\"")));
  EXPECT_THAT(inventory.notes[0], HasSubstr("sha256:traversal.tar.gz"));
  EXPECT_EQ(inventory.os.id, "debian");
  EXPECT_EQ(inventory.packages.size(), 4u);
}

TEST_F(ScanInventoryTest, ParentDirectoryPathCannotReachStatus) {
  // "a/../var/lib/dpkg/status" would name the status file if ".." were
  // resolved; it is skipped instead.
  LayerWriter writer(layer_path("dotdot.tar.gz"), Compression::kGzip);
  writer.file("etc/os-release", kDebianOsRelease).file("a/../var/lib/dpkg/status", kDpkgStatus);
  writer.close();

  Inventory inventory = read({layer_input(layer_path("dotdot.tar.gz"), kGzipTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kIncomplete);
  EXPECT_FALSE(inventory.format.has_value());
}

// 1 GiB of zeros in one entry, about 4.5 MiB compressed, between the
// os-release and the dpkg status.
class GzipBombTest : public ScanInventoryTest {
 protected:
  static void SetUpTestSuite() {
    bomb_directory_ = new test_support::TempDirectory();
    auto start = std::chrono::steady_clock::now();
    LayerWriter writer(bomb_path(), Compression::kGzip);
    writer.file("etc/os-release", kDebianOsRelease).zeros("bomb", 1ull << 30).file("var/lib/dpkg/status", kDpkgStatus);
    writer.close();
    std::cout << "gzip bomb: " << fs::file_size(bomb_path()) << " compressed bytes written in " << seconds_since(start)
              << " s\n";
  }
  static void TearDownTestSuite() {
    delete bomb_directory_;
    bomb_directory_ = nullptr;
  }
  static fs::path bomb_path() { return bomb_directory_->path() / "bomb.tar.gz"; }

  // Reads the bomb and reports the time taken and the growth of the
  // process's peak resident set size, in KiB.
  Inventory read_bomb(const std::shared_ptr<ReadCounter>& counter, long& peak_growth_kib) {
    rusage before{};
    ::getrusage(RUSAGE_SELF, &before);
    auto start = std::chrono::steady_clock::now();
    Inventory inventory = read({layer_input(bomb_path(), kGzipTar, counter)});
    double read_seconds = seconds_since(start);
    rusage after{};
    ::getrusage(RUSAGE_SELF, &after);
    peak_growth_kib = after.ru_maxrss - before.ru_maxrss;
    std::cout << "gzip bomb with max_layer_bytes " << limits_.max_layer_bytes << ": read " << counter->bytes
              << " compressed bytes in " << read_seconds << " s; peak RSS " << after.ru_maxrss << " KiB (grew "
              << peak_growth_kib << " KiB)\n";
    return inventory;
  }

 private:
  static test_support::TempDirectory* bomb_directory_;
};

test_support::TempDirectory* GzipBombTest::bomb_directory_ = nullptr;

TEST_F(GzipBombTest, StopsAtLayerLimit) {
  limits_.max_layer_bytes = 64 << 20;
  auto counter = std::make_shared<ReadCounter>();
  long peak_growth_kib = 0;

  Inventory inventory = read_bomb(counter, peak_growth_kib);

  EXPECT_EQ(inventory.status, InventoryStatus::kIncomplete);
  EXPECT_THAT(inventory.notes, Contains(AllOf(HasSubstr("layer sha256:bomb.tar.gz stops after"),
                                              HasSubstr("\"bomb\" of 1073741824 bytes would take it over "
                                                        "max_layer_bytes (67108864 bytes)"))));
  EXPECT_EQ(inventory.os.id, "debian");
  EXPECT_THAT(inventory.packages, IsEmpty());
  // Reading stopped at the bomb's header, within the first chunk.
  EXPECT_LE(counter->bytes, 64u << 10);
  EXPECT_LT(peak_growth_kib, 64 * 1024);
}

TEST_F(GzipBombTest, UnderLayerLimitSkippedInBoundedMemory) {
  auto counter = std::make_shared<ReadCounter>();
  long peak_growth_kib = 0;

  Inventory inventory = read_bomb(counter, peak_growth_kib);

  EXPECT_EQ(inventory.status, InventoryStatus::kComplete) << joined_notes(inventory);
  EXPECT_EQ(inventory.packages.size(), 4u);
  EXPECT_EQ(counter->bytes, fs::file_size(bomb_path()));
  EXPECT_LT(peak_growth_kib, 64 * 1024);
}

// A reader whose storage fails after the first chunk.
class FailingBlobReader final : public storage::BlobReader {
 public:
  explicit FailingBlobReader(const fs::path& path) : reader_(path, std::make_shared<ReadCounter>()) {}
  std::uint64_t size() const override { return reader_.size(); }
  std::size_t read_at(std::uint64_t offset, char* buffer, std::size_t length) override {
    if (offset > 0) throw std::runtime_error("input/output error on the test disk");
    return reader_.read_at(offset, buffer, length);
  }

 private:
  FileBlobReader reader_;
};

TEST_F(ScanInventoryTest, BlobReadFailure) {
  std::mt19937_64 random(5);
  std::string noise(1 << 20, '\0');
  for (char& c : noise) c = static_cast<char>(random());
  LayerWriter writer(layer_path("layer.tar.gz"), Compression::kGzip);
  writer.file("etc/os-release", kDebianOsRelease).file("usr/bin/big", noise).file("var/lib/dpkg/status", kDpkgStatus);
  writer.close();
  fs::path path = layer_path("layer.tar.gz");
  LayerInput failing{.digest = "sha256:failing", .media_type = std::string(kGzipTar), .open = [path] {
                       return std::make_unique<FailingBlobReader>(path);
                     }};

  Inventory inventory = read({failing});

  EXPECT_EQ(inventory.status, InventoryStatus::kIncomplete);
  EXPECT_THAT(inventory.notes, Contains(AllOf(HasSubstr("layer sha256:failing stops after"),
                                              HasSubstr("reading the blob failed: input/output error"))));
  EXPECT_EQ(inventory.os.id, "debian");
}

TEST_F(ScanInventoryTest, TruncatedLayer) {
  // Random data does not compress, so the middle of the blob falls inside
  // the big file, after the two files the inventory needs.
  std::mt19937_64 random(7);
  std::string noise(4 << 20, '\0');
  for (char& c : noise) c = static_cast<char>(random());
  LayerWriter writer(layer_path("whole.tar.gz"), Compression::kGzip);
  writer.file("etc/os-release", kDebianOsRelease).file("var/lib/dpkg/status", kDpkgStatus).file("usr/bin/big", noise);
  writer.file("lib/apk/db/installed", kApkInstalled);
  writer.close();
  std::string whole = read_file(layer_path("whole.tar.gz"));
  write_file(layer_path("half.tar.gz"), std::string_view(whole).substr(0, whole.size() / 2));

  Inventory inventory = read({layer_input(layer_path("half.tar.gz"), kGzipTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kIncomplete);
  EXPECT_THAT(inventory.notes, ElementsAre(HasSubstr("layer sha256:half.tar.gz stops after")));
  EXPECT_EQ(inventory.os.id, "debian");
  EXPECT_EQ(inventory.format, PackageFormat::kDpkg);
  EXPECT_EQ(inventory.packages.size(), 4u);
}

TEST_F(ScanInventoryTest, RandomBytesAreNotTar) {
  std::mt19937_64 random(11);
  std::string noise(64 << 10, '\0');
  for (char& c : noise) c = static_cast<char>(random());
  write_file(layer_path("random"), noise);

  Inventory inventory = read({layer_input(layer_path("random"), kGzipTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kIncomplete);
  EXPECT_THAT(inventory.notes, Contains(HasSubstr("layer sha256:random is not a tar archive")));
}

TEST_F(ScanInventoryTest, EmptyLayer) {
  write_file(layer_path("empty"), "");
  LayerWriter writer(layer_path("empty-tar.tar.gz"), Compression::kGzip);
  writer.close();

  Inventory inventory = read({layer_input(debian_layer("debian.tar.gz"), kGzipTar),
                              layer_input(layer_path("empty"), kPlainTar),
                              layer_input(layer_path("empty-tar.tar.gz"), kGzipTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kComplete) << joined_notes(inventory);
  EXPECT_EQ(inventory.packages.size(), 4u);
}

TEST_F(ScanInventoryTest, PaxSparseFileSkippedFast) {
  auto write_start = std::chrono::steady_clock::now();
  LayerWriter writer(layer_path("sparse.tar.gz"), Compression::kGzip);
  writer.sparse("var/lib/huge", 2ull << 30, "end of a sparse file")
      .file("etc/os-release", kDebianOsRelease)
      .file("var/lib/dpkg/status", kDpkgStatus);
  writer.close();
  double write_seconds = seconds_since(write_start);

  auto start = std::chrono::steady_clock::now();
  Inventory inventory = read({layer_input(layer_path("sparse.tar.gz"), kGzipTar)});
  double read_seconds = seconds_since(start);

  EXPECT_EQ(inventory.status, InventoryStatus::kComplete) << joined_notes(inventory);
  EXPECT_EQ(inventory.packages.size(), 4u);
  EXPECT_LT(fs::file_size(layer_path("sparse.tar.gz")), 64u << 10);
  std::cout << "pax sparse 2 GiB entry: layer written in " << write_seconds << " s, read in " << read_seconds
            << " s\n";
}

TEST_F(ScanInventoryTest, GnuSparseFileSkippedFast) {
  fs::path root = layer_path("sparse-root");
  fs::create_directories(root / "etc");
  fs::create_directories(root / "var/lib/dpkg");
  write_file(root / "etc/os-release", kDebianOsRelease);
  write_file(root / "var/lib/dpkg/status", kDpkgStatus);
  {
    std::ofstream huge(root / "huge", std::ios::binary);
  }
  fs::resize_file(root / "huge", 2ull << 30);
  {
    std::fstream huge(root / "huge", std::ios::binary | std::ios::in | std::ios::out);
    huge.seekp(1 << 30);
    huge << "data in the middle";
  }
  fs::path layer = layer_path("gnu-sparse.tar.gz");
  auto write_start = std::chrono::steady_clock::now();
  run_command("tar --sparse --format=gnu -czf " + layer.string() + " -C " + root.string() +
              " huge etc/os-release var/lib/dpkg/status");
  double write_seconds = seconds_since(write_start);
  ASSERT_THAT(run_command("tar -tvzf " + layer.string()), HasSubstr("huge"));

  auto start = std::chrono::steady_clock::now();
  Inventory inventory = read({layer_input(layer, kGzipTar)});
  double read_seconds = seconds_since(start);

  EXPECT_EQ(inventory.status, InventoryStatus::kComplete) << joined_notes(inventory);
  EXPECT_EQ(inventory.packages.size(), 4u);
  std::cout << "GNU sparse 2 GiB file: tar wrote the layer in " << write_seconds << " s, read in " << read_seconds
            << " s\n";
}

TEST_F(ScanInventoryTest, MegabytePathName) {
  std::string long_path = "usr/share/" + std::string(1 << 20, 'a');
  LayerWriter writer(layer_path("long.tar.gz"), Compression::kGzip);
  writer.file("etc/os-release", kDebianOsRelease).file("var/lib/dpkg/status", kDpkgStatus).file(long_path, "x");
  writer.file("lib/apk/db/installed", kApkInstalled);
  writer.close();

  Inventory inventory = read({layer_input(layer_path("long.tar.gz"), kGzipTar)});

  // libarchive 3.6.2 rejects pax headers over 1 MiB, which ends the layer.
  // What came before is kept.
  EXPECT_EQ(inventory.status, InventoryStatus::kIncomplete);
  ASSERT_THAT(inventory.notes, ElementsAre(HasSubstr("layer sha256:long.tar.gz stops after")));
  EXPECT_LT(inventory.notes[0].size(), 2048u);
  EXPECT_EQ(inventory.os.id, "debian");
  EXPECT_EQ(inventory.format, PackageFormat::kDpkg);
}

TEST_F(ScanInventoryTest, LongPathNameInNoteIsShortened) {
  std::string long_path = "../" + std::string(100000, 'b');
  LayerWriter writer(layer_path("long.tar.gz"), Compression::kGzip);
  writer.file(long_path, "x").file("etc/os-release", kDebianOsRelease).file("var/lib/dpkg/status", kDpkgStatus);
  writer.close();

  Inventory inventory = read({layer_input(layer_path("long.tar.gz"), kGzipTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kIncomplete);
  ASSERT_THAT(inventory.notes, ElementsAre(HasSubstr("skipped entry \"../bbbb")));
  EXPECT_LT(inventory.notes[0].size(), 1024u);
  EXPECT_EQ(inventory.packages.size(), 4u);
}

// --- RPM ---

// Two noarch packages built with rpmbuild and installed with rpm into a
// root directory, once for all tests: berth-alpha 1.2.3-4.el9 and, from
// the source package berth-beta with epoch 1, berth-beta and
// berth-beta-libs 3.0.7-24.el9.
class RpmDatabase {
 public:
  static const RpmDatabase& get() {
    static RpmDatabase database;
    return database;
  }

  bool available() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  fs::path path() const { return directory_.path() / "root/var/lib/rpm/rpmdb.sqlite"; }

 private:
  RpmDatabase() {
    if (::system("command -v rpmbuild > /dev/null 2>&1") != 0) {
      error_ = "rpmbuild is not installed (scripts/bootstrap installs it)";
      return;
    }
    const fs::path& top = directory_.path();
    write_file(top / "alpha.spec", spec("berth-alpha", "", "1.2.3", "4.el9", ""));
    write_file(top / "beta.spec", spec("berth-beta", "Epoch: 1\n", "3.0.7", "24.el9",
                                       "%package libs\nSummary: Berth test subpackage\n\n"
                                       "%description libs\nTest subpackage.\n\n"
                                       "%files libs\n/usr/share/berth-beta/LIBS\n"));
    try {
      for (const char* spec_name : {"alpha.spec", "beta.spec"}) {
        run_command("rpmbuild --define '_topdir " + (top / "build").string() +
                    "' --define '_build_id_links none' -bb " + (top / spec_name).string() + " > /dev/null 2>&1");
      }
      run_command("rpm --root " + (top / "root").string() +
                  " --dbpath /var/lib/rpm --define '_db_backend sqlite' -i --nodeps --noscripts " +
                  (top / "build/RPMS/noarch/*.rpm").string() + " > /dev/null 2>&1");
    } catch (const std::runtime_error& error) {
      error_ = error.what();
    }
  }

  // A spec that installs README (in the main package) and LIBS (in the
  // `subpackage` section, or excluded when there is none).
  static std::string spec(const std::string& name, const std::string& epoch, const std::string& version,
                          const std::string& release, const std::string& subpackage) {
    std::string directory = "%{buildroot}/usr/share/" + name;
    std::string text = "Name: " + name + "\n" + epoch;
    text += "Version: " + version + "\n";
    text += "Release: " + release + "\n";
    text += "Summary: Berth test package\nLicense: MIT\nBuildArch: noarch\n\n";
    text += "%description\nTest package.\n\n";
    text += "%install\nmkdir -p " + directory + "\n";
    text += "echo main > " + directory + "/README\n";
    text += "echo libs > " + directory + "/LIBS\n\n";
    text += "%files\n/usr/share/" + name + "/README\n";
    text += subpackage.empty() ? "%exclude /usr/share/" + name + "/LIBS\n" : "\n" + subpackage;
    return text;
  }

  test_support::TempDirectory directory_;
  std::string error_;
};

#define SKIP_WITHOUT_RPM()                                                    \
  do {                                                                        \
    if (!RpmDatabase::get().available()) GTEST_SKIP() << RpmDatabase::get().error(); \
  } while (false)

const std::vector<Package> kRpmPackages = {
    package("berth-alpha", "1.2.3-4.el9", "berth-alpha", "", "noarch"),
    package("berth-beta", "1:3.0.7-24.el9", "berth-beta", "", "noarch"),
    package("berth-beta-libs", "1:3.0.7-24.el9", "berth-beta", "", "noarch"),
};

std::vector<Package> sorted(std::vector<Package> packages) {
  std::sort(packages.begin(), packages.end(), [](const Package& a, const Package& b) { return a.name < b.name; });
  return packages;
}

TEST(RpmDatabaseRead, PackagesWrittenByRpm) {
  SKIP_WITHOUT_RPM();

  std::vector<Package> packages = read_rpmdb_sqlite(RpmDatabase::get().path());

  EXPECT_EQ(sorted(packages), kRpmPackages);
}

TEST(RpmDatabaseRead, NotAnSqliteFile) {
  test_support::TempDirectory directory;
  write_file(directory.path() / "rpmdb.sqlite", std::string(4096, 'x'));

  try {
    read_rpmdb_sqlite(directory.path() / "rpmdb.sqlite");
    FAIL() << "a file of 'x' bytes was read as an RPM database";
  } catch (const std::runtime_error& error) {
    EXPECT_THAT(error.what(), HasSubstr((directory.path() / "rpmdb.sqlite").string()));
  }
}

TEST(RpmDatabaseRead, DatabaseWithoutPackagesTable) {
  test_support::TempDirectory directory;
  fs::path path = directory.path() / "other.sqlite";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE Other(x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  try {
    read_rpmdb_sqlite(path);
    FAIL() << "a database without a Packages table was read";
  } catch (const std::runtime_error& error) {
    EXPECT_THAT(error.what(), HasSubstr("has no Packages table"));
  }
}

std::string be32(std::uint32_t value) {
  std::string bytes(4, '\0');
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>(value >> (24 - 8 * i));
  return bytes;
}

std::string index_entry(std::uint32_t tag, std::uint32_t type, std::uint32_t offset, std::uint32_t count) {
  return be32(tag) + be32(type) + be32(offset) + be32(count);
}

TEST(RpmDatabaseRead, CorruptHeaderBlobs) {
  SKIP_WITHOUT_RPM();
  struct Case {
    std::string name;
    std::string blob;
    std::string message;
  };
  const std::string name_data = std::string("name") + '\0';
  const std::vector<Case> cases = {
      {"too short", "\x01\x02\x03", "shorter than 8"},
      {"no index entries", be32(0) + be32(0), "invalid index entry count 0"},
      {"huge index count", be32(0x10000) + be32(16), "invalid index entry count 65536"},
      {"huge data size", be32(1) + be32(0x10000000), "needs 268435480 bytes"},
      {"data size past the blob", be32(1) + be32(4096) + index_entry(1000, 6, 0, 1) + name_data, "needs 4120 bytes"},
      {"string offset past the data", be32(1) + be32(5) + index_entry(1000, 6, 9, 1) + name_data,
       "tag 1000 has offset 9 outside the data store"},
      {"string without NUL", be32(1) + be32(4) + index_entry(1000, 6, 0, 1) + "name", "without a terminating NUL"},
      {"epoch past the data", be32(2) + be32(5) + index_entry(1000, 6, 0, 1) + index_entry(1003, 4, 2, 1) + name_data,
       "tag 1003 has offset 2 outside the data store"},
      {"epoch of the wrong type", be32(1) + be32(5) + index_entry(1003, 6, 0, 1) + name_data, "not an INT32 value"},
      {"name of the wrong type", be32(1) + be32(5) + index_entry(1000, 4, 0, 1) + name_data, "not a string"},
      {"no name", be32(1) + be32(5) + index_entry(1001, 6, 0, 1) + name_data, "has no NAME tag"},
  };
  test_support::TempDirectory directory;
  std::mt19937 random(3);
  std::string garbage(2000, '\0');
  for (char& c : garbage) c = static_cast<char>(random());

  std::vector<Case> all = cases;
  all.push_back({"random bytes", garbage, "is malformed"});
  for (const Case& test_case : all) {
    SCOPED_TRACE(test_case.name);
    fs::path copy = directory.path() / "corrupt.sqlite";
    fs::copy_file(RpmDatabase::get().path(), copy, fs::copy_options::overwrite_existing);
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(copy.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* update = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "UPDATE Packages SET blob = ? WHERE hnum = (SELECT max(hnum) FROM Packages)", -1,
                                 &update, nullptr),
              SQLITE_OK);
    sqlite3_bind_blob(update, 1, test_case.blob.data(), static_cast<int>(test_case.blob.size()), SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(update), SQLITE_DONE);
    sqlite3_finalize(update);
    sqlite3_close(db);

    try {
      read_rpmdb_sqlite(copy);
      ADD_FAILURE() << "the corrupt header was read";
    } catch (const std::runtime_error& error) {
      EXPECT_THAT(error.what(), HasSubstr("is malformed"));
      EXPECT_THAT(error.what(), HasSubstr(test_case.message));
    }
  }
}

TEST_F(ScanInventoryTest, RpmImage) {
  SKIP_WITHOUT_RPM();
  LayerWriter writer(layer_path("rhel.tar.gz"), Compression::kGzip);
  writer.file("etc/os-release", kRhelOsRelease).file("var/lib/rpm/rpmdb.sqlite", read_file(RpmDatabase::get().path()));
  writer.close();

  Inventory inventory = read({layer_input(layer_path("rhel.tar.gz"), kGzipTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kComplete) << joined_notes(inventory);
  EXPECT_EQ(inventory.os.id, "rhel");
  EXPECT_EQ(inventory.os.version_id, "9.3");
  EXPECT_EQ(inventory.format, PackageFormat::kRpm);
  EXPECT_EQ(inventory.packages, kRpmPackages);
  // The copy is gone, and SQLite left no -wal or -shm file beside it.
  EXPECT_TRUE(fs::is_empty(temp_dir()));
}

TEST_F(ScanInventoryTest, RpmImageUnderSysimage) {
  SKIP_WITHOUT_RPM();
  LayerWriter writer(layer_path("fedora.tar.zst"), Compression::kZstd);
  writer.file("etc/os-release", kRhelOsRelease)
      .symlink("var/lib/rpm", "../../usr/lib/sysimage/rpm")
      .file("usr/lib/sysimage/rpm/rpmdb.sqlite", read_file(RpmDatabase::get().path()))
      .file("usr/lib/sysimage/rpm/rpmdb.sqlite-wal", "uncheckpointed changes");
  writer.close();

  Inventory inventory = read({layer_input(layer_path("fedora.tar.zst"), kZstdTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kComplete) << joined_notes(inventory);
  EXPECT_EQ(inventory.packages, kRpmPackages);
  EXPECT_THAT(inventory.notes, ElementsAre(HasSubstr("write-ahead log usr/lib/sysimage/rpm/rpmdb.sqlite-wal")));
}

TEST_F(ScanInventoryTest, CorruptRpmDatabaseInImage) {
  LayerWriter writer(layer_path("rhel.tar.gz"), Compression::kGzip);
  writer.file("etc/os-release", kRhelOsRelease).file("var/lib/rpm/rpmdb.sqlite", std::string(8192, '\x5a'));
  writer.close();

  Inventory inventory = read({layer_input(layer_path("rhel.tar.gz"), kGzipTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kIncomplete);
  EXPECT_EQ(inventory.format, PackageFormat::kRpm);
  EXPECT_THAT(inventory.notes, ElementsAre(HasSubstr("the RPM database var/lib/rpm/rpmdb.sqlite could not be read")));
  EXPECT_TRUE(fs::is_empty(temp_dir()));
}

TEST_F(ScanInventoryTest, RpmDatabaseOverLimit) {
  SKIP_WITHOUT_RPM();
  limits_.max_rpmdb_bytes = 4096;
  LayerWriter writer(layer_path("rhel.tar.gz"), Compression::kGzip);
  writer.file("etc/os-release", kRhelOsRelease).file("var/lib/rpm/rpmdb.sqlite", read_file(RpmDatabase::get().path()));
  writer.close();

  Inventory inventory = read({layer_input(layer_path("rhel.tar.gz"), kGzipTar)});

  EXPECT_EQ(inventory.status, InventoryStatus::kIncomplete);
  EXPECT_THAT(inventory.notes, Contains(HasSubstr("because it is over max_rpmdb_bytes (4096 bytes)")));
}

// --- Fixture images ---

// The images tests/fixtures/build-images writes: TEST_FIXTURES_DIR when
// set, else build/fixtures of the source tree.
fs::path fixtures_directory() {
  if (const char* directory = std::getenv("TEST_FIXTURES_DIR")) return directory;
  return fs::path(__FILE__).parent_path().parent_path().parent_path() / "build/fixtures";
}

// The layers of the first manifest of an OCI image layout.
std::vector<LayerInput> oci_layers(const fs::path& layout) {
  auto blob = [&](const std::string& digest) { return layout / "blobs/sha256" / digest.substr(7); };
  nlohmann::json index = nlohmann::json::parse(read_file(layout / "index.json"));
  nlohmann::json manifest =
      nlohmann::json::parse(read_file(blob(index.at("manifests").at(0).at("digest").get<std::string>())));
  std::vector<LayerInput> layers;
  for (const nlohmann::json& layer : manifest.at("layers")) {
    std::string digest = layer.at("digest").get<std::string>();
    fs::path path = blob(digest);
    layers.push_back(LayerInput{.digest = digest,
                                .media_type = layer.at("mediaType").get<std::string>(),
                                .open = [path] {
                                  return std::make_unique<FileBlobReader>(path, std::make_shared<ReadCounter>());
                                }});
  }
  return layers;
}

fs::path layer_blob(const fs::path& layout, const LayerInput& layer) {
  return layout / "blobs/sha256" / layer.digest.substr(7);
}

// Extracts the layers with tar, applying whiteouts as a container runtime
// does: before a layer is extracted, the paths its whiteouts name go.
void extract_layers(const fs::path& layout, const std::vector<LayerInput>& layers, const fs::path& root) {
  fs::create_directories(root);
  for (const LayerInput& layer : layers) {
    fs::path blob = layer_blob(layout, layer);
    std::istringstream listing(run_command("tar -tzf " + blob.string()));
    std::vector<fs::path> whiteouts;
    for (std::string line; std::getline(listing, line);) {
      fs::path entry(line);
      std::string name = entry.filename().string();
      if (!name.starts_with(".wh.")) continue;
      whiteouts.push_back(root / entry);
      if (name == ".wh..wh..opq") {
        if (fs::is_directory(root / entry.parent_path())) {
          for (const auto& child : fs::directory_iterator(root / entry.parent_path())) fs::remove_all(child.path());
        }
      } else {
        fs::remove_all(root / entry.parent_path() / name.substr(4));
      }
    }
    run_command("tar --no-same-owner -xzf " + blob.string() + " -C " + root.string());
    for (const fs::path& whiteout : whiteouts) fs::remove(whiteout);
  }
}

TEST(ScanInventoryFixture, DebianMatchesDpkgQuery) {
  fs::path layout = fixtures_directory() / "debian";
  if (!fs::exists(layout / "index.json")) {
    GTEST_SKIP() << layout << " is missing; tests/fixtures/build-images builds it";
  }
  test_support::TempDirectory directory;
  std::vector<LayerInput> layers = oci_layers(layout);
  ASSERT_EQ(layers.size(), 3u);

  auto start = std::chrono::steady_clock::now();
  Inventory inventory = read_inventory(layers, LayerLimits{}, directory.path());
  double read_seconds = seconds_since(start);
  fs::path root = directory.path() / "root";
  extract_layers(layout, layers, root);
  std::istringstream expected_output(
      run_command("dpkg-query --admindir=" + (root / "var/lib/dpkg").string() + " -W -f '${Package} ${Version}\\n'"));

  std::multiset<std::string> expected;
  for (std::string line; std::getline(expected_output, line);) expected.insert(line);
  std::multiset<std::string> actual;
  for (const Package& package : inventory.packages) actual.insert(package.name + " " + package.version);
  EXPECT_EQ(inventory.status, InventoryStatus::kComplete) << joined_notes(inventory);
  EXPECT_EQ(inventory.os.id, "debian");
  EXPECT_EQ(inventory.os.version_codename, "bookworm");
  EXPECT_EQ(inventory.format, PackageFormat::kDpkg);
  EXPECT_GT(expected.size(), 50u);
  EXPECT_EQ(actual, expected);
  std::cout << "debian fixture: " << actual.size() << " packages read in " << read_seconds << " s\n";
}

TEST(ScanInventoryFixture, BusyboxUnsupported) {
  fs::path layout = fixtures_directory() / "busybox";
  if (!fs::exists(layout / "index.json")) {
    GTEST_SKIP() << layout << " is missing; tests/fixtures/build-images builds it";
  }
  test_support::TempDirectory directory;

  Inventory inventory = read_inventory(oci_layers(layout), LayerLimits{}, directory.path());

  EXPECT_EQ(inventory.status, InventoryStatus::kUnsupported);
  EXPECT_FALSE(inventory.format.has_value());
  EXPECT_THAT(inventory.notes, Contains(HasSubstr("no supported package database")));
}

}  // namespace
}  // namespace berth::scan
