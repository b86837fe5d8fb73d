#include "cli/client_login.h"
#include "cli/config.h"
#include "cli/images.h"
#include "cli/output.h"

#include "support/temp_directory.h"

#include <gmock/gmock.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace berth::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using nlohmann::json;

TEST(HumanSize, UsesThreeSignificantDigitsInDecimalUnits) {
  EXPECT_EQ(human_size(0), "0 B");
  EXPECT_EQ(human_size(433), "433 B");
  EXPECT_EQ(human_size(999), "999 B");
  EXPECT_EQ(human_size(1000), "1 kB");
  EXPECT_EQ(human_size(1'801'000), "1.8 MB");
  EXPECT_EQ(human_size(165'000'000), "165 MB");
  EXPECT_EQ(human_size(999'600), "1 MB");  // 999.6 kB rounds up into the next unit
  EXPECT_EQ(human_size(5'368'709'120), "5.37 GB");
}

TEST(HumanDuration, NamesTheLargestWholeUnit) {
  EXPECT_EQ(human_duration(0), "Less than a second");
  EXPECT_EQ(human_duration(1), "1 second");
  EXPECT_EQ(human_duration(40), "40 seconds");
  EXPECT_EQ(human_duration(90), "About a minute");
  EXPECT_EQ(human_duration(5 * 60), "5 minutes");
  EXPECT_EQ(human_duration(3600), "About an hour");
  EXPECT_EQ(human_duration(5 * 3600), "5 hours");
  EXPECT_EQ(human_duration(3 * 86400), "3 days");
  EXPECT_EQ(human_duration(15 * 86400), "2 weeks");
  EXPECT_EQ(human_duration(90 * 86400), "3 months");
  EXPECT_EQ(human_duration(400 * 86400), "1 year");
  EXPECT_EQ(human_duration(800 * 86400), "2 years");
}

TEST(RelativeTime, ShowsADashForAnUnknownTime) {
  EXPECT_EQ(relative_time(0, 1'700'000'000), "-");
  EXPECT_EQ(relative_time(1'700'000'000 - 14 * 86400, 1'700'000'000), "2 weeks ago");
  // A clock behind the server's never prints a negative age.
  EXPECT_EQ(relative_time(1'700'000'100, 1'700'000'000), "Less than a second ago");
}

TEST(Table, PadsColumnsByThreeSpaces) {
  Table table({"Repository", "Tag"});
  table.add_row({"127.0.0.1:5000/team1/app", "v1"});
  table.add_row({"a", ""});
  std::ostringstream out;
  table.print(out);
  EXPECT_EQ(out.str(),
            "Repository                 Tag\n"
            "127.0.0.1:5000/team1/app   v1\n"
            "a\n");
}

TEST(Reporter, PrintsNothingButDataInDataOnlyMode) {
  std::ostringstream normal, quiet;
  for (auto* out : {&normal, &quiet}) {
    Reporter report(*out, out == &quiet);
    report.progress("Listing images...");
    report.line("result");
    report.ok();
  }
  EXPECT_EQ(normal.str(), "Listing images...\n\nresult\n\nOK\n");
  EXPECT_EQ(quiet.str(), "");
}

TEST(ShortDigest, KeepsTwelveHexDigits) {
  EXPECT_EQ(short_digest("sha256:5d962dcc31f7aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), "5d962dcc31f7");
}

TEST(ParseImageName, SplitsDomainRepositoryTagAndDigest) {
  ImageName name = parse_image_name("127.0.0.1:5000/birds/bluebird:1");
  EXPECT_EQ(name.domain, "127.0.0.1:5000");
  EXPECT_EQ(name.repository, "birds/bluebird");
  EXPECT_EQ(name.tag, "1");
  EXPECT_EQ(name.digest, "");

  name = parse_image_name("birds/a/b@sha256:abc");
  EXPECT_EQ(name.domain, "");
  EXPECT_EQ(name.repository, "birds/a/b");
  EXPECT_EQ(name.tag, "");
  EXPECT_EQ(name.digest, "sha256:abc");

  name = parse_image_name("uk.icr.io/birds/bluebird");
  EXPECT_EQ(name.domain, "uk.icr.io");
  EXPECT_EQ(name.repository, "birds/bluebird");
  EXPECT_EQ(name.tag, "");
}

TEST(ImageRows, OneRowPerTagSorted) {
  json images = json::parse(R"([
    {"Id": "sha256:bbbb", "RepoTags": ["r.example/ns2/app:v2", "r.example/ns2/app:latest"], "Created": 100,
     "Size": 2000, "ManifestType": "OCI Image Manifest v1"},
    {"Id": "sha256:aaaa", "RepoTags": ["r.example/ns1/tool:1"], "Created": 50, "Size": 10}
  ])");
  auto rows = image_rows(images);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].repository, "r.example/ns1/tool");
  EXPECT_EQ(rows[0].namespace_name, "ns1");
  EXPECT_EQ(rows[1].tag, "latest");
  EXPECT_EQ(rows[2].tag, "v2");
  EXPECT_EQ(rows[2].digest, "sha256:bbbb");
  EXPECT_EQ(rows[2].size, 2000u);
  EXPECT_EQ(rows[2].created, 100);
}

TEST(DigestRows, ListsUntaggedImagesWithNoTags) {
  json digests = json::parse(R"([
    {"id": "sha256:old", "created": 10, "size": 5, "manifestType": "Docker Image Manifest V2, Schema 2",
     "repoTags": {"r.example/ns/app": {}}},
    {"id": "sha256:new", "created": 20, "size": 6, "manifestType": "OCI Image Manifest v1",
     "repoTags": {"r.example/ns/app": {"v2": {}, "latest": {}}, "r.example/ns/copy": {"x": {}}}}
  ])");
  auto rows = digest_rows(digests);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].digest, "sha256:new");
  EXPECT_THAT(rows[0].tags, ElementsAre("latest", "v2"));
  EXPECT_EQ(rows[1].digest, "sha256:old");
  EXPECT_TRUE(rows[1].tags.empty());
  EXPECT_EQ(rows[2].repository, "r.example/ns/copy");
  EXPECT_EQ(short_manifest_type(rows[1].manifest_type), "Docker V2");
}

TEST(TemplateValue, MapFieldsBecomeMaps) {
  auto document = nlohmann::ordered_json::parse(R"({"Os": "linux", "Config": {"Labels": {"b": "2", "a": "1"}}})");
  auto value = template_value(document);
  ASSERT_EQ(value.kind(), gotemplate::Value::Kind::kStruct);
  const auto* config = value.find("Config");
  ASSERT_NE(config, nullptr);
  EXPECT_EQ(config->kind(), gotemplate::Value::Kind::kStruct);
  ASSERT_NE(config->find("Labels"), nullptr);
  EXPECT_EQ(config->find("Labels")->kind(), gotemplate::Value::Kind::kMap);
}

class CliFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"BERTH_HOME", "BERTH_APIKEY", "BERTH_REGION", "DOCKER_CONFIG", "REGISTRY_AUTH_FILE"}) {
      const char* value = std::getenv(name);
      saved_.emplace_back(name, value ? std::optional<std::string>(value) : std::nullopt);
      ::unsetenv(name);
    }
    ::setenv("BERTH_HOME", (directory_.path() / "berth").c_str(), 1);
  }
  void TearDown() override {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }
  static std::string read(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  test_support::TempDirectory directory_;
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST_F(CliFiles, ConfigDefaultsAndMode0600) {
  CliConfig config = CliConfig::load();
  EXPECT_EQ(config.target().domain, "127.0.0.1:5000");
  config.regions.push_back({.name = "eu-gb", .former_name = "uk-south", .domain = "uk.icr.io",
                            .api_endpoint = "https://uk.icr.io"});
  config.region = "eu-gb";
  config.api_key = "berth_secret";
  config.save();
  struct stat info {};
  ASSERT_EQ(::stat(CliConfig::file().c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);

  CliConfig again = CliConfig::load();
  EXPECT_EQ(again.target().name, "eu-gb");
  EXPECT_EQ(again.api_key, "berth_secret");
  EXPECT_EQ(again.find_region("uk-south"), again.find_region("uk.icr.io"));
  EXPECT_EQ(again.find_region("eu-gb"), again.find_region("uk.icr.io"));
  EXPECT_EQ(again.find_region("nowhere"), nullptr);
}

TEST_F(CliFiles, EnvironmentOverridesButIsNotSaved) {
  CliConfig config = CliConfig::load();
  config.api_key = "from-file";
  config.save();
  ::setenv("BERTH_APIKEY", "from-environment", 1);
  CliConfig overridden = CliConfig::load();
  EXPECT_EQ(overridden.api_key, "from-environment");
  overridden.save();
  ::unsetenv("BERTH_APIKEY");
  EXPECT_EQ(CliConfig::load().api_key, "from-file");
}

TEST_F(CliFiles, InvalidConfigSaysHowToRecover) {
  std::filesystem::create_directories(CliConfig::directory());
  std::ofstream(CliConfig::file()) << "{not json";
  try {
    CliConfig::load();
    FAIL() << "a broken file was accepted";
  } catch (const Failure& failure) {
    EXPECT_THAT(failure.what(), HasSubstr("remove it to start again"));
  }
}

TEST_F(CliFiles, LoginKeepsOtherRegistriesInTheDockerConfig) {
  ::setenv("DOCKER_CONFIG", (directory_.path() / "docker").c_str(), 1);
  std::filesystem::create_directories(directory_.path() / "docker");
  std::ofstream(directory_.path() / "docker/config.json")
      << R"({"auths": {"other.example": {"auth": "b3RoZXI6eA=="}}, "credsStore": ""})";
  auto file = write_client_login("docker", "127.0.0.1:5000", "berth_key");
  EXPECT_EQ(file, directory_.path() / "docker/config.json");
  json written = json::parse(read(file));
  EXPECT_EQ(written["auths"]["other.example"]["auth"], "b3RoZXI6eA==");
  EXPECT_EQ(written["auths"]["127.0.0.1:5000"]["auth"], base64("iamapikey:berth_key"));
  EXPECT_TRUE(written.contains("credsStore"));
  struct stat info {};
  ASSERT_EQ(::stat(file.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

TEST_F(CliFiles, PodmanLoginHonoursRegistryAuthFile) {
  ::setenv("REGISTRY_AUTH_FILE", (directory_.path() / "auth.json").c_str(), 1);
  auto file = write_client_login("podman", "127.0.0.1:5000", "k");
  EXPECT_EQ(file, directory_.path() / "auth.json");
  EXPECT_EQ(json::parse(read(file))["auths"]["127.0.0.1:5000"]["auth"], "aWFtYXBpa2V5Oms=");
}

TEST(Base64, MatchesRfc4648Vectors) {
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
}

TEST(PullSecret, IsADockerConfigJsonSecret) {
  std::string secret = kubernetes_pull_secret("regcred", "apps", "127.0.0.1:5000", "k");
  EXPECT_THAT(secret, HasSubstr("type: kubernetes.io/dockerconfigjson\n"));
  EXPECT_THAT(secret, HasSubstr("  name: regcred\n  namespace: apps\n"));
  std::string encoded = secret.substr(secret.find(".dockerconfigjson: ") + 19);
  encoded.pop_back();
  std::string expected = R"({"auths":{"127.0.0.1:5000":{"username":"iamapikey","password":"k","auth":"aWFtYXBpa2V5Oms="}}})";
  EXPECT_EQ(encoded, base64(expected));
  EXPECT_THROW(kubernetes_pull_secret("Bad_Name", "apps", "d", "k"), Failure);
  EXPECT_THROW(kubernetes_pull_secret("ok", "a.b", "d", "k"), Failure);
}

}  // namespace
}  // namespace berth::cli
