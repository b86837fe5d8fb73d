// The CLI's own settings in ~/.berth/config.json (mode 0600): the known
// regions, the targeted one and the API key. BERTH_HOME moves the
// directory; BERTH_APIKEY and BERTH_REGION override the file.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::cli {

struct Region {
  std::string name;         // "eu-gb"
  std::string former_name;  // "uk-south", or empty
  std::string domain;       // "uk.icr.io": where images are pushed and pulled
  std::string api_endpoint; // "https://uk.icr.io": the base URL of /api/v1 and /v2
};

struct CliConfig {
  std::vector<Region> regions;
  std::string region;   // the targeted region's name
  std::string api_key;  // empty until `berth login --apikey`

  // The regions a new configuration starts with: the local berthd that the
  // README starts on 127.0.0.1:5000.
  static std::vector<Region> default_regions();

  // Reads the file, or starts from the defaults when it does not exist;
  // then applies BERTH_REGION and BERTH_APIKEY. Throws Failure on a file
  // that is not valid.
  static CliConfig load();
  // Writes the file atomically with mode 0600 (the directory 0700). The
  // environment overrides are not written back.
  void save() const;

  static std::filesystem::path directory();
  static std::filesystem::path file();

  // The region whose name, former name or domain is `text`.
  const Region* find_region(std::string_view text) const;
  // The targeted region; throws Failure if it is unknown.
  const Region& target() const;

  // Where the key and region came from, for messages.
  bool api_key_from_environment = false;
  bool region_from_environment = false;
  std::string file_api_key;  // the key in the file, kept when the environment overrides it
  std::string file_region;
};

// The value of the environment variable `name`, or "" when it is unset.
std::string environment_variable(const char* name);

// Writes `content` to `path` through a temporary file and a rename, with
// the given mode, creating missing parent directories with mode 0700.
void write_file_atomically(const std::filesystem::path& path, std::string_view content, unsigned mode);

}  // namespace berth::cli
