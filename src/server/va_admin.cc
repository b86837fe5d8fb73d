#include "server/va_admin.h"

#include "core/time.h"
#include "scan/osv.h"
#include "server/jobs.h"

#include <chrono>
#include <exception>
#include <filesystem>

namespace berth::server {

scan::IndexSettings index_settings(const Config& config) {
  scan::IndexSettings settings;
  settings.limits.max_layer_bytes = static_cast<std::uint64_t>(config.va_max_layer_bytes);
  settings.temp_dir = std::filesystem::path(config.data_dir) / "tmp" / "va";
  settings.holder = node_name();
  return settings;
}

int admin_va_import(metadata::MetadataStore& metadata, const std::string& path, std::ostream& out,
                    std::ostream& err) {
  if (!std::filesystem::exists(path)) {
    err << "berthd: " << path << " does not exist; give an OSV .json file, a .zip archive or a directory of them\n";
    return 2;
  }
  auto started = std::chrono::steady_clock::now();
  scan::OsvImport imported;
  try {
    imported = scan::read_osv(path);
  } catch (const std::exception& error) {
    err << "berthd: nothing was imported: " << error.what() << "\n";
    return 1;
  }
  if (imported.advisories.empty()) {
    err << "berthd: nothing was imported: " << path << " holds " << imported.records
        << " OSV records, none with a fixed version for Debian, Ubuntu, Alpine or Red Hat Enterprise Linux\n";
    return 1;
  }
  metadata::AdvisoryFeed feed{.imported_at = core::unix_now(),
                              .source = std::filesystem::absolute(path).lexically_normal().string(),
                              .advisory_count = imported.advisories.size(),
                              .ecosystems = imported.ecosystems};
  metadata.replace_advisories(imported.advisories, feed);
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);

  out << "Imported " << imported.advisories.size() << " advisories from " << imported.files
      << (imported.files == 1 ? " file (" : " files (")
      << imported.records << " records read, " << imported.skipped << " without a fixed version for a supported "
      << "distribution) in " << elapsed.count() << " ms.\n";
  out << "Ecosystems:";
  for (const auto& ecosystem : imported.ecosystems) out << " " << ecosystem;
  out << "\nThe previous advisories were replaced; reports use the new ones from now on.\n";
  return 0;
}

int admin_va_index(const Config& config, metadata::MetadataStore& metadata, storage::BlobStore& blobs,
                   const std::string& requeue, std::ostream& out) {
  if (!requeue.empty()) {
    std::size_t queued = metadata.requeue_inventories(requeue == "all" ? std::string() : requeue, core::unix_now());
    out << "Queued " << queued << (queued == 1 ? " image" : " images") << " again.\n";
  }
  scan::IndexWorker worker(metadata, blobs, index_settings(config));
  std::size_t indexed = worker.drain();
  out << "Indexed " << indexed << (indexed == 1 ? " image.\n" : " images.\n");
  return 0;
}

}  // namespace berth::server
