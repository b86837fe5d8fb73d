// read_inventory: streams an image's layers through libarchive, keeps the
// few files a package inventory needs (applying whiteouts and opaque
// directories), and parses them once every layer has been applied.
//
// Every layer is hostile input. Reading is bounded by LayerLimits: the
// uncompressed bytes and entries of each layer, the size of each kept text
// file (and of dpkg's status.d directory as a whole), and the size of each
// RPM database copy. Whatever goes wrong inside a layer becomes a note and
// the kIncomplete status, never an exception.
#include "scan/inventory.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

namespace berth::scan {

namespace {

namespace fs = std::filesystem;

// Bytes requested from the blob per read, and read from libarchive per call.
constexpr std::size_t kChunkBytes = std::size_t{64} << 10;
// Entry paths in notes are cut to this length (a pax path can be megabytes).
constexpr std::size_t kMaxNotePathBytes = 256;

// Paths inside the image, normalized: no leading "/" or "./".
constexpr std::string_view kEtcOsRelease = "etc/os-release";
constexpr std::string_view kUsrLibOsRelease = "usr/lib/os-release";
constexpr std::string_view kDpkgStatus = "var/lib/dpkg/status";
constexpr std::string_view kDpkgStatusDirectory = "var/lib/dpkg/status.d/";
constexpr std::string_view kApkInstalled = "lib/apk/db/installed";
constexpr std::array<std::string_view, 2> kRpmSqlitePaths = {"var/lib/rpm/rpmdb.sqlite",
                                                             "usr/lib/sysimage/rpm/rpmdb.sqlite"};
// rpm keeps its SQLite database in WAL mode. A non-empty log contains
// changes that are not yet in the database file, and Berth reads only that
// file (read-only and immutable).
constexpr std::array<std::string_view, 2> kRpmSqliteLogPaths = {"var/lib/rpm/rpmdb.sqlite-wal",
                                                                "usr/lib/sysimage/rpm/rpmdb.sqlite-wal"};
constexpr std::array<std::string_view, 2> kRpmBerkeleyDbPaths = {"var/lib/rpm/Packages",
                                                                 "usr/lib/sysimage/rpm/Packages"};
constexpr std::array<std::string_view, 2> kRpmNdbPaths = {"var/lib/rpm/Packages.db",
                                                          "usr/lib/sysimage/rpm/Packages.db"};

constexpr std::array<std::string_view, 9> kLayerMediaTypes = {
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
};

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& values, std::string_view value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

// A distroless image has one stanza file per package in status.d, each
// beside a NAME.md5sums file that lists the package's files.
bool is_dpkg_status_d_file(std::string_view path) {
  if (!path.starts_with(kDpkgStatusDirectory)) return false;
  std::string_view name = path.substr(kDpkgStatusDirectory.size());
  return !name.empty() && name.find('/') == std::string_view::npos && !name.ends_with(".md5sums");
}

// The inventory's use of a file, chosen by its path.
enum class FileRole {
  kIgnored,
  kText,       // kept in memory: os-release, dpkg status and status.d, apk installed
  kRpmSqlite,  // copied to a temporary file and opened with SQLite
  kMarker,     // only its presence and size matter: RPM files Berth does not read
};

FileRole role_of(std::string_view path) {
  if (path == kEtcOsRelease || path == kUsrLibOsRelease || path == kDpkgStatus || path == kApkInstalled ||
      is_dpkg_status_d_file(path)) {
    return FileRole::kText;
  }
  if (contains(kRpmSqlitePaths, path)) return FileRole::kRpmSqlite;
  if (contains(kRpmBerkeleyDbPaths, path) || contains(kRpmNdbPaths, path) || contains(kRpmSqliteLogPaths, path)) {
    return FileRole::kMarker;
  }
  return FileRole::kIgnored;
}

// Removes "." and empty components and any leading "/". Returns nullopt
// when a component is "..", because such a path may leave the root.
std::optional<std::string> normalize_path(std::string_view raw) {
  std::string result;
  std::size_t start = 0;
  while (start <= raw.size()) {
    std::size_t slash = raw.find('/', start);
    if (slash == std::string_view::npos) slash = raw.size();
    std::string_view component = raw.substr(start, slash - start);
    start = slash + 1;
    if (component.empty() || component == ".") continue;
    if (component == "..") return std::nullopt;
    if (!result.empty()) result.push_back('/');
    result.append(component);
  }
  return result;
}

// Notes end up in logs and JSON: only printable ASCII, and paths cut short.
std::string printable(std::string_view text, std::size_t max_bytes) {
  std::string result;
  for (char c : text.substr(0, max_bytes)) result.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (text.size() > max_bytes) result += "...";
  return result;
}

std::string quoted_path(std::string_view path) {
  std::string quoted = "\"";
  quoted += printable(path, kMaxNotePathBytes);
  quoted += '"';
  return quoted;
}

// A file created with a unique name in a directory, removed when the object
// is destroyed.
class TemporaryFile {
 public:
  explicit TemporaryFile(const fs::path& directory) {
    std::string pattern = (directory / "berth-rpmdb-XXXXXX").string();
    int fd = ::mkostemp(pattern.data(), O_CLOEXEC);
    if (fd < 0) {
      throw std::runtime_error("creating a temporary file in " + directory.string() + " failed: " +
                               std::strerror(errno));
    }
    fd_ = fd;
    path_ = pattern;
  }
  ~TemporaryFile() {
    close();
    std::error_code ignored;
    fs::remove(path_, ignored);
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  void write(const char* data, std::size_t length) {
    while (length > 0) {
      ssize_t written = ::write(fd_, data, length);
      if (written < 0 && errno == EINTR) continue;
      if (written < 0) throw std::runtime_error("writing " + path_.string() + " failed: " + std::strerror(errno));
      data += written;
      length -= static_cast<std::size_t>(written);
    }
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  const fs::path& path() const { return path_; }

 private:
  int fd_ = -1;
  fs::path path_;
};

// A kept file of the image, and the index of the layer that wrote it.
struct ImageFile {
  std::size_t layer = 0;
  std::uint64_t size = 0;                     // FileRole::kMarker
  std::string text;                           // FileRole::kText
  std::shared_ptr<const TemporaryFile> copy;  // FileRole::kRpmSqlite
};

// The kept files of the root filesystem as the layers are applied.
class ImageFiles {
 public:
  const ImageFile* find(std::string_view path) const {
    auto found = files_.find(path);
    return found == files_.end() ? nullptr : &found->second;
  }

  void put(const std::string& path, ImageFile file) {
    erase_tree(path, /*self=*/true, /*below_layer=*/kAnyLayer);
    if (is_dpkg_status_d_file(path)) status_d_bytes_ += file.text.size();
    files_.emplace(path, std::move(file));
  }

  // A whiteout: removes `path` and everything under it that a layer below
  // `layer` wrote. Files of `layer` itself stay.
  void whiteout(std::string_view path, std::size_t layer) { erase_tree(path, /*self=*/true, layer); }

  // An opaque directory: hides what lower layers put under `directory`.
  void make_opaque(std::string_view directory, std::size_t layer) { erase_tree(directory, /*self=*/false, layer); }

  // A non-directory entry replaces whatever was at its path, including a
  // directory and everything under it.
  void replace_with_non_directory(std::string_view path) { erase_tree(path, /*self=*/true, kAnyLayer); }

  // A directory entry replaces a file at its path but keeps what is under it.
  void replace_with_directory(std::string_view path) {
    auto found = files_.find(path);
    if (found != files_.end()) erase(found);
  }

  std::uint64_t status_d_bytes() const { return status_d_bytes_; }
  const std::map<std::string, ImageFile, std::less<>>& files() const { return files_; }

 private:
  static constexpr std::size_t kAnyLayer = static_cast<std::size_t>(-1);

  using Iterator = std::map<std::string, ImageFile, std::less<>>::iterator;

  Iterator erase(Iterator position) {
    if (is_dpkg_status_d_file(position->first)) status_d_bytes_ -= position->second.text.size();
    return files_.erase(position);
  }

  // Erases the file at `path` (when `self`) and every file under it that a
  // layer below `below_layer` wrote. An empty `path` is the root.
  void erase_tree(std::string_view path, bool self, std::size_t below_layer) {
    if (self) {
      auto found = files_.find(path);
      if (found != files_.end() && found->second.layer < below_layer) erase(found);
    }
    std::string prefix = path.empty() ? std::string() : std::string(path) + "/";
    for (auto it = files_.lower_bound(prefix); it != files_.end() && it->first.starts_with(prefix);) {
      it = it->second.layer < below_layer ? erase(it) : std::next(it);
    }
  }

  std::map<std::string, ImageFile, std::less<>> files_;
  std::uint64_t status_d_bytes_ = 0;
};

// libarchive reading one layer blob through BlobReader::read_at, 64 KiB at
// a time, with compression detected from the bytes.
class LayerArchive {
 public:
  LayerArchive(storage::BlobReader& reader, std::uint64_t max_bytes)
      : archive_(archive_read_new()), reader_(reader), max_bytes_(max_bytes), buffer_(kChunkBytes) {
    if (archive_ == nullptr) throw std::bad_alloc();
  }
  ~LayerArchive() { archive_read_free(archive_); }
  LayerArchive(const LayerArchive&) = delete;
  LayerArchive& operator=(const LayerArchive&) = delete;

  // Returns false when libarchive cannot start reading, and error() then
  // returns the reason.
  bool open() {
    archive_read_support_filter_gzip(archive_);
    archive_read_support_filter_zstd(archive_);
    archive_read_support_filter_none(archive_);
    archive_read_support_format_tar(archive_);
    // A layer whose tar stream is empty (zero bytes once decompressed)
    // is read as a layer without entries.
    archive_read_support_format_empty(archive_);
    archive_read_set_callback_data(archive_, this);
    archive_read_set_read_callback(archive_, &LayerArchive::read_callback);
    archive_read_set_skip_callback(archive_, &LayerArchive::skip_callback);
    return archive_read_open1(archive_) == ARCHIVE_OK;
  }

  struct archive* get() const { return archive_; }

  // Uncompressed bytes libarchive has consumed so far.
  std::uint64_t position() const {
    la_int64_t bytes = archive_filter_bytes(archive_, 0);
    return bytes < 0 ? 0 : static_cast<std::uint64_t>(bytes);
  }

  bool over_limit() const { return over_limit_; }

  // Returns the reason the last libarchive call failed.
  std::string error() const {
    if (!read_error_.empty()) return read_error_;
    const char* message = archive_error_string(archive_);
    return message != nullptr ? message : "unknown libarchive error";
  }

 private:
  static la_ssize_t read_callback(struct archive* archive, void* client, const void** buffer) {
    auto& self = *static_cast<LayerArchive*>(client);
    // A backstop for fits_in_layer(). In tests with libarchive 3.6.2 the tar
    // reader consumed only data whose size an entry header announced (sparse
    // maps and special headers included). Should a reader skip data it did
    // not announce, this check ends the layer within one chunk of compressed
    // input, which is at most about 64 MiB of output at deflate's maximum
    // ratio of 1032:1 (zlib's technical details page).
    if (archive_filter_bytes(archive, 0) > static_cast<la_int64_t>(self.max_bytes_)) {
      self.over_limit_ = true;
      archive_set_error(archive, EFBIG, "the layer is over max_layer_bytes");
      return -1;
    }
    try {
      std::size_t count = self.reader_.read_at(self.offset_, self.buffer_.data(), self.buffer_.size());
      self.offset_ += count;
      *buffer = self.buffer_.data();
      return static_cast<la_ssize_t>(count);
    } catch (const std::exception& error) {
      self.read_error_ = std::string("reading the blob failed: ") + error.what();
      archive_set_error(archive, EIO, "%s", self.read_error_.c_str());
      return -1;
    }
  }

  // Used by libarchive only where no decompression is involved, which
  // makes skipping entries of an uncompressed layer free.
  static la_int64_t skip_callback(struct archive*, void* client, la_int64_t request) {
    auto& self = *static_cast<LayerArchive*>(client);
    std::uint64_t size = self.reader_.size();
    std::uint64_t remaining = size > self.offset_ ? size - self.offset_ : 0;
    std::uint64_t skipped = request > 0 ? std::min(static_cast<std::uint64_t>(request), remaining) : 0;
    self.offset_ += skipped;
    return static_cast<la_int64_t>(skipped);
  }

  struct archive* archive_;
  storage::BlobReader& reader_;
  std::uint64_t max_bytes_;
  std::vector<char> buffer_;
  std::uint64_t offset_ = 0;
  bool over_limit_ = false;
  std::string read_error_;
};

std::uint64_t logical_size(archive_entry* entry) {
  if (!archive_entry_size_is_set(entry)) return 0;
  return static_cast<std::uint64_t>(std::max<la_int64_t>(archive_entry_size(entry), 0));
}

// Bytes an entry occupies in the tar stream: the data regions of a sparse
// file, else its size.
std::uint64_t stored_size(archive_entry* entry) {
  int regions = archive_entry_sparse_reset(entry);
  if (regions <= 0) return logical_size(entry);
  std::uint64_t total = 0;
  la_int64_t offset = 0;
  la_int64_t length = 0;
  while (archive_entry_sparse_next(entry, &offset, &length) == ARCHIVE_OK) {
    if (length > 0) total += static_cast<std::uint64_t>(length);
  }
  return total;
}

// Applies the entries of one layer to an ImageFiles.
class LayerReader {
 public:
  LayerReader(const LayerInput& input, std::size_t index, const LayerLimits& limits, const fs::path& temp_dir,
              ImageFiles& files, std::vector<std::string>& notes)
      : input_(input), index_(index), limits_(limits), temp_dir_(temp_dir), files_(files), notes_(notes) {}

  // Reads the layer to its end. Returns false when it was cut short or an
  // entry was skipped, after adding a note with the reason.
  bool read() {
    std::unique_ptr<storage::BlobReader> reader;
    try {
      reader = input_.open();
    } catch (const std::exception& error) {
      note("layer " + input_.digest + " could not be opened: " + error.what());
      return false;
    }
    if (reader == nullptr) {
      note("layer " + input_.digest + " is not in the blob store");
      return false;
    }

    LayerArchive archive(*reader, limits_.max_layer_bytes);
    archive_ = &archive;
    // libarchive reads the first bytes here to detect compression and format.
    if (archive.open()) {
      read_entries();
    } else {
      note("layer " + input_.digest + " is not a tar archive or is damaged at its start: " + archive.error());
      complete_ = false;
    }
    archive_ = nullptr;
    return complete_;
  }

 private:
  enum class Flow { kContinue, kStop };

  void read_entries() {
    std::uint64_t entries = 0;
    while (true) {
      archive_entry* entry = nullptr;
      int status = archive_read_next_header(archive_->get(), &entry);
      if (status == ARCHIVE_EOF) return;
      // ARCHIVE_WARN still returns a usable entry (an unknown pax keyword,
      // a name that is not in the locale's character set).
      if (status != ARCHIVE_OK && status != ARCHIVE_WARN) {
        // libarchive cannot tell garbage from a stream damaged before its
        // first header, but its message names the cause.
        if (entries == 0 && !archive_->over_limit()) {
          note("layer " + input_.digest + " is not a tar archive or is damaged at its start: " + archive_->error());
          complete_ = false;
          return;
        }
        stop(failure_reason());
        return;
      }
      ++entries;
      if (entries > limits_.max_entries) {
        stop("it has more than max_entries (" + std::to_string(limits_.max_entries) + ") entries");
        return;
      }
      if (archive_->position() > limits_.max_layer_bytes) {
        stop(over_limit_reason());
        return;
      }
      if (handle_entry(entry) == Flow::kStop) return;
    }
  }

  Flow handle_entry(archive_entry* entry) {
    const char* raw_path = archive_entry_pathname(entry);
    if (raw_path == nullptr) {
      note("layer " + input_.digest + ": skipped an entry without a path name");
      complete_ = false;
      return discard_data(entry);
    }
    std::optional<std::string> path = normalize_path(raw_path);
    if (!path) {
      note("layer " + input_.digest + ": skipped entry " + quoted_path(raw_path) +
           " because its path has a \"..\" component");
      complete_ = false;
      return discard_data(entry);
    }
    if (path->empty()) return discard_data(entry);

    std::string_view full_path(*path);
    std::size_t slash = full_path.rfind('/');
    std::string_view directory = slash == std::string_view::npos ? std::string_view() : full_path.substr(0, slash);
    std::string_view name = slash == std::string_view::npos ? full_path : full_path.substr(slash + 1);
    if (name.starts_with(".wh.")) {
      apply_whiteout(*path, directory, name);
      return discard_data(entry);
    }

    if (archive_entry_filetype(entry) == AE_IFDIR) {
      files_.replace_with_directory(*path);
      return discard_data(entry);
    }
    files_.replace_with_non_directory(*path);
    FileRole role = role_of(*path);
    if (role == FileRole::kIgnored) return discard_data(entry);

    const char* hard_link = archive_entry_hardlink(entry);
    // A pax hard link may carry its own data, which is read like a file's.
    bool has_data = archive_entry_size_is_set(entry) && archive_entry_size(entry) > 0;
    if (hard_link != nullptr && !has_data) {
      link_file(*path, hard_link, role);
      return discard_data(entry);
    }
    // Symbolic links are not followed, and devices and FIFOs have no data.
    if (hard_link == nullptr && archive_entry_filetype(entry) != AE_IFREG) return discard_data(entry);

    switch (role) {
      case FileRole::kText: return read_text(entry, *path);
      case FileRole::kRpmSqlite: return copy_rpm_database(entry, *path);
      case FileRole::kMarker: files_.put(*path, ImageFile{.layer = index_, .size = logical_size(entry)}); break;
      case FileRole::kIgnored: break;
    }
    return discard_data(entry);
  }

  void apply_whiteout(const std::string& path, std::string_view directory, std::string_view name) {
    if (name == ".wh..wh..opq") {
      files_.make_opaque(directory, index_);
      return;
    }
    // Other ".wh..wh." names are aufs bookkeeping (.wh..wh.plnk), not
    // whiteouts.
    if (name.starts_with(".wh..wh.")) return;
    std::string_view hidden = name.substr(4);
    if (hidden == "." || hidden == ".." || hidden.empty()) {
      note("layer " + input_.digest + ": skipped whiteout " + quoted_path(path) + " because it names no file");
      complete_ = false;
      return;
    }
    std::string target = directory.empty() ? std::string(hidden) : std::string(directory) + "/" + std::string(hidden);
    files_.whiteout(target, index_);
  }

  // Follows a hard link to a file the inventory already keeps: one earlier
  // in this layer, or one a lower layer wrote at that path.
  void link_file(const std::string& path, std::string_view raw_target, FileRole role) {
    std::optional<std::string> target = normalize_path(raw_target);
    if (!target) {
      note("layer " + input_.digest + ": skipped hard link " + quoted_path(path) + " because its target " +
           quoted_path(raw_target) + " has a \"..\" component");
      complete_ = false;
      return;
    }
    const ImageFile* linked = files_.find(*target);
    if (role == FileRole::kMarker) {
      files_.put(path, ImageFile{.layer = index_, .size = linked != nullptr ? linked->size : 0});
      return;
    }
    bool usable = linked != nullptr && ((role == FileRole::kText && linked->copy == nullptr) ||
                                        (role == FileRole::kRpmSqlite && linked->copy != nullptr));
    if (!usable) {
      note("layer " + input_.digest + ": " + quoted_path(path) + " is a hard link to " + quoted_path(*target) +
           ", a file the inventory does not keep, so it was not read");
      complete_ = false;
      return;
    }
    ImageFile copy = *linked;
    copy.layer = index_;
    files_.put(path, std::move(copy));
  }

  Flow read_text(archive_entry* entry, const std::string& path) {
    std::uint64_t limit = limits_.max_text_file_bytes;
    if (!archive_entry_size_is_set(entry) || static_cast<std::uint64_t>(archive_entry_size(entry)) > limit) {
      skip_over_limit(path, entry, "max_text_file_bytes", limit);
      return discard_data(entry);
    }
    auto size = static_cast<std::uint64_t>(archive_entry_size(entry));
    if (is_dpkg_status_d_file(path) && files_.status_d_bytes() + size > limit) {
      note("layer " + input_.digest + ": skipped " + quoted_path(path) + " because the files of " +
           std::string(kDpkgStatusDirectory) + " together are over max_text_file_bytes (" + std::to_string(limit) +
           " bytes)");
      complete_ = false;
      return discard_data(entry);
    }
    if (fits_in_layer(entry) == Flow::kStop) return Flow::kStop;

    std::string text;
    text.reserve(size);
    std::vector<char> buffer(kChunkBytes);
    while (true) {
      la_ssize_t count = archive_read_data(archive_->get(), buffer.data(), buffer.size());
      if (count == 0) break;
      if (count < 0) return stop(failure_reason());
      text.append(buffer.data(), static_cast<std::size_t>(count));
    }
    files_.put(path, ImageFile{.layer = index_, .text = std::move(text)});
    return Flow::kContinue;
  }

  Flow copy_rpm_database(archive_entry* entry, const std::string& path) {
    std::uint64_t limit = limits_.max_rpmdb_bytes;
    if (!archive_entry_size_is_set(entry) || static_cast<std::uint64_t>(archive_entry_size(entry)) > limit) {
      skip_over_limit(path, entry, "max_rpmdb_bytes", limit);
      return discard_data(entry);
    }
    if (fits_in_layer(entry) == Flow::kStop) return Flow::kStop;

    std::shared_ptr<TemporaryFile> copy;
    try {
      copy = std::make_shared<TemporaryFile>(temp_dir_);
      std::vector<char> buffer(kChunkBytes);
      while (true) {
        la_ssize_t count = archive_read_data(archive_->get(), buffer.data(), buffer.size());
        if (count == 0) break;
        if (count < 0) return stop(failure_reason());
        copy->write(buffer.data(), static_cast<std::size_t>(count));
      }
      copy->close();
    } catch (const std::runtime_error& error) {
      note("layer " + input_.digest + ": " + quoted_path(path) + " could not be copied: " + error.what());
      complete_ = false;
      return skip_rest();
    }
    files_.put(path, ImageFile{.layer = index_, .copy = std::move(copy)});
    return Flow::kContinue;
  }

  void skip_over_limit(const std::string& path, archive_entry* entry, std::string_view limit_name,
                       std::uint64_t limit) {
    std::string size = archive_entry_size_is_set(entry) ? std::to_string(archive_entry_size(entry)) + " bytes"
                                                        : "an unknown size";
    note("layer " + input_.digest + ": skipped " + quoted_path(path) + " (" + size + ") because it is over " +
         std::string(limit_name) + " (" + std::to_string(limit) + " bytes)");
    complete_ = false;
  }

  // Stops before reading an entry whose data would take the layer over
  // max_layer_bytes, so that a bomb made of one huge entry is not
  // decompressed at all.
  Flow fits_in_layer(archive_entry* entry) {
    std::uint64_t stored = stored_size(entry);
    if (archive_->position() + stored <= limits_.max_layer_bytes) return Flow::kContinue;
    const char* path = archive_entry_pathname(entry);
    return stop("entry " + quoted_path(path != nullptr ? path : "") + " of " + std::to_string(stored) +
                " bytes would take it over max_layer_bytes (" + std::to_string(limits_.max_layer_bytes) + " bytes)");
  }

  // Moves past an entry's data after checking that it fits in the layer
  // limit: a seek in an uncompressed layer, decompression without copying
  // in a compressed one. The holes of a sparse file cost nothing.
  Flow discard_data(archive_entry* entry) {
    if (fits_in_layer(entry) == Flow::kStop) return Flow::kStop;
    return skip_rest();
  }

  Flow skip_rest() {
    if (archive_read_data_skip(archive_->get()) < ARCHIVE_WARN) return stop(failure_reason());
    return Flow::kContinue;
  }

  std::string over_limit_reason() const {
    return "it is over max_layer_bytes (" + std::to_string(limits_.max_layer_bytes) + " bytes)";
  }

  std::string failure_reason() const { return archive_->over_limit() ? over_limit_reason() : archive_->error(); }

  Flow stop(const std::string& reason) {
    note("layer " + input_.digest + " stops after " + std::to_string(archive_->position()) + " bytes: " + reason);
    complete_ = false;
    return Flow::kStop;
  }

  void note(const std::string& text) { notes_.push_back(printable(text, 4 * kMaxNotePathBytes)); }

  const LayerInput& input_;
  std::size_t index_;
  const LayerLimits& limits_;
  const fs::path& temp_dir_;
  ImageFiles& files_;
  std::vector<std::string>& notes_;
  LayerArchive* archive_ = nullptr;
  bool complete_ = true;
};

std::string_view format_name(PackageFormat format) {
  switch (format) {
    case PackageFormat::kDpkg: return "dpkg";
    case PackageFormat::kApk: return "apk";
    case PackageFormat::kRpm: return "rpm";
  }
  return "unknown";
}

// The dpkg packages of status and of every status.d file. A package listed
// twice (same name and architecture) is kept once.
std::vector<Package> dpkg_packages(const ImageFiles& files) {
  std::vector<Package> packages;
  std::set<std::pair<std::string, std::string>> listed;
  auto add = [&](std::vector<Package> parsed) {
    for (Package& package : parsed) {
      if (listed.emplace(package.name, package.architecture).second) packages.push_back(std::move(package));
    }
  };
  if (const ImageFile* status = files.find(kDpkgStatus)) add(parse_dpkg_status(status->text));
  auto& all = files.files();
  for (auto it = all.lower_bound(kDpkgStatusDirectory); it != all.end() && it->first.starts_with(kDpkgStatusDirectory);
       ++it) {
    if (is_dpkg_status_d_file(it->first)) add(parse_dpkg_status(it->second.text));
  }
  return packages;
}

bool has_dpkg_database(const ImageFiles& files) {
  if (files.find(kDpkgStatus) != nullptr) return true;
  auto& all = files.files();
  for (auto it = all.lower_bound(kDpkgStatusDirectory); it != all.end() && it->first.starts_with(kDpkgStatusDirectory);
       ++it) {
    if (is_dpkg_status_d_file(it->first)) return true;
  }
  return false;
}

const ImageFile* first_found(const ImageFiles& files, const std::array<std::string_view, 2>& paths,
                             std::string_view* found_path = nullptr) {
  for (std::string_view path : paths) {
    if (const ImageFile* file = files.find(path)) {
      if (found_path != nullptr) *found_path = path;
      return file;
    }
  }
  return nullptr;
}

// Fills in the OS release, the package format and the packages from the
// files left once every layer has been applied. Returns false when a
// package database was found but could not be read.
bool read_files(const ImageFiles& files, Inventory& inventory) {
  const ImageFile* os_release = files.find(kEtcOsRelease);
  if (os_release == nullptr) os_release = files.find(kUsrLibOsRelease);
  if (os_release != nullptr) {
    inventory.os = parse_os_release(os_release->text);
  } else {
    inventory.notes.push_back("no os-release file was found (etc/os-release or usr/lib/os-release)");
  }

  std::string_view rpm_path;
  const ImageFile* rpm_database = first_found(files, kRpmSqlitePaths, &rpm_path);
  std::vector<PackageFormat> found;
  if (has_dpkg_database(files)) found.push_back(PackageFormat::kDpkg);
  if (files.find(kApkInstalled) != nullptr) found.push_back(PackageFormat::kApk);
  if (rpm_database != nullptr) found.push_back(PackageFormat::kRpm);

  if (found.empty()) {
    if (first_found(files, kRpmBerkeleyDbPaths) != nullptr) {
      inventory.notes.push_back(
          "the RPM database is in the BerkeleyDB format (RHEL/UBI 7 and older), which Berth does not read");
    } else if (first_found(files, kRpmNdbPaths) != nullptr) {
      inventory.notes.push_back("the RPM database is in the NDB format (SUSE), which Berth does not read");
    }
    inventory.notes.push_back("no supported package database was found (dpkg, apk or rpmdb.sqlite)");
    return true;
  }
  // Several databases in one image are rare (a tool image that carries
  // another distribution's tools). The first in the order dpkg, apk, rpm is
  // listed.
  for (std::size_t i = 1; i < found.size(); ++i) {
    inventory.notes.push_back("the image also has a " + std::string(format_name(found[i])) +
                              " database, whose packages are not listed");
  }
  inventory.format = found.front();

  switch (found.front()) {
    case PackageFormat::kDpkg: inventory.packages = dpkg_packages(files); break;
    case PackageFormat::kApk: inventory.packages = parse_apk_installed(files.find(kApkInstalled)->text); break;
    case PackageFormat::kRpm:
      if (const ImageFile* log = files.find(std::string(rpm_path) + "-wal"); log != nullptr && log->size > 0) {
        inventory.notes.push_back("the RPM database's write-ahead log " + std::string(rpm_path) + "-wal (" +
                                  std::to_string(log->size) +
                                  " bytes) is not read, so packages changed since its last checkpoint may be missing");
      }
      try {
        inventory.packages = read_rpmdb_sqlite(rpm_database->copy->path());
      } catch (const std::runtime_error& error) {
        inventory.notes.push_back("the RPM database " + std::string(rpm_path) + " could not be read: " +
                                  printable(error.what(), 4 * kMaxNotePathBytes));
        return false;
      }
      break;
  }
  // Plain string order, because the order only has to be stable.
  std::sort(inventory.packages.begin(), inventory.packages.end(), [](const Package& a, const Package& b) {
    return std::tie(a.name, a.version, a.architecture, a.source, a.source_version) <
           std::tie(b.name, b.version, b.architecture, b.source, b.source_version);
  });
  return true;
}

}  // namespace

Inventory read_inventory(const std::vector<LayerInput>& layers, const LayerLimits& limits,
                         const std::filesystem::path& temp_dir) {
  Inventory inventory;
  for (const LayerInput& layer : layers) {
    if (!contains(kLayerMediaTypes, layer.media_type)) {
      inventory.notes.push_back("layer " + layer.digest + " is not a container image layer: " +
                                printable(layer.media_type, kMaxNotePathBytes));
    }
  }
  if (!inventory.notes.empty()) return inventory;
  if (layers.empty()) {
    inventory.notes.push_back("the image has no layers");
    return inventory;
  }

  ImageFiles files;
  bool complete = true;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    LayerReader reader(layers[i], i, limits, temp_dir, files, inventory.notes);
    if (!reader.read()) complete = false;
  }
  bool os_found = files.find(kEtcOsRelease) != nullptr || files.find(kUsrLibOsRelease) != nullptr;
  if (!read_files(files, inventory)) complete = false;

  if (!complete) {
    inventory.status = InventoryStatus::kIncomplete;
  } else if (os_found && inventory.format) {
    inventory.status = InventoryStatus::kComplete;
  } else {
    inventory.status = InventoryStatus::kUnsupported;
  }
  return inventory;
}

}  // namespace berth::scan
