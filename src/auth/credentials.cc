#include "auth/credentials.h"

#include "auth/jwt.h"
#include "core/digest.h"
#include "oci/name.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace berth::auth {

namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

}  // namespace

std::string generate_api_key() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("the random number generator failed");
  return std::string(kApiKeyPrefix) + base64url_encode(std::string_view(reinterpret_cast<char*>(bytes), sizeof bytes));
}

std::string hash_api_key(std::string_view secret) {
  return core::digest_of(core::DigestAlgorithm::kSha256, secret).hex();
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<std::string> namespace_name_problem(std::string_view name) {
  if (name.size() < kNamespaceMinLength || name.size() > kNamespaceMaxLength) {
    return "a namespace name has 4 to 30 characters, and '" + std::string(name) + "' has " +
           std::to_string(name.size());
  }
  for (char c : name) {
    if (!is_lower_alnum(c) && c != '-' && c != '_') {
      return "a namespace name contains only lowercase letters, digits, '-' and '_', and '" + std::string(name) +
             "' contains '" + std::string(1, c) + "'";
    }
  }
  if (!is_lower_alnum(name.front()) || !is_lower_alnum(name.back())) {
    return "a namespace name starts and ends with a lowercase letter or a digit, and '" + std::string(name) +
           "' does not";
  }
  // The namespace is the first component of every repository name in it,
  // so it must also follow the distribution spec's component grammar.
  if (!oci::is_valid_repository_name(name)) {
    return "in a namespace name, '_' and '__' and runs of '-' separate letters and digits, and '" +
           std::string(name) + "' combines them otherwise";
  }
  return std::nullopt;
}

std::string_view namespace_of(std::string_view repository) {
  return repository.substr(0, repository.find('/'));
}

}  // namespace berth::auth
