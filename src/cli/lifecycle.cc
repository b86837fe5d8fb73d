#include "cli/lifecycle.h"

#include "cli/images.h"
#include "cli/output.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

namespace berth::cli {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

// Parses a number written with digits only, as a person types it on the
// command line. Returns nullopt for anything else, such as a sign or an
// out-of-range value.
std::optional<std::int64_t> parse_digits(std::string_view text) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  std::int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::int64_t integer_field(const json& object, const char* name, std::int64_t fallback) {
  if (!object.is_object()) return fallback;
  auto it = object.find(name);
  if (it == object.end() || !it->is_number_integer()) return fallback;
  return it->get<std::int64_t>();
}

std::vector<std::string> string_list(const json& value) {
  std::vector<std::string> items;
  if (!value.is_array()) return items;
  for (const auto& item : value) {
    if (item.is_string()) items.push_back(item.get<std::string>());
  }
  return items;
}

void sort_by_image(std::vector<ImageToDelete>& images) {
  std::sort(images.begin(), images.end(),
            [](const ImageToDelete& a, const ImageToDelete& b) { return a.image < b.image; });
}

}  // namespace

std::int64_t parse_images_to_keep(std::string_view text, bool allow_all) {
  if (equals_ignoring_case(text, "All")) {
    if (!allow_all) {
      throw Failure("--images All keeps every image, so there is nothing to delete. Give the number of images to "
                    "keep in each repository, such as --images 10.");
    }
    return -1;
  }
  if (auto count = parse_digits(text)) return *count;
  throw Failure("--images must be the number of images to keep in each repository, 0 or more" +
                std::string(allow_all ? ", or All to keep every image" : "") + "; '" + std::string(text) +
                "' is not valid.");
}

std::int64_t parse_threshold_days(std::string_view text) {
  auto days = parse_digits(text);
  if (!days || *days == 0) {
    throw Failure("--deletion-threshold-days must be a whole number of days greater than 0; '" + std::string(text) +
                  "' is not valid. Leave the flag out to set no threshold.");
  }
  return *days;
}

std::int64_t parse_quota_megabytes(std::string_view text, std::string_view flag) {
  if (text == "-1") return -1;
  // The quota in bytes, megabytes * 1048576, must fit in 64 bits.
  constexpr std::int64_t kMaxMegabytes = INT64_MAX / kQuotaMegabyte;
  auto megabytes = parse_digits(text);
  if (!megabytes || *megabytes > kMaxMegabytes) {
    throw Failure(std::string(flag) + " must be a whole number of megabytes (1 MB = 1048576 bytes) up to " +
                  std::to_string(kMaxMegabytes) + ", or -1 for unlimited; '" + std::string(text) + "' is not valid.");
  }
  return *megabytes;
}

std::string quota_setting_summary(const std::optional<std::int64_t>& storage_megabytes,
                                  const std::optional<std::int64_t>& traffic_megabytes) {
  std::string summary;
  if (storage_megabytes) summary = "storage: " + std::to_string(*storage_megabytes);
  if (traffic_megabytes) {
    if (!summary.empty()) summary += " , ";
    summary += "traffic: " + std::to_string(*traffic_megabytes);
  }
  return summary;
}

std::string format_limit(std::int64_t bytes) {
  if (bytes < 0) return "Unlimited";
  // Quotas are set in megabytes of 1048576 bytes, so the table counts in
  // those: the lite plan's 536870912 bytes show as 512 MB, as set.
  double megabytes = static_cast<double>(bytes) / 1048576.0;
  return human_size(static_cast<std::uint64_t>(megabytes * 1'000'000.0 + 0.5));
}

ordered_json quota_output(const json& quotas) {
  auto pick = [&quotas](const char* group, const char* name) -> std::int64_t {
    return quotas.is_object() && quotas.contains(group) ? integer_field(quotas[group], name, 0) : 0;
  };
  return {
      {"usage", {{"traffic", pick("usage", "traffic_bytes")}, {"store", pick("usage", "storage_bytes")}}},
      {"limit", {{"traffic", pick("limit", "traffic_bytes")}, {"store", pick("limit", "storage_bytes")}}},
  };
}

std::string format_images_to_keep(std::int64_t images_per_repo) {
  return images_per_repo < 0 ? "All" : std::to_string(images_per_repo);
}

std::string format_threshold_days(std::int64_t days) { return days <= 0 ? "None" : std::to_string(days); }

std::string retention_policy_message(std::string_view namespace_name, std::int64_t images_per_repo,
                                     bool retain_untagged, std::int64_t deletion_threshold_days) {
  std::string name(namespace_name);
  if (images_per_repo < 0) return "The retention policy to keep all images in " + name + " is set.";
  std::string message = "A scheduled retention policy is set that keeps " + std::to_string(images_per_repo) +
                        (images_per_repo == 1 ? " image" : " images") + " in each repository in " + name;
  if (deletion_threshold_days > 0) {
    message += ", with a deletion threshold of " + std::to_string(deletion_threshold_days) +
               (deletion_threshold_days == 1 ? " day," : " days,");
  }
  return message + " and retain-untagged is set to " + (retain_untagged ? "true" : "false") + ".";
}

std::vector<RetentionPolicyRow> retention_policy_rows(const json& policies) {
  std::vector<RetentionPolicyRow> rows;
  if (!policies.is_object()) return rows;
  for (const auto& [key, policy] : policies.items()) {
    if (!policy.is_object()) continue;
    RetentionPolicyRow row;
    row.namespace_name = policy.value("namespace", key);
    row.images_per_repo = integer_field(policy, "images_per_repo", -1);
    auto retain = policy.find("retain_untagged");
    row.retain_untagged = retain != policy.end() && retain->is_boolean() && retain->get<bool>();
    row.deletion_threshold_days = integer_field(policy, "deletion_threshold_days", 0);
    rows.push_back(std::move(row));
  }
  std::sort(rows.begin(), rows.end(), [](const RetentionPolicyRow& a, const RetentionPolicyRow& b) {
    return a.namespace_name < b.namespace_name;
  });
  return rows;
}

std::vector<TrashRow> trash_rows(const json& trash) {
  std::vector<TrashRow> rows;
  if (!trash.is_object()) return rows;
  for (const auto& [image, entry] : trash.items()) {
    TrashRow row;
    row.image = image;
    row.days_until_expiry = integer_field(entry, "daysUntilExpiry", 0);
    if (entry.is_object() && entry.contains("tags")) row.tags = string_list(entry["tags"]);
    std::sort(row.tags.begin(), row.tags.end());
    rows.push_back(std::move(row));
  }
  std::sort(rows.begin(), rows.end(), [](const TrashRow& a, const TrashRow& b) { return a.image < b.image; });
  return rows;
}

std::string image_key(std::string_view reference) {
  ImageName name = parse_image_name(reference);
  if (!name.digest.empty()) return name.repository + "@" + name.digest;
  return name.repository + ":" + (name.tag.empty() ? "latest" : name.tag);
}

std::vector<ImageToDelete> untagged_images(const json& digests) {
  std::vector<ImageToDelete> images;
  for (const DigestRow& row : digest_rows(digests)) {
    if (!row.tags.empty()) continue;
    images.push_back({row.repository + "@" + row.digest, {}, row.created, row.size});
  }
  sort_by_image(images);
  return images;
}

std::vector<ImageToDelete> analyzed_images(const json& analysis, const json& digests) {
  std::map<std::string, const DigestRow*> known;
  std::vector<DigestRow> rows = digest_rows(digests);
  for (const auto& row : rows) known.emplace(image_key(row.repository + "@" + row.digest), &row);

  std::vector<ImageToDelete> images;
  if (!analysis.is_object()) return images;
  for (const auto& [repository, references] : analysis.items()) {
    for (const auto& reference : string_list(references)) {
      ImageToDelete image{reference, {}, 0, 0};
      if (auto it = known.find(image_key(reference)); it != known.end()) {
        image.tags = it->second->tags;
        image.created = it->second->created;
        image.size = it->second->size;
      }
      images.push_back(std::move(image));
    }
  }
  sort_by_image(images);
  return images;
}

std::vector<DeleteResult> bulk_delete_results(const std::vector<std::string>& requested, const json& response) {
  std::set<std::string> deleted;             // image_key of each deleted image
  std::map<std::string, std::string> errors;  // image_key -> the registry's message
  if (response.is_object()) {
    if (response.contains("success")) {
      for (const auto& image : string_list(response["success"])) deleted.insert(image_key(image));
    }
    auto error = response.find("error");
    if (error != response.end() && error->is_object()) {
      for (const auto& [image, detail] : error->items()) {
        std::string message = detail.is_object() ? detail.value("message", "") : "";
        if (message.empty()) message = detail.is_object() ? detail.value("code", "") : "";
        if (message.empty()) message = "The registry reported an error without a message.";
        errors.emplace(image_key(image), message);
      }
    }
  }

  std::vector<DeleteResult> results;
  for (const auto& image : requested) {
    std::string key = image_key(image);
    DeleteResult result{image, false, ""};
    if (auto it = errors.find(key); it != errors.end()) {
      result.message = it->second;
    } else if (deleted.contains(key)) {
      result.deleted = true;
    } else {
      result.message = "The registry's response does not name this image, so it is unknown whether it was deleted. "
                       "Run 'berth image-digests' to check.";
    }
    results.push_back(std::move(result));
  }
  return results;
}

json delete_results_output(const std::vector<DeleteResult>& results) {
  json output = json::array();
  for (const auto& result : results) {
    output.push_back({{"Digest", result.image}, {"Status", result.deleted ? "OK" : result.message}});
  }
  return output;
}

}  // namespace berth::cli
