#include "cli/app.h"

#include "cli/context.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <iostream>
#include <string_view>
#include <vector>

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

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The message for a first argument that is no command, with the closest
// command name or alias when one is near.
std::string unknown_command_message(CLI::App& app, const std::string& name) {
  std::string best;
  std::size_t best_distance = 3;
  for (const auto* command : app.get_subcommands({})) {
    std::vector<std::string> names = command->get_aliases();
    names.push_back(command->get_name());
    for (const auto& candidate : names) {
      std::size_t distance = edit_distance(name, candidate);
      if (distance < best_distance) {
        best_distance = distance;
        best = candidate;
      }
    }
  }
  std::string message = "'" + name + "' is not a berth command.";
  if (!best.empty()) message += " Did you mean '" + best + "'?";
  return message + " Run 'berth --help' to list the commands.";
}

}  // namespace

int run(int argc, char** argv) {
  Context context(std::cout, std::cerr);
  CLI::App app("berth manages images, namespaces, retention, quotas, access and vulnerability reports in a Berth "
               "container registry.\n"
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
  add_lifecycle_commands(app, context);  // sets the headings of its three groups
  add_group("Vulnerability Advisor (docs/cli-va.md)", [&] { add_va_commands(app, context); });
  add_group("Access (docs/cli-access.md)", [&] { add_iam_commands(app, context); });

  // "berth help [COMMAND]" works like "berth [COMMAND] --help".
  std::vector<std::string> arguments(argv + 1, argv + argc);
  if (!arguments.empty() && arguments[0] == "help") {
    arguments.erase(arguments.begin());
    arguments.resize(std::min<std::size_t>(arguments.size(), 1));
    arguments.push_back("--help");
  }
  if (!arguments.empty() && !arguments[0].starts_with("-")) {
    bool known = false;
    for (const auto* command : app.get_subcommands({})) known = known || command->check_name(arguments[0]);
    if (!known) {
      std::cerr << "FAILED\n" << unknown_command_message(app, arguments[0]) << '\n';
      return 1;
    }
  }
  std::reverse(arguments.begin(), arguments.end());  // CLI11 takes them last first

  try {
    app.parse(arguments);
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
