#include "server/admin_verify.h"

#include "core/digest.h"
#include "server/stores.h"

#include <set>
#include <vector>

namespace berth::server {

namespace {

core::Digest hash_blob(storage::BlobReader& reader, core::DigestAlgorithm algorithm) {
  core::Hasher hasher(algorithm);
  std::vector<char> buffer(1 << 20);
  std::uint64_t offset = 0;
  while (std::size_t n = reader.read_at(offset, buffer.data(), buffer.size())) {
    hasher.update(buffer.data(), n);
    offset += n;
  }
  return hasher.digest();
}

}  // namespace

int verify_store(const Config& config, bool deep, std::ostream& out) {
  // Opening the stores would create an empty one; a mistyped path or
  // schema must fail.
  if (auto missing = missing_store(config)) {
    out << "error: " << *missing << "\n";
    return 1;
  }
  Stores stores = open_stores(config, /*listen=*/false);
  auto& blobs = *stores.blobs;
  auto& metadata = *stores.metadata;
  std::size_t errors = 0;
  std::size_t notices = 0;
  auto error = [&](const std::string& message) {
    out << "error: " << message << "\n";
    ++errors;
  };
  auto notice = [&](const std::string& message) {
    out << "notice: " << message << "\n";
    ++notices;
  };

  std::set<std::string> recorded;
  auto blob_records = metadata.list_blobs();
  for (const auto& blob : blob_records) {
    recorded.insert(blob.digest.str());
    auto reader = blobs.open(blob.digest);
    if (!reader && blob.links == 0 && blob.ref_count == 0) {
      // Upload completion records a blob just before its data moves into
      // place, so an upload in progress or interrupted leaves this.
      notice("blob " + blob.digest.str() + " is recorded without data and used by no repository; an upload is "
             "in progress or was interrupted, and garbage collection removes the record");
      continue;
    }
    if (!reader) {
      error("blob " + blob.digest.str() + " is recorded but its data is missing; push the images that use it again");
      continue;
    }
    if (reader->size() != blob.size) {
      error("blob " + blob.digest.str() + " is recorded with " + std::to_string(blob.size) + " bytes but has " +
            std::to_string(reader->size()) + "; the disk lost data, so push the images that use it again");
      continue;
    }
    if (deep && hash_blob(*reader, blob.digest.algorithm()) != blob.digest) {
      error("blob " + blob.digest.str() + " does not hash to its digest; the disk corrupted it, so push the "
            "images that use it again");
    }
  }

  auto manifests = metadata.list_manifests();
  for (const auto& manifest : manifests) {
    std::string where = manifest.repository + "@" + manifest.digest.str();
    if (core::digest_of(manifest.digest.algorithm(), manifest.content) != manifest.digest) {
      error("manifest " + where + " does not hash to its digest; the database is corrupt, so push that image again");
    }
    for (const auto& reference : metadata.manifest_blob_references(manifest.repository, manifest.digest)) {
      if (!metadata.find_repository_blob(manifest.repository, reference)) {
        error("manifest " + where + " references blob " + reference.str() +
              ", which its repository does not have; push that image again");
      }
    }
    // The registry refuses to delete a manifest that a live index
    // references, so only damage or a database written before schema
    // version 5 leaves this.
    for (const auto& child : metadata.manifest_child_references(manifest.repository, manifest.digest)) {
      if (!metadata.find_manifest(manifest.repository, child)) {
        error("index " + where + " references manifest " + child.str() + ", which is missing from " +
              manifest.repository + "; push that index again with all its platforms, or delete it");
      }
    }
  }

  for (const auto& digest : blobs.list()) {
    if (!recorded.contains(digest.str())) {
      notice("blob data " + digest.str() +
             " has no record (a crash interrupted its upload); it is never served, and the next upload of the "
             "same blob reuses it");
    }
  }

  std::set<std::string> sessions;
  auto uploads = metadata.list_uploads();
  for (const auto& upload : uploads) {
    sessions.insert(upload.id);
    auto size = blobs.upload_size(upload.id, upload.driver_state);
    if (!size) {
      notice("upload session " + upload.id + " has no data; the client must start that upload again");
    } else if (*size < upload.received_bytes) {
      notice("upload session " + upload.id + " recorded " + std::to_string(upload.received_bytes) + " bytes but has " +
             std::to_string(*size) + "; it continues from the data it has");
    }
  }
  for (const auto& id : blobs.list_uploads()) {
    if (!sessions.contains(id)) notice("upload data " + id + " has no session (left by an interrupted request)");
  }

  out << "checked " << blob_records.size() << " blobs" << (deep ? " (hashed)" : "") << ", " << manifests.size()
      << " manifests, " << uploads.size() << " upload sessions\n";
  if (errors == 0) {
    out << "store is clean" << (notices ? " (" + std::to_string(notices) + " notices)" : "") << "\n";
    return 0;
  }
  out << "store has " << errors << (errors == 1 ? " error\n" : " errors\n");
  return 1;
}

}  // namespace berth::server
