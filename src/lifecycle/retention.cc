#include "lifecycle/retention.h"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace berth::lifecycle {
namespace {

constexpr std::int64_t kSecondsPerDay = 86400;

void require_valid_rule(const RetentionRule& rule) {
  if (rule.images_per_repo < -1) {
    throw std::invalid_argument("invalid retention rule: images_per_repo is " + std::to_string(rule.images_per_repo) +
                                ", expected -1 (keep all) or a count of 0 or more");
  }
  if (rule.deletion_threshold_days < 0) {
    throw std::invalid_argument("invalid retention rule: deletion_threshold_days is " +
                                std::to_string(rule.deletion_threshold_days) +
                                ", expected 0 (no threshold) or a number of days");
  }
}

// Returns whether an image created at `created` (at or after
// kEarliestEligibleCreated, so positive) is younger than `threshold_days`
// at `now`.
bool is_younger_than_threshold(std::int64_t created, std::int64_t threshold_days, std::int64_t now) {
  if (threshold_days == 0) return false;
  if (created >= now) return true;
  if (threshold_days > std::numeric_limits<std::int64_t>::max() / kSecondsPerDay) return true;

  // created > 0 and now > created, so the difference cannot overflow.
  const std::int64_t age_seconds = now - created;
  return age_seconds < threshold_days * kSecondsPerDay;
}

// Returns whether `a` is older than `b`. Equal `created` falls back to the
// digest text, so the later digest counts as newer.
bool is_older(const RetentionImage* a, const RetentionImage* b) {
  if (a->created != b->created) return a->created < b->created;
  return a->digest.str() < b->digest.str();
}

// Appends to `deletions` the images of one repository that `rule` deletes,
// oldest first. `repository_images` maps digest text to image.
void select_in_repository(const std::map<std::string, RetentionImage>& repository_images, const RetentionRule& rule,
                          std::int64_t now, std::vector<RetentionImage>& deletions) {
  std::vector<const RetentionImage*> ranked;
  for (const auto& [digest, image] : repository_images) {
    if (!is_eligible_for_retention(image)) continue;
    if (rule.retain_untagged && image.tags.empty()) continue;
    ranked.push_back(&image);
  }
  std::sort(ranked.begin(), ranked.end(), is_older);

  // The newest images_per_repo are the last ones. Everything before them
  // is deleted unless it is younger than the threshold.
  const auto keep_count = static_cast<std::size_t>(rule.images_per_repo);
  const std::size_t excess_count = ranked.size() > keep_count ? ranked.size() - keep_count : 0;
  for (std::size_t i = 0; i < excess_count; ++i) {
    if (is_younger_than_threshold(ranked[i]->created, rule.deletion_threshold_days, now)) continue;
    deletions.push_back(*ranked[i]);
  }
}

}  // namespace

bool is_eligible_for_retention(const RetentionImage& image) {
  return !image.is_index && image.created >= kEarliestEligibleCreated;
}

std::vector<RetentionImage> select_for_deletion(const std::vector<RetentionImage>& images, const RetentionRule& rule,
                                                std::int64_t now) {
  require_valid_rule(rule);
  if (rule.images_per_repo == -1) return {};

  // Merges the entries of each repository and digest, so that an image
  // listed once per tag counts once.
  std::map<std::string, std::map<std::string, RetentionImage>> repositories;
  for (const RetentionImage& image : images) {
    auto& repository_images = repositories[image.repository];
    auto [entry, inserted] = repository_images.try_emplace(image.digest.str(), image);
    if (inserted) continue;

    std::vector<std::string>& tags = entry->second.tags;
    for (const std::string& tag : image.tags) {
      if (std::find(tags.begin(), tags.end(), tag) == tags.end()) tags.push_back(tag);
    }
  }

  std::vector<RetentionImage> deletions;
  for (const auto& [repository, repository_images] : repositories) {
    select_in_repository(repository_images, rule, now, deletions);
  }
  return deletions;
}

}  // namespace berth::lifecycle
