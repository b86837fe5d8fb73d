#include "storage/filesystem_store.h"

#include "core/error.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace berth::storage {

namespace fs = std::filesystem;
using core::InternalError;

namespace {

[[noreturn]] void fail(const std::string& what, const fs::path& path, int error = errno) {
  throw InternalError(what + " " + path.string() + ": " + std::strerror(error));
}

// Closes a file descriptor when it goes out of scope.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

void fsync_path(const fs::path& path, bool directory) {
  FileDescriptor fd(::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC));
  if (fd.get() < 0) fail("cannot open", path);
  if (::fsync(fd.get()) != 0) fail("cannot fsync", path);
}

// Creates `path` and any missing parents, fsyncing each parent whose
// entries changed so that the new directories survive a power loss.
void create_directories_durably(const fs::path& path) {
  if (fs::exists(path)) return;
  create_directories_durably(path.parent_path());
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) fail("cannot create directory", path);
  fsync_path(path.parent_path(), /*directory=*/true);
}

// Upload ids become path components; only ids made of lower-case letters,
// digits and dashes (the UUIDs the registry generates) are accepted.
void check_upload_id(const std::string& id) {
  bool ok = !id.empty() && id.size() <= 64;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) ok = false;
  }
  if (!ok) throw InternalError("invalid upload id \"" + id + "\"");
}

class FileReader final : public BlobReader {
 public:
  FileReader(int fd, std::uint64_t size, fs::path path) : fd_(fd), size_(size), path_(std::move(path)) {}
  std::uint64_t size() const override { return size_; }
  int native_fd() const override { return fd_.get(); }

  std::size_t read_at(std::uint64_t offset, char* buffer, std::size_t length) override {
    while (true) {
      ssize_t n = ::pread(fd_.get(), buffer, length, static_cast<off_t>(offset));
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno != EINTR) fail("cannot read", path_);
    }
  }

 private:
  FileDescriptor fd_;
  std::uint64_t size_;
  fs::path path_;
};

// Bytes after which an upload's new data is handed to the kernel for
// writeback. The disk then writes while the rest arrives, and the fsync at
// commit has little left to wait for. In A/B runs of berth-bench on the
// machine of docs/benchmarks.md, 2 MiB beat 512 KiB and 8 MiB, and 100 MiB
// pushes were about 25 % faster than without early writeback.
constexpr std::uint64_t kWritebackStep = 2 * 1024 * 1024;

class FileWriter final : public UploadWriter {
 public:
  FileWriter(int fd, std::uint64_t size, fs::path path)
      : fd_(fd), size_(size), written_back_(size), path_(std::move(path)) {}
  std::uint64_t size() const override { return size_; }
  std::string finish() override { return ""; }

  void write(const char* data, std::size_t length) override {
    while (length > 0) {
      ssize_t n = ::write(fd_.get(), data, length);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("cannot write", path_);
      }
      data += n;
      length -= static_cast<std::size_t>(n);
      size_ += static_cast<std::uint64_t>(n);
    }
    if (size_ - written_back_ >= kWritebackStep) {
      // Starts writeback without waiting for it. Durability still comes
      // from the fsync at commit, so a failure here only loses the head start.
      ::sync_file_range(fd_.get(), static_cast<off_t>(written_back_), static_cast<off_t>(size_ - written_back_),
                        SYNC_FILE_RANGE_WRITE);
      written_back_ = size_;
    }
  }

 private:
  FileDescriptor fd_;
  std::uint64_t size_;
  std::uint64_t written_back_;
  fs::path path_;
};

std::unique_ptr<BlobReader> open_reader(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return nullptr;
    fail("cannot open", path);
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    int error = errno;
    ::close(fd);
    fail("cannot stat", path, error);
  }
  return std::make_unique<FileReader>(fd, static_cast<std::uint64_t>(info.st_size), path);
}

}  // namespace

FilesystemStore::FilesystemStore(fs::path root) : root_(std::move(root)) {
  create_directories_durably(root_ / "blobs");
  create_directories_durably(root_ / "uploads");
}

fs::path FilesystemStore::blob_path(const core::Digest& digest) const {
  return root_ / "blobs" / std::string(core::algorithm_name(digest.algorithm())) / digest.hex().substr(0, 2) / digest.hex();
}

fs::path FilesystemStore::upload_dir(const std::string& id) const {
  check_upload_id(id);
  return root_ / "uploads" / id;
}

std::optional<std::uint64_t> FilesystemStore::stat(const core::Digest& digest) {
  struct stat info {};
  fs::path path = blob_path(digest);
  if (::stat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) return std::nullopt;
    fail("cannot stat", path);
  }
  return static_cast<std::uint64_t>(info.st_size);
}

namespace {

std::optional<std::int64_t> modification_time(const fs::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) return std::nullopt;
    fail("cannot stat", path);
  }
  return static_cast<std::int64_t>(info.st_mtim.tv_sec);
}

}  // namespace

std::optional<std::int64_t> FilesystemStore::modified_at(const core::Digest& digest) {
  return modification_time(blob_path(digest));
}

std::optional<std::int64_t> FilesystemStore::upload_modified_at(const std::string& id) {
  return modification_time(upload_dir(id) / "data");
}

std::unique_ptr<BlobReader> FilesystemStore::open(const core::Digest& digest) { return open_reader(blob_path(digest)); }

bool FilesystemStore::remove(const core::Digest& digest) {
  fs::path path = blob_path(digest);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return false;
    fail("cannot remove", path);
  }
  return true;
}

std::vector<core::Digest> FilesystemStore::list() {
  std::vector<core::Digest> out;
  for (const auto& algorithm_dir : fs::directory_iterator(root_ / "blobs")) {
    if (!algorithm_dir.is_directory()) continue;
    for (const auto& prefix_dir : fs::directory_iterator(algorithm_dir.path())) {
      if (!prefix_dir.is_directory()) continue;
      for (const auto& file : fs::directory_iterator(prefix_dir.path())) {
        auto digest = core::Digest::parse(algorithm_dir.path().filename().string() + ":" + file.path().filename().string());
        if (digest) out.push_back(*digest);
      }
    }
  }
  return out;
}

std::string FilesystemStore::create_upload(const std::string& id) {
  fs::path dir = upload_dir(id);
  if (::mkdir(dir.c_str(), 0755) != 0) fail("cannot create upload directory", dir);
  fs::path data = dir / "data";
  FileDescriptor fd(::open(data.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd.get() < 0) fail("cannot create", data);
  return "";
}

std::optional<std::uint64_t> FilesystemStore::upload_size(const std::string& id, const std::string& /*state*/) {
  struct stat info {};
  fs::path data = upload_dir(id) / "data";
  if (::stat(data.c_str(), &info) != 0) {
    if (errno == ENOENT) return std::nullopt;
    fail("cannot stat", data);
  }
  return static_cast<std::uint64_t>(info.st_size);
}

std::unique_ptr<UploadWriter> FilesystemStore::append_upload(const std::string& id, const std::string& /*state*/,
                                                             std::uint64_t offset) {
  fs::path data = upload_dir(id) / "data";
  int fd = ::open(data.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return nullptr;
    fail("cannot open", data);
  }
  auto writer = std::make_unique<FileWriter>(fd, offset, data);
  struct stat info {};
  if (::fstat(fd, &info) != 0) fail("cannot stat", data);
  auto size = static_cast<std::uint64_t>(info.st_size);
  if (size < offset) return nullptr;
  if (size > offset && ::ftruncate(fd, static_cast<off_t>(offset)) != 0) fail("cannot truncate", data);
  return writer;
}

std::unique_ptr<BlobReader> FilesystemStore::open_upload(const std::string& id, const std::string& /*state*/) {
  return open_reader(upload_dir(id) / "data");
}

void FilesystemStore::commit_upload(const std::string& id, const std::string& /*state*/, const core::Digest& digest) {
  fs::path dir = upload_dir(id);
  fs::path data = dir / "data";
  fs::path target = blob_path(digest);
  std::error_code ignored;

  // Content addressing makes an existing blob identical to this upload.
  if (stat(digest)) {
    fs::remove_all(dir, ignored);
    return;
  }

  // The data must be on disk before the rename makes it visible, or a power
  // loss could leave a visible blob with missing bytes.
  fsync_path(data, /*directory=*/false);
  create_directories_durably(target.parent_path());
  if (::rename(data.c_str(), target.c_str()) != 0) fail("cannot move upload into place as", target);
  fsync_path(target.parent_path(), /*directory=*/true);
  fs::remove_all(dir, ignored);
}

void FilesystemStore::delete_upload(const std::string& id) {
  std::error_code error;
  fs::remove_all(upload_dir(id), error);
  if (error) throw InternalError("cannot delete upload " + id + ": " + error.message());
}

std::vector<std::string> FilesystemStore::list_uploads() {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(root_ / "uploads")) {
    if (entry.is_directory()) out.push_back(entry.path().filename().string());
  }
  return out;
}

}  // namespace berth::storage
