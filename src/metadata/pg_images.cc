#include "metadata/pg_store.h"

#include "core/error.h"

namespace berth::metadata {

std::vector<ImageEntry> PgStore::list_images(const std::vector<std::string>&, const std::vector<std::string>&) {
  throw core::InternalError("PgStore::list_images is not written yet");
}

std::optional<ImageFacts> PgStore::find_image_facts(const core::Digest&) {
  throw core::InternalError("PgStore::find_image_facts is not written yet");
}

void PgStore::put_image_facts(const ImageFacts&) {
  throw core::InternalError("PgStore::put_image_facts is not written yet");
}

CopyManifestResult PgStore::copy_manifest(const std::string&, const core::Digest&, const std::string&, const std::string&) {
  throw core::InternalError("PgStore::copy_manifest is not written yet");
}

}  // namespace berth::metadata
