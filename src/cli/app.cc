#include "cli/app.h"

#include <CLI/CLI.hpp>

namespace berth::cli {

int run(int argc, char** argv) {
  CLI::App app("berth: manage images, namespaces and access in a Berth registry", "berth");
  app.set_version_flag("--version", "berth version " BERTH_VERSION);
  app.require_subcommand(0, 1);
  CLI11_PARSE(app, argc, argv);
  return 0;
}

}  // namespace berth::cli
