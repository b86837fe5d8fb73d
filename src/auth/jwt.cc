#include "auth/jwt.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <stdexcept>

namespace berth::auth {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Byte length of one P-256 coordinate, scalar or signature half.
constexpr std::size_t kCoordinateSize = 32;

// OpenSSL reports failures on a per-thread error queue. The functions here
// turn failures into return values or exceptions, so they empty the queue
// and leave no stale entries for other OpenSSL users on the thread, such
// as the TLS transport.
std::string take_openssl_error() {
  unsigned long code = ERR_get_error();
  std::string text;
  if (code != 0) {
    std::array<char, 256> buffer{};
    ERR_error_string_n(code, buffer.data(), buffer.size());
    text = buffer.data();
  }
  ERR_clear_error();
  return text;
}

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct BignumDeleter {
  void operator()(BIGNUM* bignum) const { BN_free(bignum); }
};
struct EcdsaSigDeleter {
  void operator()(ECDSA_SIG* signature) const { ECDSA_SIG_free(signature); }
};
struct MdContextDeleter {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};
struct PkeyContextDeleter {
  void operator()(EVP_PKEY_CTX* context) const { EVP_PKEY_CTX_free(context); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using BignumPtr = std::unique_ptr<BIGNUM, BignumDeleter>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, EcdsaSigDeleter>;
using MdContextPtr = std::unique_ptr<EVP_MD_CTX, MdContextDeleter>;
using PkeyContextPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyContextDeleter>;

std::shared_ptr<EVP_PKEY> share_key(EVP_PKEY* key) {
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

// Passphrase callback that supplies none, so an encrypted PEM fails to
// load. Without it OpenSSL would prompt on the terminal.
int refuse_passphrase(char*, int, int, void*) { return -1; }

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

// Writes `bignum` as a big-endian integer of exactly kCoordinateSize bytes.
std::string bignum_to_fixed(const BIGNUM* bignum) {
  std::string out(kCoordinateSize, '\0');
  if (BN_bn2binpad(bignum, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size())) < 0) {
    throw std::runtime_error("ECDSA value does not fit in 32 bytes: " + take_openssl_error());
  }
  return out;
}

// Throws std::invalid_argument unless `key` is an EC key on P-256.
void check_p256(EVP_PKEY* key) {
  if (!EVP_PKEY_is_a(key, "EC")) {
    throw std::invalid_argument(std::string("key type is ") + EVP_PKEY_get0_type_name(key) +
                                ", expected an EC key on P-256");
  }
  std::array<char, 64> group{};
  std::size_t group_length = 0;
  if (EVP_PKEY_get_group_name(key, group.data(), group.size(), &group_length) != 1) {
    take_openssl_error();
    throw std::invalid_argument("EC key has no named curve, expected P-256");
  }
  // OpenSSL calls P-256 by its X9.62 name.
  if (std::string_view(group.data(), group_length) != "prime256v1") {
    throw std::invalid_argument("EC key is on curve " + std::string(group.data(), group_length) +
                                ", expected P-256 (prime256v1)");
  }
}

// Runs OpenSSL's consistency checks: the public point lies on the curve
// and, for a private key, matches the private scalar.
void check_key_consistency(EVP_PKEY* key, bool has_private_key) {
  PkeyContextPtr context(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!context) throw std::runtime_error("EVP_PKEY_CTX_new_from_pkey failed: " + take_openssl_error());
  int result = has_private_key ? EVP_PKEY_check(context.get()) : EVP_PKEY_public_check(context.get());
  if (result != 1) {
    throw std::invalid_argument("EC key failed the consistency check: " + take_openssl_error());
  }
}

// Computes the RFC 7638 thumbprint: SHA-256 over the required JWK members
// in lexicographic order with no whitespace. RFC 7518 section 6.2.1 fixes x and y at the full
// coordinate size, leading zeros included.
std::string compute_thumbprint(EVP_PKEY* key) {
  BIGNUM* x_raw = nullptr;
  BIGNUM* y_raw = nullptr;
  bool ok = EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x_raw) == 1;
  BignumPtr x(x_raw);
  ok = ok && EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y_raw) == 1;
  BignumPtr y(y_raw);
  if (!ok) throw std::runtime_error("cannot read the EC public point: " + take_openssl_error());

  std::string jwk = R"({"crv":"P-256","kty":"EC","x":")" + base64url_encode(bignum_to_fixed(x.get())) + R"(","y":")" +
                    base64url_encode(bignum_to_fixed(y.get())) + R"("})";

  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_size = 0;
  if (EVP_Digest(jwk.data(), jwk.size(), digest.data(), &digest_size, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed: " + take_openssl_error());
  }
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest_size));
}

// Returns the labels of the PEM blocks in `pem`, such as "PRIVATE KEY".
std::vector<std::string> pem_labels(std::string_view pem) {
  constexpr std::string_view kBegin = "-----BEGIN ";
  std::vector<std::string> labels;
  std::size_t position = 0;
  while ((position = pem.find(kBegin, position)) != std::string_view::npos) {
    position += kBegin.size();
    std::size_t end = pem.find("-----", position);
    if (end == std::string_view::npos) break;
    labels.emplace_back(pem.substr(position, end - position));
    position = end;
  }
  return labels;
}

// True for the labels PEM_read_bio_PrivateKey reads: "PRIVATE KEY" (PKCS#8)
// and "<type> PRIVATE KEY", such as "EC PRIVATE KEY" (SEC1). The encrypted
// PKCS#8 form is excluded because this code has no passphrase to give.
bool is_private_key_label(std::string_view label) {
  return label == "PRIVATE KEY" || (label.ends_with(" PRIVATE KEY") && label != "ENCRYPTED PRIVATE KEY");
}

// --- Files -------------------------------------------------------------

[[noreturn]] void fail_io(const std::string& what, const fs::path& path, int error = errno) {
  throw std::runtime_error(what + " " + path.string() + ": " + std::strerror(error));
}

// Closes a file descriptor when it goes out of scope.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  // Closes now, so that the caller sees the error close(2) may report.
  int close() {
    int result = ::close(fd_);
    fd_ = -1;
    return result;
  }

 private:
  int fd_;
};

// Returns the contents of `path`, or nullopt if it does not exist.
std::optional<std::string> read_file_if_exists(const fs::path& path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::nullopt;
    fail_io("cannot open signing key", path);
  }
  std::string contents;
  std::array<char, 4096> buffer{};
  while (true) {
    ssize_t count = ::read(fd.get(), buffer.data(), buffer.size());
    if (count < 0) {
      if (errno == EINTR) continue;
      fail_io("cannot read signing key", path);
    }
    if (count == 0) break;
    contents.append(buffer.data(), static_cast<std::size_t>(count));
  }
  return contents;
}

void fsync_directory(const fs::path& directory) {
  FileDescriptor fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) fail_io("cannot open directory", directory);
  if (::fsync(fd.get()) != 0) fail_io("cannot fsync directory", directory);
}

// Creates `directory` and its missing parents with mode 0700 (less any
// bits the umask clears), and fsyncs each parent whose entries changed.
// Existing directories keep their mode.
void create_private_directories(const fs::path& directory) {
  if (directory.empty()) return;
  struct stat info {};
  if (::stat(directory.c_str(), &info) == 0) {
    if (!S_ISDIR(info.st_mode)) fail_io("cannot create directory", directory, ENOTDIR);
    return;
  }
  if (errno != ENOENT) fail_io("cannot access directory", directory);
  create_private_directories(directory.parent_path());
  if (::mkdir(directory.c_str(), 0700) != 0) {
    if (errno == EEXIST) return;
    fail_io("cannot create directory", directory);
  }
  fs::path parent = directory.parent_path();
  fsync_directory(parent.empty() ? fs::path(".") : parent);
}

// Writes `contents` to a new 0600 file next to `path` and renames it to
// `path` unless `path` exists by then. Returns false if another writer
// created `path` first, and leaves that file in place.
bool write_new_file_atomically(const fs::path& path, const std::string& contents) {
  fs::path directory = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  std::string temporary = path.string() + ".tmp.XXXXXX";
  FileDescriptor fd(::mkostemp(temporary.data(), O_CLOEXEC));
  if (fd.get() < 0) fail_io("cannot create a temporary file for", path);

  try {
    if (::fchmod(fd.get(), 0600) != 0) fail_io("cannot set mode 0600 on", temporary);
    std::size_t written = 0;
    while (written < contents.size()) {
      ssize_t count = ::write(fd.get(), contents.data() + written, contents.size() - written);
      if (count < 0) {
        if (errno == EINTR) continue;
        fail_io("cannot write", temporary);
      }
      written += static_cast<std::size_t>(count);
    }
    if (::fsync(fd.get()) != 0) fail_io("cannot fsync", temporary);
    if (fd.close() != 0) fail_io("cannot close", temporary);

    // RENAME_NOREPLACE keeps a key that another process wrote meanwhile.
    // NOTE: file systems without it fall back to a plain rename, where the
    // last of two racing writers replaces the first writer's key.
    int result = ::renameat2(AT_FDCWD, temporary.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE);
    if (result != 0 && (errno == EINVAL || errno == ENOSYS)) result = ::rename(temporary.c_str(), path.c_str());
    if (result != 0) {
      int error = errno;
      if (error == EEXIST) {
        ::unlink(temporary.c_str());
        return false;
      }
      fail_io("cannot rename " + temporary + " to", path, error);
    }
  } catch (...) {
    ::unlink(temporary.c_str());
    throw;
  }
  fsync_directory(directory);
  return true;
}

SigningKey parse_private_key_file(const fs::path& path, const std::string& contents) {
  SigningKey key = [&] {
    try {
      return SigningKey::from_pem(contents);
    } catch (const std::invalid_argument& error) {
      throw std::runtime_error("signing key " + path.string() + " is not a P-256 private key: " + error.what() +
                               ". Replace it with a PEM P-256 private key, or move it away to generate a new one");
    }
  }();
  if (!key.has_private_key()) {
    throw std::runtime_error("signing key " + path.string() +
                             " contains only a public key, expected a P-256 private key. Replace it with the "
                             "private key, or move it away to generate a new one");
  }
  return key;
}

// Splits a compact JWS into its three parts, or returns nullopt.
std::optional<std::array<std::string_view, 3>> split_compact(std::string_view token) {
  std::size_t first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  std::size_t second = token.find('.', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  if (token.find('.', second + 1) != std::string_view::npos) return std::nullopt;
  return std::array<std::string_view, 3>{token.substr(0, first), token.substr(first + 1, second - first - 1),
                                         token.substr(second + 1)};
}

}  // namespace

// --- base64url ---------------------------------------------------------

std::string base64url_encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    std::uint32_t group = (static_cast<unsigned char>(data[i]) << 16) | (static_cast<unsigned char>(data[i + 1]) << 8) |
                          static_cast<unsigned char>(data[i + 2]);
    out += kAlphabet[(group >> 18) & 0x3f];
    out += kAlphabet[(group >> 12) & 0x3f];
    out += kAlphabet[(group >> 6) & 0x3f];
    out += kAlphabet[group & 0x3f];
  }
  std::size_t remaining = data.size() - i;
  if (remaining == 1) {
    std::uint32_t group = static_cast<unsigned char>(data[i]) << 16;
    out += kAlphabet[(group >> 18) & 0x3f];
    out += kAlphabet[(group >> 12) & 0x3f];
  } else if (remaining == 2) {
    std::uint32_t group = (static_cast<unsigned char>(data[i]) << 16) | (static_cast<unsigned char>(data[i + 1]) << 8);
    out += kAlphabet[(group >> 18) & 0x3f];
    out += kAlphabet[(group >> 12) & 0x3f];
    out += kAlphabet[(group >> 6) & 0x3f];
  }
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  // A final group of one character would carry only 6 bits, less than a byte.
  if (text.size() % 4 == 1) return std::nullopt;

  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t bits = 0;
  int bit_count = 0;
  for (char c : text) {
    std::size_t value = kAlphabet.find(c);
    if (value == std::string_view::npos) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(value);
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out += static_cast<char>((bits >> bit_count) & 0xff);
    }
  }
  // The 2 or 4 bits left over after the last byte must be zero, as an
  // encoder writes them. Otherwise several texts would decode to one value.
  if ((bits & ((1u << bit_count) - 1)) != 0) return std::nullopt;
  return out;
}

// --- SigningKey --------------------------------------------------------

SigningKey::SigningKey(std::shared_ptr<EVP_PKEY> key, bool has_private_key)
    : key_(std::move(key)), has_private_key_(has_private_key), kid_(compute_thumbprint(key_.get())) {}

SigningKey SigningKey::generate() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (key == nullptr) throw std::runtime_error("cannot generate a P-256 key: " + take_openssl_error());
  return SigningKey(share_key(key), /*has_private_key=*/true);
}

SigningKey SigningKey::from_pem(std::string_view pem) {
  // With an entry that earlier code left on the error queue, OpenSSL 3.0.19
  // reads an "EC PARAMETERS" block followed by a key as a key without its
  // public point, so start from an empty queue.
  ERR_clear_error();
  if (pem.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw std::invalid_argument("PEM text of " + std::to_string(pem.size()) + " bytes is too long for OpenSSL");
  }
  std::vector<std::string> labels = pem_labels(pem);
  auto has_label = [&](auto predicate) {
    return std::find_if(labels.begin(), labels.end(), predicate) != labels.end();
  };
  bool is_private = has_label(is_private_key_label);
  if (!is_private && has_label([](std::string_view label) { return label == "ENCRYPTED PRIVATE KEY"; })) {
    throw std::invalid_argument("PEM private key is encrypted. Decrypt it first, e.g. with `openssl pkey`");
  }
  if (!is_private && !has_label([](std::string_view label) { return label == "PUBLIC KEY"; })) {
    std::string found = labels.empty() ? "no PEM block" : "a PEM \"" + labels.front() + "\" block";
    throw std::invalid_argument("expected a PEM \"PRIVATE KEY\", \"EC PRIVATE KEY\" or \"PUBLIC KEY\" block, found " +
                                found);
  }

  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) throw std::runtime_error("BIO_new_mem_buf failed: " + take_openssl_error());
  EVP_PKEY* raw = is_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, refuse_passphrase, nullptr)
                             : PEM_read_bio_PUBKEY(bio.get(), nullptr, refuse_passphrase, nullptr);
  if (raw == nullptr) {
    throw std::invalid_argument(std::string("cannot parse the PEM ") + (is_private ? "private" : "public") +
                                " key: " + take_openssl_error());
  }
  std::shared_ptr<EVP_PKEY> key = share_key(raw);
  check_p256(key.get());
  check_key_consistency(key.get(), is_private);
  return SigningKey(std::move(key), is_private);
}

std::string SigningKey::private_pem() const {
  if (!has_private_key_) throw std::logic_error("signing key " + kid_ + " is public-only and has no private PEM");
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    throw std::runtime_error("cannot write the private key as PEM: " + take_openssl_error());
  }
  return bio_contents(bio.get());
}

std::string SigningKey::public_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) {
    throw std::runtime_error("cannot write the public key as PEM: " + take_openssl_error());
  }
  return bio_contents(bio.get());
}

std::string SigningKey::sign(std::string_view input) const {
  if (!has_private_key_) throw std::logic_error("signing key " + kid_ + " is public-only and cannot sign");

  MdContextPtr context(EVP_MD_CTX_new());
  std::size_t der_size = 0;
  if (!context || EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
      EVP_DigestSign(context.get(), nullptr, &der_size, nullptr, 0) != 1) {
    throw std::runtime_error("cannot start an ES256 signature: " + take_openssl_error());
  }
  std::string der(der_size, '\0');
  if (EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(der.data()), &der_size,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    throw std::runtime_error("ES256 signing failed: " + take_openssl_error());
  }

  // OpenSSL produces the DER SEQUENCE of r and s. JOSE wants both as
  // fixed-width big-endian integers, concatenated.
  const unsigned char* cursor = reinterpret_cast<const unsigned char*>(der.data());
  EcdsaSigPtr signature(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der_size)));
  if (!signature) throw std::runtime_error("cannot parse the DER ECDSA signature: " + take_openssl_error());
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(signature.get(), &r, &s);
  return bignum_to_fixed(r) + bignum_to_fixed(s);
}

bool SigningKey::verify(std::string_view input, std::string_view signature) const {
  if (signature.size() != 2 * kCoordinateSize) return false;

  const auto* bytes = reinterpret_cast<const unsigned char*>(signature.data());
  BignumPtr r(BN_bin2bn(bytes, kCoordinateSize, nullptr));
  BignumPtr s(BN_bin2bn(bytes + kCoordinateSize, kCoordinateSize, nullptr));
  EcdsaSigPtr parsed(ECDSA_SIG_new());
  if (!r || !s || !parsed || ECDSA_SIG_set0(parsed.get(), r.get(), s.get()) != 1) {
    throw std::runtime_error("cannot build an ECDSA signature: " + take_openssl_error());
  }
  // ECDSA_SIG_set0 took ownership of r and s.
  r.release();
  s.release();

  unsigned char* der = nullptr;
  int der_size = i2d_ECDSA_SIG(parsed.get(), &der);
  if (der_size <= 0) throw std::runtime_error("cannot encode the ECDSA signature as DER: " + take_openssl_error());
  std::unique_ptr<unsigned char, void (*)(unsigned char*)> der_owner(der, [](unsigned char* p) { OPENSSL_free(p); });

  MdContextPtr context(EVP_MD_CTX_new());
  if (!context || EVP_DigestVerifyInit(context.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1) {
    throw std::runtime_error("cannot start an ES256 verification: " + take_openssl_error());
  }
  int result = EVP_DigestVerify(context.get(), der, static_cast<std::size_t>(der_size),
                                reinterpret_cast<const unsigned char*>(input.data()), input.size());
  if (result != 1) take_openssl_error();
  return result == 1;
}

// --- KeySet ------------------------------------------------------------

KeySet::KeySet(SigningKey signer, std::vector<SigningKey> accepted)
    : signer_(std::move(signer)), accepted_(std::move(accepted)) {}

const SigningKey* KeySet::find(std::string_view kid) const {
  if (signer_.kid() == kid) return &signer_;
  for (const SigningKey& key : accepted_) {
    if (key.kid() == kid) return &key;
  }
  return nullptr;
}

// --- JWT ---------------------------------------------------------------

std::string encode_jwt(const nlohmann::json& claims, const KeySet& keys) {
  if (!claims.is_object()) {
    throw std::invalid_argument(std::string("JWT claims must be a JSON object, not ") + claims.type_name());
  }
  nlohmann::json header = {{"alg", "ES256"}, {"typ", "JWT"}, {"kid", keys.signer().kid()}};
  std::string signing_input = base64url_encode(header.dump()) + "." + base64url_encode(claims.dump());
  return signing_input + "." + base64url_encode(keys.signer().sign(signing_input));
}

std::optional<nlohmann::json> decode_jwt(std::string_view token, const KeySet& keys, std::string* problem) {
  auto fail = [&](const char* reason) -> std::optional<nlohmann::json> {
    if (problem) *problem = reason;
    return std::nullopt;
  };

  auto parts = split_compact(token);
  if (!parts) return fail("malformed token");
  auto header_text = base64url_decode((*parts)[0]);
  auto payload_text = base64url_decode((*parts)[1]);
  auto signature = base64url_decode((*parts)[2]);
  if (!header_text || !payload_text || !signature) return fail("malformed token");

  nlohmann::json header = nlohmann::json::parse(*header_text, nullptr, /*allow_exceptions=*/false);
  if (!header.is_object()) return fail("malformed token");

  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string() || alg->get_ref<const std::string&>() != "ES256") {
    return fail("unsupported algorithm");
  }
  // RFC 7515 section 4.1.11: a recipient must reject a token whose "crit"
  // lists extensions it does not understand, and this code understands none.
  if (header.contains("crit")) return fail("unsupported critical header");

  auto kid = header.find("kid");
  if (kid == header.end() || !kid->is_string()) return fail("unknown key id");
  const SigningKey* key = keys.find(kid->get_ref<const std::string&>());
  if (key == nullptr) return fail("unknown key id");

  // The signature covers the parts as sent, not re-encoded JSON.
  std::string_view signing_input = token.substr(0, (*parts)[0].size() + 1 + (*parts)[1].size());
  if (!key->verify(signing_input, *signature)) return fail("invalid signature");

  nlohmann::json claims = nlohmann::json::parse(*payload_text, nullptr, /*allow_exceptions=*/false);
  if (!claims.is_object()) return fail("claims are not a JSON object");
  return claims;
}

// --- Key file ----------------------------------------------------------

SigningKey load_or_create_signing_key(const std::string& path_text) {
  fs::path path(path_text);
  if (auto contents = read_file_if_exists(path)) return parse_private_key_file(path, *contents);

  create_private_directories(path.parent_path());
  SigningKey key = SigningKey::generate();
  if (write_new_file_atomically(path, key.private_pem())) return key;

  // Another process created the file after the first read.
  auto contents = read_file_if_exists(path);
  if (!contents) fail_io("cannot read signing key", path, ENOENT);
  return parse_private_key_file(path, *contents);
}

}  // namespace berth::auth
