// Vulnerability Advisor commands: va, exemption-add, exemption-list,
// exemption-rm, exemption-types, va-version, va-version-set.
#include "cli/context.h"
#include "cli/va.h"

#include <algorithm>
#include <cctype>

namespace berth::cli {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

// Returns the scope as progress lines name it: "account 'NAME'" for "*",
// else the resource with the registry's domain, in quotes.
std::string scope_description(Context& context, const ExemptionScope& scope) {
  if (scope.account) return "account '" + context.account_name() + "'";
  return "'" + context.client().region().domain + "/" + scope.resource + "'";
}

// The flags of exemption-add and exemption-rm.
struct ExemptionOptions {
  std::string scope;
  std::string issue_type;
  std::string issue_id;
  std::shared_ptr<std::string> output;
};

void add_exemption_flags(CLI::App* command, ExemptionOptions& options) {
  command->add_option("--scope", options.scope,
                      "'*' for the whole account, or NAMESPACE, NAMESPACE/REPOSITORY, NAMESPACE/REPOSITORY:TAG or "
                      "NAMESPACE/REPOSITORY@DIGEST, with or without the registry's domain")
      ->required()
      ->type_name("SCOPE");
  command->add_option("--issue-type", options.issue_type, "cve or sn (see 'berth exemption-types')")
      ->required()
      ->type_name("TYPE");
  command->add_option("--issue-id", options.issue_id,
                      "the Vulnerability ID (CVE-YYYY-NNNN) or Security Notice from 'berth va -e'")
      ->required()
      ->type_name("ID");
  options.output = add_output_option(command);
}

// The checked flags of an exemption command.
struct Exemption {
  ExemptionScope scope;
  std::string issue_type;
  std::string issue_id;
};

Exemption parse_exemption_flags(Context& context, const ExemptionOptions& options) {
  Exemption exemption;
  exemption.issue_type = parse_issue_type(options.issue_type);
  if (options.issue_id.empty()) {
    throw Failure("--issue-id is empty. Give the Vulnerability ID or Security Notice that 'berth va -e IMAGE' prints.");
  }
  exemption.issue_id = options.issue_id;
  exemption.scope = parse_exemption_scope(options.scope, context.config().target().domain);
  return exemption;
}

void add_va_command(CLI::App& app, Context& context) {
  auto* va = app.add_subcommand("va", "Show the vulnerable packages that Vulnerability Advisor finds in images.");
  va->alias("vulnerability-assessment");
  auto images = std::make_shared<std::vector<std::string>>();
  auto extended = std::make_shared<bool>(false);
  auto vulnerabilities = std::make_shared<bool>(false);
  auto configuration = std::make_shared<bool>(false);
  auto output = std::make_shared<std::string>("text");
  va->add_option("IMAGE", *images, "images as [REGISTRY/]NAMESPACE/REPOSITORY[:TAG|@DIGEST] (TAG defaults to latest)")
      ->required();
  va->add_flag("-e,--extended", *extended,
               "show each security notice, package, installed version and fixed version in its own row");
  va->add_flag("-v,--vulnerabilities", *vulnerabilities, "show the vulnerabilities (alone unless -c is given too)");
  va->add_flag("-c,--configuration-issues", *configuration,
               "show the configuration issues (alone unless -v is given too); Berth reports none");
  va->add_option("-o,--output", *output, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}, CLI::ignore_case))
      ->option_text("json|text");
  va->footer("The status is OK, WARN (no advisories cover the image's OS release), FAIL (a vulnerability is\n"
             "active), UNSUPPORTED, INCOMPLETE (some layer could not be read) or UNSCANNED. Only vulnerabilities\n"
             "with a fixed version are reported. An image that is not indexed yet fails with BXNVA0009E.");
  va->callback([&context, images, extended, vulnerabilities, configuration, output] {
    bool as_json = wants_json(*output);
    ReportOptions options = report_options(*extended, *vulnerabilities, *configuration);
    ApiClient& client = context.client();
    Reporter report(context.out, as_json);

    ordered_json outputs = ordered_json::array();
    std::vector<std::string> failed;
    bool first = true;
    for (const auto& image : *images) {
      if (!first) report.line("");
      first = false;
      report.progress("Checking security issues for '" + image + "'...");
      ApiResponse response = client.send("GET", std::string(kVaApi) + "/report/image/" + ApiClient::escape(image));
      if (response.status != 200) {
        std::string message = describe_error(response, client.region());
        failed.push_back(images->size() == 1 ? message : "'" + image + "': " + message);
        continue;
      }
      json body = response.json();
      std::string name = body.is_object() && body.contains("id") && body["id"].is_string()
                             ? body["id"].get<std::string>()
                             : image;
      if (as_json) {
        outputs.push_back(report_output(body, name, options));
      } else {
        context.out << report_text(body, name, options);
      }
    }

    if (as_json) context.out << outputs.dump(2) << '\n';
    if (failed.size() == 1 && images->size() == 1) throw Failure(failed.front());
    if (!failed.empty()) {
      std::string message = "Could not check " + std::to_string(failed.size()) + " of " +
                            std::to_string(images->size()) + " images:";
      for (const auto& reason : failed) message += "\n" + reason;
      throw Failure(message);
    }
    report.ok();
  });
}

void add_exemption_commands(CLI::App& app, Context& context) {
  auto* add = app.add_subcommand("exemption-add",
                                 "Exempt a CVE or security notice from the status of the images in a scope.");
  auto add_options = std::make_shared<ExemptionOptions>();
  add_exemption_flags(add, *add_options);
  add->footer("An exempt issue is still listed by 'berth va', as Exempt, but does not count towards the status.\n"
              "It needs the Manager role on the account, whatever the scope.");
  add->callback([&context, add_options] {
    Exemption exemption = parse_exemption_flags(context, *add_options);
    bool as_json = wants_json(*add_options->output);
    ApiClient& client = context.client();
    Reporter report(context.out, as_json);
    std::string where = as_json ? "" : scope_description(context, exemption.scope);
    report.progress("Creating exemption for '" + exemption.issue_id + "' in " + where + "...");
    std::string path = exemption_path(exemption.scope, exemption.issue_type, exemption.issue_id);
    ApiResponse response = client.call("POST", path);
    if (as_json) {
      print_json(context.out, response.json());
      return;
    }
    if (response.status == 201) {
      report.line("Successfully created exemption for " + exemption.issue_type + " '" + exemption.issue_id + "' in " +
                  where + ".");
    } else {
      report.line("The exemption for " + exemption.issue_type + " '" + exemption.issue_id + "' in " + where +
                  " exists already.");
    }
    report.ok();
  });

  auto* list = app.add_subcommand("exemption-list",
                                  "List exemptions: every one in the account, or those that apply to a scope.");
  list->alias("exemptions");
  auto list_scope = std::make_shared<std::string>();
  auto* list_scope_option =
      list->add_option("--scope", *list_scope,
                       "'*' for the account's own exemptions, or NAMESPACE, NAMESPACE/REPOSITORY, "
                       "NAMESPACE/REPOSITORY:TAG or NAMESPACE/REPOSITORY@DIGEST")
          ->type_name("SCOPE");
  auto list_output = add_output_option(list);
  list->footer("With a scope other than '*', the list has the exemptions of the account, the namespace and the\n"
               "repository that apply to it, and those of a digest it has, but exemptions of a tag only when\n"
               "the scope is that tag. A scope without a tag or digest is looked up as its tag latest.");
  list->callback([&context, list_scope, list_scope_option, list_output] {
    bool as_json = wants_json(*list_output);
    std::optional<ExemptionScope> scope;
    if (list_scope_option->count() > 0) scope = parse_exemption_scope(*list_scope, context.config().target().domain);
    ApiClient& client = context.client();
    Reporter report(context.out, as_json);
    if (!as_json) {
      report.progress(scope ? "Listing exemptions for scope '" + *list_scope + "'..."
                            : "Listing exemptions for account '" + context.account_name() + "'...");
    }
    json exemptions = client.get_json(exemption_list_path(scope));
    if (scope) exemptions = exemptions_for_scope(exemptions, *scope);
    if (as_json) {
      print_json(context.out, exemptions);
      return;
    }
    std::vector<ExemptionRow> rows = exemption_rows(exemptions, client.region().domain);
    if (rows.empty()) {
      report.line(scope ? "No exemptions apply to '" + *list_scope + "'." : "The account has no exemptions.");
      report.ok();
      return;
    }
    Table table({"Scope", "Issue type", "Issue ID"});
    for (const auto& row : rows) table.add_row({row.scope, row.issue_type, row.issue_id});
    report.table(table);
    report.ok();
  });

  auto* remove = app.add_subcommand("exemption-rm", "Delete an exemption.");
  auto remove_options = std::make_shared<ExemptionOptions>();
  add_exemption_flags(remove, *remove_options);
  remove->footer("Give the scope, type and ID exactly as 'berth exemption-list' shows them. It needs the Manager\n"
                 "role on the account, whatever the scope.");
  remove->callback([&context, remove_options] {
    Exemption exemption = parse_exemption_flags(context, *remove_options);
    bool as_json = wants_json(*remove_options->output);
    ApiClient& client = context.client();
    Reporter report(context.out, as_json);
    std::string where = as_json ? "" : scope_description(context, exemption.scope);
    report.progress("Deleting exemption for '" + exemption.issue_id + "' in " + where + "...");
    ApiResponse response =
        client.send("DELETE", exemption_path(exemption.scope, exemption.issue_type, exemption.issue_id));
    if (response.status == 404) {
      throw Failure(describe_error(response, client.region()) +
                    " Run 'berth exemption-list' to see the exemptions and their scopes.");
    }
    if (response.status < 200 || response.status >= 300) throw Failure(describe_error(response, client.region()));
    if (as_json) {
      print_json(context.out, response.json());
      return;
    }
    report.line("Successfully deleted exemption for " + exemption.issue_type + " '" + exemption.issue_id + "' in " +
                where + ".");
    report.ok();
  });

  auto* types = app.add_subcommand("exemption-types", "List the types of issue that can be exempted.");
  auto types_output = add_output_option(types);
  types->callback([&context, types_output] {
    bool as_json = wants_json(*types_output);
    Reporter report(context.out, as_json);
    report.progress("Listing exemption types...");
    ApiClient client = context.anonymous_client();
    json listed = client.get_json(std::string(kVaApi) + "/exempt/types");
    if (as_json) {
      print_json(context.out, listed);
      return;
    }
    Table table({"Issue type", "Description"});
    for (const auto& type : listed) {
      if (!type.is_object()) continue;
      table.add_row({type.value("identifier", ""), type.value("display_name", "")});
    }
    report.table(table);
    report.ok();
  });
}

void add_version_commands(CLI::App& app, Context& context) {
  auto* version = app.add_subcommand("va-version", "Show the Vulnerability Advisor version that berth uses.");
  version->callback([&context] {
    context.out << "You are targeting Vulnerability Advisor version '" << kVaVersion << "'.\n\nOK\n";
  });

  auto* version_set = app.add_subcommand(
      "va-version-set", "Choose the Vulnerability Advisor version; without VERSION, list the versions.");
  auto requested = std::make_shared<std::string>();
  version_set->add_option("VERSION", *requested, "the version to use; v4 is the only one");
  version_set->footer("Berth serves only version v4, so berth always uses it and nothing is saved.");
  version_set->callback([&context, requested] {
    if (requested->empty()) {
      context.out << "Available Vulnerability Advisor versions:\n" << kVaVersion << " (targeted)\n\nOK\n";
      return;
    }
    std::string lower = *requested;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower != kVaVersion) {
      throw Failure("Invalid Vulnerability Advisor version '" + *requested +
                    "' specified. Specify a valid version or, to list the available versions, re-run the command "
                    "with no parameters.");
    }
    context.out << "The Vulnerability Advisor version is set to '" << kVaVersion << "'.\n\nOK\n";
  });
}

}  // namespace

void add_va_commands(CLI::App& app, Context& context) {
  add_va_command(app, context);
  add_exemption_commands(app, context);
  add_version_commands(app, context);
}

}  // namespace berth::cli
