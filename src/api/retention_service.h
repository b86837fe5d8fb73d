// Applies retention policies: ranks the images of a namespace with the
// retention rules and moves the ones a policy deletes to the trash.
#pragma once

#include "api/image_facts.h"
#include "lifecycle/retention.h"
#include "metadata/metadata_store.h"

#include <cstdint>
#include <string>
#include <vector>

namespace berth::api {

class RetentionService {
 public:
  RetentionService(metadata::MetadataStore& metadata, ImageFactsReader& facts) : metadata_(metadata), facts_(facts) {}

  // The images of `namespace_name` that `rule` deletes at `now`.
  std::vector<lifecycle::RetentionImage> analyze(const std::string& namespace_name, const lifecycle::RetentionRule& rule,
                                                 std::int64_t now);
  // Analyzes and moves each image found to the trash; returns those moved.
  std::vector<lifecycle::RetentionImage> apply(const std::string& namespace_name, const lifecycle::RetentionRule& rule,
                                               std::int64_t now);
  // Applies every stored policy of every account; returns how many images
  // went to the trash.
  std::size_t apply_all(std::int64_t now);

 private:
  metadata::MetadataStore& metadata_;
  ImageFactsReader& facts_;
};

lifecycle::RetentionRule rule_of(const metadata::RetentionPolicy& policy);

}  // namespace berth::api
