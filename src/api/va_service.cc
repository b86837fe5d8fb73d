#include "api/va_service.h"

#include "oci/media_types.h"

#include <nlohmann/json.hpp>

namespace berth::api {

namespace {

using nlohmann::json;

// The image manifest of an index that the assessment reads: linux/amd64,
// else the first image manifest; nullopt if the index has none.
std::optional<core::Digest> assessed_child(const std::string& content) {
  json index = json::parse(content, nullptr, false);
  if (index.is_discarded() || !index.contains("manifests") || !index["manifests"].is_array()) return std::nullopt;
  std::optional<core::Digest> first;
  for (const auto& child : index["manifests"]) {
    if (!child.is_object() || !child.value("mediaType", json()).is_string()) continue;
    if (!oci::media_type::is_image_manifest(child["mediaType"].get<std::string>())) continue;
    auto digest = core::Digest::parse(child.value("digest", std::string()));
    if (!digest) continue;
    const json platform = child.value("platform", json::object());
    if (platform.is_object() && platform.value("os", std::string()) == "linux" &&
        platform.value("architecture", std::string()) == "amd64") {
      return digest;
    }
    if (!first) first = digest;
  }
  return first;
}

}  // namespace

VaService::Context VaService::context(const std::string& account_id) {
  return Context{.exemptions = metadata_.list_exemptions(account_id), .feed = metadata_.advisory_feed()};
}

scan::Assessment VaService::assess(const Context& context, const scan::ImageScope& image,
                                   const std::string& media_type, const std::string& content) {
  std::optional<core::Digest> target = core::Digest::parse(image.digest);
  if (target && oci::media_type::is_index(media_type)) target = assessed_child(content);

  std::optional<metadata::InventoryRecord> inventory;
  if (target) inventory = metadata_.find_inventory(*target);
  std::vector<std::string> ecosystems = context.feed ? context.feed->ecosystems : std::vector<std::string>{};
  // Every lookup reads the store, so a report never lags behind an import
  // (imports can follow each other within one second, the feed's time
  // resolution, so the time cannot key a cache).
  scan::AdvisoryLookup advisories = [this](const std::string& ecosystem, const std::vector<std::string>& packages) {
    return metadata_.find_advisories(ecosystem, packages);
  };
  return scan::assess(inventory, advisories, ecosystems, context.exemptions, image);
}

std::string security_status_text(const scan::Assessment& assessment) {
  const std::string& status = assessment.status;
  if (status == "UNSCANNED") return "Scanning";
  if (status == "UNSUPPORTED") return "Unsupported OS";
  int issues = assessment.vulnerability_count;
  if (issues == 0) return status == "INCOMPLETE" ? "Incomplete" : "No Issues";
  return std::to_string(issues) + (issues == 1 ? " Issue" : " Issues");
}

}  // namespace berth::api
