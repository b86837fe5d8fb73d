// Namespace commands: namespace-add, namespace-list, namespace-rm.
#include "cli/context.h"

namespace berth::cli {

using nlohmann::json;

void add_namespace_commands(CLI::App& app, Context& context) {
  auto* add = app.add_subcommand("namespace-add", "Create a namespace in your account.");
  auto add_name = std::make_shared<std::string>();
  auto add_group = std::make_shared<std::string>();
  add->add_option("NAMESPACE", *add_name,
                  "4 to 30 lowercase letters, digits, '-' and '_', starting and ending with a letter or digit; "
                  "unique in the region and never renamed")
      ->required();
  // NOTE: Berth has no resource groups yet, so the server does not record
  // the group; the flag exists so that ibmcloud cr scripts keep working.
  add->add_option("-g,--resource-group", *add_group,
                  "a resource group, sent as X-Auth-Resource-Group as ibmcloud cr does (not recorded by Berth yet)");
  add->callback([&context, add_name, add_group] {
    ApiClient& client = context.client();
    std::string account = context.account_name();
    context.out << "Adding namespace '" << *add_name << "'"
                << (add_group->empty() ? "" : " in resource group '" + *add_group + "'") << " for account '"
                << account << "' in registry '" << client.region().domain << "'...\n\n";
    ApiResponse response = client.send("PUT", "/api/v1/namespaces/" + ApiClient::escape(*add_name), {}, "",
                                       add_group->empty() ? Headers{} : Headers{{"X-Auth-Resource-Group", *add_group}});
    if (response.status == 200) {
      context.out << "The namespace '" << *add_name << "' already exists in your account.\n\nOK\n";
      return;
    }
    if (response.status != 201) throw Failure(describe_error(response, client.region()));
    context.out << "Successfully added namespace '" << *add_name << "'\n\nOK\n";
  });

  auto* list = app.add_subcommand("namespace-list", "List the namespaces of your account that you can see.");
  list->alias("namespaces");
  auto verbose = std::make_shared<bool>(false);
  list->add_flag("-v,--verbose", *verbose, "also show each namespace's resource group and creation date");
  auto output = add_output_option(list);
  list->callback([&context, verbose, output] {
    ApiClient& client = context.client();
    bool as_json = wants_json(*output);
    Reporter report(context.out, as_json);
    report.progress("Listing namespaces for account '" + context.account_name() + "' in registry '" +
                    client.region().domain + "'...");
    json details = client.get_json("/api/v1/namespaces/details");
    if (as_json) {
      print_json(context.out, details);
      return;
    }
    if (*verbose) {
      Table table({"Namespace", "Resource Group", "Created"});
      for (const auto& ns : details) {
        table.add_row({ns.value("name", ""), ns.value("resource_group", ""), ns.value("created_date", "")});
      }
      report.table(table);
    } else {
      Table table({"Namespace"});
      for (const auto& ns : details) table.add_row({ns.value("name", "")});
      report.table(table);
    }
    report.ok();
  });

  auto* remove = app.add_subcommand("namespace-rm", "Delete a namespace with every image in it.");
  auto remove_name = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  remove->add_option("NAMESPACE", *remove_name, "the namespace to delete")->required();
  remove->add_flag("-f,--force", *force, "delete without asking for confirmation");
  remove->footer("Deleting a namespace deletes all its images; it cannot be undone.");
  remove->callback([&context, remove_name, force] {
    ApiClient& client = context.client();
    if (!*force && !confirm(context,
                            "Are you sure you want to delete the namespace '" + *remove_name +
                                "'? Every image in it is deleted and cannot be restored.",
                            "--force")) {
      context.out << "The namespace '" << *remove_name << "' was not deleted.\n\nOK\n";
      return;
    }
    context.out << "Removing namespace '" << *remove_name << "'...\n\n";
    client.call("DELETE", "/api/v1/namespaces/" + ApiClient::escape(*remove_name));
    context.out << "Successfully removed namespace '" << *remove_name << "'.\n\nOK\n";
  });
}

}  // namespace berth::cli
