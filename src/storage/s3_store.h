// BlobStore on an S3 bucket, for registries whose nodes share storage.
//
// Keys, each below S3Options::prefix:
//   blobs/<algorithm>/<first two hex digits>/<hex>   committed blobs
//   uploads/<id>/started                             exists while upload <id> exists
//   uploads/<id>/segment-<random>                    bytes of an upload, at least one part long
//   uploads/<id>/tail-<random>                       bytes of an upload after its segments, shorter than a part
//
// Upload data is the concatenation of its segments and its tail, in the
// order that the driver state (a JSON document) lists them with their
// sizes. Every recorded state names only complete, readable objects, so
// open_upload() reads any upload, and any node continues an upload from
// the recorded state. No object is ever overwritten, because each name
// carries a random part: a writer that crashed or lost a race leaves extra
// objects under the upload's prefix, never changed ones.
//
// A writer buffers one part (S3Options::part_size) in memory. Once a full
// part has arrived, it starts a multipart upload of a new segment and
// streams parts into it. finish() then uploads the rest as the last part
// and completes the segment. If no part was full, finish() stores the
// buffered bytes as the new tail instead. A chunk smaller than a part thus
// costs a read of the old tail and a write of the new one, and the next
// writer deletes the old tail. A segment is kept below 5 GiB, the largest part that
// UploadPartCopy accepts, by completing it and starting another.
//
// commit_upload() copies the pieces on the server into the blob's key:
// one piece with CopyObject, several as the parts of a multipart upload
// that copies each whole object with UploadPartCopy. Copies of byte
// ranges are not used, because libcurl 7.88 cannot sign
// x-amz-copy-source-range. Either way the blob appears at its key at once
// and whole, after the caller checked its digest.
//
// Readers fetch ranged GETs of a few MiB and serve read_at() from them.
#pragma once

#include "storage/blob_store.h"
#include "storage/s3_client.h"

#include <cstdint>
#include <string>

namespace berth::storage {

class S3Store final : public BlobStore {
 public:
  // Resolves `options` (see resolve_s3_options) and throws
  // core::InternalError if they are incomplete. Sends no request: the
  // bucket must exist and is first used by the first call.
  explicit S3Store(S3Options options);

  std::optional<std::uint64_t> stat(const core::Digest& digest) override;
  std::unique_ptr<BlobReader> open(const core::Digest& digest) override;
  bool remove(const core::Digest& digest) override;
  std::optional<std::int64_t> modified_at(const core::Digest& digest) override;
  std::vector<core::Digest> list() override;

  std::string create_upload(const std::string& id) override;
  std::optional<std::uint64_t> upload_size(const std::string& id, const std::string& state) override;
  std::unique_ptr<UploadWriter> append_upload(const std::string& id, const std::string& state,
                                              std::uint64_t offset) override;
  std::unique_ptr<BlobReader> open_upload(const std::string& id, const std::string& state) override;
  void commit_upload(const std::string& id, const std::string& state, const core::Digest& digest) override;
  void delete_upload(const std::string& id) override;
  // The latest LastModified of the upload's objects, or the latest start
  // of a multipart upload under its prefix. The parts that a writer
  // streams change neither, so data written for longer than the upload
  // age limit of purges without a finish() may be taken for abandoned.
  std::optional<std::int64_t> upload_modified_at(const std::string& id) override;
  std::vector<std::string> list_uploads() override;

  // A presigned GET URL valid for S3Options::presign_seconds, or nullopt
  // when that is 0.
  std::optional<std::string> presigned_url(const core::Digest& digest) override;

  std::string blob_key(const core::Digest& digest) const;
  S3Client& client() { return client_; }

 private:
  friend class S3UploadWriter;

  std::string upload_prefix(const std::string& id) const;
  bool upload_exists(const std::string& id);
  void delete_upload_objects(const std::string& id);

  S3Client client_;
};

}  // namespace berth::storage
