#include "lifecycle/garbage_collector.h"

#include <spdlog/spdlog.h>

#include <set>

namespace berth::lifecycle {

namespace {

constexpr std::size_t kBatch = 500;

}  // namespace

nlohmann::json CollectionReport::to_json() const {
  return {{"dry_run", dry_run},
          {"blobs_removed", blobs_removed},
          {"bytes_removed", bytes_removed},
          {"orphans_removed", orphans_removed},
          {"orphan_bytes_removed", orphan_bytes_removed},
          {"blobs_back_in_use", blobs_back_in_use},
          {"blobs_in_grace", blobs_in_grace},
          {"bytes_in_grace", bytes_in_grace}};
}

nlohmann::json UploadPurgeReport::to_json() const {
  return {{"sessions_removed", sessions_removed}, {"orphans_removed", orphans_removed}};
}

CollectionReport GarbageCollector::collect(const CollectionOptions& options, std::int64_t now) {
  CollectionReport report;
  report.dry_run = options.dry_run;
  std::int64_t cutoff = now - options.grace_seconds;

  if (options.dry_run) {
    for (const auto& blob : metadata_.unreferenced_blobs(cutoff, static_cast<std::size_t>(-1))) {
      ++report.blobs_removed;
      report.bytes_removed += blob.size;
      report.would_remove.emplace_back(blob, "no image uses it");
    }
  } else {
    // Each pass takes the oldest candidates. A candidate that a push used
    // again before its transaction ran stays, and the pass skips it from
    // then on, so the loop ends.
    std::set<std::string> kept;
    for (;;) {
      auto candidates = metadata_.unreferenced_blobs(cutoff, kBatch + kept.size());
      std::size_t progress = 0;
      for (const auto& blob : candidates) {
        if (kept.contains(blob.digest.str())) continue;
        ++progress;
        bool removed = metadata_.collect_blob(blob.digest, cutoff, [&] { blobs_.remove(blob.digest); });
        if (!removed) {
          kept.insert(blob.digest.str());
          ++report.blobs_back_in_use;
          continue;
        }
        ++report.blobs_removed;
        report.bytes_removed += blob.size;
        spdlog::info("gc_removed digest={} size={}", blob.digest.str(), blob.size);
      }
      if (progress == 0 || candidates.size() < kBatch + kept.size()) break;
    }
  }

  // Unreferenced blobs younger than the grace period, which a later run
  // removes unless a push uses them first.
  for (const auto& blob : metadata_.unreferenced_blobs(now + 1, static_cast<std::size_t>(-1))) {
    if (blob.touched_at < cutoff) continue;
    ++report.blobs_in_grace;
    report.bytes_in_grace += blob.size;
  }
  // Data the metadata store has no record of: left by a crash between the
  // steps of an upload or of a removal.
  std::set<std::string> recorded;
  for (const auto& blob : metadata_.list_blobs()) recorded.insert(blob.digest.str());
  for (const auto& digest : blobs_.list()) {
    if (recorded.contains(digest.str())) continue;
    auto modified = blobs_.modified_at(digest);
    if (!modified || *modified >= cutoff) continue;
    std::uint64_t size = blobs_.stat(digest).value_or(0);
    if (options.dry_run) {
      ++report.orphans_removed;
      report.orphan_bytes_removed += size;
      report.would_remove.emplace_back(metadata::BlobRecord{.digest = digest, .size = size}, "data without a record");
      continue;
    }
    bool removed = metadata_.collect_orphan_data(digest, [&] { return blobs_.remove(digest); });
    if (removed) {
      ++report.orphans_removed;
      report.orphan_bytes_removed += size;
      spdlog::info("gc_removed_orphan digest={} size={}", digest.str(), size);
    }
  }

  spdlog::info("gc_finished dry_run={} blobs_removed={} bytes_removed={} orphans_removed={} orphan_bytes_removed={}",
               report.dry_run, report.blobs_removed, report.bytes_removed, report.orphans_removed,
               report.orphan_bytes_removed);
  return report;
}

UploadPurgeReport GarbageCollector::purge_uploads(std::int64_t max_age_seconds, std::int64_t now) {
  UploadPurgeReport report;
  std::int64_t cutoff = now - max_age_seconds;
  std::set<std::string> sessions;
  for (const auto& upload : metadata_.list_uploads()) {
    sessions.insert(upload.id);
    if (upload.updated_at >= cutoff) continue;
    // The record goes first, so a client still writing gets "upload unknown"
    // rather than a session without data.
    if (metadata_.delete_upload(upload.id)) {
      blobs_.delete_upload(upload.id);
      ++report.sessions_removed;
      spdlog::info("upload_purged upload={} repository={} received_bytes={}", upload.id, upload.repository,
                   upload.received_bytes);
    }
  }
  for (const auto& id : blobs_.list_uploads()) {
    if (sessions.contains(id)) continue;
    auto modified = blobs_.upload_modified_at(id);
    if (modified && *modified >= cutoff) continue;
    // A monolithic upload keeps no session; its data is never older than
    // the request that writes it, which is far below the maximum age.
    blobs_.delete_upload(id);
    ++report.orphans_removed;
    spdlog::info("upload_data_purged upload={}", id);
  }
  return report;
}

}  // namespace berth::lifecycle
