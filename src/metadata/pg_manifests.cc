#include "metadata/pg_store.h"

#include "core/error.h"

namespace berth::metadata {

bool PgStore::repository_exists(const std::string&) {
  throw core::InternalError("PgStore::repository_exists is not written yet");
}

NamePage PgStore::list_repositories(const std::string&, std::size_t) {
  throw core::InternalError("PgStore::list_repositories is not written yet");
}

std::optional<BlobRecord> PgStore::find_repository_blob(const std::string&, const core::Digest&) {
  throw core::InternalError("PgStore::find_repository_blob is not written yet");
}

void PgStore::link_blob(const std::string&, const core::Digest&, std::uint64_t) {
  throw core::InternalError("PgStore::link_blob is not written yet");
}

UnlinkBlobResult PgStore::unlink_blob(const std::string&, const core::Digest&) {
  throw core::InternalError("PgStore::unlink_blob is not written yet");
}

bool PgStore::link_blob_with_data(const std::string&, const core::Digest&, std::uint64_t, const std::string&, const std::function<bool()>&) {
  throw core::InternalError("PgStore::link_blob_with_data is not written yet");
}

std::vector<BlobRecord> PgStore::list_blobs() {
  throw core::InternalError("PgStore::list_blobs is not written yet");
}

void PgStore::create_upload(const UploadRecord&) {
  throw core::InternalError("PgStore::create_upload is not written yet");
}

std::optional<UploadRecord> PgStore::find_upload(const std::string&) {
  throw core::InternalError("PgStore::find_upload is not written yet");
}

bool PgStore::update_upload(const std::string&, std::uint64_t, std::uint64_t, const std::string&, const std::string&) {
  throw core::InternalError("PgStore::update_upload is not written yet");
}

void PgStore::complete_upload(const std::string&, const core::Digest&, std::uint64_t) {
  throw core::InternalError("PgStore::complete_upload is not written yet");
}

bool PgStore::delete_upload(const std::string&) {
  throw core::InternalError("PgStore::delete_upload is not written yet");
}

std::vector<UploadRecord> PgStore::list_uploads() {
  throw core::InternalError("PgStore::list_uploads is not written yet");
}

std::optional<ManifestRecord> PgStore::find_manifest(const std::string&, const core::Digest&) {
  throw core::InternalError("PgStore::find_manifest is not written yet");
}

std::optional<ManifestRecord> PgStore::find_tagged_manifest(const std::string&, const std::string&) {
  throw core::InternalError("PgStore::find_tagged_manifest is not written yet");
}

std::optional<ManifestRecord> PgStore::find_manifest_by_digest(const core::Digest&) {
  throw core::InternalError("PgStore::find_manifest_by_digest is not written yet");
}

PutManifestResult PgStore::put_manifest(const ManifestWrite&) {
  throw core::InternalError("PgStore::put_manifest is not written yet");
}

bool PgStore::delete_manifest(const std::string&, const core::Digest&) {
  throw core::InternalError("PgStore::delete_manifest is not written yet");
}

bool PgStore::delete_tag(const std::string&, const std::string&) {
  throw core::InternalError("PgStore::delete_tag is not written yet");
}

std::optional<NamePage> PgStore::list_tags(const std::string&, const std::string&, std::size_t) {
  throw core::InternalError("PgStore::list_tags is not written yet");
}

std::vector<ReferrerRecord> PgStore::list_referrers(const std::string&, const core::Digest&, const std::optional<std::string>&) {
  throw core::InternalError("PgStore::list_referrers is not written yet");
}

std::vector<ManifestRecord> PgStore::list_manifests() {
  throw core::InternalError("PgStore::list_manifests is not written yet");
}

std::vector<core::Digest> PgStore::manifest_blob_references(const std::string&, const core::Digest&) {
  throw core::InternalError("PgStore::manifest_blob_references is not written yet");
}

std::vector<core::Digest> PgStore::manifest_child_references(const std::string&, const core::Digest&) {
  throw core::InternalError("PgStore::manifest_child_references is not written yet");
}

}  // namespace berth::metadata
