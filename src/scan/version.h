// Version ordering of the three package formats the Vulnerability Advisor
// reads. Each function returns a negative number, zero or a positive number
// when `a` sorts before, equal to or after `b`, under the rules of the
// distribution's own tool: dpkg (Debian, Ubuntu), apk (Alpine) and rpm (RHEL,
// UBI). No function throws; malformed versions are ordered too. Different
// strings may compare equal, as in the tools ("1.01" and "1.1" for dpkg).
#pragma once

#include <string_view>

namespace berth::scan {

enum class PackageFormat { kDpkg, kApk, kRpm };

// dpkg's ordering: [epoch:]upstream[-revision], where '~' sorts before
// everything, even the end of the string.
int compare_dpkg(std::string_view a, std::string_view b);

// apk's ordering: digits and dots, an optional letter, suffixes _alpha,
// _beta, _pre, _rc (before the release) and _cvs, _svn, _git, _hg, _p (after
// it), then -rN and ~HASH. A dotted part with a leading zero compares as a
// string, as current apk-tools does.
int compare_apk(std::string_view a, std::string_view b);

// rpm's ordering of [epoch:]version[-release], each part compared with
// rpmvercmp. A missing epoch is 0. A missing release sorts before any
// release, as in rpm's labelCompare.
int compare_rpm(std::string_view a, std::string_view b);

int compare_versions(PackageFormat format, std::string_view a, std::string_view b);

}  // namespace berth::scan
