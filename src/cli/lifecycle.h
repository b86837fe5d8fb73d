// Flag parsing and output formatting for the lifecycle commands (plans,
// quotas, deleting, the trash and retention), kept apart from the
// requests so that unit tests reach them.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::cli {

// Bytes in one megabyte as quota-set and the API count them.
inline constexpr std::int64_t kQuotaMegabyte = 1048576;

// Parses "--images COUNT|All" into a non-negative number of images to keep
// in each repository, or -1 for "All" in any case. Throws Failure, naming
// the flag and the accepted values, for anything else, and for "All" unless
// `allow_all`.
std::int64_t parse_images_to_keep(std::string_view text, bool allow_all);
// Parses "--deletion-threshold-days DAYS", a positive number of days.
// Throws Failure for anything else.
std::int64_t parse_threshold_days(std::string_view text);
// Parses "--storage MB" or "--traffic MB", a non-negative number of
// megabytes or -1 for unlimited. Throws Failure, naming `flag`, for anything else.
std::int64_t parse_quota_megabytes(std::string_view text, std::string_view flag);

// Returns "storage: 600 , traffic: 7000", or one of the two, for the
// progress line of quota-set. The space before the comma is as 'ibmcloud cr' prints it.
std::string quota_setting_summary(const std::optional<std::int64_t>& storage_megabytes,
                                  const std::optional<std::int64_t>& traffic_megabytes);
// Formats a quota limit in decimal SI units, or "Unlimited" for a negative limit.
std::string format_limit(std::int64_t bytes);
// Converts the GET /api/v1/quotas response, {"limit":{"storage_bytes",
// "traffic_bytes"},"usage":{...}}, into the JSON that quota prints,
// {"usage":{"traffic","store"},"limit":{...}} in bytes and in that key order.
// A missing value becomes 0.
nlohmann::ordered_json quota_output(const nlohmann::json& quotas);

// Formats an images_per_repo value: "All" for -1 or any negative count.
std::string format_images_to_keep(std::int64_t images_per_repo);
// Formats a deletion threshold: "None" for 0, which means no threshold.
std::string format_threshold_days(std::int64_t days);
// Returns the sentence that retention-policy-set prints once the policy is stored.
std::string retention_policy_message(std::string_view namespace_name, std::int64_t images_per_repo,
                                     bool retain_untagged, std::int64_t deletion_threshold_days);

// One row of retention-policy-list.
struct RetentionPolicyRow {
  std::string namespace_name;
  std::int64_t images_per_repo = -1;
  bool retain_untagged = false;
  std::int64_t deletion_threshold_days = 0;
};
// Reads the GET /api/v1/retentions response, {"<ns>":{"images_per_repo":..,...}}.
// Returns the rows sorted by namespace, with defaults for missing fields.
std::vector<RetentionPolicyRow> retention_policy_rows(const nlohmann::json& policies);

// One image in the trash (trash-list).
struct TrashRow {
  std::string image;  // "<domain>/ns/repo@sha256:<hex>"
  std::int64_t days_until_expiry = 0;
  std::vector<std::string> tags;  // sorted, and empty when the image was untagged
};
// Reads the GET /api/v1/trash response and returns its rows sorted by image.
std::vector<TrashRow> trash_rows(const nlohmann::json& trash);

// Returns "ns/repo@sha256:<hex>" (or "ns/repo:tag") for a reference with or
// without the registry's domain, so that references from different responses compare equal.
std::string image_key(std::string_view reference);

// One image with a digest and the tags it has in its repository.
struct ImageToDelete {
  std::string image;  // "<domain>/ns/repo@sha256:<hex>" as the API returned it
  std::vector<std::string> tags;
  std::int64_t created = 0;  // Unix seconds, or 0 when unknown
  std::uint64_t size = 0;    // bytes
};
// Returns the untagged images in a POST /api/v1/images/digests response,
// sorted. Each repository whose tag map is empty gives "<repository>@<digest>",
// so an image that is tagged in one repository and untagged in another is
// pruned from the second only, as image-digests shows it.
std::vector<ImageToDelete> untagged_images(const nlohmann::json& digests);
// Returns the images of a POST /api/v1/retentions/analyze response,
// {"<repository>":["<ref>",...]}, sorted, with their tags from a
// POST /api/v1/images/digests response of the same namespace.
std::vector<ImageToDelete> analyzed_images(const nlohmann::json& analysis, const nlohmann::json& digests);

// The outcome of deleting one image with POST /api/v1/images/bulkdelete.
struct DeleteResult {
  std::string image;
  bool deleted = false;
  std::string message;  // the registry's reason when not deleted
};
// Returns the result for each of `requested` from the bulk delete response
// {"success":[refs],"error":{"<ref>":{"code","message"}}}. The registry may
// name an image with or without its domain, so matching uses image_key. An
// image that the response does not name counts as not deleted.
std::vector<DeleteResult> bulk_delete_results(const std::vector<std::string>& requested,
                                              const nlohmann::json& response);
// Returns the JSON that image-prune-untagged and retention-run print,
// [{"Digest":"<image>","Status":"OK"}], with the registry's message as the
// Status of an image that was not deleted.
nlohmann::json delete_results_output(const std::vector<DeleteResult>& results);

}  // namespace berth::cli
