#include "server/config.h"

#include <libpq-fe.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <stdexcept>

extern char** environ;

namespace berth::server {

namespace {

// S3's limits. Every part of a multipart upload but the last is 5 MiB to
// 5 GiB (Amazon S3 User Guide, "Amazon S3 multipart upload limits"). A
// SigV4 presigned URL is valid for at most 604800 s, 7 days (AWS CLI
// reference of `aws s3 presign`).
constexpr std::int64_t kS3MinimumPartSize = std::int64_t{5} << 20;
constexpr std::int64_t kS3MaximumPartSize = std::int64_t{5} << 30;
constexpr std::int64_t kS3MaximumPresignSeconds = 7 * 24 * 3600;

using Setter = std::function<void(Config&, const std::string& value, const std::string& origin)>;

struct Option {
  const char* key;  // dotted path in the YAML file
  Setter set;
};

std::int64_t parse_integer(const std::string& value, const std::string& origin, std::int64_t minimum) {
  std::int64_t result = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), result);
  if (value.empty() || error != std::errc() || end != value.data() + value.size()) {
    throw std::invalid_argument(origin + ": \"" + value + "\" is not an integer");
  }
  if (result < minimum) {
    throw std::invalid_argument(origin + ": " + value + " is below the minimum of " + std::to_string(minimum));
  }
  return result;
}

bool parse_bool(const std::string& value, const std::string& origin) {
  std::string lower = value;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "true" || lower == "yes" || lower == "on" || lower == "1") return true;
  if (lower == "false" || lower == "no" || lower == "off" || lower == "0") return false;
  throw std::invalid_argument(origin + ": \"" + value + "\" is not a boolean; use true or false");
}

Setter string_option(std::string Config::*member) {
  return [member](Config& config, const std::string& value, const std::string&) { config.*member = value; };
}

Setter integer_option(std::int64_t Config::*member, std::int64_t minimum) {
  return [member, minimum](Config& config, const std::string& value, const std::string& origin) {
    config.*member = parse_integer(value, origin, minimum);
  };
}

Setter bool_option(bool Config::*member) {
  return [member](Config& config, const std::string& value, const std::string& origin) {
    config.*member = parse_bool(value, origin);
  };
}

const std::vector<Option>& options() {
  static const std::vector<Option> kOptions = {
      {"listen", string_option(&Config::listen)},
      {"data_dir", string_option(&Config::data_dir)},
      {"log.level", string_option(&Config::log_level)},
      {"log.access_log", bool_option(&Config::access_log)},
      {"tls.certificate", string_option(&Config::tls_certificate)},
      {"tls.key", string_option(&Config::tls_key)},
      {"http.shutdown_grace_seconds", integer_option(&Config::shutdown_grace_seconds, 0)},
      {"http.idle_timeout_seconds", integer_option(&Config::idle_timeout_seconds, 1)},
      {"http.io_timeout_seconds", integer_option(&Config::io_timeout_seconds, 1)},
      {"http.max_connections", integer_option(&Config::max_connections, 1)},
      {"metadata.backend", string_option(&Config::metadata_backend)},
      {"metadata.postgres.url", string_option(&Config::postgres_url)},
      {"metadata.postgres.schema", string_option(&Config::postgres_schema)},
      {"metadata.postgres.connections", integer_option(&Config::postgres_connections, 1)},
      {"metadata.postgres.migrate", bool_option(&Config::postgres_migrate)},
      {"database.synchronous", string_option(&Config::database_synchronous)},
      {"database.connections", integer_option(&Config::database_connections, 1)},
      {"storage.backend", string_option(&Config::storage_backend)},
      {"storage.s3.endpoint", string_option(&Config::s3_endpoint)},
      {"storage.s3.region", string_option(&Config::s3_region)},
      {"storage.s3.bucket", string_option(&Config::s3_bucket)},
      {"storage.s3.prefix", string_option(&Config::s3_prefix)},
      {"storage.s3.path_style", bool_option(&Config::s3_path_style)},
      {"storage.s3.access_key", string_option(&Config::s3_access_key)},
      {"storage.s3.secret_key", string_option(&Config::s3_secret_key)},
      {"storage.s3.part_size_bytes", integer_option(&Config::s3_part_size_bytes, kS3MinimumPartSize)},
      {"storage.s3.redirect_seconds", integer_option(&Config::s3_redirect_seconds, 0)},
      {"cache.max_bytes", integer_option(&Config::cache_max_bytes, 0)},
      {"cache.max_age_seconds", integer_option(&Config::cache_max_age_seconds, 0)},
      {"auth.realm", string_option(&Config::auth_realm)},
      {"auth.service", string_option(&Config::auth_service)},
      {"auth.issuer", string_option(&Config::auth_issuer)},
      {"auth.token_lifetime_seconds", integer_option(&Config::auth_token_lifetime_seconds, 60)},
      {"auth.signing_key", string_option(&Config::auth_signing_key)},
      {"auth.accepted_keys", string_option(&Config::auth_accepted_keys)},
      {"auth.failed_login_limit", integer_option(&Config::auth_failed_login_limit, 1)},
      {"auth.failed_login_window_seconds", integer_option(&Config::auth_failed_login_window_seconds, 1)},
      {"auth.bootstrap", bool_option(&Config::auth_bootstrap)},
      {"region.name", string_option(&Config::region_name)},
      {"region.domain", string_option(&Config::region_domain)},
      {"messages", string_option(&Config::messages)},
      {"jobs.enabled", bool_option(&Config::jobs_enabled)},
      {"jobs.lease_seconds", integer_option(&Config::jobs_lease_seconds, 60)},
      {"gc.interval_seconds", integer_option(&Config::gc_interval_seconds, 0)},
      {"gc.grace_seconds", integer_option(&Config::gc_grace_seconds, 0)},
      {"uploads.purge_interval_seconds", integer_option(&Config::uploads_purge_interval_seconds, 0)},
      {"uploads.max_age_seconds", integer_option(&Config::uploads_max_age_seconds, 60)},
      {"trash.expiry_interval_seconds", integer_option(&Config::trash_expiry_interval_seconds, 0)},
      {"retention.interval_seconds", integer_option(&Config::retention_interval_seconds, 0)},
      {"metrics.enabled", bool_option(&Config::metrics_enabled)},
      {"va.enabled", bool_option(&Config::va_enabled)},
      {"va.max_layer_bytes", integer_option(&Config::va_max_layer_bytes, 1024 * 1024)},
      {"limits.manifest_max_bytes", integer_option(&Config::manifest_max_bytes, 1024)},
      {"limits.page_max_entries", integer_option(&Config::page_max_entries, 1)},
      {"limits.chunk_min_length", integer_option(&Config::chunk_min_length, 1)},
  };
  return kOptions;
}

const Option* find_option(const std::string& key) {
  for (const auto& option : options()) {
    if (key == option.key) return &option;
  }
  return nullptr;
}

// The environment variable of a key: "log.level" -> "BERTH_LOG_LEVEL".
std::string environment_name(const std::string& key) {
  std::string name = "BERTH_";
  for (char c : key) name += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

// BERTH_* variables that are not configuration keys of berthd: the
// config file path, and the berth CLI's own settings.
bool is_reserved_variable(const std::string& name) {
  return name == "BERTH_CONFIG" || name == "BERTH_APIKEY" || name == "BERTH_REGION";
}

void apply_yaml(Config& config, const YAML::Node& node, const std::string& prefix, const std::string& file) {
  for (const auto& entry : node) {
    std::string key = prefix + entry.first.as<std::string>();
    const YAML::Node& value = entry.second;
    if (value.IsMap()) {
      apply_yaml(config, value, key + ".", file);
      continue;
    }
    const Option* option = find_option(key);
    if (option == nullptr) {
      throw std::invalid_argument(file + ": unknown configuration key \"" + key + "\"; see docs/configuration.md");
    }
    if (!value.IsScalar()) {
      throw std::invalid_argument(file + ": configuration key \"" + key + "\" needs a single value");
    }
    option->set(config, value.as<std::string>(), file + ": " + key);
  }
}

// The value of `name` in `environment`, or "" when it is unset.
std::string variable(const std::map<std::string, std::string>& environment, const std::string& name) {
  auto it = environment.find(name);
  return it == environment.end() ? std::string() : it->second;
}

void check_metadata_backend(const Config& config) {
  if (config.metadata_backend == "sqlite") return;
  if (config.metadata_backend != "postgres") {
    throw std::invalid_argument("metadata.backend must be \"sqlite\" or \"postgres\", not \"" +
                                config.metadata_backend + "\"");
  }
  if (config.postgres_url.empty()) {
    throw std::invalid_argument("metadata.backend is postgres but metadata.postgres.url is not set; set it to a "
                                "libpq connection string such as \"host=db.example.com dbname=berth user=berth\"");
  }
  char* message = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(config.postgres_url.c_str(), &message);
  if (parsed == nullptr) {
    // libpq's message names the malformed part; it never repeats a password.
    std::string reason = message != nullptr ? message : "out of memory";
    PQfreemem(message);
    while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) reason.pop_back();
    throw std::invalid_argument("metadata.postgres.url is not a valid libpq connection string or URI: " + reason);
  }
  PQconninfoFree(parsed);
  if (config.postgres_schema.empty()) throw std::invalid_argument("metadata.postgres.schema must not be empty");
}

// The S3 store reads the AWS_* variables when a setting is empty, so a
// setting counts as given when either is set.
void check_storage_backend(const Config& config, const std::map<std::string, std::string>& environment) {
  if (config.storage_backend == "filesystem") return;
  if (config.storage_backend != "s3") {
    throw std::invalid_argument("storage.backend must be \"filesystem\" or \"s3\", not \"" + config.storage_backend +
                                "\"");
  }
  if (config.s3_bucket.empty()) {
    throw std::invalid_argument("storage.backend is s3 but storage.s3.bucket is not set; name the bucket that holds "
                                "the blobs");
  }
  std::string endpoint = config.s3_endpoint.empty() ? variable(environment, "AWS_ENDPOINT_URL") : config.s3_endpoint;
  if (endpoint.empty()) {
    throw std::invalid_argument("storage.backend is s3 but storage.s3.endpoint is not set (nor AWS_ENDPOINT_URL); "
                                "set it to the S3 server's URL, such as https://s3.us-east-1.amazonaws.com");
  }
  if (!endpoint.starts_with("http://") && !endpoint.starts_with("https://")) {
    throw std::invalid_argument("storage.s3.endpoint must be an http:// or https:// URL, not \"" + endpoint + "\"");
  }
  if (config.s3_access_key.empty() != config.s3_secret_key.empty()) {
    throw std::invalid_argument("storage.s3.access_key and storage.s3.secret_key must be set together");
  }
  if (config.s3_access_key.empty() &&
      (variable(environment, "AWS_ACCESS_KEY_ID").empty() || variable(environment, "AWS_SECRET_ACCESS_KEY").empty())) {
    throw std::invalid_argument("storage.backend is s3 but no credentials are set; set storage.s3.access_key and "
                                "storage.s3.secret_key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  }
  if (config.s3_part_size_bytes > kS3MaximumPartSize) {
    throw std::invalid_argument("storage.s3.part_size_bytes: " + std::to_string(config.s3_part_size_bytes) +
                                " is above S3's maximum part size of " + std::to_string(kS3MaximumPartSize));
  }
  if (config.s3_redirect_seconds > kS3MaximumPresignSeconds) {
    throw std::invalid_argument("storage.s3.redirect_seconds: " + std::to_string(config.s3_redirect_seconds) +
                                " is above the 7 days (" + std::to_string(kS3MaximumPresignSeconds) +
                                " s) a presigned URL can be valid");
  }
}

}  // namespace

std::vector<std::string> config_keys() {
  std::vector<std::string> keys;
  for (const auto& option : options()) keys.emplace_back(option.key);
  return keys;
}

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> out;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string text = *entry;
    auto equals = text.find('=');
    if (equals != std::string::npos) out.emplace(text.substr(0, equals), text.substr(equals + 1));
  }
  return out;
}

Config load_config(const std::string& config_file, const std::map<std::string, std::string>& environment,
                   const ConfigOverrides& overrides) {
  Config config;

  std::string file = config_file;
  if (file.empty()) {
    auto it = environment.find("BERTH_CONFIG");
    if (it != environment.end()) file = it->second;
  }
  if (!file.empty()) {
    YAML::Node root;
    try {
      root = YAML::LoadFile(file);
    } catch (const YAML::BadFile&) {
      throw std::invalid_argument("cannot read configuration file " + file);
    } catch (const YAML::Exception& error) {
      throw std::invalid_argument(file + ": invalid YAML: " + error.what());
    }
    if (root.IsMap()) {
      apply_yaml(config, root, "", file);
    } else if (!root.IsNull()) {
      throw std::invalid_argument(file + ": the configuration must be a YAML mapping of keys to values");
    }
  }

  for (const auto& [name, value] : environment) {
    if (!name.starts_with("BERTH_") || is_reserved_variable(name)) continue;
    const Option* match = nullptr;
    for (const auto& option : options()) {
      if (environment_name(option.key) == name) match = &option;
    }
    if (match == nullptr) {
      throw std::invalid_argument("unknown configuration variable " + name + "; see docs/configuration.md");
    }
    match->set(config, value, "environment variable " + name);
  }

  if (overrides.listen) config.listen = *overrides.listen;
  if (overrides.data_dir) config.data_dir = *overrides.data_dir;
  if (overrides.log_level) config.log_level = *overrides.log_level;

  if (config.database_synchronous != "full" && config.database_synchronous != "normal") {
    throw std::invalid_argument("database.synchronous must be \"full\" or \"normal\", not \"" +
                                config.database_synchronous + "\"");
  }
  check_metadata_backend(config);
  check_storage_backend(config, environment);
  if (config.region_domain.find_first_of("/ ") != std::string::npos) {
    throw std::invalid_argument("region.domain must be a host name with an optional port, such as "
                                "registry.example.com or 127.0.0.1:5000, not \"" +
                                config.region_domain + "\"");
  }
  if (config.region_name.empty()) throw std::invalid_argument("region.name must not be empty");
  if (config.tls_certificate.empty() != config.tls_key.empty()) {
    throw std::invalid_argument("tls.certificate and tls.key must be set together");
  }
  return config;
}

}  // namespace berth::server
