// BlobStore on a local directory. Layout (see docs/storage.md):
//   <root>/blobs/<algorithm>/<first two hex digits>/<hex>   committed blobs
//   <root>/uploads/<id>/data                                upload data
// Keeps no driver state: create_upload() and UploadWriter::finish() return
// "", and the state arguments are ignored.
#pragma once

#include "storage/blob_store.h"

#include <filesystem>

namespace berth::storage {

class FilesystemStore final : public BlobStore {
 public:
  // Creates the directories under `root` if they are missing. Throws
  // core::InternalError if they cannot be created.
  explicit FilesystemStore(std::filesystem::path root);

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
  std::optional<std::int64_t> upload_modified_at(const std::string& id) override;
  std::vector<std::string> list_uploads() override;

  std::filesystem::path blob_path(const core::Digest& digest) const;

 private:
  std::filesystem::path upload_dir(const std::string& id) const;

  std::filesystem::path root_;
};

}  // namespace berth::storage
