#include "scan/osv.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "scan/inventory.h"

namespace berth::scan {
namespace {

// Members of an all.zip archive are single advisories of a few kilobytes;
// the limit only keeps a hostile archive from filling memory.
constexpr std::size_t kMaxZipMemberBytes = 32u << 20;
constexpr std::size_t kMaxSummaryCharacters = 300;

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    std::size_t end = text.find(separator, start);
    parts.emplace_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

bool is_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

// "MAJOR.MINOR" from a version such as "3.19.1" or "22.04", or empty when
// the version does not start with two numeric components.
std::string major_minor(std::string_view version) {
  std::vector<std::string> parts = split(version, '.');
  if (parts.size() < 2 || !is_digits(parts[0]) || !is_digits(parts[1])) return {};
  return parts[0] + "." + parts[1];
}

// The numeric major version of "12", "9.3" or "9", or empty.
std::string major_of(std::string_view version) {
  std::string major = split(version, '.').front();
  return is_digits(major) ? major : std::string();
}

bool is_cve_id(std::string_view text) {
  // CVE-YYYY-NNNN with four or more digits in the sequence number.
  if (text.size() < 13 || text.substr(0, 4) != "CVE-" || text[8] != '-') return false;
  return is_digits(text.substr(4, 4)) && is_digits(text.substr(9));
}

// The CVE id inside an OSV id: the id itself ("CVE-2022-40674"), or the id
// after a database prefix of capital letters ("DEBIAN-CVE-2022-40674",
// "ALPINE-CVE-...", "UBUNTU-CVE-...").
std::optional<std::string> cve_of_id(std::string_view id) {
  if (is_cve_id(id)) return std::string(id);
  std::size_t dash = id.find('-');
  if (dash == std::string_view::npos || dash == 0) return std::nullopt;
  std::string_view prefix = id.substr(0, dash);
  if (!std::all_of(prefix.begin(), prefix.end(), [](unsigned char c) { return std::isupper(c); })) return std::nullopt;
  std::string_view rest = id.substr(dash + 1);
  if (is_cve_id(rest)) return std::string(rest);
  return std::nullopt;
}

// A string member of a JSON object, or empty when it is missing or not a
// string. OSV feeds leave optional fields out, and a field of the wrong type
// is treated as absent rather than failing the whole import.
std::string string_field(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

const nlohmann::json* array_field(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || !it->is_array()) return nullptr;
  return &*it;
}

std::string_view trim(std::string_view text) {
  const char* whitespace = " \t\r\n";
  std::size_t first = text.find_first_not_of(whitespace);
  if (first == std::string_view::npos) return {};
  std::size_t last = text.find_last_not_of(whitespace);
  return text.substr(first, last - first + 1);
}

// Cuts `text` after `max_characters` UTF-8 code points, never inside one.
std::string truncate_utf8(std::string_view text, std::size_t max_characters) {
  std::size_t characters = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    bool starts_character = (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
    if (!starts_character) continue;
    if (characters == max_characters) return std::string(trim(text.substr(0, i)));
    ++characters;
  }
  return std::string(text);
}

// The summary, or else the first non-empty line of the details.
std::string summary_of(const nlohmann::json& record) {
  std::string summary(trim(string_field(record, "summary")));
  if (summary.empty()) {
    std::string details = string_field(record, "details");
    for (const std::string& line : split(details, '\n')) {
      std::string_view trimmed = trim(line);
      if (trimmed.empty()) continue;
      summary = trimmed;
      break;
    }
  }
  return truncate_utf8(summary, kMaxSummaryCharacters);
}

std::vector<std::string> cves_of(const nlohmann::json& record, const std::string& id) {
  std::set<std::string> cves;
  if (auto cve = cve_of_id(id)) cves.insert(*cve);
  for (const char* key : {"aliases", "upstream"}) {
    const nlohmann::json* ids = array_field(record, key);
    if (ids == nullptr) continue;
    for (const nlohmann::json& alias : *ids) {
      if (alias.is_string() && is_cve_id(alias.get<std::string>())) cves.insert(alias.get<std::string>());
    }
  }
  return {cves.begin(), cves.end()};
}

// Appends one AffectedRecord per "fixed" event of an ECOSYSTEM range,
// paired with the last "introduced" event before it. "last_affected" and
// "limit" events bound no fixed range, so they add nothing.
// NOTE: events are paired in the order the record lists them, which is how
// the Debian, Alpine and Red Hat feeds write them. They are not sorted by
// version as the OSV evaluation algorithm allows.
void append_fixed_ranges(const nlohmann::json& range, const std::string& ecosystem, const std::string& package,
                         std::vector<metadata::AffectedRecord>& affected) {
  if (string_field(range, "type") != "ECOSYSTEM") return;
  const nlohmann::json* events = array_field(range, "events");
  if (events == nullptr) return;

  std::string introduced;
  for (const nlohmann::json& event : *events) {
    if (!event.is_object()) continue;
    if (event.contains("introduced")) introduced = string_field(event, "introduced");
    std::string fixed = string_field(event, "fixed");
    if (fixed.empty()) continue;

    metadata::AffectedRecord record{
        .ecosystem = ecosystem, .package = package, .introduced = introduced, .fixed = std::move(fixed)};
    if (std::find(affected.begin(), affected.end(), record) == affected.end()) affected.push_back(std::move(record));
  }
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": opening the file for reading failed");
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) throw std::runtime_error(path.string() + ": reading the file failed");
  return contents.str();
}

class ImportBuilder {
 public:
  // Adds the records of one JSON document. `origin` names the document in
  // errors ("FILE" or "ARCHIVE: member NAME").
  void add_document(std::string_view text, const std::string& origin) {
    nlohmann::json document;
    try {
      document = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& error) {
      throw std::runtime_error(origin + ": invalid JSON: " + error.what());
    }
    ++result_.files;

    if (document.is_object()) {
      add_record(document, origin);
    } else if (document.is_array()) {
      for (std::size_t i = 0; i < document.size(); ++i) {
        add_record(document[i], origin + ": record " + std::to_string(i + 1));
      }
    } else {
      throw std::runtime_error(origin + ": expected an OSV record (a JSON object) or an array of records");
    }
  }

  OsvImport finish() {
    std::set<std::string> ecosystems;
    for (auto& [id, advisory] : by_id_) {
      for (const metadata::AffectedRecord& affected : advisory.affected) ecosystems.insert(affected.ecosystem);
      result_.advisories.push_back(std::move(advisory));
    }
    result_.ecosystems.assign(ecosystems.begin(), ecosystems.end());
    return std::move(result_);
  }

 private:
  void add_record(const nlohmann::json& record, const std::string& origin) {
    ++result_.records;
    std::optional<metadata::AdvisoryRecord> advisory;
    try {
      advisory = parse_osv_record(record);
    } catch (const std::runtime_error& error) {
      throw std::runtime_error(origin + ": " + error.what());
    }
    if (!advisory) {
      ++result_.skipped;
      return;
    }
    std::string id = advisory->id;
    by_id_.insert_or_assign(std::move(id), std::move(*advisory));
  }

  OsvImport result_;
  std::map<std::string, metadata::AdvisoryRecord> by_id_;
};

using ArchivePointer = std::unique_ptr<archive, decltype(&archive_read_free)>;

void read_zip(const std::filesystem::path& path, ImportBuilder& builder) {
  ArchivePointer reader(archive_read_new(), archive_read_free);
  if (!reader) throw std::runtime_error(path.string() + ": allocating a libarchive reader failed");
  archive_read_support_format_zip(reader.get());
  if (archive_read_open_filename(reader.get(), path.c_str(), 64 * 1024) != ARCHIVE_OK) {
    throw std::runtime_error(path.string() + ": reading the zip archive failed: " + archive_error_string(reader.get()));
  }

  archive_entry* entry = nullptr;
  for (;;) {
    int status = archive_read_next_header(reader.get(), &entry);
    if (status == ARCHIVE_EOF) break;
    if (status < ARCHIVE_WARN) {
      throw std::runtime_error(path.string() +
                               ": reading the zip archive failed: " + archive_error_string(reader.get()));
    }

    const char* raw_name = archive_entry_pathname(entry);
    std::string name = raw_name != nullptr ? raw_name : "";
    std::string origin = path.string() + ": member " + name;
    if (archive_entry_filetype(entry) != AE_IFREG || !lowercase(name).ends_with(".json")) continue;
    if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > static_cast<la_int64_t>(kMaxZipMemberBytes)) {
      throw std::runtime_error(origin + ": larger than the limit of " + std::to_string(kMaxZipMemberBytes) +
                               " bytes per member");
    }

    // The size in the zip header can be absent (data descriptors), so the
    // limit is also checked while reading.
    std::string data;
    char buffer[64 * 1024];
    for (;;) {
      la_ssize_t read = archive_read_data(reader.get(), buffer, sizeof buffer);
      if (read == 0) break;
      if (read < 0) throw std::runtime_error(origin + ": reading failed: " + archive_error_string(reader.get()));
      if (data.size() + static_cast<std::size_t>(read) > kMaxZipMemberBytes) {
        throw std::runtime_error(origin + ": larger than the limit of " + std::to_string(kMaxZipMemberBytes) +
                                 " bytes per member");
      }
      data.append(buffer, static_cast<std::size_t>(read));
    }
    builder.add_document(data, origin);
  }
}

enum class OsvFileType { kJson, kZip, kOther };

OsvFileType file_type_of(const std::filesystem::path& path) {
  std::string extension = lowercase(path.extension().string());
  if (extension == ".json") return OsvFileType::kJson;
  if (extension == ".zip") return OsvFileType::kZip;
  return OsvFileType::kOther;
}

void read_osv_file(const std::filesystem::path& path, ImportBuilder& builder) {
  switch (file_type_of(path)) {
    case OsvFileType::kJson:
      builder.add_document(read_file(path), path.string());
      return;
    case OsvFileType::kZip:
      read_zip(path, builder);
      return;
    case OsvFileType::kOther:
      break;
  }
  throw std::runtime_error(path.string() + ": unsupported file type. Expected a .json file or a .zip archive of them");
}

}  // namespace

std::optional<std::string> normalize_ecosystem(std::string_view osv_ecosystem) {
  std::vector<std::string> parts = split(osv_ecosystem, ':');
  const std::string& name = parts.front();

  if (name == "Debian") {
    // "Debian:12"; a release without a number ("Debian:sid") matches no image.
    if (parts.size() != 2 || !is_digits(parts[1])) return std::nullopt;
    return "debian:" + parts[1];
  }

  if (name == "Alpine") {
    if (parts.size() != 2 || !parts[1].starts_with('v')) return std::nullopt;
    std::string release = parts[1].substr(1);
    if (major_minor(release) != release) return std::nullopt;
    return "alpine:" + release;
  }

  if (name == "Ubuntu") {
    // "Ubuntu:22.04", "Ubuntu:22.04:LTS" or "Ubuntu:Pro:22.04:LTS".
    std::size_t index = 1;
    if (index < parts.size() && parts[index] == "Pro") ++index;
    if (index >= parts.size()) return std::nullopt;
    const std::string& release = parts[index];
    if (major_minor(release) != release) return std::nullopt;
    ++index;
    if (index < parts.size() && parts[index] == "LTS") ++index;
    if (index != parts.size()) return std::nullopt;
    return "ubuntu:" + release;
  }

  if (name == "Red Hat") {
    // "Red Hat:enterprise_linux:9::baseos" and other streams of the base
    // product. Extended support streams (rhel_aus, rhel_eus, ...) fix
    // packages that a standard RHEL or UBI image does not get.
    if (parts.size() < 3 || parts[1] != "enterprise_linux") return std::nullopt;
    std::string major = major_of(parts[2]);
    if (major.empty()) return std::nullopt;
    return "rhel:" + major;
  }

  return std::nullopt;
}

std::optional<std::string> ecosystem_key(const OsRelease& os) {
  if (os.id == "debian") {
    std::string major = major_of(os.version_id);
    if (major.empty()) return std::nullopt;
    return "debian:" + major;
  }
  if (os.id == "ubuntu") {
    std::string release = major_minor(os.version_id);
    if (release.empty()) return std::nullopt;
    return "ubuntu:" + release;
  }
  if (os.id == "alpine") {
    std::string release = major_minor(os.version_id);
    if (release.empty()) return std::nullopt;
    return "alpine:" + release;
  }

  // Rebuilds of RHEL declare it in ID_LIKE; their packages carry the same
  // names and versions, so RHEL's advisories apply to them.
  std::vector<std::string> like = split(os.id_like, ' ');
  bool rhel_like = std::find(like.begin(), like.end(), "rhel") != like.end();
  bool rhel_rebuild = os.id == "centos" || os.id == "rocky" || os.id == "almalinux";
  if (os.id == "rhel" || (rhel_rebuild && rhel_like)) {
    std::string major = major_of(os.version_id);
    if (major.empty()) return std::nullopt;
    return "rhel:" + major;
  }
  return std::nullopt;
}

std::optional<metadata::AdvisoryRecord> parse_osv_record(const nlohmann::json& record) {
  if (!record.is_object()) throw std::runtime_error("an OSV record must be a JSON object");
  std::string id = string_field(record, "id");
  if (id.empty()) throw std::runtime_error("the OSV record has no \"id\" string");

  // A withdrawn advisory no longer applies to anything.
  if (!string_field(record, "withdrawn").empty()) return std::nullopt;

  metadata::AdvisoryRecord advisory{.id = id,
                                    .cves = cves_of(record, id),
                                    .summary = summary_of(record),
                                    .modified = string_field(record, "modified"),
                                    .affected = {}};

  const nlohmann::json* affected = array_field(record, "affected");
  if (affected != nullptr) {
    for (const nlohmann::json& entry : *affected) {
      const nlohmann::json& package =
          entry.is_object() && entry.contains("package") ? entry["package"] : nlohmann::json();
      std::optional<std::string> ecosystem = normalize_ecosystem(string_field(package, "ecosystem"));
      std::string name = string_field(package, "name");
      if (!ecosystem || name.empty()) continue;

      const nlohmann::json* ranges = array_field(entry, "ranges");
      if (ranges == nullptr) continue;
      for (const nlohmann::json& range : *ranges) append_fixed_ranges(range, *ecosystem, name, advisory.affected);
    }
  }

  if (advisory.affected.empty()) return std::nullopt;
  return advisory;
}

OsvImport read_osv(const std::filesystem::path& path) {
  std::error_code error;
  std::filesystem::file_status status = std::filesystem::status(path, error);
  if (error || !std::filesystem::exists(status)) {
    throw std::runtime_error(path.string() + ": not found; expected an OSV .json file, a .zip archive or a directory");
  }

  ImportBuilder builder;
  if (!std::filesystem::is_directory(status)) {
    read_osv_file(path, builder);
    return builder.finish();
  }

  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(path)) {
    if (entry.is_regular_file() && file_type_of(entry.path()) != OsvFileType::kOther) files.push_back(entry.path());
  }
  // An empty import would replace every stored advisory with nothing, which
  // a mistyped directory should not do.
  if (files.empty()) throw std::runtime_error(path.string() + ": the directory contains no .json or .zip files");

  std::sort(files.begin(), files.end(),
            [](const auto& a, const auto& b) { return a.filename().string() < b.filename().string(); });
  for (const auto& file : files) read_osv_file(file, builder);
  return builder.finish();
}

}  // namespace berth::scan
