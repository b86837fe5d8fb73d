#include "auth/jwt.h"

#include <gmock/gmock.h>
#include <openssl/err.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace berth::auth {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A fixed P-256 key, made with
//   openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256
// and converted with `openssl ec` (SEC1 form) and `openssl pkey -pubout`.
constexpr std::string_view kFixedPkcs8Pem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgcGTvRMe2WUCfw3A+\n"
    "hLH+0P9JJEqI7aBDlIPzXtn+miGhRANCAATFOfy5c/rvmEBeKnEOSUh7Tj766gpw\n"
    "IZ/EmIYKx8ANMGu3MEKmOv1SoWGGO3sy7mu21NtwhQtJsQnXuQlXexqh\n"
    "-----END PRIVATE KEY-----\n";
constexpr std::string_view kFixedSec1Pem =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIHBk70THtllAn8NwPoSx/tD/SSRKiO2gQ5SD817Z/pohoAoGCCqGSM49\n"
    "AwEHoUQDQgAExTn8uXP675hAXipxDklIe04++uoKcCGfxJiGCsfADTBrtzBCpjr9\n"
    "UqFhhjt7Mu5rttTbcIULSbEJ17kJV3saoQ==\n"
    "-----END EC PRIVATE KEY-----\n";
constexpr std::string_view kFixedPublicPem =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAExTn8uXP675hAXipxDklIe04++uoK\n"
    "cCGfxJiGCsfADTBrtzBCpjr9UqFhhjt7Mu5rttTbcIULSbEJ17kJV3saoQ==\n"
    "-----END PUBLIC KEY-----\n";

// RFC 7638 thumbprint of the fixed key, computed without this code: the
// last 65 bytes of `openssl pkey -pubout -outform DER` are the point
// 04||x||y, and Python 3.11 hashed the JWK
//   {"crv":"P-256","kty":"EC","x":"xTn8uXP675hAXipxDklIe04--uoKcCGfxJiGCsfADTA",
//    "y":"a7cwQqY6_VKhYYY7ezLua7bU23CFC0mxCde5CVd7GqE"}
// with hashlib.sha256 and encoded it with base64.urlsafe_b64encode, '='
// stripped.
constexpr std::string_view kFixedKid = "azUeEp1An6oFi6dL7RRafBHQhGVXBQ0TuXlT6-U7rXU";

// The fixed key in SEC1 form with the public point replaced by that of
// another key from `openssl genpkey`: the last 65 bytes of the DER, the
// point 04||x||y, were swapped with Python.
constexpr std::string_view kMismatchedSec1Pem =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIHBk70THtllAn8NwPoSx/tD/SSRKiO2gQ5SD817Z/pohoAoGCCqGSM49\n"
    "AwEHoUQDQgAE8Ub6dt/JGYNrzqgCI/9i2GLZ5G92huQos9Q6EAoCe60N1S4GLLcN\n"
    "883bb+8y7tClIvJfXj1pqbu6FTApK7MCKw==\n"
    "-----END EC PRIVATE KEY-----\n";

// The output of `openssl ecparam -name prime256v1`, which
// `openssl ecparam -genkey` writes before the key.
constexpr std::string_view kP256ParametersPem =
    "-----BEGIN EC PARAMETERS-----\n"
    "BggqhkjOPQMBBw==\n"
    "-----END EC PARAMETERS-----\n";

// openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384
constexpr std::string_view kP384Pem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDBvbTIK/BBmTWfFcJpK\n"
    "JaTOGYU/Rjfq+ebJpbES/Bs2On0bvynv9qYJMUP9PA8TYr+hZANiAARbQX/xniN7\n"
    "xlZfd76kWhmN++LoWZjXV/IavZ/lSPnWVHz8D0sTNpziCg1C92+3BCS0cuWc5mfi\n"
    "EtX/H8S8/B+AFkeGfAZ1qKfLx2YlV/QU2vOAgOifXunHxI/hqowApfQ=\n"
    "-----END PRIVATE KEY-----\n";

// openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024
constexpr std::string_view kRsaPem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBAKlQfiEDtHK5rj6B\n"
    "si6UNsrc4pg1zw9HK/kve77WJ0dmu1LGjDq4PXIUTrY0yY9afNMny5AA3Nra1bsi\n"
    "TU8Bq4s47COUS0mTrOVyE3rdmbugCEdktqKZazMSBq3/iSg+rnUZjWSzE0iPFIhM\n"
    "20RtkBNg77g15esB2e99hBIaVt27AgMBAAECgYBT72Rnp3eIPEaGFDOp5a34CWKH\n"
    "xH0efNDu2jxFUdLtEZ+hnG4eGgHUEP8oUqjtWRVydFL004ipMj0sZQfgN9q6/nwh\n"
    "BNMM/myUBubQU2AgtO6ka9t4HkgDjQQB+QYPkoqMPfgp5SY+pOpgZ7MXkokaFUDN\n"
    "brfuxITPNwbJUrzsgQJBANaW8YlD115PF6LfuqfiSTFTfr7WxvSZGwmWxI3OBDqA\n"
    "7oEDjwHki4VprpVBUmVccJq9+cyKJpWJlu220rh2Q/sCQQDJ/OKL2BVV+8EwvKov\n"
    "VJ7baws19iRDm/BT1SIZKAIfF/QB/N60MwjQhDzpqhKkBe3pQmdajsaiOrXvqC3i\n"
    "sOFBAkBq2rrneSqzQXsplXKiyqFbuJHygYyMm/jEq5iwbBfa8fzRrW32qVF4W4md\n"
    "tOtMod1IkLTkzx4rdFn9gP4o8GslAkAwzRKHKwvsnEjO16ZejRlcdf5daTzVwOVN\n"
    "u97jKRFqJcVkfY3pB7OHfYuiAN9EFdKnWs3RyVEgfQLcBkwfyxCBAkEAmI+FavA2\n"
    "KPYeHjKd3gZucIR5PKoBUXmnQhP9k0IhH43s9Z0wd1Knra4CcNDvsTuoqP+CQB53\n"
    "boUGYqBaVDggIg==\n"
    "-----END PRIVATE KEY-----\n";

// The fixed key encrypted with
//   openssl pkcs8 -topk8 -passout pass:secret
constexpr std::string_view kEncryptedPem =
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
    "MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAhH6YWeH3tbkgICCAAw\n"
    "DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEDMFckenZgqx+fshO+YemqUEgZB5\n"
    "MWU9LQcS1Ta+6QsE4uXvsfbVv7cEFDRf1O/DYPn+ZMe8SAS27VXAJSWQyqtFyAWO\n"
    "NX4yyLVL84xj0Pf34uEcpDWxSKg6nOxz15btRat9jYuPLmHi+1ZzHsCfCQ9GW+kt\n"
    "+Miqin9qvrHmGL6JOuh2OIYtHHk8+qx8nhJeYUlhFOsEtO3AfIt6lJarsGeMaaM=\n"
    "-----END ENCRYPTED PRIVATE KEY-----\n";

SigningKey fixed_key() { return SigningKey::from_pem(kFixedPkcs8Pem); }

// The reason from_pem gives for rejecting `pem`, or "" if it accepted it.
std::string from_pem_problem(std::string_view pem) {
  try {
    SigningKey::from_pem(pem);
    return "";
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
}

// Builds a compact token from raw header and payload text, signed by
// `signer` or carrying `signature` as given when `signer` is null.
std::string make_token(std::string_view header, std::string_view payload, const SigningKey* signer,
                       std::string_view signature = "") {
  std::string signing_input = base64url_encode(header) + "." + base64url_encode(payload);
  std::string signature_bytes = signer ? signer->sign(signing_input) : std::string(signature);
  return signing_input + "." + base64url_encode(signature_bytes);
}

std::string header_with_kid(std::string_view kid) {
  return R"({"alg":"ES256","typ":"JWT","kid":")" + std::string(kid) + R"("})";
}

// The problem decode_jwt reports for `token`, or "" if it accepted it.
std::string decode_problem(std::string_view token, const KeySet& keys) {
  std::string problem;
  if (decode_jwt(token, keys, &problem)) return "";
  return problem;
}

// --- Helpers for the openssl CLI and temporary files ---------------------

struct CommandResult {
  int exit_status = -1;
  std::string output;
};

// Runs `command` with /bin/sh and returns its exit status and its
// standard output and standard error.
CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  std::size_t count = 0;
  while ((count = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, count);
  int status = ::pclose(pipe);
  if (status != -1 && WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
  return result;
}

bool openssl_available() { return run_command("command -v openssl").exit_status == 0; }

std::string quote(const fs::path& path) {
  std::string quoted = "'";
  quoted += path.string();
  quoted += "'";
  return quoted;
}

// A new directory under testing::TempDir(), removed with its contents.
class TempDirectory {
 public:
  TempDirectory() {
    std::string pattern = (fs::path(testing::TempDir()) / "jwt_test.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ~TempDirectory() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDirectory(const TempDirectory&) = delete;
  TempDirectory& operator=(const TempDirectory&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write_file(const fs::path& path, std::string_view contents) {
  std::ofstream out(path, std::ios::binary);
  out << contents;
  if (!out.flush()) throw std::runtime_error("cannot write " + path.string());
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

unsigned permission_bits(const fs::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return 0xffff;
  return info.st_mode & 07777;
}

// Converts a DER ECDSA-Sig-Value (SEQUENCE of INTEGER r and s) to the
// 64-byte JOSE form. Written here by hand so the check does not reuse the
// conversion under test. P-256 signatures are short enough that every
// DER length fits in one byte.
std::string der_to_jose(std::string_view der) {
  std::size_t position = 0;
  auto take = [&]() -> unsigned char {
    if (position >= der.size()) throw std::runtime_error("DER signature is truncated");
    return static_cast<unsigned char>(der[position++]);
  };
  if (take() != 0x30) throw std::runtime_error("DER signature does not start with SEQUENCE");
  if (take() != der.size() - 2) throw std::runtime_error("DER SEQUENCE length does not match");
  std::string jose;
  for (int part = 0; part < 2; ++part) {
    if (take() != 0x02) throw std::runtime_error("DER signature part is not an INTEGER");
    std::size_t length = take();
    if (position + length > der.size()) throw std::runtime_error("DER INTEGER is truncated");
    std::string_view value = der.substr(position, length);
    position += length;
    while (!value.empty() && value.front() == '\0') value.remove_prefix(1);
    if (value.size() > 32) throw std::runtime_error("DER INTEGER is longer than 32 bytes");
    jose += std::string(32 - value.size(), '\0') + std::string(value);
  }
  return jose;
}

// Converts a 64-byte JOSE signature to DER, the inverse of der_to_jose.
std::string jose_to_der(std::string_view jose) {
  std::string body;
  for (std::string_view value : {jose.substr(0, 32), jose.substr(32, 32)}) {
    while (value.size() > 1 && value.front() == '\0') value.remove_prefix(1);
    std::string integer(value);
    // DER INTEGERs are signed, so a set high bit needs a leading zero.
    if (static_cast<unsigned char>(integer.front()) & 0x80) integer.insert(integer.begin(), '\0');
    body += '\x02';
    body += static_cast<char>(integer.size());
    body += integer;
  }
  return std::string("\x30", 1) + static_cast<char>(body.size()) + body;
}

// --- base64url -----------------------------------------------------------

TEST(Base64Url, RoundTripsLengthsZeroToSeventy) {
  for (std::size_t length = 0; length <= 70; ++length) {
    std::string data;
    for (std::size_t i = 0; i < length; ++i) data += static_cast<char>((i * 37 + length * 11 + 255) % 256);

    std::string encoded = base64url_encode(data);
    auto decoded = base64url_decode(encoded);

    EXPECT_EQ(encoded.size(), (length * 4 + 2) / 3) << "length " << length;
    EXPECT_EQ(encoded.find('='), std::string::npos) << "length " << length;
    ASSERT_TRUE(decoded.has_value()) << "length " << length << " text " << encoded;
    EXPECT_EQ(*decoded, data) << "length " << length;
  }
}

TEST(Base64Url, Rfc4648Vectors) {
  // RFC 4648 section 10, without the padding that base64url in JOSE omits.
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""},         {"f", "Zg"},         {"fo", "Zm8"},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [data, text] : vectors) {
    EXPECT_EQ(base64url_encode(data), text) << "data \"" << data << "\"";
    EXPECT_EQ(base64url_decode(text), data) << "text \"" << text << "\"";
  }
}

TEST(Base64Url, UsesUrlSafeAlphabet) {
  // 0xfb 0xff is "+/8" in standard base64.
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_EQ(base64url_decode("-_8"), std::string("\xfb\xff"));
}

TEST(Base64Url, DecodeRejectsPadding) {
  EXPECT_FALSE(base64url_decode("Zg=="));
  EXPECT_FALSE(base64url_decode("Zg="));
  EXPECT_FALSE(base64url_decode("Zm8="));
  EXPECT_FALSE(base64url_decode("===="));
}

TEST(Base64Url, DecodeRejectsInvalidCharacters) {
  const std::vector<std::string_view> texts = {
      "+/8", "Zm9v\n", "Zm 9v", "Zm9v.", std::string_view("Zm\0v", 4), "Zm9\xff",
  };
  for (std::string_view text : texts) {
    EXPECT_FALSE(base64url_decode(text)) << "text \"" << text << "\"";
  }
}

TEST(Base64Url, DecodeRejectsLengthOneModFour) {
  EXPECT_FALSE(base64url_decode("Z"));
  EXPECT_FALSE(base64url_decode("Zm9vY"));
  EXPECT_FALSE(base64url_decode("Zm9vYmFyZ"));
}

TEST(Base64Url, DecodeRejectsNonZeroUnusedBits) {
  // "Zg" is "f", and "Zh" sets one of the four bits after the byte.
  EXPECT_FALSE(base64url_decode("Zh"));
  // "Zm8" is "fo", and "Zm9" sets one of the two bits after the bytes.
  EXPECT_FALSE(base64url_decode("Zm9"));
}

// --- SigningKey ----------------------------------------------------------

TEST(SigningKey, GeneratedKeySignsAndVerifies) {
  SigningKey key = SigningKey::generate();

  std::string signature = key.sign("message");

  EXPECT_TRUE(key.has_private_key());
  EXPECT_TRUE(key.verify("message", signature));
}

TEST(SigningKey, SignatureIs64Bytes) {
  SigningKey key = SigningKey::generate();

  std::string signature = key.sign("message");

  EXPECT_EQ(signature.size(), 64u);
}

TEST(SigningKey, SignatureKeepsLeadingZeros) {
  SigningKey key = SigningKey::generate();

  // About 1 signature in 128 has r or s below 2^248, which DER stores in
  // fewer than 32 bytes. The loop signs until one turns up. The chance of
  // none in 5000 tries is about 1e-17.
  bool found = false;
  for (int i = 0; i < 5000 && !found; ++i) {
    std::string input = "input " + std::to_string(i);
    std::string signature = key.sign(input);
    ASSERT_EQ(signature.size(), 64u) << "signature " << i;
    found = signature[0] == '\0' || signature[32] == '\0';
    if (found) {
      EXPECT_TRUE(key.verify(input, signature)) << "signature " << i;
    }
  }
  EXPECT_TRUE(found);
}

TEST(SigningKey, VerifyRejectsChangedInput) {
  SigningKey key = SigningKey::generate();
  std::string signature = key.sign("message");

  EXPECT_FALSE(key.verify("messagE", signature));
  EXPECT_FALSE(key.verify("message ", signature));
  EXPECT_FALSE(key.verify("", signature));
}

TEST(SigningKey, VerifyRejectsFlippedSignatureBit) {
  SigningKey key = SigningKey::generate();
  std::string signature = key.sign("message");

  for (std::size_t byte : {0u, 17u, 31u, 32u, 50u, 63u}) {
    for (int bit : {0, 7}) {
      std::string changed = signature;
      changed[byte] = static_cast<char>(changed[byte] ^ (1 << bit));
      EXPECT_FALSE(key.verify("message", changed)) << "byte " << byte << " bit " << bit;
    }
  }
}

TEST(SigningKey, VerifyRejectsWrongLength) {
  SigningKey key = SigningKey::generate();
  std::string signature = key.sign("message");

  EXPECT_FALSE(key.verify("message", ""));
  EXPECT_FALSE(key.verify("message", signature.substr(0, 63)));
  EXPECT_FALSE(key.verify("message", signature + '\0'));
  EXPECT_FALSE(key.verify("message", jose_to_der(signature)));
}

TEST(SigningKey, VerifyRejectsOutOfRangeValues) {
  SigningKey key = SigningKey::generate();

  // r = s = 0 and r = s = 2^256 - 1, which exceeds the group order.
  EXPECT_FALSE(key.verify("message", std::string(64, '\0')));
  EXPECT_FALSE(key.verify("message", std::string(64, '\xff')));
}

TEST(SigningKey, VerifyRejectsOtherKey) {
  SigningKey key = SigningKey::generate();
  SigningKey other = SigningKey::generate();

  EXPECT_FALSE(other.verify("message", key.sign("message")));
}

TEST(SigningKey, KidStableAcrossPemRoundTrip) {
  SigningKey key = SigningKey::generate();

  SigningKey from_private = SigningKey::from_pem(key.private_pem());
  SigningKey from_public = SigningKey::from_pem(key.public_pem());

  EXPECT_EQ(from_private.kid(), key.kid());
  EXPECT_EQ(from_public.kid(), key.kid());
  EXPECT_TRUE(from_private.has_private_key());
  EXPECT_TRUE(from_public.verify("message", from_private.sign("message")));
}

TEST(SigningKey, KidDiffersBetweenKeys) {
  SigningKey first = SigningKey::generate();
  SigningKey second = SigningKey::generate();

  EXPECT_NE(first.kid(), second.kid());
}

TEST(SigningKey, KidMatchesKnownThumbprint) {
  EXPECT_EQ(SigningKey::from_pem(kFixedPkcs8Pem).kid(), kFixedKid);
  EXPECT_EQ(SigningKey::from_pem(kFixedSec1Pem).kid(), kFixedKid);
  EXPECT_EQ(SigningKey::from_pem(kFixedPublicPem).kid(), kFixedKid);
}

TEST(SigningKey, ReadsSec1AfterEcParameters) {
  // `openssl ecparam -genkey` output: a parameters block, then the key.
  std::string pem = std::string(kP256ParametersPem) + std::string(kFixedSec1Pem);

  SigningKey key = SigningKey::from_pem(pem);

  EXPECT_TRUE(key.has_private_key());
  EXPECT_EQ(key.kid(), kFixedKid);
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(SigningKey, FromPemIgnoresStaleOpensslError) {
  // An error that earlier code left on the thread's queue makes OpenSSL
  // 3.0 misread a parameters block followed by a key.
  std::string pem = std::string(kP256ParametersPem) + std::string(kFixedSec1Pem);
  ERR_raise(ERR_LIB_SSL, ERR_R_INTERNAL_ERROR);

  SigningKey key = SigningKey::from_pem(pem);

  EXPECT_EQ(key.kid(), kFixedKid);
}

TEST(SigningKey, PrivatePemIsPkcs8) {
  SigningKey key = SigningKey::from_pem(kFixedSec1Pem);

  EXPECT_THAT(key.private_pem(), StartsWith("-----BEGIN PRIVATE KEY-----\n"));
  EXPECT_THAT(key.public_pem(), StartsWith("-----BEGIN PUBLIC KEY-----\n"));
}

TEST(SigningKey, PublicKeyVerifiesButCannotSign) {
  SigningKey private_key = fixed_key();
  SigningKey public_key = SigningKey::from_pem(kFixedPublicPem);
  std::string signature = private_key.sign("message");

  EXPECT_FALSE(public_key.has_private_key());
  EXPECT_TRUE(public_key.verify("message", signature));
  EXPECT_THROW(public_key.sign("message"), std::logic_error);
  EXPECT_THROW(public_key.private_pem(), std::logic_error);
  EXPECT_EQ(public_key.public_pem(), kFixedPublicPem);
}

TEST(SigningKey, CopiesShareTheKey) {
  SigningKey key = SigningKey::generate();

  SigningKey copy = key;
  SigningKey moved = std::move(copy);

  EXPECT_EQ(moved.kid(), key.kid());
  EXPECT_TRUE(key.verify("message", moved.sign("message")));
}

TEST(SigningKey, FromPemRejectsGarbage) {
  EXPECT_THAT(from_pem_problem(""), HasSubstr("found no PEM block"));
  EXPECT_THAT(from_pem_problem("not a key"), HasSubstr("found no PEM block"));
  EXPECT_THAT(from_pem_problem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
              HasSubstr("found a PEM \"CERTIFICATE\" block"));
  EXPECT_THAT(from_pem_problem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
              HasSubstr("cannot parse the PEM private key"));
  EXPECT_THAT(from_pem_problem("-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n"),
              HasSubstr("cannot parse the PEM public key"));
  // The fixed key cut off before its END line.
  EXPECT_THAT(from_pem_problem(kFixedPkcs8Pem.substr(0, 100)), HasSubstr("cannot parse"));
}

TEST(SigningKey, FromPemRejectsP384Key) {
  EXPECT_THAT(from_pem_problem(kP384Pem), HasSubstr("secp384r1"));
}

TEST(SigningKey, FromPemRejectsRsaKey) {
  EXPECT_THAT(from_pem_problem(kRsaPem), HasSubstr("key type is RSA"));
}

TEST(SigningKey, FromPemRejectsMismatchedPublicKey) {
  EXPECT_THAT(from_pem_problem(kMismatchedSec1Pem), HasSubstr("consistency check"));
}

TEST(SigningKey, FromPemRejectsEncryptedKey) {
  // Must fail at once, not prompt on the terminal for a passphrase.
  EXPECT_THAT(from_pem_problem(kEncryptedPem), HasSubstr("encrypted"));
}

TEST(SigningKey, FailuresLeaveOpensslErrorQueueEmpty) {
  // Other OpenSSL users on the thread, such as TLS, read this queue.
  SigningKey key = SigningKey::generate();
  ERR_clear_error();

  EXPECT_FALSE(key.verify("message", std::string(64, '\xff')));
  EXPECT_EQ(ERR_peek_error(), 0u);
  EXPECT_THROW(SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
               std::invalid_argument);
  EXPECT_EQ(ERR_peek_error(), 0u);
  EXPECT_THROW(SigningKey::from_pem(kP384Pem), std::invalid_argument);
  EXPECT_EQ(ERR_peek_error(), 0u);
}

// --- JWT -----------------------------------------------------------------

TEST(Jwt, EncodeDecodeRoundTrip) {
  KeySet keys(SigningKey::generate());
  nlohmann::json claims = {
      {"sub", "alice"},
      {"exp", 1893456000},
      {"access", {{{"type", "repository"}, {"name", "library/ubuntu"}, {"actions", {"pull", "push"}}}}},
      {"note", "caf\u00e9 \u2713"},
  };

  std::string token = encode_jwt(claims, keys);
  std::string problem;
  auto decoded = decode_jwt(token, keys, &problem);

  ASSERT_TRUE(decoded.has_value()) << problem;
  EXPECT_EQ(*decoded, claims);
}

TEST(Jwt, EncodeWritesEs256Header) {
  KeySet keys(SigningKey::generate());

  std::string token = encode_jwt({{"sub", "alice"}}, keys);
  auto header_text = base64url_decode(token.substr(0, token.find('.')));

  ASSERT_TRUE(header_text.has_value());
  nlohmann::json expected = {{"alg", "ES256"}, {"typ", "JWT"}, {"kid", keys.signer().kid()}};
  EXPECT_EQ(nlohmann::json::parse(*header_text), expected);
}

TEST(Jwt, EncodeRejectsNonObjectClaims) {
  KeySet keys(SigningKey::generate());

  EXPECT_THROW(encode_jwt(nlohmann::json::array({1, 2}), keys), std::invalid_argument);
  EXPECT_THROW(encode_jwt("alice", keys), std::invalid_argument);
}

TEST(Jwt, DecodeAcceptsNullProblem) {
  KeySet keys(SigningKey::generate());

  EXPECT_TRUE(decode_jwt(encode_jwt({{"sub", "alice"}}, keys), keys, nullptr));
  EXPECT_FALSE(decode_jwt("a.b", keys, nullptr));
}

TEST(Jwt, DecodeRejectsAlgNone) {
  KeySet keys(SigningKey::generate());

  std::string bare = make_token(R"({"alg":"none"})", R"({"sub":"alice"})", nullptr);
  std::string with_kid = make_token(R"({"alg":"none","kid":")" + keys.signer().kid() + R"("})",
                                    R"({"sub":"alice"})", nullptr);

  ASSERT_TRUE(bare.ends_with("."));
  EXPECT_EQ(decode_problem(bare, keys), "unsupported algorithm");
  EXPECT_EQ(decode_problem(with_kid, keys), "unsupported algorithm");
}

TEST(Jwt, DecodeRejectsOtherAlgorithms) {
  SigningKey key = SigningKey::generate();
  KeySet keys(key);
  std::string kid = key.kid();

  // An HS256 token whose HMAC secret is the public key would pass a
  // verifier that trusted the header's algorithm.
  const std::vector<std::string> algorithms = {
      R"("HS256")", R"("ES384")", R"("RS256")", R"("es256")", R"("ES256 ")", R"(["ES256"])", "null",
  };
  for (const std::string& alg : algorithms) {
    std::string header = R"({"alg":)" + alg + R"(,"typ":"JWT","kid":")" + kid + R"("})";
    std::string token = make_token(header, R"({"sub":"alice"})", nullptr, std::string(32, 'x'));
    EXPECT_EQ(decode_problem(token, keys), "unsupported algorithm") << "alg " << alg;
  }
  std::string no_alg = make_token(R"({"typ":"JWT","kid":")" + kid + R"("})", R"({"sub":"alice"})", &key);
  EXPECT_EQ(decode_problem(no_alg, keys), "unsupported algorithm");
}

TEST(Jwt, DecodeRejectsChangedPayload) {
  SigningKey key = SigningKey::generate();
  KeySet keys(key);
  std::string token = encode_jwt({{"sub", "alice"}}, keys);
  std::size_t first = token.find('.');
  std::size_t second = token.find('.', first + 1);

  std::string changed = token.substr(0, first + 1) + base64url_encode(R"({"sub":"admin"})") + token.substr(second);

  EXPECT_EQ(decode_problem(changed, keys), "invalid signature");
}

TEST(Jwt, DecodeRejectsChangedHeader) {
  SigningKey key = SigningKey::generate();
  KeySet keys(key);
  std::string token = encode_jwt({{"sub", "alice"}}, keys);

  // Same header values, different bytes: the signature covers the text.
  std::string header = R"({"typ":"JWT","alg":"ES256","kid":")" + key.kid() + R"("})";
  std::string changed = base64url_encode(header) + token.substr(token.find('.'));

  EXPECT_EQ(decode_problem(changed, keys), "invalid signature");
}

TEST(Jwt, DecodeRejectsOtherKeyWithSameKid) {
  SigningKey key = SigningKey::generate();
  SigningKey attacker = SigningKey::generate();
  KeySet keys(key);

  std::string token = make_token(header_with_kid(key.kid()), R"({"sub":"alice"})", &attacker);

  EXPECT_EQ(decode_problem(token, keys), "invalid signature");
}

TEST(Jwt, DecodeRejectsDerSignature) {
  SigningKey key = SigningKey::generate();
  KeySet keys(key);
  std::string signing_input = base64url_encode(header_with_kid(key.kid())) + "." + base64url_encode("{}");

  std::string token = signing_input + "." + base64url_encode(jose_to_der(key.sign(signing_input)));

  EXPECT_EQ(decode_problem(token, keys), "invalid signature");
}

TEST(Jwt, DecodeRejectsUnknownKid) {
  SigningKey key = SigningKey::generate();
  KeySet keys(SigningKey::generate());

  std::string token = make_token(header_with_kid(key.kid()), R"({"sub":"alice"})", &key);

  EXPECT_EQ(decode_problem(token, keys), "unknown key id");
}

TEST(Jwt, DecodeRejectsMissingKid) {
  SigningKey key = SigningKey::generate();
  KeySet keys(key);

  std::string missing = make_token(R"({"alg":"ES256","typ":"JWT"})", R"({"sub":"alice"})", &key);
  std::string number = make_token(R"({"alg":"ES256","kid":7})", R"({"sub":"alice"})", &key);

  EXPECT_EQ(decode_problem(missing, keys), "unknown key id");
  EXPECT_EQ(decode_problem(number, keys), "unknown key id");
}

TEST(Jwt, DecodeRejectsCriticalHeader) {
  SigningKey key = SigningKey::generate();
  KeySet keys(key);
  std::string header = R"({"alg":"ES256","kid":")" + key.kid() + R"(","crit":["exp"],"exp":1})";

  std::string token = make_token(header, R"({"sub":"alice"})", &key);

  EXPECT_EQ(decode_problem(token, keys), "unsupported critical header");
}

TEST(Jwt, DecodeRejectsWrongPartCount) {
  KeySet keys(SigningKey::generate());
  std::string token = encode_jwt({{"sub", "alice"}}, keys);
  std::string two_parts = token.substr(0, token.rfind('.'));

  EXPECT_EQ(decode_problem(two_parts, keys), "malformed token");
  EXPECT_EQ(decode_problem(token + ".", keys), "malformed token");
  EXPECT_EQ(decode_problem(token + ".e30", keys), "malformed token");
  EXPECT_EQ(decode_problem("", keys), "malformed token");
  EXPECT_EQ(decode_problem("..", keys), "malformed token");
}

TEST(Jwt, DecodeRejectsBadBase64) {
  KeySet keys(SigningKey::generate());
  std::string token = encode_jwt({{"sub", "alice"}}, keys);

  EXPECT_EQ(decode_problem(token + "=", keys), "malformed token");
  EXPECT_EQ(decode_problem("+" + token, keys), "malformed token");
  EXPECT_EQ(decode_problem(" " + token, keys), "malformed token");
}

TEST(Jwt, DecodeRejectsNonJsonHeader) {
  SigningKey key = SigningKey::generate();
  KeySet keys(key);

  std::string not_json = make_token("ES256", R"({"sub":"alice"})", &key);
  std::string array = make_token(R"(["ES256"])", R"({"sub":"alice"})", &key);
  std::string truncated = make_token(R"({"alg":"ES256")", R"({"sub":"alice"})", &key);

  EXPECT_EQ(decode_problem(not_json, keys), "malformed token");
  EXPECT_EQ(decode_problem(array, keys), "malformed token");
  EXPECT_EQ(decode_problem(truncated, keys), "malformed token");
}

TEST(Jwt, DecodeRejectsNonObjectClaims) {
  SigningKey key = SigningKey::generate();
  KeySet keys(key);

  for (std::string payload : {R"(["alice"])", R"("alice")", "42", "null", "{", ""}) {
    std::string token = make_token(header_with_kid(key.kid()), payload, &key);
    EXPECT_EQ(decode_problem(token, keys), "claims are not a JSON object") << "payload " << payload;
  }
}

TEST(Jwt, KeySetAcceptsOldKey) {
  SigningKey old_key = SigningKey::generate();
  SigningKey new_key = SigningKey::generate();
  std::string old_token = encode_jwt({{"sub", "alice"}}, KeySet(old_key));

  KeySet rotated(new_key, {old_key});
  std::string problem;
  auto claims = decode_jwt(old_token, rotated, &problem);

  ASSERT_TRUE(claims.has_value()) << problem;
  EXPECT_EQ((*claims)["sub"], "alice");
  EXPECT_EQ(rotated.signer().kid(), new_key.kid());
}

TEST(Jwt, KeySetRejectsRemovedKey) {
  SigningKey removed = SigningKey::generate();
  SigningKey current = SigningKey::generate();
  std::string token = encode_jwt({{"sub", "alice"}}, KeySet(removed));

  KeySet keys(current, {SigningKey::generate()});

  EXPECT_EQ(decode_problem(token, keys), "unknown key id");
}

TEST(Jwt, KeySetFindsSignerAndAcceptedKeys) {
  SigningKey signer = SigningKey::generate();
  SigningKey accepted = SigningKey::generate();
  KeySet keys(signer, {accepted});

  ASSERT_NE(keys.find(signer.kid()), nullptr);
  ASSERT_NE(keys.find(accepted.kid()), nullptr);
  EXPECT_EQ(keys.find(signer.kid())->kid(), signer.kid());
  EXPECT_EQ(keys.find(accepted.kid())->kid(), accepted.kid());
  EXPECT_EQ(keys.find("no-such-kid"), nullptr);
  EXPECT_EQ(keys.find(""), nullptr);
}

TEST(Jwt, VerifiesOpensslCliSignature) {
  if (!openssl_available()) GTEST_SKIP() << "the openssl binary is not on PATH";
  TempDirectory directory;
  fs::path key_path = directory.path() / "key.pem";
  fs::path input_path = directory.path() / "input";
  fs::path signature_path = directory.path() / "signature.der";
  write_file(key_path, kFixedPkcs8Pem);
  std::string signing_input = base64url_encode(header_with_kid(kFixedKid)) + "." +
                              base64url_encode(R"({"sub":"alice","iss":"openssl"})");
  write_file(input_path, signing_input);

  CommandResult result = run_command("openssl dgst -sha256 -sign " + quote(key_path) + " -out " +
                                     quote(signature_path) + " " + quote(input_path));
  ASSERT_EQ(result.exit_status, 0) << result.output;
  std::string token = signing_input + "." + base64url_encode(der_to_jose(read_file(signature_path)));
  std::string problem;
  auto claims = decode_jwt(token, KeySet(SigningKey::from_pem(kFixedPublicPem)), &problem);

  ASSERT_TRUE(claims.has_value()) << problem;
  EXPECT_EQ((*claims)["iss"], "openssl");
}

TEST(Jwt, OpensslCliVerifiesSignature) {
  if (!openssl_available()) GTEST_SKIP() << "the openssl binary is not on PATH";
  TempDirectory directory;
  fs::path public_key_path = directory.path() / "public.pem";
  fs::path input_path = directory.path() / "input";
  fs::path signature_path = directory.path() / "signature.der";
  write_file(public_key_path, kFixedPublicPem);

  std::string token = encode_jwt({{"sub", "alice"}}, KeySet(fixed_key()));
  std::size_t last_dot = token.rfind('.');
  auto signature = base64url_decode(token.substr(last_dot + 1));
  ASSERT_TRUE(signature.has_value());
  write_file(input_path, token.substr(0, last_dot));
  write_file(signature_path, jose_to_der(*signature));

  CommandResult result = run_command("openssl dgst -sha256 -verify " + quote(public_key_path) + " -signature " +
                                     quote(signature_path) + " " + quote(input_path));
  EXPECT_EQ(result.exit_status, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("Verified OK"));
}

// --- load_or_create_signing_key ------------------------------------------

TEST(SigningKeyFile, CreatesPrivateFileAndDirectories) {
  TempDirectory directory;
  fs::path parent = directory.path() / "keys";
  fs::path path = parent / "jwt" / "signing.pem";

  SigningKey key = load_or_create_signing_key(path.string());

  EXPECT_TRUE(key.has_private_key());
  EXPECT_EQ(permission_bits(path), 0600u);
  EXPECT_EQ(permission_bits(parent), 0700u);
  EXPECT_EQ(permission_bits(parent / "jwt"), 0700u);
  EXPECT_EQ(SigningKey::from_pem(read_file(path)).kid(), key.kid());
  // The temporary file was renamed, so the key is the only entry.
  std::vector<fs::path> entries(fs::directory_iterator(parent / "jwt"), fs::directory_iterator{});
  EXPECT_EQ(entries, std::vector<fs::path>{path});
}

TEST(SigningKeyFile, SecondCallReturnsSameKey) {
  TempDirectory directory;
  fs::path path = directory.path() / "signing.pem";

  SigningKey first = load_or_create_signing_key(path.string());
  SigningKey second = load_or_create_signing_key(path.string());

  EXPECT_EQ(second.kid(), first.kid());
  EXPECT_TRUE(first.verify("message", second.sign("message")));
}

TEST(SigningKeyFile, ConcurrentCallsAgreeOnKey) {
  TempDirectory directory;
  fs::path path = directory.path() / "keys" / "signing.pem";
  constexpr int kThreads = 8;
  std::vector<std::string> kids(kThreads);
  std::atomic<bool> start{false};

  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      while (!start.load()) std::this_thread::yield();
      kids[i] = load_or_create_signing_key(path.string()).kid();
    });
  }
  start.store(true);
  for (std::thread& thread : threads) thread.join();

  std::string file_kid = SigningKey::from_pem(read_file(path)).kid();
  for (int i = 0; i < kThreads; ++i) EXPECT_EQ(kids[i], file_kid) << "thread " << i;
  std::vector<fs::path> entries(fs::directory_iterator(path.parent_path()), fs::directory_iterator{});
  EXPECT_EQ(entries, std::vector<fs::path>{path});
}

TEST(SigningKeyFile, ReadsExistingKey) {
  TempDirectory directory;
  fs::path path = directory.path() / "signing.pem";
  write_file(path, kFixedSec1Pem);

  SigningKey key = load_or_create_signing_key(path.string());

  EXPECT_EQ(key.kid(), kFixedKid);
  EXPECT_EQ(read_file(path), kFixedSec1Pem);
}

TEST(SigningKeyFile, ThrowsForGarbageFile) {
  TempDirectory directory;
  fs::path path = directory.path() / "signing.pem";
  write_file(path, "not a key\n");

  try {
    load_or_create_signing_key(path.string());
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& error) {
    EXPECT_THAT(error.what(), HasSubstr(path.string()));
    EXPECT_THAT(error.what(), HasSubstr("is not a P-256 private key"));
    EXPECT_THAT(error.what(), HasSubstr("move it away"));
  }
  EXPECT_EQ(read_file(path), "not a key\n");
}

TEST(SigningKeyFile, ThrowsForPublicKeyFile) {
  TempDirectory directory;
  fs::path path = directory.path() / "signing.pem";
  write_file(path, kFixedPublicPem);

  EXPECT_THROW(load_or_create_signing_key(path.string()), std::runtime_error);
}

TEST(SigningKeyFile, ThrowsForP384KeyFile) {
  TempDirectory directory;
  fs::path path = directory.path() / "signing.pem";
  write_file(path, kP384Pem);

  EXPECT_THROW(load_or_create_signing_key(path.string()), std::runtime_error);
}

TEST(SigningKeyFile, ThrowsWhenParentIsAFile) {
  TempDirectory directory;
  fs::path blocker = directory.path() / "blocker";
  write_file(blocker, "");
  fs::path path = blocker / "signing.pem";

  try {
    load_or_create_signing_key(path.string());
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& error) {
    EXPECT_THAT(error.what(), HasSubstr(blocker.string()));
  }
}

}  // namespace
}  // namespace berth::auth
