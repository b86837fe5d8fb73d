// berthd's configuration: defaults, then a YAML file, then BERTH_*
// environment variables, then command-line flags, each overriding the one
// before. docs/configuration.md lists every key.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::server {

struct Config {
  std::string listen = "127.0.0.1:5000";
  std::string data_dir = "./data";

  std::string log_level = "info";
  bool access_log = true;

  std::string tls_certificate;  // empty: plain HTTP
  std::string tls_key;

  std::int64_t shutdown_grace_seconds = 30;
  std::int64_t idle_timeout_seconds = 120;
  std::int64_t io_timeout_seconds = 300;
  std::int64_t max_connections = 4096;

  // The metadata store: "sqlite" (berth.db in data_dir) or "postgres",
  // which several berthd nodes can share.
  std::string metadata_backend = "sqlite";
  std::string postgres_url;  // libpq connection string or URI
  std::string postgres_schema = "public";
  std::int64_t postgres_connections = 16;
  bool postgres_migrate = true;  // false: a schema older than this build stops berthd

  // SQLite settings of the "sqlite" metadata backend.
  std::string database_synchronous = "full";
  std::int64_t database_connections = 8;
  // The blob store: "filesystem" (data_dir) or "s3". Empty S3 settings
  // fall back to the AWS_* environment variables (docs/configuration.md).
  std::string storage_backend = "filesystem";
  std::string s3_endpoint;
  std::string s3_region;
  std::string s3_bucket;
  std::string s3_prefix;
  bool s3_path_style = true;
  std::string s3_access_key;
  std::string s3_secret_key;
  std::int64_t s3_part_size_bytes = 8 * 1024 * 1024;
  std::int64_t s3_redirect_seconds = 0;  // 0: blob GETs stream the data

  std::int64_t cache_max_bytes = 64 * 1024 * 1024;
  std::int64_t cache_max_age_seconds = 5;

  // Token authentication (docs/iam.md).
  std::string auth_realm;  // empty: built from each request's Host
  std::string auth_service = "registry";
  std::string auth_issuer = "berth";
  std::int64_t auth_token_lifetime_seconds = 900;
  std::string auth_signing_key;   // empty: <data_dir>/keys/token-signing.pem
  std::string auth_accepted_keys;  // comma-separated PEM files of earlier signing keys
  std::int64_t auth_failed_login_limit = 10;
  std::int64_t auth_failed_login_window_seconds = 60;
  bool auth_bootstrap = true;  // create the account "default" on first start

  // The registry's region and domain, as the management API reports them.
  std::string region_name = "local";
  std::string region_domain;  // empty: the address berthd listens on, with 0.0.0.0 as 127.0.0.1
  std::string messages;       // operator message for GET /api/v1/messages; empty: none

  // Background jobs (docs/lifecycle.md). An interval of 0 runs the job
  // only on demand, through berthd admin.
  bool jobs_enabled = true;
  std::int64_t jobs_lease_seconds = 3600;
  std::int64_t gc_interval_seconds = 3600;
  std::int64_t gc_grace_seconds = 3600;
  std::int64_t uploads_purge_interval_seconds = 3600;
  std::int64_t uploads_max_age_seconds = 86400;
  std::int64_t trash_expiry_interval_seconds = 3600;
  std::int64_t retention_interval_seconds = 86400;
  bool metrics_enabled = true;

  // Vulnerability Advisor (docs/va.md): the indexing worker, and how many
  // uncompressed bytes it reads from one layer before it stops and marks
  // the image incomplete.
  bool va_enabled = true;
  std::int64_t va_max_layer_bytes = std::int64_t{8} << 30;

  std::int64_t manifest_max_bytes = 4 * 1024 * 1024;
  std::int64_t page_max_entries = 1000;
  std::int64_t chunk_min_length = 5 * 1024 * 1024;
};

// Values given on the command line, applied last.
struct ConfigOverrides {
  std::optional<std::string> listen;
  std::optional<std::string> data_dir;
  std::optional<std::string> log_level;
};

// Builds the configuration. `config_file` may be empty (no file; the
// BERTH_CONFIG variable names one otherwise). `environment` is the
// process environment as name -> value. Throws std::invalid_argument with
// a message that names the key and where it came from for unknown keys,
// malformed values and unreadable files.
Config load_config(const std::string& config_file, const std::map<std::string, std::string>& environment,
                   const ConfigOverrides& overrides);

// The process environment as a map (for load_config).
std::map<std::string, std::string> process_environment();

// Every configuration key in dotted form, such as "log.level".
std::vector<std::string> config_keys();

}  // namespace berth::server
