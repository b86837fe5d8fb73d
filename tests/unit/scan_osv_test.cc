#include <archive.h>
#include <archive_entry.h>
#include <gmock/gmock.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "scan/inventory.h"
#include "scan/osv.h"
#include "support/temp_directory.h"

namespace berth::scan {
namespace {

using metadata::AffectedRecord;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::filesystem::path kFixtures =
    std::filesystem::path(__FILE__).parent_path().parent_path() / "fixtures" / "osv";

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Writes a zip archive with one deflated member per (name, contents) pair,
// as OSV's all.zip stores its records.
void write_zip(const std::filesystem::path& path, const std::vector<std::pair<std::string, std::string>>& members) {
  std::unique_ptr<archive, decltype(&archive_write_free)> writer(archive_write_new(), archive_write_free);
  ASSERT_EQ(archive_write_set_format_zip(writer.get()), ARCHIVE_OK);
  ASSERT_EQ(archive_write_open_filename(writer.get(), path.c_str()), ARCHIVE_OK);
  for (const auto& [name, contents] : members) {
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> entry(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(entry.get(), name.c_str());
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    archive_entry_set_perm(entry.get(), 0644);
    archive_entry_set_size(entry.get(), static_cast<la_int64_t>(contents.size()));
    ASSERT_EQ(archive_write_header(writer.get(), entry.get()), ARCHIVE_OK) << archive_error_string(writer.get());
    ASSERT_EQ(archive_write_data(writer.get(), contents.data(), contents.size()),
              static_cast<la_ssize_t>(contents.size()));
  }
  ASSERT_EQ(archive_write_close(writer.get()), ARCHIVE_OK);
}

// A minimal OSV record of `id` with one ECOSYSTEM range.
json record(const std::string& id, const std::string& ecosystem, const std::string& package, json events) {
  return {
      {"id", id},
      {"modified", "2024-05-01T00:00:00Z"},
      {"summary", "summary of " + id},
      {"affected", json::array({{{"package", {{"ecosystem", ecosystem}, {"name", package}}},
                                 {"ranges", json::array({{{"type", "ECOSYSTEM"}, {"events", std::move(events)}}})}}})}};
}

json fixed_at(const std::string& version) { return json::array({{{"introduced", "0"}}, {{"fixed", version}}}); }

std::vector<std::string> ids_of(const OsvImport& imported) {
  std::vector<std::string> ids;
  for (const auto& advisory : imported.advisories) ids.push_back(advisory.id);
  return ids;
}

// --- Ecosystems ----------------------------------------------------------------

TEST(OsvEcosystem, NormalizesMatchedEcosystems) {
  struct Case {
    std::string osv;
    std::optional<std::string> key;
  };
  const std::vector<Case> cases = {
      {"Debian:12", "debian:12"},
      {"Debian:11", "debian:11"},
      {"Debian:sid", std::nullopt},
      {"Debian", std::nullopt},
      {"Debian:12:extra", std::nullopt},
      {"debian:12", std::nullopt},
      {"Alpine:v3.19", "alpine:3.19"},
      {"Alpine:v3.20", "alpine:3.20"},
      {"Alpine:3.19", std::nullopt},
      {"Alpine:v3", std::nullopt},
      {"Alpine:v3.19.1", std::nullopt},
      {"Ubuntu:22.04", "ubuntu:22.04"},
      {"Ubuntu:22.04:LTS", "ubuntu:22.04"},
      {"Ubuntu:Pro:22.04:LTS", "ubuntu:22.04"},
      {"Ubuntu:Pro:18.04:LTS", "ubuntu:18.04"},
      {"Ubuntu:23.10", "ubuntu:23.10"},
      {"Ubuntu:Pro:FIPS:22.04:LTS", std::nullopt},
      {"Ubuntu:22.04:LTS:extra", std::nullopt},
      {"Ubuntu", std::nullopt},
      {"Red Hat:enterprise_linux:9::baseos", "rhel:9"},
      {"Red Hat:enterprise_linux:9::appstream", "rhel:9"},
      {"Red Hat:enterprise_linux:8::appstream", "rhel:8"},
      {"Red Hat:enterprise_linux:9", "rhel:9"},
      {"Red Hat:rhel_aus:9.2::baseos", std::nullopt},
      {"Red Hat:rhel_eus:9.2::appstream", std::nullopt},
      {"Red Hat:enterprise_linux:", std::nullopt},
      {"Red Hat", std::nullopt},
      {"npm", std::nullopt},
      {"PyPI", std::nullopt},
      {"Rocky Linux:9", std::nullopt},
      {"", std::nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(normalize_ecosystem(c.osv), c.key) << c.osv;
}

TEST(OsvEcosystem, KeysImagesByOsRelease) {
  struct Case {
    OsRelease os;
    std::optional<std::string> key;
  };
  const std::vector<Case> cases = {
      {{.id = "debian", .version_id = "12"}, "debian:12"},
      {{.id = "debian", .version_id = "11"}, "debian:11"},
      {{.id = "debian", .version_id = ""}, std::nullopt},  // testing and sid carry no VERSION_ID
      {{.id = "ubuntu", .id_like = "debian", .version_id = "22.04"}, "ubuntu:22.04"},
      {{.id = "ubuntu", .version_id = "22"}, std::nullopt},
      {{.id = "alpine", .version_id = "3.19.1"}, "alpine:3.19"},
      {{.id = "alpine", .version_id = "3.19"}, "alpine:3.19"},
      {{.id = "alpine", .version_id = "edge"}, std::nullopt},
      {{.id = "rhel", .id_like = "fedora", .version_id = "9.3"}, "rhel:9"},
      {{.id = "rhel", .version_id = "8"}, "rhel:8"},
      {{.id = "rocky", .id_like = "rhel centos fedora", .version_id = "9.3"}, "rhel:9"},
      {{.id = "almalinux", .id_like = "rhel centos fedora", .version_id = "8.9"}, "rhel:8"},
      {{.id = "centos", .id_like = "rhel fedora", .version_id = "9"}, "rhel:9"},
      {{.id = "centos", .id_like = "", .version_id = "9"}, std::nullopt},
      {{.id = "fedora", .version_id = "39"}, std::nullopt},
      {{.id = "ol", .id_like = "fedora", .version_id = "9.3"}, std::nullopt},
      {{.id = "", .version_id = ""}, std::nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(ecosystem_key(c.os), c.key) << c.os.id << " " << c.os.version_id;
}

// --- Records -------------------------------------------------------------------

TEST(OsvRecord, MissingIdThrows) {
  json without_id = record("X", "Debian:12", "expat", fixed_at("2.4.9-1"));
  without_id.erase("id");
  EXPECT_THROW(parse_osv_record(without_id), std::runtime_error);

  json empty_id = record("", "Debian:12", "expat", fixed_at("2.4.9-1"));
  EXPECT_THROW(parse_osv_record(empty_id), std::runtime_error);

  json numeric_id = record("X", "Debian:12", "expat", fixed_at("2.4.9-1"));
  numeric_id["id"] = 42;
  EXPECT_THROW(parse_osv_record(numeric_id), std::runtime_error);

  EXPECT_THROW(parse_osv_record(json::array()), std::runtime_error);
}

TEST(OsvRecord, ReadsOneFixedRange) {
  auto advisory = parse_osv_record(record("DEBIAN-CVE-2022-40674", "Debian:12", "expat", fixed_at("2.4.9-1")));
  ASSERT_TRUE(advisory.has_value());
  EXPECT_EQ(advisory->id, "DEBIAN-CVE-2022-40674");
  EXPECT_THAT(advisory->cves, ElementsAre("CVE-2022-40674"));
  EXPECT_EQ(advisory->summary, "summary of DEBIAN-CVE-2022-40674");
  EXPECT_EQ(advisory->modified, "2024-05-01T00:00:00Z");
  EXPECT_THAT(
      advisory->affected,
      ElementsAre(AffectedRecord{.ecosystem = "debian:12", .package = "expat", .introduced = "0", .fixed = "2.4.9-1"}));
}

TEST(OsvRecord, NoFixedEventIsNullopt) {
  EXPECT_FALSE(
      parse_osv_record(record("DEBIAN-CVE-2005-2541", "Debian:12", "tar", json::array({{{"introduced", "0"}}}))));
  EXPECT_FALSE(parse_osv_record(
      record("X-1", "Debian:12", "tar", json::array({{{"introduced", "0"}}, {{"last_affected", "1.34+dfsg-1"}}}))));
  EXPECT_FALSE(
      parse_osv_record(record("X-2", "Debian:12", "tar", json::array({{{"introduced", "0"}}, {{"limit", "*"}}}))));
  EXPECT_FALSE(parse_osv_record(record("X-3", "Debian:12", "tar", json::array())));

  json no_affected = {{"id", "X-4"}, {"summary", "nothing affected"}};
  EXPECT_FALSE(parse_osv_record(no_affected));
}

TEST(OsvRecord, UnmatchedEcosystemIsNullopt) {
  EXPECT_FALSE(parse_osv_record(record("GHSA-xxxx-yyyy-zzzz", "npm", "left-pad", fixed_at("1.3.0"))));
  EXPECT_FALSE(parse_osv_record(record("DEBIAN-CVE-2022-1", "Debian:sid", "expat", fixed_at("2.4.9-1"))));
}

TEST(OsvRecord, WithdrawnRecordIsNullopt) {
  json withdrawn = record("DSA-1-1", "Debian:12", "expat", fixed_at("2.4.9-1"));
  withdrawn["withdrawn"] = "2024-06-01T00:00:00Z";
  EXPECT_FALSE(parse_osv_record(withdrawn));
}

TEST(OsvRecord, PairsEachFixedWithPrecedingIntroduced) {
  json events = json::array({{{"introduced", "1.0-1"}},
                             {{"fixed", "1.2-1"}},
                             {{"introduced", "2.0-1"}},
                             {{"fixed", "2.3-1"}},
                             {{"introduced", "3.0-1"}}});
  auto advisory = parse_osv_record(record("X-1", "Debian:12", "foo", events));
  ASSERT_TRUE(advisory.has_value());
  EXPECT_THAT(
      advisory->affected,
      ElementsAre(AffectedRecord{.ecosystem = "debian:12", .package = "foo", .introduced = "1.0-1", .fixed = "1.2-1"},
                  AffectedRecord{.ecosystem = "debian:12", .package = "foo", .introduced = "2.0-1", .fixed = "2.3-1"}));
}

TEST(OsvRecord, FixedWithoutIntroducedCoversEveryVersion) {
  auto advisory = parse_osv_record(record("X-1", "Debian:12", "foo", json::array({{{"fixed", "1.2-1"}}})));
  ASSERT_TRUE(advisory.has_value());
  ASSERT_EQ(advisory->affected.size(), 1u);
  EXPECT_EQ(advisory->affected[0].introduced, "");
  EXPECT_EQ(advisory->affected[0].fixed, "1.2-1");
}

TEST(OsvRecord, ReadsSeveralRangesAndPackages) {
  json input = {{"id", "RHSA-2024:0310"},
                {"upstream", json::array({"CVE-2023-5678"})},
                {"affected",
                 json::array({
                     {{"package", {{"ecosystem", "Red Hat:enterprise_linux:9::baseos"}, {"name", "openssl-libs"}}},
                      {"ranges", json::array({
                                     {{"type", "GIT"},
                                      {"repo", "https://example.invalid/openssl.git"},
                                      {"events", json::array({{{"introduced", "0"}}, {{"fixed", "0123abcd"}}})}},
                                     {{"type", "ECOSYSTEM"}, {"events", fixed_at("1:3.0.7-25.el9_3")}},
                                     {{"type", "SEMVER"}, {"events", fixed_at("3.0.8")}},
                                     {{"type", "ECOSYSTEM"}, {"events", fixed_at("1:3.0.7-25.el9_3")}},  // a duplicate
                                 })}},
                     {{"package", {{"ecosystem", "Red Hat:enterprise_linux:8::baseos"}, {"name", "openssl-libs"}}},
                      {"ranges", json::array({{{"type", "ECOSYSTEM"}, {"events", fixed_at("1:1.1.1k-12.el8_9")}}})}},
                     {{"package", {{"ecosystem", "Red Hat:rhel_eus:9.2::baseos"}, {"name", "openssl-libs"}}},
                      {"ranges", json::array({{{"type", "ECOSYSTEM"}, {"events", fixed_at("1:3.0.7-18.el9_2")}}})}},
                     {{"package", {{"ecosystem", "Red Hat:enterprise_linux:9::baseos"}}},
                      {"ranges", json::array({{{"type", "ECOSYSTEM"}, {"events", fixed_at("1.0")}}})}},
                     {{"package", {{"ecosystem", "Red Hat:enterprise_linux:9::baseos"}, {"name", "openssl"}}}},
                 })}};
  auto advisory = parse_osv_record(input);
  ASSERT_TRUE(advisory.has_value());
  EXPECT_THAT(
      advisory->affected,
      ElementsAre(
          AffectedRecord{
              .ecosystem = "rhel:9", .package = "openssl-libs", .introduced = "0", .fixed = "1:3.0.7-25.el9_3"},
          AffectedRecord{
              .ecosystem = "rhel:8", .package = "openssl-libs", .introduced = "0", .fixed = "1:1.1.1k-12.el8_9"}));
}

TEST(OsvRecord, ExtractsCveIds) {
  struct Case {
    json input;
    std::vector<std::string> cves;
  };
  const std::vector<Case> cases = {
      {{{"id", "CVE-2022-40674"}}, {"CVE-2022-40674"}},
      {{{"id", "DEBIAN-CVE-2022-40674"}}, {"CVE-2022-40674"}},
      {{{"id", "ALPINE-CVE-2024-0727"}}, {"CVE-2024-0727"}},
      {{{"id", "UBUNTU-CVE-2023-123456"}}, {"CVE-2023-123456"}},
      {{{"id", "DSA-5242-1"}}, {}},
      {{{"id", "debian-CVE-2022-40674"}}, {}},
      {{{"id", "DEBIAN-CVE-2022-406"}}, {}},
      {{{"id", "DSA-5242-1"}, {"upstream", {"CVE-2022-43680", "CVE-2022-40674", "CVE-2022-40674"}}},
       {"CVE-2022-40674", "CVE-2022-43680"}},
      {{{"id", "ALPINE-CVE-2024-0727"}, {"aliases", {"CVE-2024-0727", "GHSA-abcd-efgh-ijkl"}}}, {"CVE-2024-0727"}},
      {{{"id", "USN-6000-1"},
        {"aliases", {"CVE-2023-1", "cve-2023-12345", " CVE-2023-12345", 7}},
        {"upstream", {"CVE-2023-99999"}}},
       {"CVE-2023-99999"}},
  };
  for (const Case& c : cases) {
    json input = c.input;
    input["affected"] = record("unused", "Debian:12", "foo", fixed_at("1.0-1"))["affected"];
    auto advisory = parse_osv_record(input);
    ASSERT_TRUE(advisory.has_value()) << input.dump();
    EXPECT_EQ(advisory->cves, c.cves) << input.dump();
  }
}

TEST(OsvRecord, SummaryFallsBackToDetails) {
  json input = record("ALPINE-CVE-2024-0727", "Alpine:v3.19", "openssl", fixed_at("3.1.4-r5"));
  input.erase("summary");
  input["details"] = "\n  First line of the details.  \nSecond line.";
  auto advisory = parse_osv_record(input);
  ASSERT_TRUE(advisory.has_value());
  EXPECT_EQ(advisory->summary, "First line of the details.");

  input["summary"] = "   ";
  EXPECT_EQ(parse_osv_record(input)->summary, "First line of the details.");

  input.erase("details");
  input.erase("summary");
  EXPECT_EQ(parse_osv_record(input)->summary, "");
}

TEST(OsvRecord, SummaryIsCappedAt300Characters) {
  json input = record("X-1", "Debian:12", "foo", fixed_at("1.0-1"));
  input["summary"] = std::string(400, 'a');
  EXPECT_EQ(parse_osv_record(input)->summary, std::string(300, 'a'));

  // "é" is two bytes in UTF-8; the cut counts characters and never splits one.
  std::string accented;
  for (int i = 0; i < 350; ++i) accented += "\xc3\xa9";
  input["summary"] = accented;
  EXPECT_EQ(parse_osv_record(input)->summary, accented.substr(0, 600));

  input["summary"] = std::string(300, 'b');
  EXPECT_EQ(parse_osv_record(input)->summary, std::string(300, 'b'));
}

// --- Files ---------------------------------------------------------------------

TEST(OsvRead, ReadsSingleRecordFile) {
  test_support::TempDirectory directory;
  write_text(directory.path() / "one.json", record("DSA-1-1", "Debian:12", "expat", fixed_at("2.4.9-1")).dump());
  OsvImport imported = read_osv(directory.path() / "one.json");
  EXPECT_EQ(imported.files, 1u);
  EXPECT_EQ(imported.records, 1u);
  EXPECT_EQ(imported.skipped, 0u);
  EXPECT_THAT(ids_of(imported), ElementsAre("DSA-1-1"));
  EXPECT_THAT(imported.ecosystems, ElementsAre("debian:12"));
}

TEST(OsvRead, ReadsFixtureDirectory) {
  OsvImport imported = read_osv(kFixtures / "advisories");
  EXPECT_EQ(imported.files, 3u);
  EXPECT_EQ(imported.records, 8u);
  EXPECT_EQ(imported.skipped, 1u);  // the tar advisory has no fixed event
  EXPECT_THAT(ids_of(imported),
              ElementsAre("ALPINE-CVE-2024-0727", "ALPINE-CVE-2025-26519", "DEBIAN-CVE-2022-40674",
                          "DEBIAN-CVE-2023-45853", "DEBIAN-CVE-2024-26581", "DSA-5242-1", "RHSA-2024:0310"));
  EXPECT_THAT(imported.ecosystems, ElementsAre("alpine:3.19", "debian:12", "rhel:9"));

  const metadata::AdvisoryRecord& dsa = imported.advisories[5];
  EXPECT_THAT(dsa.cves, ElementsAre("CVE-2022-40674", "CVE-2022-43680"));
  EXPECT_THAT(dsa.affected, ElementsAre(AffectedRecord{
                                .ecosystem = "debian:12", .package = "expat", .introduced = "0", .fixed = "2.5.0-1"}));
  const metadata::AdvisoryRecord& alpine = imported.advisories[0];
  EXPECT_EQ(alpine.summary,
            "Test record written for Berth, with no summary so that the first line of the details is used.");
}

TEST(OsvRead, LaterFileWinsForSameId) {
  test_support::TempDirectory directory;
  // Written in reverse order, so only sorting by name makes b.json the later file.
  write_text(directory.path() / "b.json", record("DSA-1-1", "Debian:12", "expat", fixed_at("2.5.0-1")).dump());
  write_text(directory.path() / "a.json", json::array({record("DSA-1-1", "Debian:12", "expat", fixed_at("2.4.9-1")),
                                                       record("DSA-2-1", "Debian:12", "zlib", fixed_at("1:1.3-1"))})
                                              .dump());
  write_text(directory.path() / "notes.txt", "not an advisory");
  std::filesystem::create_directory(directory.path() / "nested");
  write_text(directory.path() / "nested" / "c.json", "this is not read");

  OsvImport imported = read_osv(directory.path());
  EXPECT_EQ(imported.files, 2u);
  EXPECT_EQ(imported.records, 3u);
  ASSERT_THAT(ids_of(imported), ElementsAre("DSA-1-1", "DSA-2-1"));
  EXPECT_EQ(imported.advisories[0].affected.at(0).fixed, "2.5.0-1");
}

TEST(OsvRead, BadJsonNamesFile) {
  test_support::TempDirectory directory;
  write_text(directory.path() / "a.json", record("DSA-1-1", "Debian:12", "expat", fixed_at("2.4.9-1")).dump());
  write_text(directory.path() / "broken.json", "[{\"id\": \"DSA-2-1\",");
  try {
    read_osv(directory.path());
    FAIL() << "expected an error";
  } catch (const std::runtime_error& error) {
    EXPECT_THAT(error.what(), HasSubstr((directory.path() / "broken.json").string()));
    EXPECT_THAT(error.what(), HasSubstr("invalid JSON"));
  }
}

TEST(OsvRead, RecordWithoutIdNamesFileAndRecord) {
  test_support::TempDirectory directory;
  json second = record("X", "Debian:12", "expat", fixed_at("2.4.9-1"));
  second.erase("id");
  write_text(directory.path() / "list.json",
             json::array({record("DSA-1-1", "Debian:12", "expat", fixed_at("2.4.9-1")), second}).dump());
  try {
    read_osv(directory.path() / "list.json");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& error) {
    EXPECT_THAT(error.what(), HasSubstr("list.json: record 2"));
    EXPECT_THAT(error.what(), HasSubstr("id"));
  }
}

TEST(OsvRead, RejectsOtherDocuments) {
  test_support::TempDirectory directory;
  write_text(directory.path() / "string.json", "\"DSA-1-1\"");
  EXPECT_THROW(read_osv(directory.path() / "string.json"), std::runtime_error);

  write_text(directory.path() / "feed.csv", "id,package\n");
  EXPECT_THROW(read_osv(directory.path() / "feed.csv"), std::runtime_error);

  EXPECT_THROW(read_osv(directory.path() / "missing.json"), std::runtime_error);

  std::filesystem::create_directory(directory.path() / "empty");
  EXPECT_THROW(read_osv(directory.path() / "empty"), std::runtime_error);
}

TEST(OsvRead, ReadsZipOfFixtures) {
  test_support::TempDirectory directory;
  std::vector<std::pair<std::string, std::string>> members;
  for (const char* name : {"alpine-v3.19.json", "debian-12.json", "redhat-9.json"}) {
    members.emplace_back(name, read_text(kFixtures / "advisories" / name));
  }
  members.emplace_back("README.txt", "not an advisory");
  write_zip(directory.path() / "all.zip", members);

  OsvImport from_zip = read_osv(directory.path() / "all.zip");
  OsvImport from_directory = read_osv(kFixtures / "advisories");
  EXPECT_EQ(from_zip.files, 3u);
  EXPECT_EQ(from_zip.records, from_directory.records);
  EXPECT_EQ(from_zip.skipped, from_directory.skipped);
  EXPECT_EQ(from_zip.advisories, from_directory.advisories);
  EXPECT_EQ(from_zip.ecosystems, from_directory.ecosystems);
}

TEST(OsvRead, ReadsZipInDirectory) {
  test_support::TempDirectory directory;
  write_zip(directory.path() / "a.zip",
            {{"DSA-1-1.json", record("DSA-1-1", "Debian:12", "expat", fixed_at("2.4.9-1")).dump()},
             {"DSA-2-1.json", record("DSA-2-1", "Debian:12", "zlib", fixed_at("1:1.3-1")).dump()}});
  write_text(directory.path() / "b.json", record("DSA-1-1", "Debian:12", "expat", fixed_at("2.5.0-1")).dump());

  OsvImport imported = read_osv(directory.path());
  EXPECT_EQ(imported.files, 3u);
  EXPECT_EQ(imported.records, 3u);
  ASSERT_THAT(ids_of(imported), ElementsAre("DSA-1-1", "DSA-2-1"));
  EXPECT_EQ(imported.advisories[0].affected.at(0).fixed, "2.5.0-1");
}

TEST(OsvRead, BadZipMemberNamesArchiveAndMember) {
  test_support::TempDirectory directory;
  write_zip(directory.path() / "all.zip", {{"DSA-1-1.json", "{\"id\": "}});
  try {
    read_osv(directory.path() / "all.zip");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& error) {
    EXPECT_THAT(error.what(), HasSubstr("all.zip: member DSA-1-1.json: invalid JSON"));
  }
}

TEST(OsvRead, NotZipNamesFile) {
  test_support::TempDirectory directory;
  write_text(directory.path() / "all.zip", "this is not a zip archive");
  try {
    read_osv(directory.path() / "all.zip");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& error) {
    EXPECT_THAT(error.what(), HasSubstr("all.zip"));
  }
}

TEST(OsvRead, ZipMemberOverLimitIsRejected) {
  test_support::TempDirectory directory;
  // A JSON string of 33 MiB: valid JSON, but over the 32 MiB member limit.
  std::string huge = "\"" + std::string(33u << 20, 'a') + "\"";
  write_zip(directory.path() / "all.zip", {{"huge.json", huge}});
  try {
    read_osv(directory.path() / "all.zip");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& error) {
    EXPECT_THAT(error.what(), HasSubstr("member huge.json"));
    EXPECT_THAT(error.what(), HasSubstr("limit"));
  }
}

TEST(OsvRead, EmptyZipImportsNothing) {
  test_support::TempDirectory directory;
  write_zip(directory.path() / "all.zip", {});
  OsvImport imported = read_osv(directory.path() / "all.zip");
  EXPECT_EQ(imported.files, 0u);
  EXPECT_THAT(imported.advisories, IsEmpty());
}

}  // namespace
}  // namespace berth::scan
