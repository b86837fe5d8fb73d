// Random identifiers from OpenSSL's CSPRNG.
#pragma once

#include <string>

namespace berth::core {

// A random version-4 UUID in canonical lower-case form (upload session ids).
std::string random_uuid();

// `bytes` random bytes as lower-case hex (request ids).
std::string random_hex(std::size_t bytes);

// A 16-hex-digit id that is unique in practice but not secret (request
// ids in logs): a per-thread generator seeded from OpenSSL, so the hot
// path makes no system call.
std::string request_id();

// True if `text` is in the form random_uuid() produces. Upload ids come
// from URLs and become path components, so they are checked first.
bool is_uuid(std::string_view text);

}  // namespace berth::core
