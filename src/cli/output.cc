#include "cli/output.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <ostream>
#include <thread>

namespace berth::cli {

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::add_row(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

void Table::print(std::ostream& out) const {
  std::vector<std::size_t> widths(headers_.size(), 0);
  auto measure = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) widths[i] = std::max(widths[i], cells[i].size());
  };
  measure(headers_);
  for (const auto& row : rows_) measure(row);
  auto print_row = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      line += cells[i];
      if (i + 1 < cells.size()) line += std::string(widths[i] - cells[i].size() + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
  };
  print_row(headers_);
  for (const auto& row : rows_) print_row(row);
}

std::string human_size(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1000 && unit + 1 < std::size(kUnits)) {
    value /= 1000;
    ++unit;
  }
  // Three significant digits, as %.3g gives; 999.6 kB rounds to 1 MB.
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3g", value);
  if (std::strtod(buffer, nullptr) >= 1000 && unit + 1 < std::size(kUnits)) {
    value /= 1000;
    ++unit;
    std::snprintf(buffer, sizeof buffer, "%.3g", value);
  }
  std::string text = std::string(buffer) + " " + kUnits[unit];
  return text;
}

std::string human_duration(std::int64_t seconds) {
  auto plural = [](std::int64_t count, const char* unit) {
    return std::to_string(count) + " " + unit + (count == 1 ? "" : "s");
  };
  if (seconds < 1) return "Less than a second";
  if (seconds < 60) return plural(seconds, "second");
  std::int64_t minutes = seconds / 60;
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return plural(minutes, "minute");
  std::int64_t hours = static_cast<std::int64_t>(std::llround(static_cast<double>(seconds) / 3600));
  if (hours == 1) return "About an hour";
  if (hours < 48) return plural(hours, "hour");
  std::int64_t days = seconds / 86400;
  if (days < 14) return plural(days, "day");
  if (days < 60) return plural(days / 7, "week");
  if (days < 365) return plural(days / 30, "month");
  return plural(days / 365, "year");
}

std::string relative_time(std::int64_t unix_seconds, std::int64_t now) {
  if (unix_seconds <= 0) return "-";
  return human_duration(std::max<std::int64_t>(0, now - unix_seconds)) + " ago";
}

std::string short_digest(std::string_view digest) {
  auto colon = digest.find(':');
  std::string_view hex = colon == std::string_view::npos ? digest : digest.substr(colon + 1);
  return std::string(hex.substr(0, 12));
}

void Reporter::progress(std::string_view line) {
  if (data_only_) return;
  out_ << line << "\n\n";
}

void Reporter::line(std::string_view text) {
  if (data_only_) return;
  out_ << text << '\n';
}

void Reporter::table(const Table& table) {
  if (data_only_) return;
  table.print(out_);
}

void Reporter::ok() {
  if (data_only_) return;
  out_ << "\nOK\n";
}

struct Spinner::State {
  std::mutex mutex;
  std::condition_variable changed;
  bool done = false;
  bool drawn = false;
  std::thread thread;
};

Spinner::Spinner(std::string what) {
  if (!isatty(STDERR_FILENO)) return;
  state_ = std::make_unique<State>();
  state_->thread = std::thread([state = state_.get(), what = std::move(what)] {
    static constexpr const char* kFrames[] = {"|", "/", "-", "\\"};
    auto start = std::chrono::steady_clock::now();
    std::unique_lock lock(state->mutex);
    if (state->changed.wait_for(lock, std::chrono::seconds(1), [&] { return state->done; })) return;
    for (std::size_t frame = 0; !state->done; ++frame) {
      auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start);
      std::fprintf(stderr, "\r%s %s (%lld s)", kFrames[frame % 4], what.c_str(),
                   static_cast<long long>(elapsed.count()));
      std::fflush(stderr);
      state->drawn = true;
      state->changed.wait_for(lock, std::chrono::milliseconds(150), [&] { return state->done; });
    }
  });
}

Spinner::~Spinner() {
  if (!state_) return;
  {
    std::lock_guard lock(state_->mutex);
    state_->done = true;
  }
  state_->changed.notify_all();
  state_->thread.join();
  if (state_->drawn) {
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
  }
}

}  // namespace berth::cli
