// API key secrets and namespace names: what a valid one looks like, and how
// a secret is stored.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace berth::auth {

// Every API key starts with this, so secret scanners and people recognise
// one in a file or a log.
inline constexpr std::string_view kApiKeyPrefix = "berth_";

// A new secret: the prefix and 32 random bytes (256 bits) in base64url.
std::string generate_api_key();

// The value stored for a secret: hex SHA-256. The secret carries 256
// random bits, so a fast hash is enough to make the stored value useless
// for logging in, and lookups stay cheap.
std::string hash_api_key(std::string_view secret);

// Compares two strings in time that depends only on their lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

inline constexpr std::size_t kNamespaceMinLength = 4;
inline constexpr std::size_t kNamespaceMaxLength = 30;
inline constexpr std::size_t kMaxNamespacesPerAccount = 100;

// Returns nullopt if `name` is a valid namespace name, else the reason: 4
// to 30 characters of lowercase letters, digits, "-" and "_", starting and
// ending with a letter or digit, and a valid repository name component
// (so "a___b" and "a_-b", which could hold no repository, are invalid).
std::optional<std::string> namespace_name_problem(std::string_view name);

// The namespace of a repository: its first path component.
std::string_view namespace_of(std::string_view repository);

}  // namespace berth::auth
