// Access commands: API keys, service IDs and access policies of the
// account (apikey-*, serviceid-*, policy-*).
#include "cli/context.h"

#include <fstream>

namespace berth::cli {

using nlohmann::json;

namespace {

std::string or_dash(const std::string& text) { return text.empty() ? "-" : text; }

// Returns the service ID whose name or ID is `name_or_id`; throws Failure if there is none.
json find_service_id(ApiClient& client, const std::string& name_or_id) {
  json matches = json::array();
  for (const auto& identity : client.get_json("/api/v1/iam/serviceids")) {
    if (identity.value("id", "") == name_or_id || identity.value("name", "") == name_or_id) matches.push_back(identity);
  }
  if (matches.empty()) {
    throw Failure("The account has no service ID '" + name_or_id + "'. Run 'berth serviceid-list' to see them.");
  }
  return matches[0];
}

// Returns `identity` if it is an IAM ID, else the IAM ID of the service ID of that name.
std::string resolve_identity(ApiClient& client, const std::string& identity) {
  if (identity.starts_with("User-") || identity.starts_with("ServiceId-")) return identity;
  return find_service_id(client, identity).value("id", "");
}

void print_api_key(Context& context, const json& key) {
  Table table({"ID", key.value("id", "")});
  table.add_row({"Name", key.value("name", "")});
  table.add_row({"Description", key.value("description", "")});
  table.add_row({"Owner", key.value("iam_id", "")});
  table.add_row({"Created At", key.value("created_at", "")});
  if (key.contains("apikey")) table.add_row({"API Key", key.value("apikey", "")});
  table.print(context.out);
}

}  // namespace

void add_iam_commands(CLI::App& app, Context& context) {
  // --- API keys ---------------------------------------------------------------
  auto* key_create = app.add_subcommand("apikey-create", "Create an API key; the key is shown only this once.");
  struct KeyCreate {
    std::string name, description, service_id, file;
    std::shared_ptr<std::string> output;
  };
  auto create = std::make_shared<KeyCreate>();
  key_create->add_option("NAME", create->name, "a name for the key, to tell it apart in apikey-list")->required();
  key_create->add_option("-d,--description", create->description, "free text about what the key is for");
  key_create->add_option("--service-id", create->service_id,
                         "create the key for this service ID (name or ID) instead of yourself; needs Manager");
  key_create->add_option("--file", create->file, "also save the key's details as JSON to this file (mode 0600)");
  create->output = add_output_option(key_create);
  key_create->callback([&context, create] {
    ApiClient& client = context.client();
    bool as_json = wants_json(*create->output);
    Reporter report(context.out, as_json);
    json request = {{"name", create->name}, {"description", create->description}};
    if (!create->service_id.empty()) request["iam_id"] = resolve_identity(client, create->service_id);
    report.progress("Creating API key '" + create->name + "'...");
    json key = client.call("POST", "/api/v1/iam/apikeys", {}, request.dump()).json();
    if (!create->file.empty()) write_file_atomically(create->file, key.dump(2) + "\n", 0600);
    if (as_json) {
      print_json(context.out, key);
      return;
    }
    report.line("API key '" + create->name + "' was created.");
    report.line("Keep the API key safe: it cannot be shown again after this.\n");
    print_api_key(context, key);
    report.ok();
  });

  auto* key_list = app.add_subcommand("apikey-list", "List API keys: a Manager sees every key of the account, others their own.");
  auto key_list_output = add_output_option(key_list);
  key_list->callback([&context, key_list_output] {
    ApiClient& client = context.client();
    bool as_json = wants_json(*key_list_output);
    Reporter report(context.out, as_json);
    report.progress("Listing API keys...");
    json keys = client.get_json("/api/v1/iam/apikeys");
    if (as_json) {
      print_json(context.out, keys);
      return;
    }
    Table table({"ID", "Name", "Description", "Owner", "Created", "Last used"});
    for (const auto& key : keys) {
      std::string last_used = key.contains("last_used_at") && key["last_used_at"].is_string()
                                  ? key["last_used_at"].get<std::string>()
                                  : "";
      table.add_row({key.value("id", ""), key.value("name", ""), or_dash(key.value("description", "")),
                     key.value("iam_id", ""), key.value("created_at", ""), or_dash(last_used)});
    }
    report.table(table);
    report.ok();
  });

  auto* key_rm = app.add_subcommand("apikey-rm", "Delete an API key; clients using it are refused from then on.");
  auto key_rm_id = std::make_shared<std::string>();
  auto key_rm_force = std::make_shared<bool>(false);
  key_rm->add_option("KEY", *key_rm_id, "the key's ID (ApiKey-...) or its name")->required();
  key_rm->add_flag("-f,--force", *key_rm_force, "delete without asking for confirmation");
  key_rm->callback([&context, key_rm_id, key_rm_force] {
    ApiClient& client = context.client();
    json matches = json::array();
    for (const auto& key : client.get_json("/api/v1/iam/apikeys")) {
      if (key.value("id", "") == *key_rm_id || key.value("name", "") == *key_rm_id) matches.push_back(key);
    }
    if (matches.empty()) throw Failure("No API key '" + *key_rm_id + "' that you can see. Run 'berth apikey-list'.");
    if (matches.size() > 1) {
      throw Failure("More than one API key is called '" + *key_rm_id + "'. Give the ID from 'berth apikey-list'.");
    }
    std::string id = matches[0].value("id", "");
    if (!*key_rm_force && !confirm(context, "Delete the API key '" + *key_rm_id + "' (" + id + ")?", "--force")) {
      context.out << "The API key was not deleted.\n\nOK\n";
      return;
    }
    context.out << "Deleting API key '" << *key_rm_id << "'...\n\n";
    client.call("DELETE", "/api/v1/iam/apikeys/" + ApiClient::escape(id));
    context.out << "Successfully deleted API key '" << id << "'.\n\nOK\n";
  });

  // --- Service IDs -------------------------------------------------------------
  auto* sid_create = app.add_subcommand("serviceid-create", "Create a service ID: an identity for a program, not a person.");
  auto sid_name = std::make_shared<std::string>();
  auto sid_description = std::make_shared<std::string>();
  sid_create->add_option("NAME", *sid_name, "a name, unique among the account's service IDs")->required();
  sid_create->add_option("-d,--description", *sid_description, "free text about what uses it");
  sid_create->footer("Then grant it a role with 'berth policy-add' and give it a key with\n"
                     "'berth apikey-create NAME --service-id SERVICE_ID'.");
  sid_create->callback([&context, sid_name, sid_description] {
    ApiClient& client = context.client();
    context.out << "Creating service ID '" << *sid_name << "'...\n\n";
    json request = {{"name", *sid_name}, {"description", *sid_description}};
    json identity = client.call("POST", "/api/v1/iam/serviceids", {}, request.dump()).json();
    Table table({"ID", identity.value("id", "")});
    table.add_row({"Name", identity.value("name", "")});
    table.add_row({"Description", identity.value("description", "")});
    table.add_row({"Created At", identity.value("created_at", "")});
    table.print(context.out);
    context.out << "\nOK\n";
  });

  auto* sid_list = app.add_subcommand("serviceid-list", "List the account's service IDs.");
  auto sid_list_output = add_output_option(sid_list);
  sid_list->callback([&context, sid_list_output] {
    ApiClient& client = context.client();
    bool as_json = wants_json(*sid_list_output);
    Reporter report(context.out, as_json);
    report.progress("Listing service IDs...");
    json identities = client.get_json("/api/v1/iam/serviceids");
    if (as_json) {
      print_json(context.out, identities);
      return;
    }
    Table table({"ID", "Name", "Description", "Created"});
    for (const auto& identity : identities) {
      table.add_row({identity.value("id", ""), identity.value("name", ""), or_dash(identity.value("description", "")),
                     identity.value("created_at", "")});
    }
    report.table(table);
    report.ok();
  });

  auto* sid_rm = app.add_subcommand("serviceid-rm", "Delete a service ID with its API keys and policies.");
  auto sid_rm_name = std::make_shared<std::string>();
  auto sid_rm_force = std::make_shared<bool>(false);
  sid_rm->add_option("SERVICE_ID", *sid_rm_name, "the service ID's name or ID")->required();
  sid_rm->add_flag("-f,--force", *sid_rm_force, "delete without asking for confirmation");
  sid_rm->callback([&context, sid_rm_name, sid_rm_force] {
    ApiClient& client = context.client();
    std::string id = find_service_id(client, *sid_rm_name).value("id", "");
    if (!*sid_rm_force &&
        !confirm(context, "Delete the service ID '" + *sid_rm_name + "' with its API keys and policies?", "--force")) {
      context.out << "The service ID was not deleted.\n\nOK\n";
      return;
    }
    context.out << "Deleting service ID '" << *sid_rm_name << "'...\n\n";
    client.call("DELETE", "/api/v1/iam/serviceids/" + ApiClient::escape(id));
    context.out << "Successfully deleted service ID '" << id << "'.\n\nOK\n";
  });

  // --- Policies ----------------------------------------------------------------
  auto* policy_add = app.add_subcommand("policy-add", "Grant a role to a user or service ID, on the account or one namespace.");
  struct PolicyAdd {
    std::string identity, role, namespace_name;
  };
  auto add = std::make_shared<PolicyAdd>();
  policy_add->add_option("IDENTITY", add->identity, "a user's or service ID's IAM ID (User-..., ServiceId-...) or a service ID's name")
      ->required();
  policy_add->add_option("--role", add->role,
                         "Reader (list, inspect and pull), Writer (pull, push, untag and delete, but not list) or "
                         "Manager (all of these, plus namespaces and access); roles add up, so people who push "
                         "usually hold Reader and Writer")
      ->required()
      ->check(CLI::IsMember({"Reader", "Writer", "Manager"}, CLI::ignore_case));
  policy_add->add_option("--namespace", add->namespace_name, "limit the role to this namespace (default: the whole account)");
  policy_add->callback([&context, add] {
    ApiClient& client = context.client();
    std::string iam_id = resolve_identity(client, add->identity);
    std::string scope = add->namespace_name.empty() ? "the account" : "namespace '" + add->namespace_name + "'";
    context.out << "Granting the " << add->role << " role on " << scope << " to '" << add->identity << "'...\n\n";
    json request = {{"iam_id", iam_id}, {"role", add->role}};
    if (!add->namespace_name.empty()) request["namespace"] = add->namespace_name;
    json policy = client.call("POST", "/api/v1/iam/policies", {}, request.dump()).json();
    context.out << "Policy '" << policy.value("id", "") << "' was created.\n\nOK\n";
  });

  auto* policy_list = app.add_subcommand("policy-list", "List the account's access policies.");
  auto policy_list_output = add_output_option(policy_list);
  policy_list->callback([&context, policy_list_output] {
    ApiClient& client = context.client();
    bool as_json = wants_json(*policy_list_output);
    Reporter report(context.out, as_json);
    report.progress("Listing access policies...");
    json policies = client.get_json("/api/v1/iam/policies");
    if (as_json) {
      print_json(context.out, policies);
      return;
    }
    Table table({"ID", "IAM ID", "Role", "Namespace", "Created"});
    for (const auto& policy : policies) {
      std::string ns = policy.value("namespace", "");
      table.add_row({policy.value("id", ""), policy.value("iam_id", ""), policy.value("role", ""),
                     ns.empty() ? "All namespaces" : ns, policy.value("created_at", "")});
    }
    report.table(table);
    report.ok();
  });

  auto* policy_rm = app.add_subcommand("policy-rm", "Delete an access policy.");
  auto policy_rm_id = std::make_shared<std::string>();
  policy_rm->add_option("POLICY_ID", *policy_rm_id, "the policy's ID, from policy-list")->required();
  policy_rm->callback([&context, policy_rm_id] {
    ApiClient& client = context.client();
    context.out << "Deleting policy '" << *policy_rm_id << "'...\n\n";
    client.call("DELETE", "/api/v1/iam/policies/" + ApiClient::escape(*policy_rm_id));
    context.out << "Successfully deleted policy '" << *policy_rm_id << "'.\n\nOK\n";
  });
}

}  // namespace berth::cli
