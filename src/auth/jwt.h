// JSON Web Tokens signed with ES256: ECDSA on P-256 with SHA-256, in the
// JWS compact serialization (RFC 7515, RFC 7518 section 3.4).
#pragma once

#include <nlohmann/json.hpp>
#include <openssl/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::auth {

// Encodes `data` as base64url (RFC 4648 section 5) without padding.
std::string base64url_encode(std::string_view data);

// Decodes unpadded base64url. Returns nullopt for padding, characters
// outside the alphabet, a length of 1 mod 4, or non-zero unused bits in
// the last character, so each byte string has exactly one accepted text.
std::optional<std::string> base64url_decode(std::string_view text);

// An ECDSA P-256 key. A private key signs and verifies, and a public key
// only verifies. Copies share the underlying OpenSSL key. A moved-from key
// may only be assigned to or destroyed.
class SigningKey {
 public:
  // Generates a new random private key.
  static SigningKey generate();

  // Reads a PEM private key ("PRIVATE KEY" or "EC PRIVATE KEY") or a PEM
  // public key ("PUBLIC KEY"). Throws std::invalid_argument with the reason
  // if the text cannot be parsed, is encrypted, or is not a P-256 key.
  static SigningKey from_pem(std::string_view pem);

  bool has_private_key() const { return has_private_key_; }

  // Returns the private key as PKCS#8 PEM. Throws std::logic_error for a
  // public-only key.
  std::string private_pem() const;

  // Returns the public key as SubjectPublicKeyInfo PEM ("PUBLIC KEY").
  std::string public_pem() const;

  // RFC 7638 JWK SHA-256 thumbprint in base64url. It depends only on the
  // public key, so tokens name their signing key with it ("kid").
  const std::string& kid() const { return kid_; }

  // Signs `input` and returns the JOSE signature: r and s as 32-byte
  // big-endian integers, 64 bytes in all (not DER). Throws std::logic_error
  // for a public-only key.
  std::string sign(std::string_view input) const;

  // Checks a 64-byte r||s signature of `input`. Returns false for a
  // signature of any other length.
  bool verify(std::string_view input, std::string_view signature) const;

 private:
  SigningKey(std::shared_ptr<EVP_PKEY> key, bool has_private_key);

  std::shared_ptr<EVP_PKEY> key_;
  bool has_private_key_ = false;
  std::string kid_;
};

// The key that signs new tokens and the older keys whose tokens are still
// accepted, so keys can be rotated without invalidating live tokens.
class KeySet {
 public:
  explicit KeySet(SigningKey signer, std::vector<SigningKey> accepted = {});

  const SigningKey& signer() const { return signer_; }

  // Returns the signer or an accepted key whose kid is `kid`, or nullptr.
  // The pointer stays valid as long as this KeySet.
  const SigningKey* find(std::string_view kid) const;

 private:
  SigningKey signer_;
  std::vector<SigningKey> accepted_;
};

// Builds a compact JWS with the header {"alg":"ES256","kid":<signer kid>,
// "typ":"JWT"} and `claims` as the payload, signed by keys.signer().
// Throws std::invalid_argument if `claims` is not a JSON object, and
// nlohmann::json::type_error if a string in it is not valid UTF-8.
std::string encode_jwt(const nlohmann::json& claims, const KeySet& keys);

// Checks a compact JWS and returns its claims object. The token must have
// three base64url parts, a JSON object header with "alg" exactly "ES256",
// a "kid" naming a key of `keys`, no "crit" parameter, and a valid
// signature by that key. It does NOT check claims such as "exp", so the
// caller must. On failure returns nullopt and, if `problem` is not null,
// stores a short reason: "malformed token", "unsupported algorithm",
// "unsupported critical header", "unknown key id", "invalid signature" or
// "claims are not a JSON object".
std::optional<nlohmann::json> decode_jwt(std::string_view token, const KeySet& keys, std::string* problem);

// Reads the PEM private key at `path`. If the file does not exist,
// generates a key and writes it there atomically (temporary file, then
// rename) with mode 0600, first creating missing parent directories with
// mode 0700. When two processes race to create it, both return the key
// that reached the file first, provided the file system supports
// renameat2's RENAME_NOREPLACE. Throws std::runtime_error naming the path
// on an I/O error or if the file does not contain a P-256 private key.
SigningKey load_or_create_signing_key(const std::string& path);

}  // namespace berth::auth
