#include "api/upload_sessions.h"

#include "core/error.h"
#include "core/random.h"
#include "core/time.h"

#include <spdlog/spdlog.h>

#include <vector>

namespace berth::api {

using core::Error;
using core::ErrorCode;
using metadata::UploadRecord;

namespace {

// Bytes moved per read from the client and write to storage. Large enough
// to keep system calls rare, small enough that 64 concurrent uploads need
// only 8 MiB of buffers.
constexpr std::size_t kUploadBufferSize = 128 * 1024;

std::vector<char>& upload_buffer() {
  thread_local std::vector<char> buffer(kUploadBufferSize);
  return buffer;
}

Error unknown_upload(const std::string& id) {
  return Error(ErrorCode::kBlobUploadUnknown, "upload " + id + " not found; it may have finished or been cancelled, so start a new upload with POST",
               {{"uuid", id}});
}

// Throws BLOB_UPLOAD_INVALID if garbage collection removed the blob's data
// after touch_blob and before the link that follows commit_upload. It can
// only do so when storing took longer than gc.grace_seconds (a slow disk
// or a long wait for the database's write lock), and the link has then
// recorded a blob without data. The link touched the blob again, so data
// that is present now stays for at least another grace period.
// The error for an upload whose data garbage collection removed between
// recording the blob and linking it, which happens only when storing took
// longer than the grace period.
Error collected_during_upload(const core::Digest& digest) {
  return Error(ErrorCode::kBlobUploadInvalid,
               "garbage collection removed blob " + digest.str() +
                   " while this upload stored it, because storing took longer than the grace period; upload the "
                   "blob again",
               {{"digest", digest.str()}});
}

}  // namespace

UploadSessions::UploadSessions(metadata::MetadataStore& metadata, storage::BlobStore& blobs)
    : metadata_(metadata), blobs_(blobs) {}

UploadRecord UploadSessions::create(const std::string& repository, core::DigestAlgorithm algorithm) {
  std::int64_t now = core::unix_now();
  UploadRecord session{.id = core::random_uuid(),
                       .repository = repository,
                       .received_bytes = 0,
                       .algorithm = algorithm,
                       .hash_state = core::Hasher(algorithm).save_state(),
                       .driver_state = "",
                       .created_at = now,
                       .updated_at = now};
  // Data first: a session row never points at data that does not exist.
  session.driver_state = blobs_.create_upload(session.id);
  try {
    metadata_.create_upload(session);
  } catch (...) {
    blobs_.delete_upload(session.id);
    throw;
  }
  return session;
}

UploadRecord UploadSessions::find(const std::string& repository, const std::string& id) {
  if (!core::is_uuid(id)) throw unknown_upload(id);
  auto session = metadata_.find_upload(id);
  if (!session || session->repository != repository) throw unknown_upload(id);
  return *session;
}

core::Hasher UploadSessions::rehash(const UploadRecord& session, core::DigestAlgorithm algorithm, std::uint64_t* size) {
  auto reader = blobs_.open_upload(session.id, session.driver_state);
  if (!reader) throw unknown_upload(session.id);
  core::Hasher hasher(algorithm);
  auto& buffer = upload_buffer();
  std::uint64_t offset = 0;
  while (true) {
    std::size_t n = reader->read_at(offset, buffer.data(), buffer.size());
    if (n == 0) break;
    hasher.update(buffer.data(), n);
    offset += n;
  }
  *size = offset;
  return hasher;
}

std::uint64_t UploadSessions::stream(const BodySource& body, storage::UploadWriter& writer, core::Hasher& hasher) {
  auto& buffer = upload_buffer();
  std::uint64_t moved = 0;
  while (true) {
    std::size_t n = body(buffer.data(), buffer.size());
    if (n == 0) return moved;
    writer.write(buffer.data(), n);
    hasher.update(buffer.data(), n);
    moved += n;
  }
}

std::uint64_t UploadSessions::upload_whole(const std::string& repository, const core::Digest& digest,
                                           const BodySource& body) {
  std::string id = core::random_uuid();
  std::string state = blobs_.create_upload(id);
  try {
    auto writer = blobs_.append_upload(id, state, 0);
    if (!writer) throw core::InternalError("upload data " + id + " vanished while it was written");
    core::Hasher hasher(digest.algorithm());
    std::uint64_t size = stream(body, *writer, hasher);
    state = writer->finish();
    writer.reset();
    core::Digest actual = hasher.digest();
    if (actual != digest) {
      throw Error(ErrorCode::kDigestInvalid,
                  "the uploaded content has digest " + actual.str() + ", not " + digest.str() +
                      "; nothing was stored, upload the blob again",
                  {{"expected", digest.str()}, {"actual", actual.str()}});
    }
    // Recorded before the data moves into place, so that garbage
    // collection leaves the data alone between the steps. The link checks
    // the data again inside its transaction, because steps slower than the
    // grace period can still lose it.
    metadata_.touch_blob(digest, size, core::unix_now());
    blobs_.commit_upload(id, state, digest);
    if (!metadata_.link_blob_with_data(repository, digest, size, "", [&] { return blobs_.stat(digest).has_value(); })) {
      spdlog::warn("upload_data_collected repository={} digest={}", repository, digest.str());
      throw collected_during_upload(digest);
    }
    return size;
  } catch (...) {
    try {
      blobs_.delete_upload(id);
    } catch (const std::exception& error) {
      spdlog::error("upload_cleanup_failed upload={} error={}", id, error.what());
    }
    throw;
  }
}

UploadRecord UploadSessions::append(const UploadRecord& session, const BodySource& body,
                                    std::optional<std::uint64_t> expected_length, bool record) {
  UploadRecord current = session;
  auto hasher = core::Hasher::restore_state(current.algorithm, current.hash_state);
  auto writer = blobs_.append_upload(current.id, current.driver_state, current.received_bytes);

  if (!hasher || !writer) {
    // The stored data is shorter than the recorded offset (lost in a power
    // failure) or the hash state is unusable: rebuild both from the data.
    if (!blobs_.upload_size(current.id, current.driver_state)) {
      metadata_.delete_upload(current.id);
      throw Error(ErrorCode::kBlobUploadUnknown, "the data of upload " + current.id + " is lost; start a new upload",
                  {{"uuid", current.id}});
    }
    std::uint64_t size = 0;
    core::Hasher rebuilt = rehash(current, current.algorithm, &size);
    spdlog::warn("upload_state_rebuilt upload={} recorded_bytes={} stored_bytes={}", current.id, current.received_bytes, size);
    if (!metadata_.update_upload(current.id, current.received_bytes, size, rebuilt.save_state(), current.driver_state)) {
      throw unknown_upload(current.id);
    }
    current.received_bytes = size;
    current.hash_state = rebuilt.save_state();
    hasher = std::move(rebuilt);
    writer = blobs_.append_upload(current.id, current.driver_state, size);
    if (!writer) throw unknown_upload(current.id);
  }

  std::uint64_t appended = 0;
  // `driver_state` comes from writer->finish(), which has stored the bytes.
  auto record_progress = [&](const std::string& driver_state) {
    std::uint64_t received = current.received_bytes + appended;
    if (!metadata_.update_upload(current.id, current.received_bytes, received, hasher->save_state(), driver_state)) {
      throw unknown_upload(current.id);
    }
    current.received_bytes = received;
    current.hash_state = hasher->save_state();
    current.driver_state = driver_state;
  };

  // Counts bytes as they pass, so a broken-off body still records them.
  BodySource counted = [&](char* buffer, std::size_t size) {
    std::size_t n = body(buffer, size);
    appended += n;
    return n;
  };
  try {
    stream(counted, *writer, *hasher);
  } catch (const Error&) {
    throw;
  } catch (...) {
    // Keep what arrived: a client that lost its connection can ask for the
    // upload's status and continue from there.
    if (appended > 0) {
      try {
        record_progress(writer->finish());
      } catch (const std::exception& error) {
        spdlog::error("upload_progress_lost upload={} error={}", current.id, error.what());
      }
    }
    throw;
  }

  if (expected_length && appended != *expected_length) {
    // Neither finished nor recorded, so the next append truncates these
    // bytes away.
    throw Error(ErrorCode::kSizeInvalid,
                "the chunk has " + std::to_string(appended) + " bytes but its Content-Range announces " +
                    std::to_string(*expected_length));
  }
  std::string driver_state = writer->finish();
  if (appended > 0 && record) {
    record_progress(driver_state);
  } else {
    current.received_bytes += appended;
    current.hash_state = hasher->save_state();
    current.driver_state = driver_state;
  }
  return current;
}

std::uint64_t UploadSessions::finish(const UploadRecord& session, const std::vector<core::Digest>& digests) {
  std::uint64_t size = session.received_bytes;
  auto saved = core::Hasher::restore_state(session.algorithm, session.hash_state);

  for (const auto& expected : digests) {
    core::Digest actual = (saved && expected.algorithm() == session.algorithm)
                              ? saved->digest()
                              : rehash(session, expected.algorithm(), &size).digest();
    if (actual != expected) {
      cancel(session);
      throw Error(ErrorCode::kDigestInvalid,
                  "the uploaded content has digest " + actual.str() + ", not " + expected.str() +
                      "; nothing was stored, upload the blob again",
                  {{"expected", expected.str()}, {"actual", actual.str()}});
    }
  }

  const core::Digest& digest = digests.front();
  metadata_.touch_blob(digest, size, core::unix_now());
  blobs_.commit_upload(session.id, session.driver_state, digest);
  if (!metadata_.link_blob_with_data(session.repository, digest, size, session.id,
                                     [&] { return blobs_.stat(digest).has_value(); })) {
    spdlog::warn("upload_data_collected repository={} digest={} upload={}", session.repository, digest.str(),
                 session.id);
    metadata_.delete_upload(session.id);
    throw collected_during_upload(digest);
  }
  return size;
}

void UploadSessions::cancel(const UploadRecord& session) {
  metadata_.delete_upload(session.id);
  blobs_.delete_upload(session.id);
}

}  // namespace berth::api
