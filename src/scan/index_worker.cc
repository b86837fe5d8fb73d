#include "scan/index_worker.h"

#include "core/time.h"
#include "oci/manifest.h"
#include "oci/media_types.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <exception>

namespace berth::scan {

namespace {

using nlohmann::json;

const char* format_name(PackageFormat format) {
  switch (format) {
    case PackageFormat::kDpkg: return "dpkg";
    case PackageFormat::kApk: return "apk";
    case PackageFormat::kRpm: return "rpm";
  }
  return "";
}

const char* status_name(InventoryStatus status) {
  switch (status) {
    case InventoryStatus::kComplete: return "complete";
    case InventoryStatus::kUnsupported: return "unsupported";
    case InventoryStatus::kIncomplete: return "incomplete";
  }
  return "incomplete";
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) {
    if (!out.empty()) out += '\n';
    out += line;
  }
  return out;
}

metadata::InventoryRecord record_of(const core::Digest& digest, const Inventory& inventory, std::int64_t now) {
  metadata::InventoryRecord record{.digest = digest};
  record.state = "indexed";
  record.status = status_name(inventory.status);
  record.reason = join_lines(inventory.notes);
  record.os_id = inventory.os.id;
  record.os_version_id = inventory.os.version_id;
  record.os_codename = inventory.os.version_codename;
  record.os_name = inventory.os.pretty_name;
  if (inventory.format) record.package_format = format_name(*inventory.format);
  json packages = json::array();
  for (const auto& package : inventory.packages) {
    packages.push_back({{"name", package.name},
                        {"version", package.version},
                        {"source", package.source},
                        {"source_version", package.source_version},
                        {"architecture", package.architecture}});
  }
  record.packages_json = packages.dump();
  record.indexed_at = now;
  return record;
}

metadata::InventoryRecord problem_record(const core::Digest& digest, const std::string& status,
                                         const std::string& reason, std::int64_t now) {
  metadata::InventoryRecord record{.digest = digest};
  record.state = "indexed";
  record.status = status;
  record.reason = reason;
  record.indexed_at = now;
  return record;
}

bool is_image_config(std::string_view media_type) {
  return media_type == "application/vnd.oci.image.config.v1+json" ||
         media_type == "application/vnd.docker.container.image.v1+json";
}

}  // namespace

metadata::InventoryRecord index_manifest(metadata::MetadataStore& metadata, storage::BlobStore& blobs,
                                         const core::Digest& digest, const IndexSettings& settings,
                                         std::int64_t now) {
  std::optional<metadata::ManifestRecord> manifest = metadata.find_manifest_by_digest(digest);
  if (!manifest) {
    return problem_record(digest, "unsupported", "the manifest " + digest.str() + " is no longer stored", now);
  }

  oci::ParsedManifest parsed;
  try {
    parsed = oci::parse_manifest(manifest->content, manifest->media_type);
  } catch (const std::exception& error) {
    return problem_record(digest, "unsupported", std::string("the manifest cannot be parsed: ") + error.what(), now);
  }

  if (oci::media_type::is_index(parsed.media_type)) {
    for (const auto& child : parsed.manifests) {
      if (oci::media_type::is_image_manifest(child.media_type)) metadata.queue_inventory(child.digest, now);
    }
    metadata::InventoryRecord record = problem_record(digest, "index", "", now);
    return record;
  }

  bool image = parsed.config && is_image_config(parsed.config->media_type) &&
               (parsed.artifact_type.empty() || is_image_config(parsed.artifact_type));
  if (!image) {
    std::string type = !parsed.artifact_type.empty() ? parsed.artifact_type
                       : parsed.config                ? parsed.config->media_type
                                                      : std::string("none");
    return problem_record(digest, "unsupported", "not a container image: the artifact type is " + type, now);
  }

  std::vector<LayerInput> layers;
  for (const auto& layer : parsed.layers) {
    core::Digest layer_digest = layer.digest;
    layers.push_back(LayerInput{.digest = layer_digest.str(),
                                .media_type = layer.media_type,
                                .open = [&blobs, layer_digest] { return blobs.open(layer_digest); }});
  }
  std::error_code ignored;
  std::filesystem::create_directories(settings.temp_dir, ignored);
  Inventory inventory = read_inventory(layers, settings.limits, settings.temp_dir);
  return record_of(digest, inventory, now);
}

IndexWorker::IndexWorker(metadata::MetadataStore& metadata, storage::BlobStore& blobs, IndexSettings settings)
    : metadata_(metadata), blobs_(blobs), settings_(std::move(settings)) {}

IndexWorker::~IndexWorker() { stop(); }

void IndexWorker::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void IndexWorker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::size_t IndexWorker::drain() {
  std::size_t indexed = 0;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_ && thread_.joinable()) break;
    }
    std::int64_t now = core::unix_now();
    std::optional<metadata::ScanClaim> claim =
        metadata_.claim_inventory(settings_.holder, now, now + settings_.claim_seconds);
    if (!claim) break;
    auto started = std::chrono::steady_clock::now();
    std::optional<metadata::InventoryRecord> indexed_record;
    try {
      indexed_record = index_manifest(metadata_, blobs_, claim->digest, settings_, now);
    } catch (const std::exception& error) {
      // The store failed, or something unforeseen; the claim expires and
      // another attempt follows, up to max_attempts.
      spdlog::error("va: indexing {} failed (attempt {}): {}", claim->digest.str(), claim->attempts, error.what());
      if (claim->attempts < settings_.max_attempts) continue;
      indexed_record = problem_record(claim->digest, "incomplete",
                                      "indexing failed " + std::to_string(claim->attempts) + " times: " + error.what(),
                                      core::unix_now());
    }
    metadata::InventoryRecord& record = *indexed_record;
    record.queued_at = 0;  // the store keeps the queued time it has
    record.attempts = claim->attempts;
    metadata_.save_inventory(record);
    ++indexed;
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    if (record.status == "index") {
      spdlog::info("va: indexed {}: an image index; its image manifests are queued", record.digest.str());
    } else if (record.status == "complete") {
      spdlog::info("va: indexed {}: complete {} {}, {} packages in {} ms", record.digest.str(), record.os_id,
                   record.os_version_id, json::parse(record.packages_json).size(), elapsed.count());
    } else {
      // One log line per image: the reason's lines are joined.
      std::string reason = record.reason;
      for (std::size_t at = reason.find('\n'); at != std::string::npos; at = reason.find('\n', at)) {
        reason.replace(at, 1, "; ");
      }
      spdlog::warn("va: indexed {}: {} in {} ms: {}", record.digest.str(), record.status, elapsed.count(), reason);
    }
  }
  return indexed;
}

void IndexWorker::run() {
  for (;;) {
    try {
      drain();
    } catch (const std::exception& error) {
      spdlog::error("va: the indexing worker cannot read its queue: {}", error.what());
    }
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, std::chrono::milliseconds(settings_.idle_poll_ms), [this] { return stopping_; })) return;
  }
}

}  // namespace berth::scan
