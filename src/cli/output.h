// Output in the IBM Cloud CLI's layout. A progress line ends in "...", and
// a blank line, the result, a blank line and "OK" follow it. A failure
// prints "FAILED" and the next step on standard error. Tables pad columns
// with spaces; times are relative and sizes are decimal SI units.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace berth::cli {

// A failure to report as FAILED, with a message that names the next step.
class Failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  void add_row(std::vector<std::string> cells);
  // Columns are separated by three spaces; the last one is not padded.
  void print(std::ostream& out) const;
  std::size_t rows() const { return rows_.size(); }

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// "433 B", "1.8 MB", "165 MB": three significant digits, powers of 1000.
std::string human_size(std::uint64_t bytes);
// "Less than a second", "40 seconds", "About an hour", "2 weeks", "1 year".
std::string human_duration(std::int64_t seconds);
// human_duration(now - unix_seconds) + " ago"; "-" when unix_seconds is 0.
std::string relative_time(std::int64_t unix_seconds, std::int64_t now);
// The first 12 hex digits of "sha256:<hex>".
std::string short_digest(std::string_view digest);

// Writes the command's normal output, unless the command runs in a mode
// that prints only data (--format, --quiet, --output json).
class Reporter {
 public:
  Reporter(std::ostream& out, bool data_only) : out_(out), data_only_(data_only) {}
  bool data_only() const { return data_only_; }
  // "Listing images..." followed by a blank line.
  void progress(std::string_view line);
  // One line of result text.
  void line(std::string_view text);
  void table(const Table& table);
  // A blank line and "OK".
  void ok();

 private:
  std::ostream& out_;
  bool data_only_;
};

// Shows a spinner with the elapsed time on standard error while waiting,
// but only when standard error is a terminal and the wait passes a second.
class Spinner {
 public:
  explicit Spinner(std::string what);
  ~Spinner();
  Spinner(const Spinner&) = delete;
  Spinner& operator=(const Spinner&) = delete;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace berth::cli
