#include "server/config.h"

#include "support/temp_directory.h"

#include <gmock/gmock.h>

#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

namespace berth::server {
namespace {

using ::testing::HasSubstr;

using Environment = std::map<std::string, std::string>;

class LoadConfig : public ::testing::Test {
 protected:
  // Writes `yaml` to a file in the test's directory and returns its path.
  std::string write_file(const std::string& yaml) {
    std::string path = (directory_.path() / ("berthd-" + std::to_string(++files_) + ".yaml")).string();
    std::ofstream(path) << yaml;
    return path;
  }

  // The message of the std::invalid_argument that load_config throws, or
  // nullopt when it succeeds.
  static std::optional<std::string> load_error(const std::string& file, const Environment& environment,
                                               const ConfigOverrides& overrides = {}) {
    try {
      load_config(file, environment, overrides);
    } catch (const std::invalid_argument& error) {
      return std::string(error.what());
    }
    return std::nullopt;
  }

 private:
  test_support::TempDirectory directory_;
  int files_ = 0;
};

TEST_F(LoadConfig, Defaults) {
  Config config = load_config("", {}, {});

  EXPECT_EQ(config.listen, "127.0.0.1:5000");
  EXPECT_EQ(config.data_dir, "./data");
  EXPECT_EQ(config.log_level, "info");
  EXPECT_TRUE(config.access_log);
  EXPECT_EQ(config.tls_certificate, "");
  EXPECT_EQ(config.database_synchronous, "full");
}

TEST_F(LoadConfig, FileKeys) {
  std::string file = write_file(
      "listen: 0.0.0.0:5443\n"
      "data_dir: /var/lib/berth\n");

  Config config = load_config(file, {}, {});

  EXPECT_EQ(config.listen, "0.0.0.0:5443");
  EXPECT_EQ(config.data_dir, "/var/lib/berth");
}

TEST_F(LoadConfig, NestedFileKeys) {
  std::string file = write_file(
      "log:\n"
      "  level: debug\n"
      "  access_log: false\n"
      "http:\n"
      "  max_connections: 64\n"
      "  idle_timeout_seconds: 15\n"
      "database:\n"
      "  synchronous: normal\n"
      "  connections: 4\n"
      "limits:\n"
      "  manifest_max_bytes: 2048\n"
      "  page_max_entries: 50\n"
      "  chunk_min_length: 1048576\n");

  Config config = load_config(file, {}, {});

  EXPECT_EQ(config.log_level, "debug");
  EXPECT_FALSE(config.access_log);
  EXPECT_EQ(config.max_connections, 64);
  EXPECT_EQ(config.idle_timeout_seconds, 15);
  EXPECT_EQ(config.database_synchronous, "normal");
  EXPECT_EQ(config.database_connections, 4);
  EXPECT_EQ(config.manifest_max_bytes, 2048);
  EXPECT_EQ(config.page_max_entries, 50);
  EXPECT_EQ(config.chunk_min_length, 1048576);
  EXPECT_EQ(config.listen, "127.0.0.1:5000");
}

TEST_F(LoadConfig, EmptyFile) {
  Config config = load_config(write_file(""), {}, {});

  EXPECT_EQ(config.listen, "127.0.0.1:5000");
}

TEST_F(LoadConfig, FileFromBerthConfig) {
  std::string file = write_file("listen: 127.0.0.1:6000\n");

  Config config = load_config("", {{"BERTH_CONFIG", file}}, {});

  EXPECT_EQ(config.listen, "127.0.0.1:6000");
}

TEST_F(LoadConfig, UnknownKeyNamesKey) {
  std::string file = write_file("log:\n  levle: debug\n");

  auto error = load_error(file, {});

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("\"log.levle\""));
  EXPECT_THAT(*error, HasSubstr(file));
}

TEST_F(LoadConfig, UnknownTopLevelKey) {
  auto error = load_error(write_file("listen_address: 0.0.0.0:5000\n"), {});

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("\"listen_address\""));
}

TEST_F(LoadConfig, ListValueRejected) {
  auto error = load_error(write_file("listen: [a, b]\n"), {});

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("\"listen\""));
}

TEST_F(LoadConfig, NotAMapping) {
  auto error = load_error(write_file("- listen\n- data_dir\n"), {});

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("mapping"));
}

TEST_F(LoadConfig, InvalidYaml) {
  std::string file = write_file("log: [unclosed\n");

  auto error = load_error(file, {});

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr(file));
}

TEST_F(LoadConfig, MissingFile) {
  auto error = load_error("/nonexistent/berthd.yaml", {});

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("/nonexistent/berthd.yaml"));
}

TEST_F(LoadConfig, EnvironmentOverridesFile) {
  std::string file = write_file("log:\n  level: debug\nlisten: 0.0.0.0:5000\n");

  Config config = load_config(file, {{"BERTH_LOG_LEVEL", "warn"}}, {});

  EXPECT_EQ(config.log_level, "warn");
  EXPECT_EQ(config.listen, "0.0.0.0:5000");
}

TEST_F(LoadConfig, EnvironmentNestedKeys) {
  Environment environment = {
      {"BERTH_LISTEN", "[::1]:5000"},
      {"BERTH_DATA_DIR", "/srv/berth"},
      {"BERTH_LOG_ACCESS_LOG", "off"},
      {"BERTH_HTTP_MAX_CONNECTIONS", "10"},
      {"BERTH_HTTP_SHUTDOWN_GRACE_SECONDS", "0"},
      {"BERTH_DATABASE_SYNCHRONOUS", "normal"},
      {"BERTH_LIMITS_PAGE_MAX_ENTRIES", "20"},
      {"BERTH_TLS_CERTIFICATE", "/etc/berth/cert.pem"},
      {"BERTH_TLS_KEY", "/etc/berth/key.pem"},
  };

  Config config = load_config("", environment, {});

  EXPECT_EQ(config.listen, "[::1]:5000");
  EXPECT_EQ(config.data_dir, "/srv/berth");
  EXPECT_FALSE(config.access_log);
  EXPECT_EQ(config.max_connections, 10);
  EXPECT_EQ(config.shutdown_grace_seconds, 0);
  EXPECT_EQ(config.database_synchronous, "normal");
  EXPECT_EQ(config.page_max_entries, 20);
  EXPECT_EQ(config.tls_certificate, "/etc/berth/cert.pem");
  EXPECT_EQ(config.tls_key, "/etc/berth/key.pem");
}

TEST_F(LoadConfig, UnknownEnvironmentVariable) {
  auto error = load_error("", {{"BERTH_LOG_LEVLE", "debug"}});

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("BERTH_LOG_LEVLE"));
}

TEST_F(LoadConfig, ReservedVariablesIgnored) {
  Environment environment = {{"BERTH_APIKEY", "not-a-config-key"}, {"BERTH_REGION", "eu-1"}};

  EXPECT_EQ(load_error("", environment), std::nullopt);
}

TEST_F(LoadConfig, RegionDefaults) {
  Config config = load_config("", {}, {});

  EXPECT_EQ(config.region_name, "local");
  EXPECT_EQ(config.region_domain, "");
  EXPECT_EQ(config.messages, "");
}

TEST_F(LoadConfig, RegionFromFileAndEnvironment) {
  std::string file = write_file("region:\n  name: eu-test\n  domain: registry.example.com\nmessages: from file\n");
  Environment environment = {{"BERTH_REGION_DOMAIN", "127.0.0.1:5000"}, {"BERTH_MESSAGES", "Maintenance at 10:00"}};

  Config config = load_config(file, environment, {});

  EXPECT_EQ(config.region_name, "eu-test");
  EXPECT_EQ(config.region_domain, "127.0.0.1:5000");
  EXPECT_EQ(config.messages, "Maintenance at 10:00");
}

TEST_F(LoadConfig, RegionDomainWithSchemeRejected) {
  auto error = load_error("", {{"BERTH_REGION_DOMAIN", "https://registry.example.com"}});

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("region.domain"));
}

TEST_F(LoadConfig, EmptyRegionNameRejected) {
  auto error = load_error("", {{"BERTH_REGION_NAME", ""}});

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("region.name"));
}

TEST_F(LoadConfig, OtherVariablesIgnored) {
  Environment environment = {{"PATH", "/usr/bin"}, {"HOME", "/root"}, {"XBERTH_LISTEN", "x"}, {"berth_listen", "x"}};

  Config config = load_config("", environment, {});

  EXPECT_EQ(config.listen, "127.0.0.1:5000");
}

TEST_F(LoadConfig, FlagsOverrideEnvironment) {
  std::string file = write_file("listen: 0.0.0.0:1000\ndata_dir: /from/file\nlog:\n  level: error\n");
  Environment environment = {{"BERTH_LISTEN", "0.0.0.0:2000"}, {"BERTH_DATA_DIR", "/from/env"}, {"BERTH_LOG_LEVEL", "warn"}};
  ConfigOverrides overrides{.listen = "0.0.0.0:3000", .data_dir = "/from/flag", .log_level = "debug"};

  Config config = load_config(file, environment, overrides);

  EXPECT_EQ(config.listen, "0.0.0.0:3000");
  EXPECT_EQ(config.data_dir, "/from/flag");
  EXPECT_EQ(config.log_level, "debug");
}

TEST_F(LoadConfig, UnsetFlagsKeepEnvironment) {
  ConfigOverrides overrides{.listen = "0.0.0.0:3000"};

  Config config = load_config("", {{"BERTH_DATA_DIR", "/from/env"}}, overrides);

  EXPECT_EQ(config.listen, "0.0.0.0:3000");
  EXPECT_EQ(config.data_dir, "/from/env");
}

TEST_F(LoadConfig, BadIntegerInFile) {
  auto error = load_error(write_file("http:\n  max_connections: ten\n"), {});

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("http.max_connections"));
  EXPECT_THAT(*error, HasSubstr("\"ten\""));
}

TEST_F(LoadConfig, BadIntegerInEnvironment) {
  for (const char* value : {"", "12abc", "1.5", "0x10", "99999999999999999999"}) {
    SCOPED_TRACE(value);
    auto error = load_error("", {{"BERTH_HTTP_MAX_CONNECTIONS", value}});

    ASSERT_TRUE(error.has_value());
    EXPECT_THAT(*error, HasSubstr("BERTH_HTTP_MAX_CONNECTIONS"));
  }
}

TEST_F(LoadConfig, IntegerBelowMinimum) {
  auto error = load_error("", {{"BERTH_HTTP_MAX_CONNECTIONS", "0"}});

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("BERTH_HTTP_MAX_CONNECTIONS"));
  EXPECT_THAT(*error, HasSubstr("minimum"));
}

TEST_F(LoadConfig, BooleanSpellings) {
  for (const char* value : {"true", "TRUE", "yes", "on", "1"}) {
    EXPECT_TRUE(load_config("", {{"BERTH_LOG_ACCESS_LOG", value}}, {}).access_log) << value;
  }
  for (const char* value : {"false", "False", "no", "off", "0"}) {
    EXPECT_FALSE(load_config("", {{"BERTH_LOG_ACCESS_LOG", value}}, {}).access_log) << value;
  }
}

TEST_F(LoadConfig, BadBoolean) {
  auto from_file = load_error(write_file("log:\n  access_log: maybe\n"), {});
  auto from_environment = load_error("", {{"BERTH_LOG_ACCESS_LOG", "2"}});

  ASSERT_TRUE(from_file.has_value());
  EXPECT_THAT(*from_file, HasSubstr("log.access_log"));
  EXPECT_THAT(*from_file, HasSubstr("\"maybe\""));
  ASSERT_TRUE(from_environment.has_value());
  EXPECT_THAT(*from_environment, HasSubstr("BERTH_LOG_ACCESS_LOG"));
}

TEST_F(LoadConfig, BadSynchronousMode) {
  auto error = load_error("", {{"BERTH_DATABASE_SYNCHRONOUS", "off"}});

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("\"off\""));
}

TEST_F(LoadConfig, TlsCertificateWithoutKey) {
  auto error = load_error(write_file("tls:\n  certificate: /etc/berth/cert.pem\n"), {});

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("tls.key"));
}

TEST_F(LoadConfig, TlsKeyWithoutCertificate) {
  auto error = load_error("", {{"BERTH_TLS_KEY", "/etc/berth/key.pem"}});

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("tls.certificate"));
}

TEST_F(LoadConfig, BackendDefaults) {
  Config config = load_config("", {}, {});

  EXPECT_EQ(config.metadata_backend, "sqlite");
  EXPECT_EQ(config.postgres_schema, "public");
  EXPECT_EQ(config.postgres_connections, 16);
  EXPECT_TRUE(config.postgres_migrate);
  EXPECT_EQ(config.storage_backend, "filesystem");
  EXPECT_EQ(config.s3_region, "");
  EXPECT_TRUE(config.s3_path_style);
  EXPECT_EQ(config.s3_part_size_bytes, 8388608);
  EXPECT_EQ(config.s3_redirect_seconds, 0);
}

TEST_F(LoadConfig, PostgresAndS3FromFile) {
  std::string file = write_file(
      "metadata:\n"
      "  backend: postgres\n"
      "  postgres:\n"
      "    url: host=127.0.0.1 port=5432 dbname=berth\n"
      "    schema: registry\n"
      "    connections: 32\n"
      "    migrate: false\n"
      "storage:\n"
      "  backend: s3\n"
      "  s3:\n"
      "    endpoint: http://127.0.0.1:7480\n"
      "    region: eu-central-1\n"
      "    bucket: blobs\n"
      "    prefix: berth/\n"
      "    path_style: false\n"
      "    access_key: AKEXAMPLE\n"
      "    secret_key: secret\n"
      "    part_size_bytes: 16777216\n"
      "    redirect_seconds: 300\n");

  Config config = load_config(file, {}, {});

  EXPECT_EQ(config.metadata_backend, "postgres");
  EXPECT_EQ(config.postgres_url, "host=127.0.0.1 port=5432 dbname=berth");
  EXPECT_EQ(config.postgres_schema, "registry");
  EXPECT_EQ(config.postgres_connections, 32);
  EXPECT_FALSE(config.postgres_migrate);
  EXPECT_EQ(config.storage_backend, "s3");
  EXPECT_EQ(config.s3_endpoint, "http://127.0.0.1:7480");
  EXPECT_EQ(config.s3_region, "eu-central-1");
  EXPECT_EQ(config.s3_bucket, "blobs");
  EXPECT_EQ(config.s3_prefix, "berth/");
  EXPECT_FALSE(config.s3_path_style);
  EXPECT_EQ(config.s3_access_key, "AKEXAMPLE");
  EXPECT_EQ(config.s3_secret_key, "secret");
  EXPECT_EQ(config.s3_part_size_bytes, 16777216);
  EXPECT_EQ(config.s3_redirect_seconds, 300);
}

TEST_F(LoadConfig, BackendsFromEnvironment) {
  Environment environment = {
      {"BERTH_METADATA_BACKEND", "postgres"},
      {"BERTH_METADATA_POSTGRES_URL", "postgresql://berth@db.example.com/berth"},
      {"BERTH_STORAGE_BACKEND", "s3"},
      {"BERTH_STORAGE_S3_BUCKET", "blobs"},
      {"BERTH_STORAGE_S3_ENDPOINT", "https://s3.example.com"},
      {"BERTH_STORAGE_S3_ACCESS_KEY", "AKEXAMPLE"},
      {"BERTH_STORAGE_S3_SECRET_KEY", "secret"},
  };

  Config config = load_config("", environment, {});

  EXPECT_EQ(config.metadata_backend, "postgres");
  EXPECT_EQ(config.postgres_url, "postgresql://berth@db.example.com/berth");
  EXPECT_EQ(config.storage_backend, "s3");
  EXPECT_EQ(config.s3_bucket, "blobs");
}

TEST_F(LoadConfig, UnknownMetadataBackend) {
  auto error = load_error("", {{"BERTH_METADATA_BACKEND", "mysql"}});

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("metadata.backend"));
  EXPECT_THAT(*error, HasSubstr("\"mysql\""));
}

TEST_F(LoadConfig, PostgresWithoutUrl) {
  auto error = load_error("", {{"BERTH_METADATA_BACKEND", "postgres"}});

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("metadata.postgres.url"));
}

TEST_F(LoadConfig, PostgresMalformedUrl) {
  Environment environment = {{"BERTH_METADATA_BACKEND", "postgres"},
                             {"BERTH_METADATA_POSTGRES_URL", "host=db nosuchoption=1"}};

  auto error = load_error("", environment);

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("metadata.postgres.url"));
  EXPECT_THAT(*error, HasSubstr("nosuchoption"));
}

TEST_F(LoadConfig, PostgresEmptySchema) {
  Environment environment = {{"BERTH_METADATA_BACKEND", "postgres"},
                             {"BERTH_METADATA_POSTGRES_URL", "host=db"},
                             {"BERTH_METADATA_POSTGRES_SCHEMA", ""}};

  auto error = load_error("", environment);

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("metadata.postgres.schema"));
}

TEST_F(LoadConfig, PostgresKeysIgnoredWithSqlite) {
  EXPECT_EQ(load_error("", {{"BERTH_METADATA_POSTGRES_CONNECTIONS", "4"}}), std::nullopt);
}

// Settings of a complete S3 configuration, for the tests that take one out.
Environment s3_environment() {
  return {{"BERTH_STORAGE_BACKEND", "s3"},
          {"BERTH_STORAGE_S3_BUCKET", "blobs"},
          {"BERTH_STORAGE_S3_ENDPOINT", "http://127.0.0.1:7480"},
          {"BERTH_STORAGE_S3_ACCESS_KEY", "AKEXAMPLE"},
          {"BERTH_STORAGE_S3_SECRET_KEY", "secret"}};
}

TEST_F(LoadConfig, UnknownStorageBackend) {
  auto error = load_error("", {{"BERTH_STORAGE_BACKEND", "gcs"}});

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("storage.backend"));
  EXPECT_THAT(*error, HasSubstr("\"gcs\""));
}

TEST_F(LoadConfig, S3Complete) { EXPECT_EQ(load_error("", s3_environment()), std::nullopt); }

TEST_F(LoadConfig, S3WithoutBucket) {
  Environment environment = s3_environment();
  environment.erase("BERTH_STORAGE_S3_BUCKET");

  auto error = load_error("", environment);

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("storage.s3.bucket"));
}

TEST_F(LoadConfig, S3WithoutEndpoint) {
  Environment environment = s3_environment();
  environment.erase("BERTH_STORAGE_S3_ENDPOINT");

  auto error = load_error("", environment);

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("storage.s3.endpoint"));
  EXPECT_THAT(*error, HasSubstr("AWS_ENDPOINT_URL"));
}

TEST_F(LoadConfig, S3EndpointFromAwsVariable) {
  Environment environment = s3_environment();
  environment.erase("BERTH_STORAGE_S3_ENDPOINT");
  environment["AWS_ENDPOINT_URL"] = "http://127.0.0.1:7480";

  EXPECT_EQ(load_error("", environment), std::nullopt);
}

TEST_F(LoadConfig, S3EndpointWithoutScheme) {
  Environment environment = s3_environment();
  environment["BERTH_STORAGE_S3_ENDPOINT"] = "s3.example.com";

  auto error = load_error("", environment);

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("storage.s3.endpoint"));
  EXPECT_THAT(*error, HasSubstr("\"s3.example.com\""));
}

TEST_F(LoadConfig, S3WithoutCredentials) {
  Environment environment = s3_environment();
  environment.erase("BERTH_STORAGE_S3_ACCESS_KEY");
  environment.erase("BERTH_STORAGE_S3_SECRET_KEY");

  auto error = load_error("", environment);

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("storage.s3.access_key"));
  EXPECT_THAT(*error, HasSubstr("AWS_ACCESS_KEY_ID"));
}

TEST_F(LoadConfig, S3CredentialsFromAwsVariables) {
  Environment environment = s3_environment();
  environment.erase("BERTH_STORAGE_S3_ACCESS_KEY");
  environment.erase("BERTH_STORAGE_S3_SECRET_KEY");
  environment["AWS_ACCESS_KEY_ID"] = "AKEXAMPLE";
  environment["AWS_SECRET_ACCESS_KEY"] = "secret";

  EXPECT_EQ(load_error("", environment), std::nullopt);
}

TEST_F(LoadConfig, S3AccessKeyWithoutSecret) {
  Environment environment = s3_environment();
  environment.erase("BERTH_STORAGE_S3_SECRET_KEY");

  auto error = load_error("", environment);

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("storage.s3.secret_key"));
}

TEST_F(LoadConfig, S3PartSizeLimits) {
  Environment environment = s3_environment();
  environment["BERTH_STORAGE_S3_PART_SIZE_BYTES"] = "5242879";
  auto too_small = load_error("", environment);
  environment["BERTH_STORAGE_S3_PART_SIZE_BYTES"] = "5242880";
  auto smallest = load_error("", environment);
  environment["BERTH_STORAGE_S3_PART_SIZE_BYTES"] = "5368709121";
  auto too_large = load_error("", environment);

  ASSERT_TRUE(too_small.has_value());
  EXPECT_THAT(*too_small, HasSubstr("BERTH_STORAGE_S3_PART_SIZE_BYTES"));
  EXPECT_THAT(*too_small, HasSubstr("minimum of 5242880"));
  EXPECT_EQ(smallest, std::nullopt);
  ASSERT_TRUE(too_large.has_value());
  EXPECT_THAT(*too_large, HasSubstr("storage.s3.part_size_bytes"));
}

TEST_F(LoadConfig, S3RedirectLimit) {
  Environment environment = s3_environment();
  environment["BERTH_STORAGE_S3_REDIRECT_SECONDS"] = "604801";

  auto error = load_error("", environment);

  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(*error, HasSubstr("storage.s3.redirect_seconds"));
}

TEST_F(LoadConfig, S3KeysIgnoredWithFilesystem) {
  EXPECT_EQ(load_error("", {{"BERTH_STORAGE_S3_BUCKET", "blobs"}}), std::nullopt);
}

TEST_F(LoadConfig, ConfigKeys) {
  auto keys = config_keys();

  EXPECT_THAT(keys, ::testing::Contains("log.level"));
  EXPECT_THAT(keys, ::testing::Contains("limits.chunk_min_length"));
  EXPECT_THAT(keys, ::testing::Contains("cache.max_bytes"));
  EXPECT_THAT(keys, ::testing::Contains("region.domain"));
  EXPECT_THAT(keys, ::testing::Contains("gc.grace_seconds"));
  EXPECT_THAT(keys, ::testing::Contains("jobs.enabled"));
  EXPECT_THAT(keys, ::testing::Contains("metadata.postgres.url"));
  EXPECT_THAT(keys, ::testing::Contains("storage.s3.redirect_seconds"));
  EXPECT_EQ(keys.size(), 55u);
}

}  // namespace
}  // namespace berth::server
