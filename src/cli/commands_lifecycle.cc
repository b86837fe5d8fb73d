// Lifecycle commands in three help groups. Plans and quotas: plan,
// plan-upgrade, quota, quota-set. Deleting images and the trash: image-rm,
// image-restore, image-prune-untagged, trash-list. Retention:
// retention-policy-list, retention-policy-set, retention-run.
#include "cli/context.h"
#include "cli/images.h"
#include "cli/lifecycle.h"

#include <algorithm>
#include <cctype>

namespace berth::cli {

using nlohmann::json;

namespace {

constexpr const char* kPlansGroup = "Plans and quotas (docs/cli-lifecycle.md)";
constexpr const char* kTrashGroup = "Deleting images and the trash (docs/cli-lifecycle.md)";
constexpr const char* kRetentionGroup = "Retention (docs/cli-lifecycle.md)";

std::string join(const std::vector<std::string>& items, const char* separator) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : separator) + item;
  return text;
}

// The strings in the array `object[name]`, or none when it is missing.
std::vector<std::string> tag_list(const json& object, const char* name) {
  std::vector<std::string> tags;
  if (!object.is_object() || !object.contains(name) || !object[name].is_array()) return tags;
  for (const auto& tag : object[name]) {
    if (tag.is_string()) tags.push_back(tag.get<std::string>());
  }
  return tags;
}

// "1 image", "3 images".
std::string count_images(std::size_t count) {
  return std::to_string(count) + (count == 1 ? " image" : " images");
}

// Throws Failure for --output json without --force, because a command that
// prints only JSON cannot also ask for confirmation. Call it before any request.
void require_force_for_json(bool as_json, bool force, const std::string& command) {
  if (as_json && !force) {
    throw Failure("--output json needs --force, because berth cannot ask for confirmation while it prints only "
                  "JSON. Run 'berth " + command + "' without --output json to review the images first, or add "
                  "--force to delete them without asking.");
  }
}

// Throws Failure when `namespace_name` is not a namespace that the caller
// can list, so that a typo does not pass for a namespace with nothing to delete.
void require_listable_namespace(ApiClient& client, const std::string& namespace_name) {
  for (const auto& visible : client.get_json("/api/v1/namespaces")) {
    if (visible.is_string() && visible.get<std::string>() == namespace_name) return;
  }
  throw Failure("You have no namespace '" + namespace_name + "' that you can list. It does not exist, or no policy "
                "gives you the Reader or Manager role on it. Run 'berth namespaces' to see yours.");
}

// Sends POST /api/v1/images/digests for `repositories`, each a namespace or
// NAMESPACE/REPOSITORY. No repositories means every namespace the caller can list.
json list_digests(ApiClient& client, const std::vector<std::string>& repositories, bool exclude_tagged) {
  json request = {{"exclude_tagged", exclude_tagged},
                  {"exclude_va", true},
                  {"include_ibm", false},
                  {"repositories", repositories}};
  return client.call("POST", "/api/v1/images/digests", {}, request.dump()).json();
}

// Builds the request body of POST /api/v1/retentions and /retentions/analyze.
json retention_request(const std::string& namespace_name, std::int64_t images_per_repo, bool retain_untagged,
                       std::int64_t deletion_threshold_days) {
  return {{"namespace", namespace_name},
          {"images_per_repo", images_per_repo},
          {"retain_untagged", retain_untagged},
          {"deletion_threshold_days", deletion_threshold_days}};
}

// Returns the images that a retention policy would delete now, with their tags.
std::vector<ImageToDelete> analyze_retention(ApiClient& client, const json& request) {
  json analysis = client.call("POST", "/api/v1/retentions/analyze", {}, request.dump()).json();
  bool empty = true;
  if (analysis.is_object()) {
    for (const auto& [repository, images] : analysis.items()) empty = empty && (!images.is_array() || images.empty());
  }
  if (empty) return {};
  json digests = list_digests(client, {request["namespace"].get<std::string>()}, false);
  return analyzed_images(analysis, digests);
}

// Prints the "Image  Tags" table of the retention commands, and the count.
void print_images_with_tags(Reporter& report, const std::vector<ImageToDelete>& images) {
  Table table({"Image", "Tags"});
  for (const auto& image : images) table.add_row({image.image, image.tags.empty() ? "-" : join(image.tags, ", ")});
  report.table(table);
  report.line("");
  report.line("Found " + count_images(images.size()) + " to delete.");
}

// Asks before deleting `count` images and returns true only for yes.
bool confirm_deletion(Context& context, std::size_t count, const std::string& extra) {
  std::string images = count == 1 ? "this image" : "these " + std::to_string(count) + " images";
  return confirm(context,
                 "Are you sure you want to delete " + images + extra +
                     "? Deleted images stay in the trash, from which 'berth image-restore' restores them, until "
                     "they expire.",
                 "--force");
}

// Maximum number of references in one bulk delete request. At about 110
// bytes each, 500 keep the body far below berthd's 1 MiB limit.
constexpr std::size_t kBulkDeleteBatch = 500;

// Deletes `images` with POST /api/v1/images/bulkdelete, in batches. Prints
// the JSON list of results, or the count of deleted images, and then throws
// Failure naming each image that was not deleted. A batch whose request
// fails counts as not deleted, and the next batch is still sent.
void delete_images(Context& context, ApiClient& client, Reporter& report, const std::vector<ImageToDelete>& images,
                   bool as_json) {
  std::vector<DeleteResult> results;
  for (std::size_t start = 0; start < images.size(); start += kBulkDeleteBatch) {
    std::vector<std::string> requested;
    for (std::size_t i = start; i < std::min(images.size(), start + kBulkDeleteBatch); ++i) {
      requested.push_back(images[i].image);
    }
    json request = requested;
    try {
      json response = client.call("POST", "/api/v1/images/bulkdelete", {}, request.dump()).json();
      for (auto& result : bulk_delete_results(requested, response)) results.push_back(std::move(result));
    } catch (const Failure& failure) {
      for (const auto& image : requested) results.push_back({image, false, failure.what()});
    }
  }

  std::size_t deleted = std::count_if(results.begin(), results.end(), [](const DeleteResult& r) { return r.deleted; });
  std::size_t failed = results.size() - deleted;
  if (as_json) {
    print_json(context.out, delete_results_output(results));
  } else if (deleted > 0) {
    report.line("Successfully deleted " + count_images(deleted) + ".");
  }
  if (failed > 0) {
    std::string message =
        "Could not delete " + std::to_string(failed) + " of " + std::to_string(results.size()) + " images:";
    for (const auto& result : results) {
      if (!result.deleted) message += "\n'" + result.image + "': " + result.message;
    }
    throw Failure(message);
  }
}

void add_plan_commands(CLI::App& app, Context& context) {
  auto* plan = app.add_subcommand("plan", "Show the registry plan of your account.");
  auto plan_output = add_output_option(plan);
  plan->callback([&context, plan_output] {
    bool as_json = wants_json(*plan_output);
    ApiClient& client = context.client();
    Reporter report(context.out, as_json);
    if (!as_json) {
      report.progress("Getting the registry plan for account '" + context.account_name() + "' in registry '" +
                      client.region().domain + "'...");
    }
    json plans = client.get_json("/api/v1/plans");
    if (as_json) {
      print_json(context.out, plans);
      return;
    }
    std::string name = plans.value("plan", "");
    report.line("You are on the '" + name + "' plan.");
    if (name == "lite") {
      report.line("Run 'berth quota' to see its limits, and 'berth plan-upgrade' to upgrade to the 'standard' plan.");
    }
    report.ok();
  });

  auto* upgrade = app.add_subcommand("plan-upgrade", "Upgrade your account to another registry plan.");
  auto target_plan = std::make_shared<std::string>("standard");
  upgrade->add_option("PLAN", *target_plan, "the plan to upgrade to (default: standard)");
  upgrade->footer("There is no downgrade: the registry rejects a plan below the current one.");
  upgrade->callback([&context, target_plan] {
    std::string name = *target_plan;
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    ApiClient& client = context.client();
    context.out << "Upgrading account to '" << name << "' plan in registry '" << client.region().domain << "'...\n\n";
    if (client.get_json("/api/v1/plans").value("plan", "") == name) {
      context.out << "Your account is already on the '" << name << "' plan.\n\nOK\n";
      return;
    }
    client.call("PATCH", "/api/v1/plans", {}, json{{"plan", name}}.dump());
    context.out << "Your account is now on the '" << name << "' plan.\n";
    // Custom quotas outlive the upgrade, so list the ones that still limit the account.
    nlohmann::ordered_json quotas = quota_output(client.get_json("/api/v1/quotas"));
    std::vector<std::string> kept;
    if (quotas["limit"]["store"].get<std::int64_t>() >= 0) {
      kept.push_back("storage " + format_limit(quotas["limit"]["store"]) + " ('berth quota-set --storage -1' removes it)");
    }
    if (quotas["limit"]["traffic"].get<std::int64_t>() >= 0) {
      kept.push_back("pull traffic " + format_limit(quotas["limit"]["traffic"]) +
                     " ('berth quota-set --traffic -1' removes it)");
    }
    for (const auto& line : kept) context.out << "Your own quota still applies: " << line << ".\n";
    context.out << "\nOK\n";
  });

  auto* quota = app.add_subcommand("quota", "Show the storage and pull traffic quotas and this month's usage.");
  auto quota_output_format = add_output_option(quota);
  quota->footer("Values are in megabytes of 1048576 bytes, as quota-set takes them, and 1 GB is 1000 MB. Pull traffic "
                "counts the current month (UTC).\n"
                "--output json prints bytes, with -1 for an unlimited quota.");
  quota->callback([&context, quota_output_format] {
    bool as_json = wants_json(*quota_output_format);
    ApiClient& client = context.client();
    Reporter report(context.out, as_json);
    if (!as_json) {
      report.progress("Getting quotas and usage for the current month, for account '" + context.account_name() +
                      "'...");
    }
    nlohmann::ordered_json quotas = quota_output(client.get_json("/api/v1/quotas"));
    if (as_json) {
      context.out << quotas.dump(2) << '\n';
      return;
    }
    auto used = [](std::int64_t bytes) { return format_limit(std::max<std::int64_t>(0, bytes)); };
    Table table({"QUOTA", "LIMIT", "USED"});
    table.add_row({"Pull traffic", format_limit(quotas["limit"]["traffic"]), used(quotas["usage"]["traffic"])});
    table.add_row({"Storage", format_limit(quotas["limit"]["store"]), used(quotas["usage"]["store"])});
    report.table(table);
    report.ok();
  });

  auto* quota_set = app.add_subcommand("quota-set", "Set your own storage or pull traffic quota, or both.");
  auto storage = std::make_shared<std::string>();
  auto traffic = std::make_shared<std::string>();
  auto* storage_option = quota_set->add_option(
      "--storage", *storage, "the storage quota in megabytes (1 MB = 1048576 bytes), or -1 for unlimited")->type_name("MB");
  auto* traffic_option = quota_set->add_option(
      "--traffic", *traffic, "the monthly pull traffic quota in megabytes (1 MB = 1048576 bytes), or -1 for unlimited")
      ->type_name("MB");
  quota_set->footer("On the lite plan a quota cannot exceed the plan's limits; 'berth quota' shows them.");
  quota_set->callback([&context, storage, traffic, storage_option, traffic_option] {
    std::optional<std::int64_t> storage_megabytes;
    std::optional<std::int64_t> traffic_megabytes;
    if (storage_option->count() > 0) storage_megabytes = parse_quota_megabytes(*storage, "--storage");
    if (traffic_option->count() > 0) traffic_megabytes = parse_quota_megabytes(*traffic, "--traffic");
    if (!storage_megabytes && !traffic_megabytes) {
      throw Failure("Give --storage MB, --traffic MB or both, in megabytes of 1048576 bytes (-1 for unlimited), as "
                    "in 'berth quota-set --storage 500 --traffic 5000'.");
    }
    ApiClient& client = context.client();
    json request = json::object();
    if (storage_megabytes) request["storage_megabytes"] = *storage_megabytes;
    if (traffic_megabytes) request["traffic_megabytes"] = *traffic_megabytes;
    context.out << "Setting quotas: '" << quota_setting_summary(storage_megabytes, traffic_megabytes) << "'...\n\n";
    client.call("PATCH", "/api/v1/quotas", {}, request.dump());
    context.out << "Successfully set quotas.\n\nOK\n";
  });
}

void add_trash_commands(CLI::App& app, Context& context) {
  auto* remove = app.add_subcommand("image-rm", "Delete images, with all their tags in their repository.");
  auto remove_images = std::make_shared<std::vector<std::string>>();
  remove->add_option("IMAGE", *remove_images,
                     "images as [REGISTRY/]NAMESPACE/REPOSITORY[:TAG|@DIGEST] (TAG defaults to latest)")
      ->required();
  remove->footer("A deleted image moves to the trash ('berth trash-list'); 'berth image-restore' restores it until\n"
                 "it expires. Copies of the same digest in other repositories stay. To remove only one tag, use\n"
                 "'berth image-untag'.");
  remove->callback([&context, remove_images] {
    ApiClient& client = context.client();
    std::vector<std::string> failed;
    for (const auto& image : *remove_images) {
      context.out << "Deleting image '" << image << "'...\n\n";
      ApiResponse response = client.send("DELETE", "/api/v1/images/" + ApiClient::escape(image));
      if (response.status != 200) {
        failed.push_back("'" + image + "': " + describe_error(response, client.region()));
        continue;
      }
      context.out << "Successfully deleted image '" << image << "'.\n\n";
    }
    if (!failed.empty()) {
      throw Failure("Could not delete " + std::to_string(failed.size()) + " of " +
                    std::to_string(remove_images->size()) + " images:\n" + join(failed, "\n"));
    }
    context.out << "OK\n";
  });

  auto* restore = app.add_subcommand("image-restore", "Restore an image from the trash, by digest or by tag.");
  auto restore_image = std::make_shared<std::string>();
  restore->add_option("IMAGE", *restore_image,
                      "the image as [REGISTRY/]NAMESPACE/REPOSITORY@DIGEST or [REGISTRY/]NAMESPACE/REPOSITORY:TAG")
      ->required();
  restore->footer("By digest, the image returns with every tag it had in the trash, except tags that another image\n"
                  "in the repository has taken since. By tag, only that tag returns.");
  restore->callback([&context, restore_image] {
    ApiClient& client = context.client();
    const std::string& image = *restore_image;
    ImageName name = parse_image_name(image);
    context.out << "Restoring image '" << image << "'...\n\n";
    if (name.digest.empty()) {
      client.call("POST", "/api/v1/trash/" + ApiClient::escape(image) + "/restore");
      context.out << "Successfully restored image '" << image << "'.\n\nOK\n";
      return;
    }
    // The API names a trashed digest with the registry's domain.
    std::string reference = name.domain.empty() ? client.region().domain + "/" + image : image;
    json result = client.call("POST", "/api/v1/trash/" + ApiClient::escape(reference) + "/restoretags").json();
    std::vector<std::string> restored = tag_list(result, "successful");
    std::vector<std::string> skipped = tag_list(result, "unsuccessful");
    context.out << "Successfully restored image '" << image << "'.\n";
    if (!restored.empty()) context.out << "Restored tags: " << join(restored, ", ") << "\n";
    if (!skipped.empty()) {
      context.out << "Tags not restored, because another image in the repository has them: " << join(skipped, ", ")
                  << ". Run 'berth image-tag " << image << " " << name.repository << ":TAG' to move one to this image.\n";
    }
    if (restored.empty() && skipped.empty()) {
      context.out << "No tags were restored; the image is reachable by its digest.\n";
    }
    context.out << "\nOK\n";
  });

  auto* prune = app.add_subcommand("image-prune-untagged", "Delete every untagged image you can see, or those in one namespace or repository.");
  auto prune_force = std::make_shared<bool>(false);
  auto prune_restrict = std::make_shared<std::string>();
  prune->add_flag("-f,--force", *prune_force, "delete without asking for confirmation");
  prune->add_option("--restrict", *prune_restrict,
                    "only untagged images in this namespace (NAMESPACE) or repository (NAMESPACE/REPOSITORY)")
      ->type_name("NS[/REPO]");
  auto prune_output = add_output_option(prune);
  prune->footer("Untagged images are the rows with '-' in the Tags column of 'berth image-digests'. There is no\n"
                "dry run, but without --force the images are listed first for confirmation. --output json\n"
                "needs --force and prints [{\"Digest\": IMAGE, \"Status\": \"OK\" or the error}].");
  prune->callback([&context, prune_force, prune_restrict, prune_output] {
    bool as_json = wants_json(*prune_output);
    require_force_for_json(as_json, *prune_force, "image-prune-untagged");
    ApiClient& client = context.client();
    Reporter report(context.out, as_json);

    std::vector<std::string> repositories;
    std::string scope;
    if (!prune_restrict->empty()) {
      std::string repository = parse_image_name(*prune_restrict).repository;
      bool whole_namespace = repository.find('/') == std::string::npos;
      scope = (whole_namespace ? "namespace '" : "repository '") + repository + "'";
      require_listable_namespace(client, repository.substr(0, repository.find('/')));
      repositories.push_back(repository);
    } else if (!as_json) {
      scope = "account '" + context.account_name() + "'";
    }
    report.progress("Deleting untagged images in " + scope + "...");

    std::vector<ImageToDelete> images = untagged_images(list_digests(client, repositories, true));
    if (images.empty()) {
      if (as_json) print_json(context.out, json::array());
      report.line("There are no untagged images to delete.");
      report.ok();
      return;
    }
    Table table({"Image", "Created", "Size"});
    std::int64_t now = context.now();
    for (const auto& image : images) {
      table.add_row({image.image, relative_time(image.created, now), human_size(image.size)});
    }
    report.table(table);
    report.line("");
    report.line("Found " + count_images(images.size()) + " to delete.");
    report.line("");
    if (!*prune_force && !confirm_deletion(context, images.size(), "")) {
      context.out << "No images were deleted.\n\nOK\n";
      return;
    }
    delete_images(context, client, report, images, as_json);
    report.ok();
  });

  auto* trash = app.add_subcommand("trash-list", "List the deleted images in the trash and the days until each expires.");
  auto trash_restrict = std::make_shared<std::string>();
  trash->add_option("--restrict", *trash_restrict, "only images from this namespace")->type_name("NAMESPACE");
  auto trash_output = add_output_option(trash);
  trash->footer("Restore an image with 'berth image-restore DIGEST' (all its tags) or 'berth image-restore\n"
                "REPOSITORY:TAG' (one tag). An image expires from the trash on the day shown and cannot be\n"
                "restored after that.");
  trash->callback([&context, trash_restrict, trash_output] {
    if (trash_restrict->find('/') != std::string::npos) {
      throw Failure("--restrict takes a namespace for trash-list, not a repository; '" + *trash_restrict +
                    "' is not valid. Give only the part before the first '/'.");
    }
    bool as_json = wants_json(*trash_output);
    ApiClient& client = context.client();
    Reporter report(context.out, as_json);
    report.progress("Listing the contents of the trash...");
    Query query;
    if (!trash_restrict->empty()) query.emplace_back("namespace", *trash_restrict);
    json listed = client.get_json("/api/v1/trash", query);
    if (as_json) {
      print_json(context.out, listed);
      return;
    }
    std::vector<TrashRow> rows = trash_rows(listed);
    if (rows.empty()) {
      report.line(trash_restrict->empty() ? "The trash is empty."
                                          : "The trash has no images from namespace '" + *trash_restrict + "'.");
      report.ok();
      return;
    }
    Table table({"Digest", "Days until expiry", "Tags"});
    for (const auto& row : rows) {
      table.add_row({row.image, std::to_string(row.days_until_expiry), row.tags.empty() ? "-" : join(row.tags, ", ")});
    }
    report.table(table);
    report.ok();
  });
}

// Flags shared by retention-policy-set and retention-run.
struct RetentionOptions {
  std::string images;
  bool retain_untagged = false;
  std::string threshold_days;
  CLI::Option* threshold_option = nullptr;
  bool force = false;
  std::string namespace_name;
};

void add_retention_flags(CLI::App* command, RetentionOptions& options, bool allow_all) {
  command->add_option("--images", options.images,
                      allow_all ? "the number of images to keep in each repository, or All to keep every image"
                                : "the number of images to keep in each repository")
      ->required()
      ->type_name(allow_all ? "COUNT|All" : "COUNT");
  command->add_flag("--retain-untagged", options.retain_untagged,
                    "keep every untagged image, and count only tagged images towards COUNT");
  options.threshold_option =
      command->add_option("--deletion-threshold-days", options.threshold_days,
                          "keep every image built less than DAYS days ago, even beyond COUNT")
          ->type_name("DAYS");
  command->add_flag("-f,--force", options.force, "delete without asking for confirmation");
  command->add_option("NAMESPACE", options.namespace_name, "the namespace whose repositories the rule applies to")
      ->required();
}

// The numbers behind the retention flags, checked before any request.
struct RetentionRule {
  std::int64_t images_per_repo = -1;
  std::int64_t deletion_threshold_days = 0;
};

RetentionRule parse_retention_flags(const RetentionOptions& options, bool allow_all) {
  RetentionRule rule;
  rule.images_per_repo = parse_images_to_keep(options.images, allow_all);
  if (options.threshold_option->count() > 0) rule.deletion_threshold_days = parse_threshold_days(options.threshold_days);
  return rule;
}

void add_retention_commands(CLI::App& app, Context& context) {
  auto* list = app.add_subcommand("retention-policy-list", "List the retention policy of every namespace in your account.");
  auto list_output = add_output_option(list);
  list->footer("'All' images to retain means no policy: every image is kept. A deletion threshold of 'None' means\n"
               "that image age does not protect an image.");
  list->callback([&context, list_output] {
    bool as_json = wants_json(*list_output);
    ApiClient& client = context.client();
    Reporter report(context.out, as_json);
    if (!as_json) {
      report.progress("Listing image retention policies for account '" + context.account_name() + "' in registry '" +
                      client.region().domain + "'...");
    }
    json policies = client.get_json("/api/v1/retentions");
    if (as_json) {
      print_json(context.out, policies);
      return;
    }
    std::vector<RetentionPolicyRow> rows = retention_policy_rows(policies);
    if (rows.empty()) {
      report.line("Your account has no namespaces. Run 'berth namespace-add NAMESPACE' to create one.");
      report.ok();
      return;
    }
    Table table({"Namespace", "Images to retain", "Retain all untagged", "Deletion threshold (days)"});
    for (const auto& row : rows) {
      table.add_row({row.namespace_name, format_images_to_keep(row.images_per_repo),
                     row.retain_untagged ? "true" : "false", format_threshold_days(row.deletion_threshold_days)});
    }
    report.table(table);
    report.ok();
  });

  auto* set = app.add_subcommand(
      "retention-policy-set",
      "Set how many images to keep in each repository of a namespace; the rest are deleted now and daily.");
  auto set_options = std::make_shared<RetentionOptions>();
  add_retention_flags(set, *set_options, true);
  set->footer("The newest images by build date are kept. Multi-architecture images, and images without a build\n"
              "date, are never deleted. The images that the policy deletes now are listed for confirmation first.\n"
              "--images All removes the policy.");
  set->callback([&context, set_options] {
    const RetentionOptions& options = *set_options;
    RetentionRule rule = parse_retention_flags(options, true);
    ApiClient& client = context.client();
    Reporter report(context.out, false);
    json request = retention_request(options.namespace_name, rule.images_per_repo, options.retain_untagged,
                                     rule.deletion_threshold_days);
    std::string done = retention_policy_message(options.namespace_name, rule.images_per_repo,
                                                options.retain_untagged, rule.deletion_threshold_days);
    if (rule.images_per_repo < 0) {
      report.progress("Setting the retention policy for namespace '" + options.namespace_name + "'...");
      client.call("POST", "/api/v1/retentions", {}, request.dump());
      report.line(done);
      report.ok();
      return;
    }

    report.progress("Retrieving images to delete from namespace '" + options.namespace_name + "' in registry '" +
                    client.region().domain + "'...");
    std::vector<ImageToDelete> images = analyze_retention(client, request);
    if (images.empty()) {
      report.line("There are no images to delete now.");
    } else {
      print_images_with_tags(report, images);
      report.line("");
      if (!options.force && !confirm_deletion(context, images.size(), " and set the policy")) {
        context.out << "The retention policy was not set, and no images were deleted.\n\nOK\n";
        return;
      }
      report.progress("Deleting " + count_images(images.size()) + "...");
    }
    json response = client.call("POST", "/api/v1/retentions", {}, request.dump()).json();
    std::size_t deleted = response.is_object() && response.contains("deleted") && response["deleted"].is_array()
                              ? response["deleted"].size()
                              : 0;
    if (deleted > 0 || !images.empty()) report.line("Successfully deleted " + count_images(deleted) + ".");
    if (deleted != images.size()) {
      report.line("The registry deleted " + count_images(deleted) + ", not the " + std::to_string(images.size()) +
                  " listed above. Run 'berth trash-list --restrict " + options.namespace_name + "' to see which.");
    }
    report.line(done);
    report.ok();
  });

  auto* run = app.add_subcommand("retention-run",
                                 "Delete all but the newest images of each repository in a namespace, once.");
  auto run_options = std::make_shared<RetentionOptions>();
  add_retention_flags(run, *run_options, false);
  auto run_output = add_output_option(run);
  run->footer("The same rule as retention-policy-set, applied once and not stored. --output json needs --force\n"
              "and prints [{\"Digest\": IMAGE, \"Status\": \"OK\" or the error}].");
  run->callback([&context, run_options, run_output] {
    const RetentionOptions& options = *run_options;
    RetentionRule rule = parse_retention_flags(options, false);
    bool as_json = wants_json(*run_output);
    require_force_for_json(as_json, options.force, "retention-run");
    ApiClient& client = context.client();
    Reporter report(context.out, as_json);
    report.progress("Retrieving images to delete from namespace '" + options.namespace_name + "' in registry '" +
                    client.region().domain + "'...");
    json request = retention_request(options.namespace_name, rule.images_per_repo, options.retain_untagged,
                                     rule.deletion_threshold_days);
    std::vector<ImageToDelete> images = analyze_retention(client, request);
    if (images.empty()) {
      if (as_json) print_json(context.out, json::array());
      report.line("There are no images to delete.");
      report.ok();
      return;
    }
    print_images_with_tags(report, images);
    report.line("");
    if (!options.force && !confirm_deletion(context, images.size(), "")) {
      context.out << "No images were deleted.\n\nOK\n";
      return;
    }
    report.progress("Deleting " + count_images(images.size()) + "...");
    delete_images(context, client, report, images, as_json);
    report.ok();
  });
}

}  // namespace

void add_lifecycle_commands(CLI::App& app, Context& context) {
  auto add_group = [&app](const char* heading, auto add) {
    std::size_t before = app.get_subcommands({}).size();
    add();
    auto commands = app.get_subcommands({});
    for (std::size_t i = before; i < commands.size(); ++i) commands[i]->group(heading);
  };
  add_group(kTrashGroup, [&] { add_trash_commands(app, context); });
  add_group(kRetentionGroup, [&] { add_retention_commands(app, context); });
  add_group(kPlansGroup, [&] { add_plan_commands(app, context); });
}

}  // namespace berth::cli
