// BlobStore: the bytes of blobs and of blob uploads in progress.
//
// A blob store has no notion of repositories or of which blobs are linked
// where, because the metadata store records that. It keeps content-addressed blobs
// and the data of upload sessions, and moves an upload into place under its
// digest once the caller has verified the digest.
//
// Driver state: a driver may keep facts about an upload's data that cannot
// be found from the storage alone (the S3 driver records which objects
// contain the bytes). It returns them as an opaque string from
// create_upload() and UploadWriter::finish(). The caller records the string
// with the upload session (UploadRecord::driver_state) and passes the
// string it recorded last to every later call on that upload, from this or
// any other node. A driver may delete data that only older states name.
// The filesystem driver returns "" and ignores the string it gets.
//
// Every method is safe to call from many threads at once, except that one
// upload id must not be written by two threads at the same time (callers
// serialize per upload). Failures of the underlying storage throw
// core::InternalError with the path or key and the system error.
#pragma once

#include "core/digest.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace berth::storage {

// Read access to a committed blob or to an upload's data.
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  virtual std::uint64_t size() const = 0;
  // Reads up to `length` bytes at `offset` into `buffer`; returns the
  // number read, 0 only at the end. Throws core::InternalError on failure.
  virtual std::size_t read_at(std::uint64_t offset, char* buffer, std::size_t length) = 0;
  // A file descriptor for sendfile(2), or -1 when the data is not a local
  // file. Owned by the reader and valid while it lives.
  virtual int native_fd() const { return -1; }
};

// Appends to an upload. A writer that is destroyed without finish() may
// leave its bytes out of the upload (the S3 driver drops them).
class UploadWriter {
 public:
  virtual ~UploadWriter() = default;
  // Appends `length` bytes. Throws core::InternalError on failure, and the
  // upload then contains some prefix of what was written.
  virtual void write(const char* data, std::size_t length) = 0;
  // Bytes in the upload, including those written through this writer.
  virtual std::uint64_t size() const = 0;
  // Stores every byte written so far and returns the driver state that
  // describes the upload's data now, to be recorded with size(). Call it
  // once, after the last write(). The filesystem driver makes the bytes
  // durable only in commit_upload(), which fsyncs them.
  virtual std::string finish() = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Size of the committed blob, or nullopt if the store does not have it.
  virtual std::optional<std::uint64_t> stat(const core::Digest& digest) = 0;

  // Opens a committed blob; nullptr if absent. The caller owns the reader.
  virtual std::unique_ptr<BlobReader> open(const core::Digest& digest) = 0;

  // Removes a committed blob; returns false if it was absent.
  virtual bool remove(const core::Digest& digest) = 0;

  // When the committed blob was last written, in Unix seconds; nullopt if
  // absent. Garbage collection leaves data younger than its grace period.
  virtual std::optional<std::int64_t> modified_at(const core::Digest& digest) = 0;

  // Every committed blob. Walks the whole store: for offline checks only
  // (admin verify, garbage collection), never on a request path.
  virtual std::vector<core::Digest> list() = 0;

  // Creates empty data for upload `id` and returns its driver state.
  // Throws if the upload exists already.
  virtual std::string create_upload(const std::string& id) = 0;

  // Bytes stored for upload `id` whose recorded driver state is `state`,
  // or nullopt if it has no data.
  virtual std::optional<std::uint64_t> upload_size(const std::string& id, const std::string& state) = 0;

  // Opens upload `id` for appending at `offset`. Bytes beyond `offset`
  // (written before a crash but never acknowledged) are discarded: on the
  // filesystem at once, in drivers with state once the state that finish()
  // returns is recorded. Returns nullptr if the upload has fewer than
  // `offset` bytes or does not exist.
  virtual std::unique_ptr<UploadWriter> append_upload(const std::string& id, const std::string& state,
                                                      std::uint64_t offset) = 0;

  // Opens the upload's data for reading (to hash it with another
  // algorithm); nullptr if the upload has no data.
  virtual std::unique_ptr<BlobReader> open_upload(const std::string& id, const std::string& state) = 0;

  // Makes the upload's data durable and moves it into place as `digest`,
  // atomically: readers see either no blob or the whole blob. If the blob
  // already exists the upload data is dropped and the existing blob kept.
  // The caller must have checked that the data hashes to `digest`.
  virtual void commit_upload(const std::string& id, const std::string& state, const core::Digest& digest) = 0;

  // Drops the upload's data; no effect if it has none. Takes no driver
  // state because it also removes data that no session records.
  virtual void delete_upload(const std::string& id) = 0;

  // When the upload's data was last written, in Unix seconds; nullopt if
  // it has none.
  virtual std::optional<std::int64_t> upload_modified_at(const std::string& id) = 0;

  // Ids of every upload that has data (offline checks and purges only).
  virtual std::vector<std::string> list_uploads() = 0;

  // A URL from which a client can GET the committed blob without
  // credentials, or nullopt when the driver serves blobs itself (the
  // default) or is configured to. Does not check that the blob exists.
  virtual std::optional<std::string> presigned_url(const core::Digest& /*digest*/) { return std::nullopt; }
};

}  // namespace berth::storage
