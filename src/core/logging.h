// spdlog set-up. Every line is "time level message" where the message is
// an event name followed by key=value fields, e.g.
//   2026-12-04T20:52:45.120Z info access request_id=... method=GET status=200
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

namespace berth::core {

// Configures the default logger to write to standard error at `level`
// ("trace", "debug", "info", "warn", "error", "off"). Throws
// std::invalid_argument for an unknown level name.
void setup_logging(std::string_view level);

// Quotes a field value when it contains spaces, quotes or control
// characters, so each line stays one record per line.
std::string log_value(std::string_view value);

}  // namespace berth::core
