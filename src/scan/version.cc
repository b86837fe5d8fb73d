// Version ordering of dpkg, apk and rpm. Each comparator is written from
// the format's own rules, which are summarised above it. All character
// classes are ASCII, and digit runs compare by numeric value at any length.
#include "scan/version.h"

#include <cstddef>
#include <optional>

namespace berth::scan {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_alpha(char c) { return is_lower(c) || (c >= 'A' && c <= 'Z'); }
bool is_alnum(char c) { return is_digit(c) || is_alpha(c); }
bool is_lower_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }

int sign(int value) { return (value > 0) - (value < 0); }

// Removes the longest prefix of `text` whose characters satisfy `predicate`
// and returns it.
template <typename Predicate>
std::string_view take_while(std::string_view& text, Predicate predicate) {
  std::size_t length = 0;
  while (length < text.size() && predicate(text[length])) ++length;
  std::string_view prefix = text.substr(0, length);
  text.remove_prefix(length);
  return prefix;
}

// Compares two runs of ASCII digits by value. Leading zeros are ignored and
// the runs may be of any length, so no digit run can overflow.
int compare_numbers(std::string_view a, std::string_view b) {
  while (!a.empty() && a.front() == '0') a.remove_prefix(1);
  while (!b.empty() && b.front() == '0') b.remove_prefix(1);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return sign(a.compare(b));
}

// Compares bytes as unsigned values, shorter prefix first (memcmp order).
int compare_bytes(std::string_view a, std::string_view b) { return sign(a.compare(b)); }

// ---------------------------------------------------------------------------
// dpkg: [epoch:]upstream[-revision], as in Debian Policy 5.6.12 and
// deb-version(7). The epoch is an unsigned number (missing means 0). The
// revision follows the last hyphen (missing means empty, so "1.0" equals
// "1.0-0"). Upstream and revision are compared alike: alternately a run of
// non-digits, character by character, and a run of digits, by value. In the
// non-digit comparison '~' sorts before everything, even the end of the run,
// then come the end of the run, the letters in ASCII order, and every other
// character in ASCII order.
//
// dpkg rejects some strings that this comparator still orders. An epoch that
// is empty or not all digits makes the whole string the upstream part, with
// epoch 0. An empty revision ("1.0-") counts as no revision. Epochs above
// INT_MAX compare by value.

struct DpkgVersion {
  std::string_view epoch;
  std::string_view upstream;
  std::string_view revision;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

DpkgVersion parse_dpkg(std::string_view text) {
  // dpkg ignores white space around the version.
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);

  DpkgVersion version;
  std::size_t colon = text.find(':');
  if (colon != std::string_view::npos && colon > 0) {
    std::string_view epoch = text.substr(0, colon);
    bool numeric = true;
    for (char c : epoch) numeric = numeric && is_digit(c);
    if (numeric) {
      version.epoch = epoch;
      text.remove_prefix(colon + 1);
    }
  }

  std::size_t hyphen = text.rfind('-');
  if (hyphen == std::string_view::npos) {
    version.upstream = text;
  } else {
    version.upstream = text.substr(0, hyphen);
    version.revision = text.substr(hyphen + 1);
  }
  return version;
}

// The sort weight of the next character of a non-digit run. The end of the
// part and a digit (which ends the run) both weigh 0. Bytes from 0x80 up
// weigh their own value, between the letters and the other characters. That
// is dpkg's order where char is signed (amd64, i386).
int dpkg_weight(std::string_view rest) {
  if (rest.empty()) return 0;
  unsigned char c = static_cast<unsigned char>(rest.front());
  if (is_digit(static_cast<char>(c))) return 0;
  if (is_alpha(static_cast<char>(c))) return c;
  if (c == '~') return -1;
  if (c >= 0x80) return c;
  return c + 256;
}

int compare_dpkg_part(std::string_view a, std::string_view b) {
  while (!a.empty() || !b.empty()) {
    while ((!a.empty() && !is_digit(a.front())) || (!b.empty() && !is_digit(b.front()))) {
      int weight_a = dpkg_weight(a);
      int weight_b = dpkg_weight(b);
      if (weight_a != weight_b) return weight_a < weight_b ? -1 : 1;
      // Equal weights here are non-zero, and only one character has each
      // non-zero weight, so both sides start with the same non-digit.
      a.remove_prefix(1);
      b.remove_prefix(1);
    }
    int numbers = compare_numbers(take_while(a, is_digit), take_while(b, is_digit));
    if (numbers != 0) return numbers;
  }
  return 0;
}

// ---------------------------------------------------------------------------
// apk: number{.number}{letter}{_suffix{number}}...{~hash}{-rN}, following
// apk-tools' doc/apk-package.5 and the ordering of its src/version.c (the
// version that reads the ~hash part). The version is read as a sequence of
// parts, compared pairwise while both sides have a part of the same kind:
//   - the first number, suffix numbers and -rN compare by value;
//   - a later dotted number compares by value, unless either side starts
//     with '0', in which case both compare as strings ("1.05" < "1.5");
//   - the letter and the hash compare as strings, suffixes by the order
//     _alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p.
// At the first position where the kinds differ, they sort in this order:
// a pre-release suffix (_alpha to _rc), a malformed rest, the end of the
// version, -rN, ~hash, a suffix number, a post-release suffix, a letter, a
// dotted number. So 1.0_rc1 < 1.0 < 1.0-r1 < 1.0_p1 < 1.0a < 1.0.1.
//
// Malformed versions: reading stops at the first character that does not
// fit the grammar (an upper-case letter, a second letter, an unknown
// suffix, "-" not followed by "r" and digits, anything after -rN). What was
// read before it compares as above, and the unreadable rest sorts below any
// further part and below the end, so "1.0" < "1.0bc" < "1.0b" < "1.0c".
// Two versions that become unreadable at the same position after equal
// parts compare equal, as in apk ("1.0bc" = "1.0bd"). A version that does
// not start with a digit is unreadable from its start.
//
// NOTE: apk-tools reads numbers into 64-bit integers, so numbers above
// 2^64 - 1 may order differently there. Here they compare by value. Older
// apk-tools releases, whose version.c has no ~hash part, also differ in two
// corners: they accept digits after the letter, and they order dotted
// numbers with leading zeros by the count of zeros ("1.0" > "1.00").

enum class ApkPartKind { kFirstNumber, kNumber, kLetter, kSuffix, kSuffixNumber, kHash, kRevision, kEnd, kMalformed };

// The rank of the release itself among the suffix ranks.
constexpr int kApkNoSuffix = 4;

struct ApkPart {
  ApkPartKind kind = ApkPartKind::kMalformed;
  std::string_view text;
  int suffix_rank = kApkNoSuffix;
};

std::optional<int> apk_suffix_rank(std::string_view name) {
  constexpr std::string_view kSuffixes[] = {"alpha", "beta", "pre", "rc", "", "cvs", "svn", "git", "hg", "p"};
  for (int rank = 0; rank < static_cast<int>(std::size(kSuffixes)); ++rank) {
    if (rank != kApkNoSuffix && name == kSuffixes[rank]) return rank;
  }
  return std::nullopt;
}

ApkPart read_first_apk_part(std::string_view& rest) {
  std::string_view digits = take_while(rest, is_digit);
  if (digits.empty()) return {.kind = ApkPartKind::kMalformed};
  return {.kind = ApkPartKind::kFirstNumber, .text = digits};
}

// Reads the part after one of kind `previous`, which is neither kEnd nor
// kMalformed.
ApkPart read_next_apk_part(std::string_view& rest, ApkPartKind previous) {
  const ApkPart malformed{.kind = ApkPartKind::kMalformed};
  if (rest.empty()) return {.kind = ApkPartKind::kEnd};

  bool after_number = previous == ApkPartKind::kFirstNumber || previous == ApkPartKind::kNumber;
  char c = rest.front();
  if (is_lower(c)) {
    if (!after_number) return malformed;
    std::string_view letter = rest.substr(0, 1);
    rest.remove_prefix(1);
    return {.kind = ApkPartKind::kLetter, .text = letter};
  }
  if (c == '.') {
    if (!after_number) return malformed;
    rest.remove_prefix(1);
    std::string_view digits = take_while(rest, is_digit);
    if (digits.empty()) return malformed;
    return {.kind = ApkPartKind::kNumber, .text = digits};
  }
  if (is_digit(c)) {
    // Digits directly after a number are part of it, so only a suffix can
    // be followed by one.
    if (previous != ApkPartKind::kSuffix) return malformed;
    return {.kind = ApkPartKind::kSuffixNumber, .text = take_while(rest, is_digit)};
  }
  if (c == '_') {
    if (previous == ApkPartKind::kHash || previous == ApkPartKind::kRevision) return malformed;
    rest.remove_prefix(1);
    std::string_view name = take_while(rest, is_lower);
    std::optional<int> rank = apk_suffix_rank(name);
    if (!rank) return malformed;
    return {.kind = ApkPartKind::kSuffix, .text = name, .suffix_rank = *rank};
  }
  if (c == '~') {
    if (previous == ApkPartKind::kHash || previous == ApkPartKind::kRevision) return malformed;
    rest.remove_prefix(1);
    std::string_view hash = take_while(rest, is_lower_hex);
    if (hash.empty()) return malformed;
    return {.kind = ApkPartKind::kHash, .text = hash};
  }
  if (c == '-') {
    if (previous == ApkPartKind::kRevision || !rest.starts_with("-r")) return malformed;
    rest.remove_prefix(2);
    std::string_view digits = take_while(rest, is_digit);
    if (digits.empty()) return malformed;
    return {.kind = ApkPartKind::kRevision, .text = digits};
  }
  return malformed;
}

int compare_apk_parts_of_one_kind(const ApkPart& a, const ApkPart& b) {
  switch (a.kind) {
    case ApkPartKind::kNumber:
      if (a.text.front() == '0' || b.text.front() == '0') return compare_bytes(a.text, b.text);
      return compare_numbers(a.text, b.text);
    case ApkPartKind::kFirstNumber:
    case ApkPartKind::kSuffixNumber:
    case ApkPartKind::kRevision:
      return compare_numbers(a.text, b.text);
    case ApkPartKind::kSuffix:
      return sign(a.suffix_rank - b.suffix_rank);
    case ApkPartKind::kLetter:
    case ApkPartKind::kHash:
      return compare_bytes(a.text, b.text);
    case ApkPartKind::kEnd:
    case ApkPartKind::kMalformed:
      return 0;
  }
  return 0;
}

// The order of two parts of different kinds met at the same position:
// a lower rank sorts first.
int apk_kind_rank(const ApkPart& part) {
  switch (part.kind) {
    case ApkPartKind::kSuffix: return part.suffix_rank < kApkNoSuffix ? 0 : 6;
    case ApkPartKind::kMalformed: return 1;
    case ApkPartKind::kEnd: return 2;
    case ApkPartKind::kRevision: return 3;
    case ApkPartKind::kHash: return 4;
    case ApkPartKind::kSuffixNumber: return 5;
    case ApkPartKind::kLetter: return 7;
    case ApkPartKind::kNumber: return 8;
    case ApkPartKind::kFirstNumber: return 9;
  }
  return 0;
}

bool is_last_apk_part(ApkPartKind kind) { return kind == ApkPartKind::kEnd || kind == ApkPartKind::kMalformed; }

// ---------------------------------------------------------------------------
// rpm: [epoch:]version[-release], split as rpm's own parser does: the epoch
// is the leading digits when a ':' follows them (an empty one is 0), and the
// release follows the last '-'. Epochs, versions and releases each compare
// with the rules of rpm's rpmvercmp (rpmvercmp.c, with the cases of rpm's
// tests/rpmvercmp.at):
//   - characters other than ASCII letters, digits, '~' and '^' only separate
//     segments, so "1.0" = "1_0" = "1..0";
//   - '~' sorts before everything, even the end ("1.0~rc1" < "1.0");
//   - '^' sorts after the end but before any further segment
//     ("1.0" < "1.0^git1" < "1.0.1");
//   - a segment is a run of digits or a run of letters. Digit runs compare
//     by value and letter runs by ASCII. Where one side has a digit run and
//     the other a letter run, the digit run is newer ("1.0.1" > "1.0a");
//   - when all segments are equal, the side with segments left is newer.
// The EVR order is the one python3-rpm's rpm.labelCompare returns (checked
// against rpm 4.18). A missing epoch is 0, and a missing release sorts
// before any release, so "1.0" < "1.0-1".

struct RpmVersion {
  std::string_view epoch;
  std::string_view version;
  std::optional<std::string_view> release;
};

RpmVersion parse_rpm(std::string_view text) {
  RpmVersion version;
  std::string_view rest = text;
  std::string_view digits = take_while(rest, is_digit);
  if (!rest.empty() && rest.front() == ':') {
    version.epoch = digits;
    rest.remove_prefix(1);
  } else {
    rest = text;
  }

  std::size_t hyphen = rest.rfind('-');
  if (hyphen == std::string_view::npos) {
    version.version = rest;
  } else {
    version.version = rest.substr(0, hyphen);
    version.release = rest.substr(hyphen + 1);
  }
  return version;
}

bool is_rpm_separator(char c) { return !is_alnum(c) && c != '~' && c != '^'; }

int rpmvercmp(std::string_view a, std::string_view b) {
  while (true) {
    take_while(a, is_rpm_separator);
    take_while(b, is_rpm_separator);

    bool tilde_a = !a.empty() && a.front() == '~';
    bool tilde_b = !b.empty() && b.front() == '~';
    if (tilde_a || tilde_b) {
      if (tilde_a != tilde_b) return tilde_a ? -1 : 1;
      a.remove_prefix(1);
      b.remove_prefix(1);
      continue;
    }

    bool caret_a = !a.empty() && a.front() == '^';
    bool caret_b = !b.empty() && b.front() == '^';
    if (caret_a || caret_b) {
      // The end sorts before '^', and '^' before a segment.
      if (a.empty()) return -1;
      if (b.empty()) return 1;
      if (caret_a != caret_b) return caret_a ? -1 : 1;
      a.remove_prefix(1);
      b.remove_prefix(1);
      continue;
    }

    if (a.empty() || b.empty()) break;

    bool numeric = is_digit(a.front());
    std::string_view segment_a = numeric ? take_while(a, is_digit) : take_while(a, is_alpha);
    std::string_view segment_b = numeric ? take_while(b, is_digit) : take_while(b, is_alpha);
    // `b` starts with a segment of the other type, and digits are newer
    // than letters.
    if (segment_b.empty()) return numeric ? 1 : -1;
    int segments = numeric ? compare_numbers(segment_a, segment_b) : compare_bytes(segment_a, segment_b);
    if (segments != 0) return segments;
  }
  if (a.empty() && b.empty()) return 0;
  return a.empty() ? -1 : 1;
}

}  // namespace

int compare_dpkg(std::string_view a, std::string_view b) {
  DpkgVersion left = parse_dpkg(a);
  DpkgVersion right = parse_dpkg(b);
  if (int epochs = compare_numbers(left.epoch, right.epoch); epochs != 0) return epochs;
  if (int upstreams = compare_dpkg_part(left.upstream, right.upstream); upstreams != 0) return upstreams;
  return compare_dpkg_part(left.revision, right.revision);
}

int compare_apk(std::string_view a, std::string_view b) {
  ApkPart part_a = read_first_apk_part(a);
  ApkPart part_b = read_first_apk_part(b);
  while (part_a.kind == part_b.kind && !is_last_apk_part(part_a.kind)) {
    if (int parts = compare_apk_parts_of_one_kind(part_a, part_b); parts != 0) return parts;
    part_a = read_next_apk_part(a, part_a.kind);
    part_b = read_next_apk_part(b, part_b.kind);
  }
  if (part_a.kind == part_b.kind) return 0;
  return sign(apk_kind_rank(part_a) - apk_kind_rank(part_b));
}

int compare_rpm(std::string_view a, std::string_view b) {
  RpmVersion left = parse_rpm(a);
  RpmVersion right = parse_rpm(b);
  std::string_view epoch_left = left.epoch.empty() ? "0" : left.epoch;
  std::string_view epoch_right = right.epoch.empty() ? "0" : right.epoch;
  if (int epochs = rpmvercmp(epoch_left, epoch_right); epochs != 0) return epochs;
  if (int versions = rpmvercmp(left.version, right.version); versions != 0) return versions;
  if (left.release && right.release) return rpmvercmp(*left.release, *right.release);
  if (left.release.has_value() == right.release.has_value()) return 0;
  return left.release ? 1 : -1;
}

int compare_versions(PackageFormat format, std::string_view a, std::string_view b) {
  switch (format) {
    case PackageFormat::kDpkg: return compare_dpkg(a, b);
    case PackageFormat::kApk: return compare_apk(a, b);
    case PackageFormat::kRpm: return compare_rpm(a, b);
  }
  return 0;
}

}  // namespace berth::scan
