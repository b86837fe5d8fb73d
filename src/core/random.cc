#include "core/random.h"

#include "core/error.h"

#include <openssl/rand.h>

#include <cstdint>
#include <string_view>
#include <vector>

namespace berth::core {

namespace {

void fill_random(unsigned char* out, std::size_t size) {
  if (RAND_bytes(out, static_cast<int>(size)) != 1) {
    throw InternalError("OpenSSL RAND_bytes failed");
  }
}

std::string hex(const unsigned char* bytes, std::size_t size) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 0xf];
  }
  return out;
}

}  // namespace

std::string random_uuid() {
  unsigned char bytes[16];
  fill_random(bytes, sizeof bytes);
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40);  // version 4
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
  std::string h = hex(bytes, sizeof bytes);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> buffer(bytes);
  fill_random(buffer.data(), buffer.size());
  return hex(buffer.data(), buffer.size());
}

std::string request_id() {
  thread_local std::uint64_t state = [] {
    std::uint64_t seed = 0;
    fill_random(reinterpret_cast<unsigned char*>(&seed), sizeof seed);
    return seed | 1;
  }();
  // xorshift64*: period 2^64 - 1 from any non-zero seed.
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  std::uint64_t value = state * 0x2545F4914F6CDD1DULL;
  unsigned char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<unsigned char>(value >> (8 * i));
  return hex(bytes, sizeof bytes);
}

bool is_uuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

}  // namespace berth::core
