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

TEST_F(LoadConfig, ConfigKeys) {
  auto keys = config_keys();

  EXPECT_THAT(keys, ::testing::Contains("log.level"));
  EXPECT_THAT(keys, ::testing::Contains("limits.chunk_min_length"));
  EXPECT_THAT(keys, ::testing::Contains("cache.max_bytes"));
  EXPECT_THAT(keys, ::testing::Contains("region.domain"));
  EXPECT_THAT(keys, ::testing::Contains("gc.grace_seconds"));
  EXPECT_THAT(keys, ::testing::Contains("jobs.enabled"));
  EXPECT_EQ(keys.size(), 40u);
}

}  // namespace
}  // namespace berth::server
