// Image commands: image-list, image-digests, image-inspect,
// manifest-inspect, image-tag, image-untag.
#include "cli/context.h"
#include "cli/images.h"

#include <algorithm>

namespace berth::cli {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

std::string path_for(const std::string& image) { return "/api/v1/images/" + ApiClient::escape(image); }

gotemplate::Template parse_format(const std::string& format) {
  try {
    return gotemplate::Template::parse(format);
  } catch (const gotemplate::TemplateError& error) {
    throw Failure(std::string("The --format template is not valid: ") + error.what());
  }
}

// Prints the template's output for one value, and a newline unless the
// output is empty, so that a template with an `if` prints only matches.
void print_formatted(Context& context, const gotemplate::Template& format, const gotemplate::Value& value) {
  std::string text;
  try {
    text = format.execute(value);
  } catch (const gotemplate::TemplateError& error) {
    throw Failure(std::string("The --format template failed: ") + error.what());
  }
  if (text.empty()) return;
  context.out << text;
  if (text.back() != '\n') context.out << '\n';
}


// Throws Failure when --restrict names a namespace that the caller cannot
// list, so that a typo does not look like an empty namespace.
void check_restriction(ApiClient& client, const std::string& restrict, bool include_public) {
  if (restrict.empty() || include_public) return;
  std::string ns = parse_image_name(restrict).repository;
  ns = ns.substr(0, ns.find('/'));
  for (const auto& visible : client.get_json("/api/v1/namespaces")) {
    if (visible.is_string() && visible.get<std::string>() == ns) return;
  }
  throw Failure("You have no namespace '" + ns + "' that you can list: it does not exist, or no policy gives you "
                "the Reader or Manager role on it. Run 'berth namespaces' to see yours.");
}

// The Security status cell; "-" for a row without a status, such as an
// untagged image, which Vulnerability Advisor does not assess.
std::string security_status_cell(const std::optional<SecurityStatus>& status) {
  return status ? security_status_text(*status) : "-";
}

constexpr const char* kNothingListed =
    "No images found. Images are listed only from namespaces where you have the Reader or Manager role.";

// Prints the rows through the template, or one `quiet_line` per row, or
// the empty-listing hint. Returns false when the table is still to print.
template <typename Row, typename QuietLine>
bool print_without_table(Context& context, Reporter& report, const std::optional<gotemplate::Template>& format,
                         bool quiet, const std::vector<Row>& rows, QuietLine quiet_line) {
  if (format) {
    for (const auto& row : rows) print_formatted(context, *format, template_value(row));
    return true;
  }
  if (quiet) {
    for (const auto& row : rows) context.out << quiet_line(row) << '\n';
    return true;
  }
  if (rows.empty()) {
    report.line(kNothingListed);
    report.ok();
    return true;
  }
  return false;
}

struct ListOptions {
  std::string format;
  bool quiet = false;
  std::string restrict;
  bool include_ibm = false;
  bool no_trunc = false;
  bool show_type = false;
  bool va = false;
  bool no_va = false;
  std::shared_ptr<std::string> output;
};

void add_list_flags(CLI::App* command, ListOptions& options, bool full_listing) {
  auto* format = command->add_option(
      "--format", options.format,
      "print each image through a Go text/template, such as '{{ .Repository }}:{{ .Tag }}' (see docs/cli-format.md)")
      ->type_name("TEMPLATE");
  auto* quiet = command->add_flag(
      "-q,--quiet", options.quiet,
      full_listing ? "print only REPOSITORY:TAG, one per line" : "print only REPOSITORY@DIGEST, one per line");
  command->add_option("--restrict", options.restrict,
                      "only images in this namespace (NAMESPACE) or repository (NAMESPACE/REPOSITORY)")
      ->type_name("NS[/REPO]");
  command->add_flag("--include-ibm", options.include_ibm, "also list images in public namespaces of other accounts");
  if (full_listing) {
    command->add_flag("--no-trunc", options.no_trunc, "show the full digest instead of its first 12 hex digits");
    command->add_flag("--show-type", options.show_type, "add a Type column with the manifest type");
  }
  auto* va = command->add_flag("--va", options.va,
                               "add the Security status column and fill .SecurityStatus from Vulnerability Advisor");
  auto* no_va = command->add_flag("--no-va", options.no_va, "leave out the Security status (the default)");
  va->excludes(no_va);
  options.output = add_output_option(command);
  format->excludes(quiet);
  quiet->excludes(command->get_option("--output"));
  format->excludes(command->get_option("--output"));
}

}  // namespace

void add_image_commands(CLI::App& app, Context& context) {
  auto* list = app.add_subcommand("image-list", "List the tagged images you can see, one row per tag.");
  list->alias("images");
  auto list_options = std::make_shared<ListOptions>();
  add_list_flags(list, *list_options, true);
  list->footer("Columns: Repository, Tag, Digest, Namespace, Created (relative time), Size (decimal units, 1 MB =\n"
               "1000000 bytes), and Security status with --va. Template fields: .Repository .Tag .Digest .Namespace\n"
               ".Created (Unix seconds) .Size (bytes) .ManifestType .SecurityStatus (filled with --va).\n"
               "Untagged images appear only in image-digests.");
  list->callback([&context, list_options] {
    const ListOptions& options = *list_options;
    bool as_json = wants_json(*options.output);
    std::optional<gotemplate::Template> format;
    if (!options.format.empty()) format = parse_format(options.format);
    ApiClient& client = context.client();
    Reporter report(context.out, as_json || format || options.quiet);
    report.progress("Listing images...");

    check_restriction(client, options.restrict, options.include_ibm);
    Query query;
    if (!options.restrict.empty()) {
      ImageName name = parse_image_name(options.restrict);
      query.emplace_back(name.repository.find('/') == std::string::npos ? "namespace" : "repository",
                         name.repository);
    }
    if (options.include_ibm) query.emplace_back("includeIBM", "true");
    // A multi-architecture image is pushed under a tag like any other, so
    // its tags are listed too (the API leaves them out unless asked).
    query.emplace_back("includeManifestLists", "true");
    // Assessing every image costs the server time, so it happens only with --va.
    if (!options.va) query.emplace_back("vulnerabilities", "false");
    json images = client.get_json("/api/v1/images", query);
    if (as_json) {
      print_json(context.out, images);
      return;
    }
    std::vector<ImageRow> rows = image_rows(images);
    auto quiet_line = [](const ImageRow& row) { return row.repository + ":" + row.tag; };
    if (print_without_table(context, report, format, options.quiet, rows, quiet_line)) return;
    std::vector<std::string> headers = {"Repository", "Tag", "Digest", "Namespace", "Created", "Size"};
    if (options.show_type) headers.push_back("Type");
    if (options.va) headers.push_back("Security status");
    Table table(headers);
    std::int64_t now = context.now();
    for (const auto& row : rows) {
      std::vector<std::string> cells = {row.repository,     row.tag,
                                        options.no_trunc ? row.digest : short_digest(row.digest),
                                        row.namespace_name, relative_time(row.created, now),
                                        human_size(row.size)};
      if (options.show_type) cells.push_back(short_manifest_type(row.manifest_type));
      if (options.va) cells.push_back(security_status_cell(row.security_status));
      table.add_row(std::move(cells));
    }
    report.table(table);
    report.ok();
  });

  auto* digests = app.add_subcommand(
      "image-digests", "List every image you can see, tagged or not, one row per digest and repository.");
  digests->alias("digests");
  auto digest_options = std::make_shared<ListOptions>();
  add_list_flags(digests, *digest_options, false);
  digests->footer("Columns: Repository, Digest, Tags ('-' for an untagged image), Type, Created, Size, and Security\n"
                  "status with --va. Template fields: .Repository .Digest .Tags (a list) .Created (Unix seconds)\n"
                  ".Size (bytes) .ManifestType .SecurityStatus (filled with --va). Untagged only:\n"
                  "--format '{{if not .Tags}}{{.Repository}}@{{.Digest}}{{end}}'");
  digests->callback([&context, digest_options] {
    const ListOptions& options = *digest_options;
    bool as_json = wants_json(*options.output);
    std::optional<gotemplate::Template> format;
    if (!options.format.empty()) format = parse_format(options.format);
    ApiClient& client = context.client();
    Reporter report(context.out, as_json || format || options.quiet);
    report.progress("Listing images...");

    check_restriction(client, options.restrict, options.include_ibm);
    // The API takes a namespace or a NAMESPACE/REPOSITORY in "repositories".
    json repositories = json::array();
    if (!options.restrict.empty()) repositories.push_back(parse_image_name(options.restrict).repository);
    json request = {{"exclude_tagged", false}, {"exclude_va", !options.va}, {"include_ibm", options.include_ibm},
                    {"repositories", repositories}};
    json listed = client.call("POST", "/api/v1/images/digests", {}, request.dump()).json();
    if (as_json) {
      print_json(context.out, listed);
      return;
    }
    std::vector<DigestRow> rows = digest_rows(listed);
    auto quiet_line = [](const DigestRow& row) { return row.repository + "@" + row.digest; };
    if (print_without_table(context, report, format, options.quiet, rows, quiet_line)) return;
    std::vector<std::string> headers = {"Repository", "Digest", "Tags", "Type", "Created", "Size"};
    if (options.va) headers.push_back("Security status");
    Table table(headers);
    std::int64_t now = context.now();
    for (const auto& row : rows) {
      std::string tags;
      for (const auto& tag : row.tags) tags += (tags.empty() ? "" : ", ") + tag;
      std::vector<std::string> cells = {row.repository, row.digest, tags.empty() ? "-" : tags,
                                        short_manifest_type(row.manifest_type), relative_time(row.created, now),
                                        human_size(row.size)};
      if (options.va) cells.push_back(security_status_cell(row.security_status));
      table.add_row(std::move(cells));
    }
    report.table(table);
    report.ok();
  });

  auto* inspect = app.add_subcommand("image-inspect", "Show the configuration of one or more images.");
  auto inspect_format = std::make_shared<std::string>();
  auto inspect_images = std::make_shared<std::vector<std::string>>();
  inspect->add_option("--format", *inspect_format,
                      "print each image through a Go text/template, such as '{{ .Config.Cmd }}' or "
                      "'{{ .Architecture }}'")
      ->type_name("TEMPLATE");
  inspect->add_option("IMAGE", *inspect_images, "images as [REGISTRY/]NAMESPACE/REPOSITORY[:TAG|@DIGEST] (TAG defaults to latest)")
      ->required();
  inspect->callback([&context, inspect_format, inspect_images] {
    std::optional<gotemplate::Template> format;
    if (!inspect_format->empty()) format = parse_format(*inspect_format);
    ApiClient& client = context.client();
    Reporter report(context.out, format.has_value());
    std::vector<std::string> failed;
    for (const auto& image : *inspect_images) {
      report.progress("Inspecting '" + image + "'...");
      ApiResponse response = client.send("GET", path_for(image) + "/json");
      if (response.status != 200) {
        failed.push_back("'" + image + "': " + describe_error(response, client.region()));
        continue;
      }
      auto document = ordered_json::parse(response.body, nullptr, false);
      if (document.is_discarded()) throw Failure("The registry's response for '" + image + "' is not JSON.");
      if (format) {
        print_formatted(context, *format, template_value(document));
      } else {
        context.out << document.dump(2) << "\n\n";
      }
    }
    if (!failed.empty()) {
      std::string message = "Could not inspect " + std::to_string(failed.size()) + " of " +
                            std::to_string(inspect_images->size()) + " images:";
      for (const auto& reason : failed) message += "\n" + reason;
      throw Failure(message);
    }
    report.ok();
  });

  auto* manifest = app.add_subcommand("manifest-inspect", "Show the manifest of an image as stored in the registry.");
  auto manifest_quiet = std::make_shared<bool>(false);
  auto manifest_image = std::make_shared<std::string>();
  manifest->add_flag("-q,--quiet", *manifest_quiet,
                     "print only the manifest, byte for byte as stored (its SHA-256 is the digest)");
  manifest->add_option("IMAGE", *manifest_image, "the image as [REGISTRY/]NAMESPACE/REPOSITORY[:TAG|@DIGEST]")
      ->required();
  manifest->callback([&context, manifest_quiet, manifest_image] {
    ApiClient& client = context.client();
    Reporter report(context.out, *manifest_quiet);
    report.progress("Inspecting manifest '" + *manifest_image + "'...");
    ApiResponse response = client.call("GET", path_for(*manifest_image) + "/manifest");
    if (*manifest_quiet) {
      // The exact bytes, so that piping them to sha256sum gives the digest.
      context.out << response.body;
      return;
    }
    auto document = ordered_json::parse(response.body, nullptr, false);
    context.out << (document.is_discarded() ? response.body : document.dump(2)) << '\n';
    report.ok();
  });

  auto* tag = app.add_subcommand("image-tag", "Add a tag to an image, in its repository or in another one of your account.");
  auto source = std::make_shared<std::string>();
  auto target = std::make_shared<std::string>();
  tag->add_option("SOURCE", *source, "the image to tag, as [REGISTRY/]NAMESPACE/REPOSITORY[:TAG|@DIGEST]")->required();
  tag->add_option("TARGET", *target, "the new name, as [REGISTRY/]NAMESPACE/REPOSITORY:TAG")->required();
  tag->footer("The registry copies the manifest (and, for a multi-architecture image, every image it lists)\n"
              "without any download; the target namespace must be in your account.");
  tag->callback([&context, source, target] {
    ApiClient& client = context.client();
    if (parse_image_name(*target).tag.empty()) {
      throw Failure("The target '" + *target + "' needs a tag, as in NAMESPACE/REPOSITORY:TAG.");
    }
    context.out << "Tagging '" << *source << "' to '" << *target << "'...\n\n";
    client.call("POST", "/api/v1/images/tags", {{"fromimage", *source}, {"toimage", *target}});
    context.out << "Successfully tagged image '" << *target << "'.\n\nOK\n";
  });

  auto* untag = app.add_subcommand("image-untag", "Remove tags; the images stay, reachable by digest or other tags.");
  auto untag_images = std::make_shared<std::vector<std::string>>();
  untag->add_option("IMAGE", *untag_images, "tags to remove, as [REGISTRY/]NAMESPACE/REPOSITORY:TAG")->required();
  untag->callback([&context, untag_images] {
    ApiClient& client = context.client();
    for (const auto& image : *untag_images) {
      if (parse_image_name(image).tag.empty()) {
        throw Failure("'" + image + "' names no tag. Give the tag to remove, as in NAMESPACE/REPOSITORY:TAG.");
      }
    }
    std::vector<std::string> failed;
    for (const auto& image : *untag_images) {
      context.out << "Removing tag for image '" << image << "'...\n\n";
      ApiResponse response = client.send("DELETE", "/api/v1/tags/" + ApiClient::escape(image));
      if (response.status != 200) {
        failed.push_back("'" + image + "': " + describe_error(response, client.region()));
        continue;
      }
      context.out << "Successfully removed tag '" << parse_image_name(image).tag << "' from image '" << image
                  << "'.\n\n";
    }
    if (!failed.empty()) {
      std::string message = "Could not remove " + std::to_string(failed.size()) + " of " +
                            std::to_string(untag_images->size()) + " tags:";
      for (const auto& reason : failed) message += "\n" + reason;
      throw Failure(message);
    }
    context.out << "OK\n";
  });
}

}  // namespace berth::cli
