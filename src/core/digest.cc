// The hashers use OpenSSL's SHA256_CTX and SHA512_CTX directly, not EVP:
// EVP contexts are opaque and cannot be saved, while these structures are
// plain data. Both paths run the same assembly (SHA-NI where the CPU has it).
#define OPENSSL_SUPPRESS_DEPRECATED
#include "core/digest.h"

#include <openssl/sha.h>

#include <cstring>

namespace berth::core {

namespace {

bool is_lower_hex(std::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Algorithm component grammar of the OCI image spec:
// [a-z0-9]+([+._-][a-z0-9]+)*
bool is_algorithm_syntax(std::string_view text) {
  if (text.empty()) return false;
  bool previous_separator = true;
  for (char c : text) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    bool separator = c == '+' || c == '.' || c == '_' || c == '-';
    if (!alnum && !separator) return false;
    if (separator && previous_separator) return false;
    previous_separator = separator;
  }
  return !previous_separator;
}

std::string to_hex(const unsigned char* bytes, std::size_t size) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(size * 2, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

std::size_t hex_length(DigestAlgorithm algorithm) {
  return algorithm == DigestAlgorithm::kSha256 ? 64 : 128;
}

}  // namespace

std::string_view algorithm_name(DigestAlgorithm algorithm) {
  return algorithm == DigestAlgorithm::kSha256 ? "sha256" : "sha512";
}

std::optional<DigestAlgorithm> parse_algorithm(std::string_view name) {
  if (name == "sha256") return DigestAlgorithm::kSha256;
  if (name == "sha512") return DigestAlgorithm::kSha512;
  return std::nullopt;
}

std::optional<Digest> Digest::parse(std::string_view text, std::string* problem) {
  auto fail = [&](std::string reason) -> std::optional<Digest> {
    if (problem) *problem = std::move(reason);
    return std::nullopt;
  };

  auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    return fail("digest \"" + std::string(text) + "\" has no algorithm; expected algorithm:hex, such as sha256:<64 hex digits>");
  }
  std::string_view algorithm_text = text.substr(0, colon);
  std::string_view encoded = text.substr(colon + 1);
  if (!is_algorithm_syntax(algorithm_text)) {
    return fail("digest algorithm \"" + std::string(algorithm_text) + "\" is malformed");
  }
  auto algorithm = parse_algorithm(algorithm_text);
  if (!algorithm) {
    return fail("digest algorithm \"" + std::string(algorithm_text) + "\" is not supported; use sha256 or sha512");
  }
  if (encoded.size() != hex_length(*algorithm) || !is_lower_hex(encoded)) {
    return fail("digest \"" + std::string(text) + "\" is malformed; " + std::string(algorithm_text) + " needs " +
                std::to_string(hex_length(*algorithm)) + " lower-case hex digits");
  }
  return Digest(*algorithm, std::string(encoded));
}

std::string Digest::str() const {
  std::string out(algorithm_name(algorithm_));
  out += ':';
  out += hex_;
  return out;
}

struct Hasher::Context {
  SHA256_CTX sha256;
  SHA512_CTX sha512;
};

Hasher::Hasher(DigestAlgorithm algorithm) : algorithm_(algorithm), context_(std::make_unique<Context>()) {
  if (algorithm_ == DigestAlgorithm::kSha256) {
    SHA256_Init(&context_->sha256);
  } else {
    SHA512_Init(&context_->sha512);
  }
}

Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&& other) noexcept = default;
Hasher& Hasher::operator=(Hasher&& other) noexcept = default;

void Hasher::update(const void* data, std::size_t size) {
  if (algorithm_ == DigestAlgorithm::kSha256) {
    SHA256_Update(&context_->sha256, data, size);
  } else {
    SHA512_Update(&context_->sha512, data, size);
  }
}

Digest Hasher::digest() const {
  unsigned char out[SHA512_DIGEST_LENGTH];
  if (algorithm_ == DigestAlgorithm::kSha256) {
    SHA256_CTX copy = context_->sha256;
    SHA256_Final(out, &copy);
    return Digest(algorithm_, to_hex(out, SHA256_DIGEST_LENGTH));
  }
  SHA512_CTX copy = context_->sha512;
  SHA512_Final(out, &copy);
  return Digest(algorithm_, to_hex(out, SHA512_DIGEST_LENGTH));
}

std::string Hasher::save_state() const {
  if (algorithm_ == DigestAlgorithm::kSha256) {
    return std::string(reinterpret_cast<const char*>(&context_->sha256), sizeof(SHA256_CTX));
  }
  return std::string(reinterpret_cast<const char*>(&context_->sha512), sizeof(SHA512_CTX));
}

std::optional<Hasher> Hasher::restore_state(DigestAlgorithm algorithm, std::string_view state) {
  // Besides the size, the fields OpenSSL indexes with are checked: the
  // bytes buffered in the partial block (num) must be within the block and
  // agree with the message length, or the next update writes out of bounds.
  Hasher hasher(algorithm);
  if (algorithm == DigestAlgorithm::kSha256) {
    if (state.size() != sizeof(SHA256_CTX)) return std::nullopt;
    SHA256_CTX& context = hasher.context_->sha256;
    std::memcpy(&context, state.data(), state.size());
    if (context.md_len != SHA256_DIGEST_LENGTH || context.num >= SHA256_CBLOCK ||
        ((context.Nl >> 3) % SHA256_CBLOCK) != context.num) {
      return std::nullopt;
    }
  } else {
    if (state.size() != sizeof(SHA512_CTX)) return std::nullopt;
    SHA512_CTX& context = hasher.context_->sha512;
    std::memcpy(&context, state.data(), state.size());
    if (context.md_len != SHA512_DIGEST_LENGTH || context.num >= SHA512_CBLOCK ||
        ((context.Nl >> 3) % SHA512_CBLOCK) != context.num) {
      return std::nullopt;
    }
  }
  return hasher;
}

Digest digest_of(DigestAlgorithm algorithm, std::string_view data) {
  Hasher hasher(algorithm);
  hasher.update(data.data(), data.size());
  return hasher.digest();
}

}  // namespace berth::core
