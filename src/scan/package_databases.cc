// Parsers of the files an image inventory is made from: os-release, dpkg's
// status database, apk's installed database and rpm's SQLite database. The
// input comes from image layers, so every parser treats it as hostile:
// malformed stanzas are skipped, and fields that are not the plain ASCII
// tokens the package tools write are rejected rather than passed on.
#include "scan/inventory.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace berth::scan {

namespace {

// --- Text helpers ---

std::string_view trim(std::string_view text) {
  const char* whitespace = " \t\r\n";
  std::size_t first = text.find_first_not_of(whitespace);
  if (first == std::string_view::npos) return {};
  std::size_t last = text.find_last_not_of(whitespace);
  return text.substr(first, last - first + 1);
}

std::string lowercase(std::string_view text) {
  std::string result(text);
  for (char& c : result) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return result;
}

// Package names, versions and architectures of all three formats are
// printable ASCII without spaces.
bool is_token(std::string_view text) {
  if (text.empty()) return false;
  return std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// Replaces control characters and bytes that are not part of valid UTF-8
// with '?', so that a hostile os-release cannot put invalid text into JSON.
std::string sanitize_utf8(std::string_view text) {
  std::string result;
  result.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    auto byte = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    if (byte >= 0x20 && byte < 0x7f) {
      length = 1;
    } else if (byte >= 0xc2 && byte <= 0xdf) {
      length = 2;
    } else if (byte >= 0xe0 && byte <= 0xef) {
      length = 3;
    } else if (byte >= 0xf0 && byte <= 0xf4) {
      length = 4;
    }
    bool valid = length > 0 && i + length <= text.size();
    for (std::size_t k = 1; valid && k < length; ++k) {
      valid = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
    }
    // Overlong forms and surrogates are invalid too.
    if (valid && length == 3) {
      auto second = static_cast<unsigned char>(text[i + 1]);
      valid = !(byte == 0xe0 && second < 0xa0) && !(byte == 0xed && second >= 0xa0);
    } else if (valid && length == 4) {
      auto second = static_cast<unsigned char>(text[i + 1]);
      valid = !(byte == 0xf0 && second < 0x90) && !(byte == 0xf4 && second >= 0x90);
    }
    if (valid) {
      result.append(text.substr(i, length));
      i += length;
    } else {
      result.push_back('?');
      ++i;
    }
  }
  return result;
}

// Calls `visit` with the lines of each stanza of a deb822-style file
// (dpkg status, apk installed), where blank lines separate stanzas.
template <typename Visit>
void for_each_stanza(std::string_view text, Visit visit) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) {
      if (!lines.empty()) visit(lines);
      lines.clear();
    } else {
      lines.push_back(line);
    }
    start = end + 1;
  }
  if (!lines.empty()) visit(lines);
}

// dpkg's package states in which the package's files are on disk. The
// selection (install, hold, deinstall, purge) does not matter: a held
// package, or one selected for removal but not yet removed, is installed.
bool dpkg_files_on_disk(std::string_view status) {
  std::size_t space = status.rfind(' ');
  std::string_view state = space == std::string_view::npos ? status : status.substr(space + 1);
  return state == "installed" || state == "triggers-pending" || state == "triggers-awaited" ||
         state == "half-configured" || state == "unpacked";
}

// --- RPM headers ---

// Tags and types of the RPM header format (rpmtag.h in rpm's sources).
// The tests check them against databases that rpm itself wrote.
constexpr std::uint32_t kTagName = 1000;
constexpr std::uint32_t kTagVersion = 1001;
constexpr std::uint32_t kTagRelease = 1002;
constexpr std::uint32_t kTagEpoch = 1003;
constexpr std::uint32_t kTagArch = 1022;
constexpr std::uint32_t kTagSourceRpm = 1044;
constexpr std::uint32_t kTypeInt32 = 4;
constexpr std::uint32_t kTypeString = 6;
constexpr std::uint32_t kTypeStringArray = 8;
constexpr std::uint32_t kTypeI18nString = 9;
// rpm rejects headers with more index entries than this (hdrchkTags in
// rpm's lib/header_internal.h).
constexpr std::uint32_t kMaxHeaderIndexEntries = 0x0000ffff;

std::uint32_t read_be32(const unsigned char* bytes) {
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) | (std::uint32_t{bytes[2]} << 8) |
         std::uint32_t{bytes[3]};
}

// The fields of one header blob that the inventory uses.
struct RpmHeaderFields {
  std::optional<std::string> name, version, release, arch, source_rpm;
  std::optional<std::uint32_t> epoch;
};

// Decodes a header blob (index count, data size, index entries, data
// store) and checks every offset against the data store. Throws
// std::runtime_error naming what is wrong.
RpmHeaderFields decode_rpm_header(const unsigned char* blob, std::size_t size) {
  if (size < 8) throw std::runtime_error("the header is " + std::to_string(size) + " bytes, shorter than 8");
  std::uint32_t index_count = read_be32(blob);
  std::uint32_t data_size = read_be32(blob + 4);
  if (index_count == 0 || index_count > kMaxHeaderIndexEntries) {
    throw std::runtime_error("the header has an invalid index entry count " + std::to_string(index_count));
  }
  std::uint64_t expected = 8 + std::uint64_t{index_count} * 16 + data_size;
  if (expected > size) {
    throw std::runtime_error("the header needs " + std::to_string(expected) + " bytes but the blob has " +
                             std::to_string(size));
  }

  const unsigned char* index = blob + 8;
  const unsigned char* data = index + std::size_t{index_count} * 16;
  RpmHeaderFields fields;
  for (std::uint32_t i = 0; i < index_count; ++i) {
    const unsigned char* entry = index + std::size_t{i} * 16;
    std::uint32_t tag = read_be32(entry);
    std::uint32_t type = read_be32(entry + 4);
    std::uint32_t offset = read_be32(entry + 8);
    std::uint32_t count = read_be32(entry + 12);

    std::optional<std::string>* text_field = nullptr;
    switch (tag) {
      case kTagName: text_field = &fields.name; break;
      case kTagVersion: text_field = &fields.version; break;
      case kTagRelease: text_field = &fields.release; break;
      case kTagArch: text_field = &fields.arch; break;
      case kTagSourceRpm: text_field = &fields.source_rpm; break;
      case kTagEpoch: break;
      default: continue;
    }
    std::string tag_name = "tag " + std::to_string(tag);

    if (tag == kTagEpoch) {
      if (type != kTypeInt32 || count == 0) {
        throw std::runtime_error(tag_name + " has type " + std::to_string(type) + " and count " +
                                 std::to_string(count) + ", not an INT32 value");
      }
      if (std::uint64_t{offset} + 4 > data_size) {
        throw std::runtime_error(tag_name + " has offset " + std::to_string(offset) + " outside the data store");
      }
      fields.epoch = read_be32(data + offset);
      continue;
    }

    if (type != kTypeString && type != kTypeStringArray && type != kTypeI18nString) {
      throw std::runtime_error(tag_name + " has type " + std::to_string(type) + ", not a string");
    }
    if (offset >= data_size) {
      throw std::runtime_error(tag_name + " has offset " + std::to_string(offset) + " outside the data store");
    }
    const void* terminator = std::memchr(data + offset, '\0', data_size - offset);
    if (terminator == nullptr) throw std::runtime_error(tag_name + " has a string without a terminating NUL");
    std::string value(reinterpret_cast<const char*>(data + offset),
                      static_cast<const unsigned char*>(terminator) - (data + offset));
    if (!is_token(value)) throw std::runtime_error(tag_name + " is empty or not printable ASCII");
    *text_field = std::move(value);
  }
  return fields;
}

// Splits "NAME-VERSION-RELEASE.src.rpm" into the name and "VERSION-RELEASE".
std::pair<std::string, std::string> split_source_rpm(std::string_view file_name) {
  for (std::string_view suffix : {".src.rpm", ".nosrc.rpm"}) {
    if (file_name.size() > suffix.size() && file_name.ends_with(suffix)) {
      file_name.remove_suffix(suffix.size());
      break;
    }
  }
  std::size_t release_dash = file_name.rfind('-');
  if (release_dash == std::string_view::npos || release_dash == 0) return {std::string(file_name), ""};
  std::size_t version_dash = file_name.rfind('-', release_dash - 1);
  if (version_dash == std::string_view::npos || version_dash == 0) return {std::string(file_name), ""};
  return {std::string(file_name.substr(0, version_dash)), std::string(file_name.substr(version_dash + 1))};
}

std::optional<Package> rpm_package(const RpmHeaderFields& fields) {
  if (!fields.name) throw std::runtime_error("the header has no NAME tag");
  if (!fields.version) throw std::runtime_error("the header has no VERSION tag");
  if (!fields.release) throw std::runtime_error("the header has no RELEASE tag");
  // Imported signing keys are stored as "gpg-pubkey" pseudo packages.
  if (*fields.name == "gpg-pubkey") return std::nullopt;

  Package package;
  package.name = *fields.name;
  std::string version_release = *fields.version + "-" + *fields.release;
  package.version = fields.epoch ? std::to_string(*fields.epoch) + ":" + version_release : version_release;
  package.architecture = fields.arch.value_or("");
  package.source = package.name;
  if (fields.source_rpm) {
    auto [source_name, source_version] = split_source_rpm(*fields.source_rpm);
    package.source = source_name;
    if (!source_version.empty() && source_version != version_release) package.source_version = source_version;
  }
  return package;
}

// SQLite URIs need '%', '?' and '#' (and anything unusual) escaped in the
// path; unreserved characters and '/' are kept as they are.
std::string sqlite_file_uri(const std::filesystem::path& path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string uri = "file:";
  for (char c : path.string()) {
    auto byte = static_cast<unsigned char>(c);
    bool keep = (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') || (byte >= '0' && byte <= '9') ||
                c == '/' || c == '-' || c == '.' || c == '_' || c == '~';
    if (keep) {
      uri.push_back(c);
    } else {
      uri.push_back('%');
      uri.push_back(kHex[byte >> 4]);
      uri.push_back(kHex[byte & 0x0f]);
    }
  }
  // With immutable=1, SQLite treats the file as unchanging while it is
  // open, so it takes no locks and creates no -wal or -shm file.
  return uri + "?mode=ro&immutable=1";
}

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using SqliteHandle = std::unique_ptr<sqlite3, SqliteCloser>;
using StatementHandle = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

StatementHandle prepare(sqlite3* db, const char* sql, const std::string& context) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &statement, nullptr) != SQLITE_OK) {
    std::string message = sqlite3_errmsg(db);
    sqlite3_finalize(statement);
    throw std::runtime_error(context + ": " + message);
  }
  return StatementHandle(statement);
}

}  // namespace

OsRelease parse_os_release(std::string_view text) {
  OsRelease release;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = trim(text.substr(start, end - start));
    start = end + 1;
    if (line.empty() || line.front() == '#') continue;
    std::size_t equals = line.find('=');
    if (equals == std::string_view::npos) continue;
    std::string_view key = trim(line.substr(0, equals));
    std::string_view raw = trim(line.substr(equals + 1));

    // Values follow shell quoting: double quotes with backslash escapes,
    // single quotes taken literally, or a bare word.
    std::string value;
    if (!raw.empty() && raw.front() == '"') {
      for (std::size_t i = 1; i < raw.size() && raw[i] != '"'; ++i) {
        if (raw[i] == '\\' && i + 1 < raw.size()) ++i;
        value.push_back(raw[i]);
      }
    } else if (!raw.empty() && raw.front() == '\'') {
      std::size_t close = raw.find('\'', 1);
      value = std::string(raw.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
    } else {
      value = std::string(raw);
    }
    value = sanitize_utf8(value);

    if (key == "ID") {
      release.id = value;
    } else if (key == "ID_LIKE") {
      release.id_like = value;
    } else if (key == "VERSION_ID") {
      release.version_id = value;
    } else if (key == "VERSION_CODENAME") {
      release.version_codename = value;
    } else if (key == "PRETTY_NAME") {
      release.pretty_name = value;
    }
  }
  return release;
}

std::vector<Package> parse_dpkg_status(std::string_view text) {
  std::vector<Package> packages;
  for_each_stanza(text, [&](const std::vector<std::string_view>& lines) {
    Package package;
    std::optional<std::string_view> status;
    std::string_view source;
    for (std::string_view line : lines) {
      // Continuation lines of multi-line fields (Description, Conffiles)
      // start with a space or a tab.
      if (line.front() == ' ' || line.front() == '\t') continue;
      std::size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string field = lowercase(trim(line.substr(0, colon)));
      std::string_view value = trim(line.substr(colon + 1));
      if (field == "package") {
        package.name = value;
      } else if (field == "version") {
        package.version = value;
      } else if (field == "architecture") {
        package.architecture = value;
      } else if (field == "source") {
        source = value;
      } else if (field == "status") {
        status = value;
      }
    }
    if (status && !dpkg_files_on_disk(*status)) return;
    if (!is_token(package.name) || !is_token(package.version)) return;
    if (!package.architecture.empty() && !is_token(package.architecture)) return;

    // "Source: name" or "Source: name (version)".
    std::size_t parenthesis = source.find('(');
    std::string_view source_name = trim(source.substr(0, parenthesis));
    if (parenthesis != std::string_view::npos) {
      std::string_view inside = source.substr(parenthesis + 1);
      std::size_t close = inside.find(')');
      if (close == std::string_view::npos) return;
      std::string_view source_version = trim(inside.substr(0, close));
      if (!is_token(source_version)) return;
      package.source_version = source_version;
    }
    if (!source_name.empty() && !is_token(source_name)) return;
    package.source = source_name.empty() ? package.name : std::string(source_name);
    packages.push_back(std::move(package));
  });
  return packages;
}

std::vector<Package> parse_apk_installed(std::string_view text) {
  std::vector<Package> packages;
  for_each_stanza(text, [&](const std::vector<std::string_view>& lines) {
    Package package;
    for (std::string_view line : lines) {
      if (line.size() < 2 || line[1] != ':') continue;
      std::string_view value = trim(line.substr(2));
      switch (line[0]) {
        case 'P': package.name = value; break;
        case 'V': package.version = value; break;
        case 'A': package.architecture = value; break;
        case 'o': package.source = value; break;
        default: break;
      }
    }
    if (!is_token(package.name) || !is_token(package.version)) return;
    if (!package.architecture.empty() && !is_token(package.architecture)) return;
    if (!package.source.empty() && !is_token(package.source)) return;
    if (package.source.empty()) package.source = package.name;
    packages.push_back(std::move(package));
  });
  return packages;
}

std::vector<Package> read_rpmdb_sqlite(const std::filesystem::path& path) {
  std::string context = "RPM database " + path.string();
  sqlite3* raw_db = nullptr;
  int opened = sqlite3_open_v2(sqlite_file_uri(path).c_str(), &raw_db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr);
  SqliteHandle db(raw_db);
  if (opened != SQLITE_OK) {
    std::string message = raw_db != nullptr ? sqlite3_errmsg(raw_db) : sqlite3_errstr(opened);
    throw std::runtime_error(context + " could not be opened: " + message);
  }
  // The file comes from an image: do not let its schema run anything.
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);

  // A view named Packages could make the query below run arbitrary SQL.
  auto kind = prepare(db.get(), "SELECT type FROM sqlite_schema WHERE name = 'Packages'",
                      context + " is not an SQLite database");
  int step = sqlite3_step(kind.get());
  if (step != SQLITE_ROW) {
    if (step == SQLITE_DONE) throw std::runtime_error(context + " has no Packages table");
    throw std::runtime_error(context + " could not be read: " + sqlite3_errmsg(db.get()));
  }
  const auto* type = reinterpret_cast<const char*>(sqlite3_column_text(kind.get(), 0));
  if (type == nullptr || std::strcmp(type, "table") != 0) {
    throw std::runtime_error(context + " has a Packages object that is not a table");
  }

  auto rows = prepare(db.get(), "SELECT hnum, blob FROM Packages ORDER BY hnum", context + " could not be read");
  std::vector<Package> packages;
  while ((step = sqlite3_step(rows.get())) == SQLITE_ROW) {
    std::int64_t hnum = sqlite3_column_int64(rows.get(), 0);
    const auto* blob = static_cast<const unsigned char*>(sqlite3_column_blob(rows.get(), 1));
    auto size = static_cast<std::size_t>(sqlite3_column_bytes(rows.get(), 1));
    try {
      if (blob == nullptr) throw std::runtime_error("the header is empty");
      std::optional<Package> package = rpm_package(decode_rpm_header(blob, size));
      if (package) packages.push_back(std::move(*package));
    } catch (const std::runtime_error& error) {
      throw std::runtime_error(context + ": package " + std::to_string(hnum) + " is malformed: " + error.what());
    }
  }
  if (step != SQLITE_DONE) throw std::runtime_error(context + " could not be read: " + sqlite3_errmsg(db.get()));
  return packages;
}

}  // namespace berth::scan
