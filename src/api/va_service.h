// Vulnerability Advisor assessments for the management API: finds the
// inventory behind an image (an index is assessed through its linux/amd64
// image, or its first image), matches it against the current advisories and
// applies the account's exemptions.
#pragma once

#include "metadata/metadata_store.h"
#include "scan/assessment.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace berth::api {

class VaService {
 public:
  explicit VaService(metadata::MetadataStore& metadata) : metadata_(metadata) {}

  // Data that every assessment of one request shares: the account's
  // exemptions and the advisory import.
  struct Context {
    std::vector<metadata::ExemptionRecord> exemptions;
    std::optional<metadata::AdvisoryFeed> feed;
  };
  Context context(const std::string& account_id);

  // The assessment of the manifest `digest` (of `media_type`, with
  // `content`) in `repository`, reached through `tag` (empty for a digest).
  scan::Assessment assess(const Context& context, const scan::ImageScope& image, const std::string& media_type,
                          const std::string& content);

 private:
  metadata::MetadataStore& metadata_;
};

// The hosted registry's text for the Security status column: "No Issues",
// "3 Issues", "1 Issue", "Scanning", "Unsupported OS" or "Incomplete".
std::string security_status_text(const scan::Assessment& assessment);

}  // namespace berth::api
