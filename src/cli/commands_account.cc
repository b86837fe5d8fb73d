// Commands about the CLI itself, its region and the login of the
// container clients: api, info, login, region, region-set, region-add, region-rm,
// version, pull-secret.
#include "cli/client_login.h"
#include "cli/context.h"
#include "cli/va.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

namespace berth::cli {

using nlohmann::json;

namespace {

// The key given to --apikey: the key itself, @FILE for a file's first line,
// or "-" for standard input.
std::string read_api_key_argument(const std::string& argument) {
  std::string key;
  if (argument == "-") {
    std::getline(std::cin, key);
  } else if (argument.starts_with("@")) {
    std::ifstream in(argument.substr(1));
    if (!in) {
      throw Failure("Cannot read the API key file '" + argument.substr(1) + "': " + std::strerror(errno) + ".");
    }
    std::getline(in, key);
  } else {
    key = argument;
  }
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ')) key.pop_back();
  if (key.empty()) throw Failure("The API key given with --apikey is empty.");
  return key;
}

void print_region_list(Context& context) {
  CliConfig& config = context.config();
  Table table({"Region", "Former name", "Registry", "API endpoint"});
  for (const auto& region : config.regions) {
    std::string name = region.name == config.region ? region.name + " (targeted)" : region.name;
    table.add_row({name, region.former_name.empty() ? "-" : region.former_name, region.domain, region.api_endpoint});
  }
  table.print(context.out);
}

// True for a domain on the local machine, which berthd serves over plain
// HTTP unless it was given a certificate.
bool is_loopback(std::string_view domain) {
  std::string_view host = domain;
  if (host.starts_with("[")) {
    host = host.substr(0, host.find(']') + 1);
  } else if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  return host == "localhost" || host.starts_with("127.") || host == "[::1]";
}

// Throws Failure unless `domain` is HOST or HOST:PORT.
void check_domain(const std::string& domain) {
  bool valid = !domain.empty() && domain.find("://") == std::string::npos && domain.find('/') == std::string::npos &&
               domain.find(' ') == std::string::npos;
  if (!valid) {
    throw Failure("'" + domain + "' is not a registry domain. Give the host name and, if it is not 443, the port, "
                  "as in registry.example.com or 127.0.0.1:5000, without http:// or a path.");
  }
}

}  // namespace

void add_account_commands(CLI::App& app, Context& context) {
  auto* api = app.add_subcommand("api", "Show the registry API endpoint of the targeted region.");
  api->callback([&context] {
    const Region& region = context.config().target();
    Table table({"Registry API endpoint", region.api_endpoint + "/api"});
    table.print(context.out);
  });

  auto* info = app.add_subcommand("info", "Show the targeted registry, its API endpoint and your account.");
  auto verbose_info = std::make_shared<bool>(false);
  info->add_flag("-v,--verbose", *verbose_info, "also show where the settings come from");
  info->callback([&context, verbose_info] {
    CliConfig& config = context.config();
    const Region& region = config.target();
    json server = context.anonymous_client().get_json("/api/v1/info");
    Table table({"CLI version", BERTH_VERSION});
    table.add_row({"Container Registry", server.value("domain", region.domain)});
    table.add_row({"Container Registry API endpoint", server.value("api_endpoint", region.api_endpoint + "/api")});
    table.add_row({"Region", region.name});
    table.add_row({"Server's region name", server.value("region", "")});
    table.add_row({"Server version", server.value("version", "")});
    if (server.contains("va")) table.add_row({"Vulnerability advisories", advisories_summary(server["va"])});
    if (!config.api_key.empty()) {
      const json& me = context.whoami();
      table.add_row({"Account details", me["account"].value("name", "") + " (" + me["account"].value("id", "") + ")"});
      table.add_row({"Logged in as", me["identity"].value("name", "") + " (" + me["identity"].value("id", "") + ")"});
    } else {
      table.add_row({"Account details", "not logged in (run 'berth login --apikey KEY')"});
    }
    if (*verbose_info) {
      table.add_row({"Configuration file", CliConfig::file().string()});
      table.add_row({"API key from", config.api_key.empty()                ? "none"
                                     : config.api_key_from_environment ? "BERTH_APIKEY"
                                                                       : "configuration file"});
      table.add_row({"Region from", config.region_from_environment ? "BERTH_REGION" : "configuration file"});
    }
    table.print(context.out);
    // The operator's notice to every user (GET /api/v1/messages), if any.
    ApiResponse messages = context.anonymous_client().send("GET", "/api/v1/messages");
    if (messages.status == 200) {
      json notice = json::parse(messages.body, nullptr, false);
      if (notice.is_string() && !notice.get<std::string>().empty()) {
        context.out << "\nMessage from the registry's operator:\n" << notice.get<std::string>() << '\n';
      }
    }
    context.out << "\nOK\n";
  });

  auto* login = app.add_subcommand(
      "login", "Check the API key, keep it for berth, and log docker or podman in to the targeted registry.");
  auto login_client = std::make_shared<std::string>();
  auto login_key = std::make_shared<std::string>();
  login->add_option("--client", *login_client,
                    "the container client to log in: docker or podman (default: docker if it is installed, "
                    "else podman)")
      ->check(CLI::IsMember({"docker", "podman"}));
  login->add_option("--apikey", *login_key,
                    "the API key to use from now on; @FILE reads it from a file, - from standard input "
                    "(default: the key saved earlier, or BERTH_APIKEY)");
  login->footer("The client is logged in with the user name 'iamapikey' and the API key, written to\n"
                "~/.docker/config.json for docker ($DOCKER_CONFIG moves it) or to the containers auth.json\n"
                "for podman, buildah and skopeo ($REGISTRY_AUTH_FILE moves it).");
  login->callback([&context, login_client, login_key] {
    CliConfig& config = context.config();
    const Region& region = config.target();
    std::string key = login_key->empty() ? config.api_key : read_api_key_argument(*login_key);
    if (key.empty()) {
      throw Failure("No API key is set. Run 'berth login --apikey KEY' (an operator finds the first key in the "
                    "registry's data/initial-apikey), or set BERTH_APIKEY.");
    }
    std::string client = login_client->empty() ? default_container_client() : *login_client;
    context.out << "Logging '" << client << "' in to '" << region.domain << "'...\n\n";
    ApiClient api(region, key);
    ApiResponse response = api.send("GET", "/api/v1/account");
    if (response.status == 401) {
      throw Failure("The API key was not accepted by '" + region.domain +
                    "'. Check that it is complete and belongs to this registry; a Manager of your account can "
                    "create a new one with 'berth apikey-create', and an operator with 'berthd admin "
                    "apikey-create'.");
    }
    if (response.status != 200) throw Failure(describe_error(response, region));
    if (!login_key->empty()) {
      config.api_key = key;
      config.file_api_key = key;
      config.api_key_from_environment = false;
      config.save();
    }
    std::filesystem::path written = write_client_login(client, region.domain, key);
    context.out << "Logged in to '" << region.domain << "'.\n";
    context.out << "Credentials for '" << client << "' are in '" << written.string() << "'.\n";
    context.out << "\nOK\n";
  });

  auto* region = app.add_subcommand("region", "Show the targeted region and its registry.");
  region->callback([&context] {
    const Region& target = context.config().target();
    context.out << "You are targeting region '" << target.name << "', the registry is '" << target.domain << "'.\n\nOK\n";
  });

  auto* region_set = app.add_subcommand("region-set", "Target a region; without REGION, list the regions.");
  auto region_name = std::make_shared<std::string>();
  region_set->add_option("REGION", *region_name, "the region's name, its former name or its registry domain");
  region_set->callback([&context, region_name] {
    CliConfig& config = context.config();
    if (region_name->empty()) {
      print_region_list(context);
      context.out << "\nRun 'berth region-set REGION' to target one of them.\n\nOK\n";
      return;
    }
    const Region* found = config.find_region(*region_name);
    if (!found) {
      throw Failure("'" + *region_name + "' is not a known region, former region name or registry domain. Run "
                    "'berth region-set' without a name to list the regions, or 'berth region-add' to add one.");
    }
    config.region = found->name;
    config.file_region = found->name;
    config.region_from_environment = false;
    config.save();
    context.out << "The region is set to '" << found->name << "', the registry is '" << found->domain << "'.\n\nOK\n";
  });

  auto* region_add = app.add_subcommand("region-add", "Add a registry region to the CLI's list, or replace one.");
  auto new_region = std::make_shared<Region>();
  region_add->add_option("NAME", new_region->name, "the region's name, such as eu-gb")->required();
  region_add->add_option("--domain", new_region->domain,
                         "the registry's host name, and port if not 443, that clients push to (such as "
                         "registry.example.com or 127.0.0.1:5000)")
      ->required();
  region_add->add_option("--api-endpoint", new_region->api_endpoint,
                         "the base URL of the registry's API (default: http://DOMAIN for 127.x.x.x, localhost "
                         "and [::1], else https://DOMAIN)");
  region_add->add_option("--former-name", new_region->former_name, "an older name that region-set also accepts");
  region_add->callback([&context, new_region] {
    CliConfig& config = context.config();
    Region added = *new_region;
    check_domain(added.domain);
    if (added.api_endpoint.empty()) added.api_endpoint = (is_loopback(added.domain) ? "http://" : "https://") + added.domain;
    while (added.api_endpoint.ends_with("/")) added.api_endpoint.pop_back();
    if (!added.api_endpoint.starts_with("http://") && !added.api_endpoint.starts_with("https://")) {
      throw Failure("The API endpoint '" + added.api_endpoint + "' must start with http:// or https://.");
    }
    auto it = std::find_if(config.regions.begin(), config.regions.end(),
                           [&](const Region& existing) { return existing.name == added.name; });
    if (it != config.regions.end()) {
      *it = added;
    } else {
      config.regions.push_back(added);
    }
    config.save();
    context.out << "Added region '" << added.name << "', the registry is '" << added.domain << "', its API is '"
                << added.api_endpoint << "'.";
    if (config.region == added.name) {
      context.out << " It is the targeted region.\n\nOK\n";
    } else {
      context.out << " Run 'berth region-set " << added.name << "' to target it.\n\nOK\n";
    }
  });

  auto* region_rm = app.add_subcommand("region-rm", "Remove a region from the CLI's list.");
  auto removed_name = std::make_shared<std::string>();
  region_rm->add_option("REGION", *removed_name, "the region's name, former name or domain")->required();
  region_rm->callback([&context, removed_name] {
    CliConfig& config = context.config();
    const Region* found = config.find_region(*removed_name);
    if (!found) throw Failure("'" + *removed_name + "' is not a known region. Run 'berth region-set' to list them.");
    std::string name = found->name;
    if (name == config.file_region) {
      throw Failure("'" + name + "' is the targeted region. Target another one with 'berth region-set' first.");
    }
    std::erase_if(config.regions, [&](const Region& region) { return region.name == name; });
    config.save();
    context.out << "Removed region '" << name << "'.\n\nOK\n";
  });

  auto* version = app.add_subcommand("version", "Show the version of berth.");
  version->callback([&context] { context.out << "berth version " BERTH_VERSION << '\n'; });

  auto* pull_secret = app.add_subcommand(
      "pull-secret", "Print a Kubernetes image pull secret for the targeted registry.");
  auto secret_name = std::make_shared<std::string>("berth-pull-secret");
  auto secret_namespace = std::make_shared<std::string>("default");
  auto secret_key = std::make_shared<std::string>();
  pull_secret->add_option("--name", *secret_name, "the Secret's name (default berth-pull-secret)");
  pull_secret->add_option("--k8s-namespace", *secret_namespace, "the Kubernetes namespace (default default)");
  pull_secret->add_option("--apikey", *secret_key,
                          "the API key the cluster pulls with; @FILE reads it from a file, - from standard input "
                          "(default: your own key; a service ID's key with the Reader role is safer)");
  pull_secret->footer("Apply it with: berth pull-secret --apikey @reader.key | kubectl apply -f -\n"
                      "and name it in the pod spec under imagePullSecrets. A missing or wrong pull secret is\n"
                      "the commonest cause of ImagePullBackOff.");
  pull_secret->callback([&context, secret_name, secret_namespace, secret_key] {
    CliConfig& config = context.config();
    std::string key = secret_key->empty() ? config.api_key : read_api_key_argument(*secret_key);
    if (key.empty()) throw Failure("No API key to put in the secret. Give one with --apikey KEY.");
    if (secret_key->empty()) {
      context.err << "Note: the secret holds your own API key. A service ID's key with only the Reader role is "
                     "safer; create one with 'berth serviceid-create' and 'berth apikey-create'.\n";
    }
    // Checks the key now, because a rejected key in a secret shows up only
    // later, as ImagePullBackOff in the cluster.
    ApiClient check(config.target(), key);
    ApiResponse response = check.send("GET", "/api/v1/account");
    if (response.status == 401) {
      throw Failure("The API key was not accepted by '" + config.target().domain +
                    "', so pulls with this secret would fail. Give a valid key with --apikey.");
    }
    if (response.status != 200) throw Failure(describe_error(response, config.target()));
    context.out << kubernetes_pull_secret(*secret_name, *secret_namespace, config.target().domain, key);
  });
}

}  // namespace berth::cli
