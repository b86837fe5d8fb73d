// Retention ranking: which images of a namespace a retention policy deletes.
// The rules follow IBM Cloud Container Registry's retention policies
// (cloud.ibm.com/docs/Registry?topic=Registry-registry_retention and the
// "What are eligible images?" entry of its FAQ).
#pragma once

#include "core/digest.h"

#include <cstdint>
#include <string>
#include <vector>

namespace berth::lifecycle {

struct RetentionImage {
  std::string repository;
  core::Digest digest;
  std::vector<std::string> tags;  // empty when untagged
  bool is_index = false;          // a manifest list or OCI index
  std::int64_t created = 0;       // Unix seconds from the image config; 0 when absent
};

struct RetentionRule {
  std::int64_t images_per_repo = -1;  // -1: keep all
  bool retain_untagged = false;
  std::int64_t deletion_threshold_days = 0;  // 0: no threshold
};

// 2013-01-19T00:13:39Z in Unix seconds. Images created before it are never
// eligible. The cutoff also excludes the constant build dates that some
// tools write, such as the epoch (distroless, and 0 when the config has no
// date) and any time on 1980-01-01 UTC (Cloud Native Buildpacks write
// 00:00:01).
inline constexpr std::int64_t kEarliestEligibleCreated = 1358554419;

// Returns whether a retention policy may count and delete `image`.
// Manifest lists, indexes and images created before
// kEarliestEligibleCreated are never deleted and never count toward
// images_per_repo.
bool is_eligible_for_retention(const RetentionImage& image);

// Selects the images that `rule` deletes at Unix time `now`, ordered by
// repository (byte order), then oldest first.
//
// In each repository the eligible images are ranked by `created`, and the
// images_per_repo newest are kept, so 0 keeps none of them unless the
// threshold or retain_untagged does. With retain_untagged, untagged images
// are all kept and only tagged images are ranked. An image created after
// `now` is simply the newest. Images created less than
// deletion_threshold_days * 86400 seconds before `now` are kept even when
// that keeps more than images_per_repo. They still count toward
// images_per_repo, so the kept images are the union of the newest
// images_per_repo and those younger than the threshold.
//
// Entries with the same repository and digest are one image. Their tags
// are combined, and is_index and created come from the first entry. The
// same digest in two repositories is one image in each. Among images with
// equal `created`, the one whose digest text sorts later counts as newer,
// so the ranking does not depend on the order of `images`.
//
// Throws std::invalid_argument if images_per_repo is below -1 or
// deletion_threshold_days is negative.
std::vector<RetentionImage> select_for_deletion(const std::vector<RetentionImage>& images, const RetentionRule& rule,
                                                std::int64_t now);

}  // namespace berth::lifecycle
