// Placeholder until the comparators land; see version.h.
#include "scan/version.h"

#include <stdexcept>

namespace berth::scan {

int compare_dpkg(std::string_view, std::string_view) { throw std::logic_error("compare_dpkg is not built yet"); }
int compare_apk(std::string_view, std::string_view) { throw std::logic_error("compare_apk is not built yet"); }
int compare_rpm(std::string_view, std::string_view) { throw std::logic_error("compare_rpm is not built yet"); }

int compare_versions(PackageFormat format, std::string_view a, std::string_view b) {
  switch (format) {
    case PackageFormat::kDpkg: return compare_dpkg(a, b);
    case PackageFormat::kApk: return compare_apk(a, b);
    case PackageFormat::kRpm: return compare_rpm(a, b);
  }
  return 0;
}

}  // namespace berth::scan
