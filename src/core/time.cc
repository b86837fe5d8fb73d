#include "core/time.h"

#include <chrono>
#include <ctime>

namespace berth::core {

std::int64_t unix_now() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

std::string format_utc(std::int64_t unix_seconds, const char* format) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm parts{};
  gmtime_r(&t, &parts);
  char out[64];
  std::size_t length = std::strftime(out, sizeof out, format, &parts);
  return std::string(out, length);
}

std::string format_rfc3339(std::int64_t unix_seconds) { return format_utc(unix_seconds, "%Y-%m-%dT%H:%M:%SZ"); }

namespace {

// Reads exactly `count` digits at `pos`; nullopt if any is not a digit.
std::optional<int> read_digits(std::string_view text, std::size_t pos, std::size_t count) {
  if (pos + count > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

bool has_char(std::string_view text, std::size_t pos, std::string_view allowed) {
  return pos < text.size() && allowed.find(text[pos]) != std::string_view::npos;
}

}  // namespace

std::optional<std::int64_t> parse_rfc3339(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS, then an optional fraction, then Z or +HH:MM / -HH:MM.
  auto year = read_digits(text, 0, 4);
  auto month = read_digits(text, 5, 2);
  auto day = read_digits(text, 8, 2);
  auto hour = read_digits(text, 11, 2);
  auto minute = read_digits(text, 14, 2);
  auto second = read_digits(text, 17, 2);
  if (!year || !month || !day || !hour || !minute || !second || !has_char(text, 4, "-") || !has_char(text, 7, "-") ||
      !has_char(text, 10, "Tt ") || !has_char(text, 13, ":") || !has_char(text, 16, ":")) {
    return std::nullopt;
  }
  if (*month < 1 || *month > 12 || *day < 1 || *day > 31 || *hour > 23 || *minute > 59 || *second > 60) {
    return std::nullopt;
  }

  std::size_t pos = 19;
  if (has_char(text, pos, ".")) {
    ++pos;
    std::size_t digits_start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    if (pos == digits_start) return std::nullopt;
  }

  std::int64_t offset_seconds = 0;
  if (has_char(text, pos, "Zz")) {
    ++pos;
  } else if (has_char(text, pos, "+-")) {
    int sign = text[pos] == '-' ? -1 : 1;
    auto offset_hours = read_digits(text, pos + 1, 2);
    auto offset_minutes = read_digits(text, pos + 4, 2);
    if (!offset_hours || !offset_minutes || !has_char(text, pos + 3, ":") || *offset_hours > 23 ||
        *offset_minutes > 59) {
      return std::nullopt;
    }
    offset_seconds = sign * (*offset_hours * 3600 + *offset_minutes * 60);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;

  std::tm parts{};
  parts.tm_year = *year - 1900;
  parts.tm_mon = *month - 1;
  parts.tm_mday = *day;
  parts.tm_hour = *hour;
  parts.tm_min = *minute;
  parts.tm_sec = *second;
  std::time_t utc = timegm(&parts);
  return static_cast<std::int64_t>(utc) - offset_seconds;
}

}  // namespace berth::core
