// Settings of the real services that some store tests need (PostgreSQL,
// the S3 server), started by tests/services/up. ctest passes the file that
// script writes in BERTH_SERVICES_ENV; a variable set in the environment
// itself wins, so a test can also be pointed at services started by hand.
#pragma once

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

namespace berth::test_support {

// The value of `name` (e.g. "BERTH_TEST_POSTGRES"). Throws with a message
// that explains how to start the services when it is not set, so that a test
// fails rather than passes without them.
inline std::string service_setting(const std::string& name) {
  if (const char* value = std::getenv(name.c_str()); value != nullptr && *value != '\0') return value;
  const char* file = std::getenv("BERTH_SERVICES_ENV");
  if (file != nullptr && *file != '\0') {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
      auto equals = line.find('=');
      if (equals != std::string::npos && line.compare(0, equals, name) == 0 && equals == name.size()) {
        return line.substr(equals + 1);
      }
    }
  }
  throw std::runtime_error(name + " is not set: run this test through ctest, which starts PostgreSQL and Ceph with "
                                  "tests/services/up, or start them yourself and set BERTH_SERVICES_ENV to the env "
                                  "file that script writes");
}

}  // namespace berth::test_support
