#include "core/logging.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <stdexcept>

namespace berth::core {

void setup_logging(std::string_view level) {
  auto parsed = spdlog::level::from_str(std::string(level));
  // from_str maps every unknown name to "off"; only "off" itself may do so.
  if (parsed == spdlog::level::off && level != "off") {
    throw std::invalid_argument("unknown log level \"" + std::string(level) +
                                "\"; use trace, debug, info, warn, error or off");
  }
  auto logger = spdlog::stderr_logger_mt("berth");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  spdlog::set_level(parsed);
  spdlog::flush_on(spdlog::level::warn);
}

std::string log_value(std::string_view value) {
  bool needs_quotes = value.empty();
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) needs_quotes = true;
  }
  if (!needs_quotes) return std::string(value);

  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace berth::core
