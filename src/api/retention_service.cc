#include "api/retention_service.h"

#include "oci/media_types.h"

#include <spdlog/spdlog.h>

#include <set>
#include <utility>

namespace berth::api {

lifecycle::RetentionRule rule_of(const metadata::RetentionPolicy& policy) {
  return lifecycle::RetentionRule{.images_per_repo = policy.images_per_repo,
                                  .retain_untagged = policy.retain_untagged,
                                  .deletion_threshold_days = policy.deletion_threshold_days};
}

namespace {

// The manifests, as (repository, digest text), that the listed indexes
// reference at any depth in their own repositories.
std::set<std::pair<std::string, std::string>> index_children(metadata::MetadataStore& metadata,
                                                              const std::vector<metadata::ImageEntry>& entries) {
  std::set<std::pair<std::string, std::string>> children;
  std::vector<std::pair<std::string, core::Digest>> pending;
  for (const auto& entry : entries) {
    if (oci::media_type::is_index(entry.media_type)) pending.emplace_back(entry.repository, entry.digest);
  }
  while (!pending.empty()) {
    auto [repository, digest] = std::move(pending.back());
    pending.pop_back();
    for (auto& child : metadata.manifest_child_references(repository, digest)) {
      if (children.emplace(repository, child.str()).second) pending.emplace_back(repository, std::move(child));
    }
  }
  return children;
}

}  // namespace

std::vector<lifecycle::RetentionImage> RetentionService::analyze(const std::string& namespace_name,
                                                                 const lifecycle::RetentionRule& rule,
                                                                 std::int64_t now) {
  if (rule.images_per_repo < 0) return {};
  std::vector<metadata::ImageEntry> entries = metadata_.list_images({namespace_name}, {});
  // A manifest that a live index references is part of that index's image,
  // and trash_manifest rejects deleting it alone. So a tagged child is
  // neither counted nor deleted, like its index. The listing leaves out
  // untagged children already.
  auto children = index_children(metadata_, entries);
  std::vector<lifecycle::RetentionImage> images;
  for (const auto& entry : entries) {
    if (children.contains({entry.repository, entry.digest.str()})) continue;
    bool is_index = oci::media_type::is_index(entry.media_type);
    // Indexes are never eligible, so their facts are not needed.
    std::int64_t created = is_index ? 0 : facts_.facts(entry).created;
    images.push_back({.repository = entry.repository,
                      .digest = entry.digest,
                      .tags = entry.tags,
                      .is_index = is_index,
                      .created = created});
  }
  return lifecycle::select_for_deletion(images, rule, now);
}

std::vector<lifecycle::RetentionImage> RetentionService::apply(const std::string& namespace_name,
                                                               const lifecycle::RetentionRule& rule, std::int64_t now) {
  std::vector<lifecycle::RetentionImage> trashed;
  for (auto& image : analyze(namespace_name, rule, now)) {
    metadata::TrashOutcome outcome = metadata_.trash_manifest(image.repository, image.digest, now);
    if (outcome.result != metadata::TrashResult::kTrashed) continue;  // deleted or re-parented meanwhile
    spdlog::info("retention_trashed namespace={} repository={} digest={} tags={}", namespace_name, image.repository,
                 image.digest.str(), outcome.tags.size());
    trashed.push_back(std::move(image));
  }
  return trashed;
}

std::size_t RetentionService::apply_all(std::int64_t now) {
  std::size_t total = 0;
  for (const auto& policy : metadata_.list_retention_policies("")) {
    try {
      total += apply(policy.namespace_name, rule_of(policy), now).size();
    } catch (const std::exception& error) {
      spdlog::error("retention_failed namespace={} error={}", policy.namespace_name, error.what());
    }
  }
  return total;
}

}  // namespace berth::api
