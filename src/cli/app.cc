#include "cli/app.h"

#include "cli/context.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <iostream>

namespace berth::cli {

using nlohmann::json;

CliConfig& Context::config() {
  if (!config_) config_ = CliConfig::load();
  return *config_;
}

ApiClient& Context::client() {
  if (!client_) {
    const CliConfig& settings = config();
    if (settings.api_key.empty()) {
      throw Failure("You are not logged in: no API key is set. Run 'berth login --apikey KEY' (an operator finds "
                    "the first key in the registry's data/initial-apikey), or set BERTH_APIKEY.");
    }
    client_.emplace(settings.target(), settings.api_key);
  }
  return *client_;
}

ApiClient Context::anonymous_client() { return ApiClient(config().target(), ""); }

const json& Context::whoami() {
  if (!whoami_) whoami_ = client().get_json("/api/v1/account");
  return *whoami_;
}

std::string Context::account_name() {
  const json& me = whoami();
  if (me.contains("account") && me["account"].is_object()) return me["account"].value("name", "");
  return "";
}

std::int64_t Context::now() const { return static_cast<std::int64_t>(std::time(nullptr)); }

std::shared_ptr<std::string> add_output_option(CLI::App* command) {
  auto output = std::make_shared<std::string>();
  command->add_option("-o,--output", *output, "print the result as JSON instead of a table (only 'json')")
      ->check(CLI::IsMember({"json"}, CLI::ignore_case))
      ->option_text("json");
  return output;
}

bool wants_json(const std::string& output) {
  std::string lower = output;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return lower == "json";
}

void print_json(std::ostream& out, const json& value) { out << value.dump(2) << '\n'; }

bool confirm(Context& context, const std::string& question, const std::string& flag) {
  if (!isatty(STDIN_FILENO)) {
    throw Failure("Confirmation is needed but standard input is not a terminal. Run the command again with " + flag +
                  " to go ahead without asking.");
  }
  context.out << question << " [y/N]> " << std::flush;
  std::string answer;
  std::getline(std::cin, answer);
  std::transform(answer.begin(), answer.end(), answer.begin(), [](unsigned char c) { return std::tolower(c); });
  return answer == "y" || answer == "yes";
}

int run(int argc, char** argv) {
  Context context(std::cout, std::cerr);
  CLI::App app("berth manages images, namespaces and access in a Berth container registry.\n"
               "Its commands, flags and output follow 'ibmcloud cr'.",
               "berth");
  app.set_version_flag("--version", "berth version " BERTH_VERSION);
  app.require_subcommand(1);
  app.footer("Run 'berth COMMAND --help' for a command's flags.\n"
             "Settings are in ~/.berth/config.json (or $BERTH_HOME/config.json); BERTH_APIKEY and BERTH_REGION "
             "override the API key and the region.");
  app.get_formatter()->column_width(36);

  // Each group of commands has its own heading in --help and its own page in docs/.
  auto add_group = [&app](const char* heading, auto add) {
    std::size_t before = app.get_subcommands({}).size();
    add();
    auto commands = app.get_subcommands({});
    for (std::size_t i = before; i < commands.size(); ++i) commands[i]->group(heading);
  };
  add_group("Setup and login (docs/cli-setup.md)", [&] { add_account_commands(app, context); });
  add_group("Namespaces (docs/cli-namespaces.md)", [&] { add_namespace_commands(app, context); });
  add_group("Images (docs/cli-images.md)", [&] { add_image_commands(app, context); });
  add_group("Access (docs/cli-access.md)", [&] { add_iam_commands(app, context); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForAllHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForVersion& version) {
    return app.exit(version);
  } catch (const CLI::ParseError& error) {
    std::cout.flush();
    std::string command;
    for (const auto* sub : app.get_subcommands()) command = sub->get_name();
    std::cerr << "FAILED\n" << error.what() << "\nRun 'berth " << (command.empty() ? "" : command + " ")
              << "--help' to see the usage.\n";
    return 1;
  } catch (const Failure& failure) {
    std::cout.flush();
    std::cerr << "FAILED\n" << failure.what() << '\n';
    return 1;
  } catch (const std::exception& error) {
    std::cout.flush();
    std::cerr << "FAILED\n" << error.what() << '\n';
    return 1;
  }
  return 0;
}

}  // namespace berth::cli
