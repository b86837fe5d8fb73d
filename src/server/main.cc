// berthd: the registry server, and its offline operator commands.

#include "core/logging.h"
#include "server/admin_verify.h"
#include "server/config.h"
#include "server/serve.h"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <iostream>

#ifndef BERTH_VERSION
#define BERTH_VERSION "unknown"
#endif

int main(int argc, char** argv) {
  using namespace berth;

  CLI::App app{"berthd: a private container registry (OCI Distribution API 1.1)"};
  app.set_version_flag("--version", BERTH_VERSION);
  // Global options may also follow a command: berthd admin verify --data DIR.
  app.fallthrough();

  std::string config_file;
  server::ConfigOverrides overrides;
  app.add_option("-c,--config", config_file, "YAML configuration file (default: $BERTH_CONFIG, else none)");
  app.add_option("--listen", overrides.listen, "address to listen on, HOST:PORT (default 127.0.0.1:5000)");
  app.add_option("--data", overrides.data_dir, "data directory for blobs and the database (default ./data)");
  app.add_option("--log-level", overrides.log_level, "trace, debug, info, warn, error or off (default info)");

  auto* serve_command = app.add_subcommand("serve", "run the registry (the default when no command is given)");
  auto* admin = app.add_subcommand("admin", "operator commands on the data directory");
  admin->require_subcommand(1);
  admin->footer("The global options --data DIR and --config FILE choose the data directory.");
  bool deep = false;
  auto* verify = admin->add_subcommand(
      "verify", "check that metadata and stored data agree (safe while berthd runs)");
  verify->footer("Example: berthd admin verify --data ./data");
  verify->add_flag("--deep", deep, "also hash every blob (reads all data)");

  CLI11_PARSE(app, argc, argv);

  server::Config config;
  try {
    config = server::load_config(config_file, server::process_environment(), overrides);
    core::setup_logging(config.log_level);
  } catch (const std::exception& error) {
    std::cerr << "berthd: " << error.what() << "\n";
    return 2;
  }

  try {
    if (verify->parsed()) return server::verify_store(config, deep, std::cout);
    (void)serve_command;
    return server::serve(config);
  } catch (const std::exception& error) {
    spdlog::critical("berthd_failed error={}", core::log_value(error.what()));
    return 1;
  }
}
