#include "scan/version.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace berth::scan {
namespace {

namespace fs = std::filesystem;

using Comparator = int (*)(std::string_view, std::string_view);

int sign(int value) { return (value > 0) - (value < 0); }

char relation_of(int order) { return order < 0 ? '<' : (order == 0 ? '=' : '>'); }

int order_of(char relation) { return relation == '<' ? -1 : (relation == '=' ? 0 : 1); }

// One expected ordering: `a` relation `b`, where relation is '<', '=' or '>'.
struct OrderCase {
  std::string_view a;
  char relation;
  std::string_view b;
};

// Checks a case in both directions, and that each side equals itself.
void check_case(Comparator compare, const OrderCase& order_case) {
  int expected = order_of(order_case.relation);
  EXPECT_EQ(sign(compare(order_case.a, order_case.b)), expected)
      << "expected " << order_case.a << " " << order_case.relation << " " << order_case.b;
  EXPECT_EQ(sign(compare(order_case.b, order_case.a)), -expected)
      << "expected " << order_case.b << " " << relation_of(-expected) << " " << order_case.a;
  EXPECT_EQ(compare(order_case.a, order_case.a), 0) << order_case.a << " differs from itself";
  EXPECT_EQ(compare(order_case.b, order_case.b), 0) << order_case.b << " differs from itself";
}

// --- Tables of known cases ---------------------------------------------------

// Every case here is also run through dpkg --compare-versions below.
const std::vector<OrderCase> kDpkgCases = {
    {"1.0", '<', "1.1"},
    {"1.9", '<', "1.10"},
    {"1.0", '=', "1.0-0"},  // a missing revision equals revision 0
    {"1.0", '=', "0:1.0"},  // a missing epoch is 0
    {"1:0.1", '>', "9.9"},
    {"1:1.0-1", '>', "0:99.0-99"},
    {"10:1.0", '>', "9:1.0"},
    {"1.0~rc1", '<', "1.0"},
    {"1.0~rc1", '<', "1.0~rc2"},
    {"1.0~beta1~git1", '<', "1.0~beta1"},
    {"1.0~~", '<', "1.0~~a"},
    {"1.0~~a", '<', "1.0~"},
    {"1.0~", '<', "1.0"},
    {"1.0", '<', "1.0a"},
    {"1.0a", '<', "1.0b"},
    {"1.0A", '<', "1.0a"},
    {"1.0z", '<', "1.0+"},  // letters sort before non-letters
    {"1.0+", '<', "1.0."},
    {"1.0", '<', "1.0.0"},
    {"1.0+dfsg", '>', "1.0"},
    {"1.0+dfsg-1", '<', "1.0.1-1"},
    {"2.36.1-8+deb12u1", '>', "2.36.1-8"},
    {"2.36.1-8+deb11u1", '<', "2.36.1-8+deb12u1"},
    {"7.88.1-10+deb12u5", '<', "7.88.1-10+deb12u12"},
    {"1.2.3-1~bpo11+1", '<', "1.2.3-1"},
    {"1.0-1ubuntu2", '>', "1.0-1"},
    {"1.0-1ubuntu2", '<', "1.0-2"},
    {"1.0-1ubuntu0.22.04.1", '<', "1.0-1ubuntu1"},
    {"1.0-1~exp1", '<', "1.0-1"},
    {"2.2.10-2+deb11u5", '<', "2.4.9-1"},
    {"1.01", '=', "1.1"},  // leading zeros do not count
    {"1.001", '<', "1.2"},
    {"1.0-01", '=', "1.0-1"},
    {"1.0-beta-1", '>', "1.0-1"},  // the revision starts after the last hyphen
    {"1:1.0:2-1", '>', "1:1.0-1"},  // with an epoch, the upstream part may contain colons
    {"1.18446744073709551616", '>', "1.18446744073709551615"},
    {"1.99999999999999999999999999999", '<', "1.100000000000000000000000000000"},
    {"2147483647:1.0", '>', "2147483646:9.0"},
    // Bytes from 0x80 sort between the letters and the other characters,
    // as dpkg orders them on amd64.
    {"1.0\xe9", '>', "1.0z"},
    {"1.0\xe9", '<', "1.0+"},
};

// No apk tool runs on Debian, so apk's ordering is checked only against
// these cases, which follow apk-tools' documented version format
// (doc/apk-package.5) and the ordering of its src/version.c.
const std::vector<OrderCase> kApkCases = {
    {"1.0", '<', "1.1"},
    {"1.9", '<', "1.10"},
    {"12.0", '>', "9.99"},
    {"006", '=', "6"},  // the first number compares by value
    {"1.0_alpha", '<', "1.0_alpha1"},
    {"1.0_alpha2", '<', "1.0_beta1"},
    {"1.0_beta9", '<', "1.0_pre1"},
    {"1.0_pre3", '<', "1.0_rc1"},
    {"1.0_rc1", '<', "1.0_rc2"},
    {"1.0_rc1", '<', "1.0"},
    {"1.0", '<', "1.0_cvs"},
    {"1.0_cvs", '<', "1.0_svn"},
    {"1.0_svn", '<', "1.0_git"},
    {"1.0_git", '<', "1.0_hg"},
    {"1.0_hg", '<', "1.0_p"},
    {"1.0", '<', "1.0_p1"},
    {"1.0_p9", '<', "1.0_p10"},
    {"1.0_rc1", '<', "1.0_p1"},
    {"1.0_alpha_pre2", '<', "1.0_alpha"},  // a pre-release suffix lowers the one before it
    {"1.0_rc1_p2", '>', "1.0_rc1"},
    {"1.0_rc1_p2", '<', "1.0"},
    {"1.0_pre20191002222144", '<', "1.0_pre20210530193627"},
    {"1.2.3a", '>', "1.2.3"},
    {"1.2.3a", '<', "1.2.3b"},
    {"1.2.3z", '<', "1.2.4"},
    {"1.2a", '<', "1.2.1"},  // a letter sorts before a further number
    {"1.0_p1", '<', "1.0a"},
    {"1.0-r1", '>', "1.0"},
    {"1.0-r10", '>', "1.0-r9"},
    {"1.0-r1", '<', "1.0_p1"},
    {"1.0_rc1-r5", '<', "1.0-r0"},
    {"1.0~0a1b", '>', "1.0"},
    {"1.0~0a1b", '<', "1.0~0a1c"},
    {"1.0-r1", '<', "1.0~0a1b"},
    {"1.0~0a1b-r1", '>', "1.0~0a1b"},
    {"1.05", '<', "1.5"},  // a later number with a leading zero compares as a string
    {"1.010", '<', "1.10"},
    {"1.0", '<', "1.00"},
    {"1.99999999999999999999999", '>', "1.18446744073709551615"},
    {"2.2.10-r0", '<', "2.4.9-r0"},
};

// Every case here is also run through python3-rpm's rpm.labelCompare below.
const std::vector<OrderCase> kRpmCases = {
    {"1.0", '<', "1.1"},
    {"1.9", '<', "1.10"},
    {"1.0", '=', "1_0"},  // separators only separate
    {"1.0", '=', "1..0"},
    {"1.0", '<', "1.0.0"},
    {"1.0~rc1", '<', "1.0"},
    {"1.0~rc1", '<', "1.0~rc2"},
    {"1.0~~", '<', "1.0~"},
    {"1.0~", '<', "1.0"},
    {"1.0^", '>', "1.0"},
    {"1.0^git1", '>', "1.0"},
    {"1.0^git1", '<', "1.0.1"},
    {"1.0^git1", '<', "1.0^git2"},
    {"1.0^git1", '>', "1.0~rc1"},
    {"1.0~rc1^git1", '>', "1.0~rc1"},
    {"1.0~rc1^git1", '<', "1.0"},
    {"1.0a", '>', "1.0"},
    {"1.0a", '<', "1.0.1"},  // a number segment is newer than a letter segment
    {"1.0+git", '<', "1.0.1"},
    {"6.0.rc1", '>', "6.0"},
    {"2.0.1a", '>', "2.0.1"},
    {"5.5p1", '<', "5.5p10"},
    {"10b2", '>', "10a1"},
    {"1.0A", '<', "1.0a"},
    {"10.0001", '=', "10.1"},  // leading zeros do not count
    {"1.99999999999999999999999", '>', "1.18446744073709551615"},
    {"1.0-1", '>', "1.0"},  // a missing release sorts first in labelCompare
    {"1.0-1", '<', "1.0-2"},
    {"1.0-9", '<', "1.0-10"},
    {"1:1.0-1", '>', "2.0-1"},
    {"0:1.0-1", '=', "1.0-1"},  // a missing epoch is 0
    {"00:1.0-1", '=', "1.0-1"},
    {"1.0-1.el9", '<', "1.0-1.el9_3"},
    {"3.0.7-24.el9", '<', "3.0.7-25.el9_3"},
    {"1:3.0.7-24.el9", '>', "0:3.0.7-27.el9"},
    {"1.2.11-40.el9", '<', "1.2.11-41.el9"},
    {"1.0-0.1.beta2.el8", '<', "1.0-1.el8"},
    {"1.0-1.fc39", '<', "1.0-1.fc40"},
    {"1.0-2.el9~rc1", '<', "1.0-2.el9"},
};

TEST(CompareDpkg, KnownCases) {
  for (const OrderCase& order_case : kDpkgCases) check_case(compare_dpkg, order_case);
}

TEST(CompareApk, KnownCases) {
  for (const OrderCase& order_case : kApkCases) check_case(compare_apk, order_case);
}

TEST(CompareRpm, KnownCases) {
  for (const OrderCase& order_case : kRpmCases) check_case(compare_rpm, order_case);
}

// dpkg rejects these versions, and the comparator orders them as version.cc
// documents.
TEST(CompareDpkg, MalformedVersions) {
  const std::vector<OrderCase> cases = {
      {" 1.0 ", '=', "1.0"},   // surrounding white space is ignored
      {"1.0-", '=', "1.0"},    // an empty revision is no revision
      {"x:2.0", '<', "1:0"},    // a non-numeric epoch makes it all upstream, epoch 0
      {"x:2.0", '>', "9.0"},
      {"1:", '>', "99"},        // nothing after the epoch
      {"", '=', "0"},
      {"", '>', "0~"},
      {"99999999999999999999:1.0", '>', "99999999999999999998:9.0"},  // epochs above INT_MAX
  };
  for (const OrderCase& order_case : cases) check_case(compare_dpkg, order_case);
}

// apk stops reading a version at the first character outside its grammar.
// The unreadable rest sorts below any further part and below the end.
TEST(CompareApk, MalformedVersions) {
  const std::vector<OrderCase> cases = {
      {"1.0", '<', "1.0bc"},
      {"1.0bc", '<', "1.0b"},
      {"1.0bc", '=', "1.0bd"},  // unreadable at the same place after equal parts
      {"1.0_foo", '<', "1.0"},
      {"1.0_rc1", '<', "1.0_foo"},  // pre-release suffixes still sort lower
      {"1.0-1", '<', "1.0"},        // "-" must start -rN
      {"1.0-r1-r2", '<', "1.0-r1"},
      {"1.0A", '<', "1.0"},
      {"1.0.", '<', "1.0"},
      {"1.2a.3", '<', "1.2a"},
      {"1.0~", '<', "1.0"},
      {"abc", '=', "xyz"},  // unreadable from the start
      {"abc", '<', "0"},
      {"", '<', "0"},
  };
  for (const OrderCase& order_case : cases) check_case(compare_apk, order_case);
}

TEST(CompareRpm, EmptyParts) {
  const std::vector<OrderCase> cases = {
      {"", '<', "0"},
      {"", '=', ""},
      {":1.0-1", '=', "0:1.0-1"},  // an empty epoch is 0
      {"1.0-", '>', "1.0"},        // an empty release is still a release
      {"1.0-", '<', "1.0-0"},
  };
  for (const OrderCase& order_case : cases) check_case(compare_rpm, order_case);
}

TEST(CompareVersions, DispatchesOnFormat) {
  EXPECT_LT(compare_versions(PackageFormat::kApk, "1.0_rc1", "1.0"), 0);
  EXPECT_GT(compare_versions(PackageFormat::kDpkg, "1.0_rc1", "1.0"), 0);
  EXPECT_EQ(compare_versions(PackageFormat::kRpm, "1.0_1", "1.0.1"), 0);
  EXPECT_GT(compare_versions(PackageFormat::kDpkg, "1.0_1", "1.0.1"), 0);
}

// --- Generated versions ------------------------------------------------------

// Draws from a fixed-seed Mersenne Twister. The index is taken modulo the
// size instead of through a std:: distribution, whose output differs
// between standard libraries.
class Picker {
 public:
  explicit Picker(std::uint32_t seed) : engine_(seed) {}

  std::size_t index(std::size_t size) { return engine_() % size; }
  bool chance(unsigned percent) { return engine_() % 100 < percent; }

  template <typename T>
  const T& from(const std::vector<T>& choices) {
    return choices[index(choices.size())];
  }

 private:
  std::mt19937 engine_;
};

std::string join(const std::vector<std::string>& parts, Picker& picker, const std::vector<std::string>& separators) {
  std::string joined;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) joined += picker.from(separators);
    joined += parts[i];
  }
  return joined;
}

// A version in pieces, so that a generated pair can differ in one piece.
struct VersionPieces {
  std::string epoch;
  std::vector<std::string> numbers;
  std::string letter;
  std::string pre_release;
  std::string post_release;
  std::string revision;
};

// The pieces each format draws from. An empty string leaves a piece out.
struct PiecePools {
  std::vector<std::string> epochs;
  std::vector<std::string> numbers;
  std::vector<std::string> number_separators;
  std::vector<std::string> letters;
  std::vector<std::string> pre_releases;
  std::vector<std::string> post_releases;
  std::vector<std::string> revisions;
};

const PiecePools kDpkgPools = {
    .epochs = {"", "", "", "", "", "0:", "1:", "2:", "10:"},
    .numbers = {"0", "1", "2", "3", "9", "10", "12", "01", "007", "2024", "20240101",
                "123456789012345678901234567890"},
    .number_separators = {".", ".", ".", "+", "~"},
    .letters = {"", "", "", "", "a", "b", "z", "A"},
    .pre_releases = {"", "", "", "~rc1", "~rc2", "~beta1", "~beta", "~~", "~", "~rc1~git1"},
    .post_releases = {"", "", "", "+dfsg", "+dfsg1", "+ds", "+really2.0", "+git20230101.1a2b3c", "+b1", "-beta"},
    .revisions = {"", "", "-1", "-2", "-10", "-1ubuntu2", "-1ubuntu0.22.04.1", "-1+deb12u1", "-1+deb11u3",
                  "-1~bpo11+1", "-0.1", "-3build1", "-1.1", "-1~exp1", "-0"},
};

const PiecePools kRpmPools = {
    .epochs = {"", "", "", "", "0:", "1:", "2:", "01:"},
    .numbers = {"0", "1", "2", "3", "9", "10", "11", "01", "0001", "2024", "20240101",
                "99999999999999999999999999"},
    .number_separators = {".", ".", ".", "_", "+"},
    .letters = {"", "", "", "", "a", "b", "rc1", "p1", "git", ".beta2", ".rc1", "A"},
    .pre_releases = {"", "", "", "~rc1", "~rc2", "~beta", "~~", "~"},
    .post_releases = {"", "", "", "^git1", "^20240101git1a2b3c", "^1", "^"},
    .revisions = {"", "-1", "-2", "-10", "-1.el9", "-24.el9", "-25.el9_3", "-0.1.beta2.el8", "-3.fc39", "-1.fc40",
                  "-1.el9~rc1", "-1^git1.el9", "-40.el9"},
};

const PiecePools kApkPools = {
    .epochs = {""},
    .numbers = {"0", "1", "2", "9", "10", "05", "00", "2024", "18446744073709551616"},
    .number_separators = {"."},
    .letters = {"", "", "", "a", "b", "z"},
    .pre_releases = {"", "", "", "_alpha", "_beta2", "_pre", "_rc1", "_rc10", "_alpha_pre1", "_rc1_p2"},
    .post_releases = {"", "", "", "_cvs", "_svn1", "_git20240101", "_hg", "_p1", "_p10", "~0a1b", "~deadbeef",
                      "X", "bc", "_foo", "-1"},
    .revisions = {"", "", "-r0", "-r1", "-r2", "-r9", "-r10"},
};

VersionPieces random_pieces(const PiecePools& pools, Picker& picker) {
  VersionPieces pieces;
  pieces.epoch = picker.from(pools.epochs);
  std::size_t count = 1 + picker.index(4);
  for (std::size_t i = 0; i < count; ++i) pieces.numbers.push_back(picker.from(pools.numbers));
  pieces.letter = picker.from(pools.letters);
  pieces.pre_release = picker.from(pools.pre_releases);
  pieces.post_release = picker.from(pools.post_releases);
  pieces.revision = picker.from(pools.revisions);
  return pieces;
}

// Redraws one piece, or adds or drops a number.
VersionPieces vary_one_piece(VersionPieces pieces, const PiecePools& pools, Picker& picker) {
  switch (picker.index(8)) {
    case 0: pieces.epoch = picker.from(pools.epochs); break;
    case 1: pieces.numbers[picker.index(pieces.numbers.size())] = picker.from(pools.numbers); break;
    case 2: pieces.numbers.push_back(picker.from(pools.numbers)); break;
    case 3:
      if (pieces.numbers.size() > 1) pieces.numbers.pop_back();
      break;
    case 4: pieces.letter = picker.from(pools.letters); break;
    case 5: pieces.pre_release = picker.from(pools.pre_releases); break;
    case 6: pieces.post_release = picker.from(pools.post_releases); break;
    default: pieces.revision = picker.from(pools.revisions); break;
  }
  return pieces;
}

std::string render(const VersionPieces& pieces, const PiecePools& pools, Picker& picker) {
  return pieces.epoch + join(pieces.numbers, picker, pools.number_separators) + pieces.letter + pieces.pre_release +
         pieces.post_release + pieces.revision;
}

constexpr std::size_t kGeneratedPairs = 320;

// Returns pairs of generated versions. Three pairs in four differ in one
// piece only, so that most comparisons are decided late in the strings.
std::vector<std::pair<std::string, std::string>> generate_pairs(const PiecePools& pools, std::uint32_t seed) {
  Picker picker(seed);
  std::vector<std::pair<std::string, std::string>> pairs;
  for (std::size_t i = 0; i < kGeneratedPairs; ++i) {
    VersionPieces first = random_pieces(pools, picker);
    VersionPieces second = i % 4 == 0 ? random_pieces(pools, picker) : vary_one_piece(first, pools, picker);
    std::string a = render(first, pools, picker);
    std::string b = render(second, pools, picker);
    pairs.emplace_back(std::move(a), std::move(b));
  }
  return pairs;
}

std::vector<std::string> generate_versions(const PiecePools& pools, std::uint32_t seed) {
  std::vector<std::string> versions;
  for (auto& [a, b] : generate_pairs(pools, seed)) {
    versions.push_back(std::move(a));
    versions.push_back(std::move(b));
  }
  return versions;
}

// Checks that `compare` is a total preorder on `versions`: reflexive and
// antisymmetric on every pair, transitive on every triple of the first
// `triple_count` versions.
void check_total_preorder(Comparator compare, const std::vector<std::string>& versions, std::size_t triple_count) {
  for (const std::string& a : versions) {
    ASSERT_EQ(compare(a, a), 0) << a << " differs from itself";
    for (const std::string& b : versions) {
      ASSERT_EQ(sign(compare(a, b)), -sign(compare(b, a))) << a << " and " << b << " order differently when swapped";
    }
  }

  std::size_t count = std::min(triple_count, versions.size());
  for (std::size_t i = 0; i < count; ++i) {
    for (std::size_t j = 0; j < count; ++j) {
      int first = sign(compare(versions[i], versions[j]));
      if (first > 0) continue;
      for (std::size_t k = 0; k < count; ++k) {
        int second = sign(compare(versions[j], versions[k]));
        if (second > 0) continue;
        // a <= b <= c, so a <= c, and a = c only if both steps are equal.
        int whole = sign(compare(versions[i], versions[k]));
        ASSERT_EQ(whole, std::min(first, second)) << versions[i] << " " << relation_of(first) << " " << versions[j]
                                                  << " " << relation_of(second) << " " << versions[k] << " but "
                                                  << versions[i] << " " << relation_of(whole) << " " << versions[k];
      }
    }
  }
}

TEST(CompareDpkg, TotalPreorderOnGeneratedVersions) {
  check_total_preorder(compare_dpkg, generate_versions(kDpkgPools, 11), 70);
}

TEST(CompareApk, TotalPreorderOnGeneratedVersions) {
  check_total_preorder(compare_apk, generate_versions(kApkPools, 12), 70);
}

TEST(CompareRpm, TotalPreorderOnGeneratedVersions) {
  check_total_preorder(compare_rpm, generate_versions(kRpmPools, 13), 70);
}

// --- Differential tests against the real tools ------------------------------

// A new directory under testing::TempDir(), removed with its contents.
class TempDirectory {
 public:
  TempDirectory() {
    std::string pattern = (fs::path(testing::TempDir()) / "scan_version_test.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ~TempDirectory() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDirectory(const TempDirectory&) = delete;
  TempDirectory& operator=(const TempDirectory&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct CommandResult {
  int exit_status = -1;
  std::string output;
};

// Starts `command` with /bin/sh. finish_command collects its output.
FILE* start_command(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed for " + command);
  return pipe;
}

CommandResult finish_command(FILE* pipe) {
  CommandResult result;
  char buffer[4096];
  std::size_t count = 0;
  while ((count = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, count);
  int status = ::pclose(pipe);
  if (status != -1 && WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
  return result;
}

// Built with += because GCC 12 at -O3 reports a false -Wrestrict for
// "'" + std::string.
std::string quote(const fs::path& path) {
  std::string quoted = "'";
  quoted += path.string();
  quoted += "'";
  return quoted;
}

void write_pairs(const fs::path& path, const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::ofstream out(path, std::ios::binary);
  for (const auto& [a, b] : pairs) out << a << '\t' << b << '\n';
  if (!out.flush()) throw std::runtime_error("cannot write " + path.string());
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::pair<std::string, std::string>> table_and_generated_pairs(const std::vector<OrderCase>& table,
                                                                           const PiecePools& pools,
                                                                           std::uint32_t seed) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const OrderCase& order_case : table) pairs.emplace_back(order_case.a, order_case.b);
  for (auto& pair : generate_pairs(pools, seed)) pairs.push_back(std::move(pair));
  return pairs;
}

// Fails once for every pair where `compare` and the tool's result ('<', '='
// or '>', or an error message) differ, naming the pair and both results.
void expect_agreement(Comparator compare, std::string_view function, std::string_view tool,
                      const std::vector<std::pair<std::string, std::string>>& pairs,
                      const std::vector<std::string>& tool_results) {
  ASSERT_EQ(tool_results.size(), pairs.size())
      << tool << " returned " << tool_results.size() << " results for " << pairs.size() << " pairs";
  std::size_t disagreements = 0;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const auto& [a, b] = pairs[i];
    std::string ours(1, relation_of(compare(a, b)));
    if (tool_results[i] == ours) continue;
    ++disagreements;
    ADD_FAILURE() << "'" << a << "' vs '" << b << "': " << tool << " returns " << tool_results[i] << ", " << function
                  << " returns " << ours;
  }
  EXPECT_EQ(disagreements, 0u) << "of " << pairs.size() << " pairs";
}

// Prints '<', '=' or '>' for each tab-separated pair read from standard
// input, as dpkg --compare-versions orders them, or the error dpkg reports.
constexpr std::string_view kDpkgScript = R"sh(tab=$(printf '\t')
while IFS="$tab" read -r a b; do
  /usr/bin/dpkg --compare-versions "$a" lt "$b" 2>/dev/null
  status=$?
  if [ "$status" -eq 1 ]; then
    /usr/bin/dpkg --compare-versions "$a" eq "$b" 2>/dev/null
    status=$?
    [ "$status" -eq 0 ] && { echo '='; continue; }
    [ "$status" -eq 1 ] && { echo '>'; continue; }
  elif [ "$status" -eq 0 ]; then
    echo '<'
    continue
  fi
  echo "error: $(/usr/bin/dpkg --compare-versions "$a" eq "$b" 2>&1 | tr '\n' ' ')"
done
)sh";

TEST(CompareDpkg, AgreesWithDpkg) {
  if (!fs::exists("/usr/bin/dpkg")) GTEST_SKIP() << "/usr/bin/dpkg is missing, so dpkg --compare-versions cannot run";

  auto pairs = table_and_generated_pairs(kDpkgCases, kDpkgPools, 1);
  ASSERT_GE(pairs.size(), kDpkgCases.size() + 300);

  TempDirectory directory;
  fs::path script = directory.path() / "compare.sh";
  std::ofstream(script) << kDpkgScript;

  // The two halves run at once because each pair costs one or two dpkg
  // processes.
  std::size_t half = pairs.size() / 2;
  std::vector<std::vector<std::pair<std::string, std::string>>> halves = {
      {pairs.begin(), pairs.begin() + static_cast<std::ptrdiff_t>(half)},
      {pairs.begin() + static_cast<std::ptrdiff_t>(half), pairs.end()}};
  std::vector<FILE*> running;
  for (std::size_t i = 0; i < halves.size(); ++i) {
    fs::path input = directory.path() / ("pairs" + std::to_string(i));
    write_pairs(input, halves[i]);
    running.push_back(start_command("sh " + quote(script) + " < " + quote(input)));
  }
  std::vector<std::string> dpkg_results;
  for (FILE* pipe : running) {
    CommandResult result = finish_command(pipe);
    EXPECT_EQ(result.exit_status, 0) << result.output;
    for (std::string& line : split_lines(result.output)) dpkg_results.push_back(std::move(line));
  }

  expect_agreement(compare_dpkg, "compare_dpkg", "dpkg --compare-versions", pairs, dpkg_results);
}

// Prints '<', '=' or '>' for each tab-separated pair in the file named by
// the first argument, as rpm.labelCompare orders them. rpm.ver splits each
// string into epoch, version and release with rpm's own parser.
constexpr std::string_view kRpmScript = R"py(
import sys
try:
    import rpm
except ModuleNotFoundError:
    print("python3-rpm is not installed")
    sys.exit(3)

with open(sys.argv[1], encoding="utf-8") as pairs:
    for line in pairs:
        a, b = line.rstrip("\n").split("\t")
        left, right = rpm.ver(a), rpm.ver(b)
        order = rpm.labelCompare((left.e, left.v, left.r), (right.e, right.v, right.r))
        print("<" if order < 0 else "=" if order == 0 else ">")
)py";

TEST(CompareRpm, AgreesWithRpmLabelCompare) {
  // Debian's own interpreter, because scripts/bootstrap installs python3-rpm
  // for it and not for other Pythons on the PATH.
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "/usr/bin/python3 is missing, so rpm.labelCompare cannot run";

  auto pairs = table_and_generated_pairs(kRpmCases, kRpmPools, 2);
  ASSERT_GE(pairs.size(), kRpmCases.size() + 300);

  TempDirectory directory;
  fs::path input = directory.path() / "pairs";
  write_pairs(input, pairs);
  CommandResult result =
      finish_command(start_command("/usr/bin/python3 -c '" + std::string(kRpmScript) + "' " + quote(input) + " 2>&1"));
  if (result.exit_status == 3) {
    GTEST_SKIP() << result.output << "for /usr/bin/python3; run scripts/bootstrap as root to install it";
  }
  ASSERT_EQ(result.exit_status, 0) << result.output;

  expect_agreement(compare_rpm, "compare_rpm", "rpm.labelCompare", pairs, split_lines(result.output));
}

}  // namespace
}  // namespace berth::scan
