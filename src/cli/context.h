// The state that every berth command shares (configuration, output streams,
// API client), and the helpers that turn flags into requests.
#pragma once

#include "cli/client.h"
#include "cli/config.h"
#include "cli/output.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

namespace berth::cli {

class Context {
 public:
  Context(std::ostream& out, std::ostream& err) : out(out), err(err) {}

  std::ostream& out;
  std::ostream& err;

  CliConfig& config();
  // A client for the targeted region with the API key; Failure when no key is set.
  ApiClient& client();
  // A client that sends no credentials.
  ApiClient anonymous_client();
  // GET /api/v1/account, fetched once: {"account":{...},"identity":{...}}.
  const nlohmann::json& whoami();
  // "<name>" of the caller's account, for progress lines.
  std::string account_name();

  std::int64_t now() const;

 private:
  std::optional<CliConfig> config_;
  std::optional<ApiClient> client_;
  std::optional<nlohmann::json> whoami_;
};

// Adds "--output, -o FORMAT" (only "json") and returns a flag that is true
// when JSON was asked for.
std::shared_ptr<std::string> add_output_option(CLI::App* command);
bool wants_json(const std::string& output);

// Prints JSON the way the commands do: indented by two spaces.
void print_json(std::ostream& out, const nlohmann::json& value);

// Asks "question [y/N]> " on the terminal and returns true only for the
// reply y or yes. Throws Failure, naming `flag`, when standard input is not a terminal.
bool confirm(Context& context, const std::string& question, const std::string& flag);

void add_account_commands(CLI::App& app, Context& context);
void add_namespace_commands(CLI::App& app, Context& context);
void add_image_commands(CLI::App& app, Context& context);
void add_iam_commands(CLI::App& app, Context& context);
// Adds plan, quota, image-rm, image-restore, image-prune-untagged,
// trash-list and the retention commands, each group under its own help heading.
void add_lifecycle_commands(CLI::App& app, Context& context);
// Adds va, the exemption commands, va-version and va-version-set.
void add_va_commands(CLI::App& app, Context& context);

}  // namespace berth::cli
