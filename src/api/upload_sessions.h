// Blob upload sessions: state in the metadata store (offset, hash state
// and the blob store driver's state), bytes in the blob store. Data is
// hashed as it arrives, in one pass, and the hash state is saved with the
// offset after every request, so a session continues after a restart
// without reading its bytes again.
#pragma once

#include "core/digest.h"
#include "core/keyed_mutex.h"
#include "metadata/metadata_store.h"
#include "storage/blob_store.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace berth::api {

// Pulls request body bytes: fills up to `size` bytes, returns 0 at the end.
using BodySource = std::function<std::size_t(char* buffer, std::size_t size)>;

class UploadSessions {
 public:
  UploadSessions(metadata::MetadataStore& metadata, storage::BlobStore& blobs);

  // Starts a session for `repository`, hashing with `algorithm`.
  metadata::UploadRecord create(const std::string& repository, core::DigestAlgorithm algorithm);

  // The session `id` of `repository`. Throws BLOB_UPLOAD_UNKNOWN if there is
  // none (or it belongs to another repository).
  metadata::UploadRecord find(const std::string& repository, const std::string& id);

  // Serializes requests on one session: hold the guard while appending or
  // finishing, and re-read the session after taking it.
  core::KeyedMutex::Guard lock(const std::string& id) { return locks_.lock(id); }

  // Appends everything `body` yields and, with `record`, records the new
  // offset and hash state. If `expected_length` is set and the body has
  // another length, the bytes are dropped and SIZE_INVALID is thrown. If
  // the body breaks off (client gone), the bytes received so far are
  // recorded and the error rethrown. Returns the updated session. Without
  // `record` only the returned copy contains the new offset, which suits an
  // append that finish() follows at once.
  metadata::UploadRecord append(const metadata::UploadRecord& session, const BodySource& body,
                                std::optional<std::uint64_t> expected_length, bool record = true);

  // Uploads a whole blob in one go (POST with ?digest=): streams `body`,
  // checks it against `digest`, commits and links it. Keeps no session,
  // because no client could resume it, and drops the data on any failure.
  std::uint64_t upload_whole(const std::string& repository, const core::Digest& digest, const BodySource& body);

  // Checks the session's data against every digest in `digests` (at least
  // one), then commits the blob and links it to the session's repository.
  // On a mismatch the session and its data are deleted and DIGEST_INVALID
  // thrown. Returns the size of the blob.
  std::uint64_t finish(const metadata::UploadRecord& session, const std::vector<core::Digest>& digests);

  // Deletes the session and its data.
  void cancel(const metadata::UploadRecord& session);

 private:
  // Streams `body` into `writer` and `hasher`; returns the bytes moved.
  static std::uint64_t stream(const BodySource& body, storage::UploadWriter& writer, core::Hasher& hasher);

  // Hashes the session's stored data from the start with `algorithm`
  // (used when the saved state is unusable or another algorithm is asked for).
  core::Hasher rehash(const metadata::UploadRecord& session, core::DigestAlgorithm algorithm, std::uint64_t* size);

  metadata::MetadataStore& metadata_;
  storage::BlobStore& blobs_;
  core::KeyedMutex locks_;
};

}  // namespace berth::api
