#include "cli/config.h"

#include "cli/output.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace berth::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string text_field(const json& object, const char* name, const fs::path& file) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return {};
  if (!it->is_string()) {
    throw Failure("'" + file.string() + "' is not valid: \"" + name +
                  "\" must be a string. Fix the file or remove it to start again from the defaults.");
  }
  return it->get<std::string>();
}

}  // namespace

std::string environment_variable(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::vector<Region> CliConfig::default_regions() {
  return {Region{.name = "local", .former_name = "", .domain = "127.0.0.1:5000", .api_endpoint = "http://127.0.0.1:5000"}};
}

fs::path CliConfig::directory() {
  std::string home = environment_variable("BERTH_HOME");
  if (!home.empty()) return home;
  std::string user_home = environment_variable("HOME");
  if (user_home.empty()) throw Failure("Neither BERTH_HOME nor HOME is set, so berth cannot find its configuration.");
  return fs::path(user_home) / ".berth";
}

fs::path CliConfig::file() { return directory() / "config.json"; }

CliConfig CliConfig::load() {
  CliConfig config;
  fs::path path = file();
  std::ifstream in(path);
  if (!in) {
    config.regions = default_regions();
    config.region = config.regions.front().name;
  } else {
    std::stringstream text;
    text << in.rdbuf();
    json parsed = json::parse(text.str(), nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      throw Failure("'" + path.string() +
                    "' is not valid JSON. Fix the file or remove it to start again from the defaults.");
    }
    auto regions = parsed.find("regions");
    if (regions != parsed.end() && !regions->is_array()) {
      throw Failure("'" + path.string() + "' is not valid: \"regions\" must be a list.");
    }
    if (regions != parsed.end()) {
      for (const auto& item : *regions) {
        if (!item.is_object()) throw Failure("'" + path.string() + "' is not valid: each region must be an object.");
        Region region{.name = text_field(item, "name", path),
                      .former_name = text_field(item, "former_name", path),
                      .domain = text_field(item, "domain", path),
                      .api_endpoint = text_field(item, "api_endpoint", path)};
        if (region.name.empty() || region.domain.empty() || region.api_endpoint.empty()) {
          throw Failure("'" + path.string() + "' is not valid: each region needs a name, a domain and an api_endpoint.");
        }
        config.regions.push_back(std::move(region));
      }
    } else {
      config.regions = default_regions();
    }
    config.region = text_field(parsed, "region", path);
    config.api_key = text_field(parsed, "api_key", path);
    if (config.region.empty() && !config.regions.empty()) config.region = config.regions.front().name;
  }
  config.file_api_key = config.api_key;
  config.file_region = config.region;
  if (std::string key = environment_variable("BERTH_APIKEY"); !key.empty()) {
    config.api_key = key;
    config.api_key_from_environment = true;
  }
  if (std::string region = environment_variable("BERTH_REGION"); !region.empty()) {
    const Region* found = config.find_region(region);
    config.region = found ? found->name : region;
    config.region_from_environment = true;
  }
  return config;
}

void CliConfig::save() const {
  json regions_json = json::array();
  for (const auto& region : regions) {
    regions_json.push_back({{"name", region.name},
                            {"former_name", region.former_name},
                            {"domain", region.domain},
                            {"api_endpoint", region.api_endpoint}});
  }
  json body = {{"regions", regions_json},
               {"region", region_from_environment ? file_region : region},
               {"api_key", api_key_from_environment ? file_api_key : api_key}};
  write_file_atomically(file(), body.dump(2) + "\n", 0600);
}

const Region* CliConfig::find_region(std::string_view text) const {
  for (const auto& region : regions) {
    if (region.name == text || (!region.former_name.empty() && region.former_name == text) || region.domain == text) {
      return &region;
    }
  }
  return nullptr;
}

const Region& CliConfig::target() const {
  if (const Region* found = find_region(region); found) return *found;
  if (region_from_environment) {
    throw Failure("BERTH_REGION is set to '" + region + "', which is not a region in '" + file().string() +
                  "'. Unset it, or set it to one of the regions that 'berth region-set' lists.");
  }
  throw Failure("The targeted region '" + region + "' is not in '" + file().string() +
                "'. Run 'berth region-set' to list the regions and choose one.");
}

void write_file_atomically(const fs::path& path, std::string_view content, unsigned mode) {
  fs::path parent = path.parent_path();
  if (!parent.empty() && !fs::exists(parent)) {
    std::error_code error;
    fs::create_directories(parent, error);
    if (error) throw Failure("Cannot create the directory '" + parent.string() + "': " + error.message() + ".");
    ::chmod(parent.c_str(), 0700);
  }
  fs::path temporary = path;
  temporary += ".tmp" + std::to_string(::getpid());
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw Failure("Cannot write '" + temporary.string() + "': " + std::strerror(errno) + ".");
  ::fchmod(fd, mode);
  std::size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int saved = errno;
      ::close(fd);
      ::unlink(temporary.c_str());
      throw Failure("Cannot write '" + temporary.string() + "': " + std::strerror(saved) + ".");
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(temporary.c_str());
    throw Failure("Cannot write '" + temporary.string() + "': " + std::strerror(errno) + ".");
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    int saved = errno;
    ::unlink(temporary.c_str());
    throw Failure("Cannot replace '" + path.string() + "': " + std::strerror(saved) + ".");
  }
}

}  // namespace berth::cli
