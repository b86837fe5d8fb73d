// berthd: the registry server, and its offline operator commands.

#include "core/logging.h"
#include "server/admin_migrate_storage.h"
#include "server/admin_verify.h"
#include "server/config.h"
#include "server/jobs.h"
#include "server/serve.h"
#include "server/stores.h"
#include "server/tenant_setup.h"
#include "server/va_admin.h"
#include "core/error.h"

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
  admin->footer(
      "The global options --data DIR and --config FILE choose the store: --data for the embedded one, --config for "
      "a node's configuration file when it runs on PostgreSQL and S3.");
  bool deep = false;
  auto* verify = admin->add_subcommand(
      "verify", "check that metadata and stored data agree (safe while berthd runs)");
  verify->footer("Example: berthd admin verify --data ./data, or on PostgreSQL and S3: berthd admin verify --config "
                 "/etc/berth/berthd.yaml");
  verify->add_flag("--deep", deep, "also hash every blob (reads all data)");

  server::AdminRequest request;
  auto* account_create = admin->add_subcommand("account-create", "create an account");
  account_create->add_option("NAME", request.name, "account name, unique in the region")->required();
  account_create->add_option("--plan", request.plan, "lite (default) or standard");
  auto* account_list = admin->add_subcommand("account-list", "list the accounts");
  auto* user_create = admin->add_subcommand("user-create", "create a user in an account");
  auto* serviceid_create = admin->add_subcommand("serviceid-create", "create a service ID in an account");
  for (auto* command : {user_create, serviceid_create}) {
    command->add_option("NAME", request.name, "name, unique in the account")->required();
    command->add_option("--account", request.account, "account name")->required();
    command->add_option("--description", request.description, "free text");
  }
  auto* policy_add = admin->add_subcommand("policy-add", "grant a role on the account or one namespace");
  policy_add->add_option("--role", request.role, "Reader, Writer or Manager")->required();
  policy_add->add_option("--namespace", request.namespace_name, "limit the role to this namespace");
  auto* apikey_create = admin->add_subcommand("apikey-create", "create an API key and print it once");
  apikey_create->add_option("--name", request.name, "key name (default admin-created)");
  apikey_create->add_option("--description", request.description, "free text");
  for (auto* command : {policy_add, apikey_create}) {
    command->add_option("--account", request.account, "account name")->required();
    command->add_option("--user", request.user, "the user's name");
    command->add_option("--serviceid", request.service_id, "the service ID's name");
  }
  auto* namespace_add = admin->add_subcommand("namespace-add", "create a namespace in an account");
  namespace_add->add_option("NAME", request.name, "4 to 30 of a-z, 0-9, - and _")->required();
  namespace_add->add_option("--account", request.account, "account name")->required();
  namespace_add->add_flag("--public", request.is_public, "let anyone pull from it without credentials");

  auto* migrate = admin->add_subcommand(
      "migrate", "create or upgrade the PostgreSQL schema that metadata.postgres.* names, and print its version");
  migrate->footer("Run it with the new berthd before starting nodes of a new version; with metadata.postgres.migrate "
                  "false, nodes refuse to start on an older schema.");

  server::MigrateStorageOptions migration;
  auto* migrate_storage = admin->add_subcommand(
      "migrate-storage", "copy an embedded data directory into the PostgreSQL and S3 that --config names");
  migrate_storage->add_option("--from", migration.source_dir, "the embedded berthd's data directory (stop it first)")
      ->required();
  migrate_storage->add_option("--parallel", migration.parallel, "blobs copied at once (default 4)")
      ->check(CLI::Range(1, 64));
  migrate_storage->add_option("--progress-seconds", migration.progress_seconds,
                              "seconds between progress lines on standard error (default 5)")
      ->check(CLI::Range(1, 3600));
  migrate_storage->footer("Run it again after an interruption: it continues. See docs/deployment.md.");

  bool dry_run = false;
  auto* gc = admin->add_subcommand("gc", "remove unreferenced blobs now (safe while berthd runs)");
  gc->add_flag("--dry-run", dry_run, "list what would be removed and remove nothing");
  gc->footer("Blobs go once no live or trashed image references them and they were unused for gc.grace_seconds.");
  std::string job_name;
  auto* job_run = admin->add_subcommand("job-run", "run one background job now (safe while berthd runs)");
  job_run->add_option("JOB", job_name, "gc, uploads-purge, trash-expiry or retention")->required();
  auto* jobs_list = admin->add_subcommand("jobs", "list the background jobs with their intervals and last runs");
  std::string va_source;
  auto* va_import = admin->add_subcommand(
      "va-import", "replace the Vulnerability Advisor's advisories with OSV records (safe while berthd runs)");
  va_import->add_option("PATH", va_source, "an OSV .json file, a .zip archive such as OSV's all.zip, or a directory")
      ->required();
  auto* va_index = admin->add_subcommand("va-index", "index every image waiting for the Vulnerability Advisor now");
  std::string requeue;
  va_index->add_option("--requeue", requeue,
                       "first queue again the images indexed with this status: incomplete, unsupported, complete "
                       "or all (after raising va.max_layer_bytes, or upgrading Berth)")
      ->check(CLI::IsMember({"incomplete", "unsupported", "complete", "all"}));

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
    if (migrate->parsed()) return server::admin_migrate(config, std::cout);
    if (migrate_storage->parsed()) return server::migrate_storage(config, migration, std::cout, std::cerr);
    bool job_command =
        gc->parsed() || job_run->parsed() || jobs_list->parsed() || va_import->parsed() || va_index->parsed();
    if (job_command) {
      // Opening the stores would create an empty one, and its jobs would
      // find nothing to do; a mistyped path or schema must fail instead.
      if (auto missing = server::missing_store(config)) {
        std::cerr << "berthd: " << *missing << "\n";
        return 2;
      }
    }
    if (admin->parsed()) {
      server::Stores stores = server::open_stores(config, /*listen=*/false);
      metadata::MetadataStore& store = *stores.metadata;
      try {
        if (account_create->parsed()) return server::admin_account_create(store, request, std::cout);
        if (account_list->parsed()) return server::admin_account_list(store, std::cout);
        if (user_create->parsed()) {
          return server::admin_identity_create(store, request, metadata::IdentityKind::kUser, std::cout);
        }
        if (serviceid_create->parsed()) {
          return server::admin_identity_create(store, request, metadata::IdentityKind::kServiceId, std::cout);
        }
        if (policy_add->parsed()) return server::admin_policy_add(store, request, std::cout);
        if (apikey_create->parsed()) return server::admin_apikey_create(store, request, std::cout);
        if (namespace_add->parsed()) return server::admin_namespace_add(store, request, std::cout);
        if (va_import->parsed()) return server::admin_va_import(store, va_source, std::cout, std::cerr);
        if (va_index->parsed()) return server::admin_va_index(config, store, *stores.blobs, requeue, std::cout);
        if (gc->parsed() || job_run->parsed() || jobs_list->parsed()) {
          server::Jobs jobs(config, store, *stores.blobs);
          if (jobs_list->parsed()) return server::admin_jobs(jobs, store, std::cout);
          if (gc->parsed() && dry_run) return server::admin_gc_dry_run(jobs, config, std::cout);
          return server::admin_job_run(jobs, gc->parsed() ? "gc" : job_name, std::cout, std::cerr);
        }
      } catch (const core::Error& error) {
        std::cerr << "berthd: " << error.what() << "\n";
        return 2;
      }
    }
    (void)serve_command;
    return server::serve(config);
  } catch (const std::exception& error) {
    spdlog::critical("berthd_failed error={}", core::log_value(error.what()));
    return 1;
  }
}
