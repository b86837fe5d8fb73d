// Content digests ("sha256:<hex>") and streaming hashers whose state can be
// saved and restored, so an upload can continue after a restart or on
// another node without hashing its bytes again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace berth::core {

enum class DigestAlgorithm { kSha256, kSha512 };

std::string_view algorithm_name(DigestAlgorithm algorithm);
std::optional<DigestAlgorithm> parse_algorithm(std::string_view name);

// A validated digest of a supported algorithm, in canonical form
// (lower-case hex of the exact length).
class Digest {
 public:
  // Parses "algorithm:encoded". Returns nullopt and sets `problem` (when
  // given) to a reason a person can act on if the text is not a digest of a
  // supported algorithm.
  static std::optional<Digest> parse(std::string_view text, std::string* problem = nullptr);

  DigestAlgorithm algorithm() const { return algorithm_; }
  const std::string& hex() const { return hex_; }
  std::string str() const;

  bool operator==(const Digest& other) const = default;

 private:
  Digest(DigestAlgorithm algorithm, std::string hex) : algorithm_(algorithm), hex_(std::move(hex)) {}
  friend class Hasher;

  DigestAlgorithm algorithm_;
  std::string hex_;
};

// Incremental SHA-256 or SHA-512. Not thread-safe; one hasher per upload.
class Hasher {
 public:
  explicit Hasher(DigestAlgorithm algorithm);
  ~Hasher();
  Hasher(Hasher&& other) noexcept;
  Hasher& operator=(Hasher&& other) noexcept;
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  DigestAlgorithm algorithm() const { return algorithm_; }
  void update(const void* data, std::size_t size);

  // The digest of everything hashed so far; the hasher stays usable.
  Digest digest() const;

  // The raw hash state, to store with an upload session. The format is the
  // OpenSSL context structure of this build, so a state is only restored by
  // the same OpenSSL on the same architecture (the stored size is checked).
  std::string save_state() const;
  // Returns nullopt if `state` was not produced by save_state() for `algorithm`.
  static std::optional<Hasher> restore_state(DigestAlgorithm algorithm, std::string_view state);

 private:
  struct Context;
  DigestAlgorithm algorithm_;
  std::unique_ptr<Context> context_;
};

// Digest of a whole buffer (manifests).
Digest digest_of(DigestAlgorithm algorithm, std::string_view data);

}  // namespace berth::core
