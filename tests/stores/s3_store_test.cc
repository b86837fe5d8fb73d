// The S3 driver joins the blob store suite, and tests what only S3 has:
// multipart segments, tails, driver state across nodes, errors, retries
// and presigned URLs. Every test gets a bucket of its own on the S3 server
// that tests/services/up started, and the bucket is removed afterwards.
#include "core/digest.h"
#include "core/error.h"
#include "storage/s3_client.h"
#include "storage/s3_store.h"
#include "stores/blob_store_suite.h"
#include "support/services.h"

#include <curl/curl.h>
#include <gmock/gmock.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace berth::store_tests {
namespace {

using ::testing::HasSubstr;
using storage::S3Client;
using storage::S3Options;
using storage::S3Request;
using storage::S3Store;

constexpr std::uint64_t kMiB = 1024 * 1024;

// Settings of the test server, with a bucket name unique to this process
// and test, and the smallest part size S3 accepts so that small test data
// already spans several parts.
S3Options test_options() {
  static std::atomic<int> next{0};
  return S3Options{.endpoint = test_support::service_setting("BERTH_TEST_S3_ENDPOINT"),
                   .region = test_support::service_setting("BERTH_TEST_S3_REGION"),
                   .bucket = "berth-test-" + std::to_string(::getpid()) + "-" + std::to_string(next++),
                   .prefix = "registry/",
                   .access_key = test_support::service_setting("BERTH_TEST_S3_ACCESS_KEY"),
                   .secret_key = test_support::service_setting("BERTH_TEST_S3_SECRET_KEY"),
                   .part_size = 5 * kMiB};
}

// A bucket that exists while the object lives.
class TestBucket {
 public:
  explicit TestBucket(S3Options options) : options_(std::move(options)), client_(storage::resolve_s3_options(options_)) {
    client_.perform(S3Request{.method = "PUT"});
  }

  ~TestBucket() {
    try {
      for (const auto& upload : client_.list_multipart_uploads("")) {
        client_.perform(S3Request{.method = "DELETE", .key = upload.key, .query = {{"uploadId", upload.upload_id}}});
      }
      std::vector<std::string> keys;
      for (const auto& object : client_.list_objects("")) keys.push_back(object.key);
      client_.delete_objects(keys);
      client_.perform(S3Request{.method = "DELETE"});
    } catch (const std::exception& error) {
      ADD_FAILURE() << "cannot remove test bucket " << options_.bucket << ": " << error.what();
    }
  }

  const S3Options& options() const { return options_; }
  S3Client& client() { return client_; }

 private:
  S3Options options_;
  S3Client client_;
};

class S3Instance final : public BlobStoreInstance {
 public:
  S3Instance() : bucket_(test_options()), store_(bucket_.options()) {}
  storage::BlobStore& store() override { return store_; }
  std::unique_ptr<storage::BlobStore> open_another_node() override {
    return std::make_unique<S3Store>(bucket_.options());
  }

 private:
  TestBucket bucket_;  // declared first, so removed last
  S3Store store_;
};

INSTANTIATE_TEST_SUITE_P(S3, BlobStoreContract,
                         ::testing::Values(BlobStoreFactory{"s3", [] { return std::make_unique<S3Instance>(); }}),
                         blob_store_factory_name);

std::string pattern_bytes(std::size_t size, unsigned seed) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>((i * 7 + i / 509 + seed) & 0xff);
  return out;
}

core::Digest sha256_of(std::string_view data) { return core::digest_of(core::DigestAlgorithm::kSha256, data); }

std::string read_all(storage::BlobReader& reader) {
  std::string out;
  std::vector<char> buffer(100000);
  while (std::size_t got = reader.read_at(out.size(), buffer.data(), buffer.size())) out.append(buffer.data(), got);
  return out;
}

// Appends `data` in one writer and returns the new driver state.
std::string append_bytes(storage::BlobStore& store, const std::string& id, const std::string& state,
                         std::uint64_t offset, std::string_view data) {
  auto writer = store.append_upload(id, state, offset);
  if (writer == nullptr) throw std::logic_error("append_upload(" + id + ") returned nullptr");
  writer->write(data.data(), data.size());
  return writer->finish();
}

std::vector<std::string> keys_under(S3Client& client, const std::string& prefix) {
  std::vector<std::string> keys;
  for (const auto& object : client.list_objects(prefix)) keys.push_back(object.key);
  return keys;
}

class S3StoreTest : public ::testing::Test {
 protected:
  S3StoreTest() : bucket_(test_options()), store_(bucket_.options()) {}

  S3Client& client() { return bucket_.client(); }

  TestBucket bucket_;
  S3Store store_;
};

TEST_F(S3StoreTest, OneWriterSpansSeveralParts) {
  // Three full 5 MiB parts and a tail that ends inside the fourth.
  std::string data = pattern_bytes(3 * 5 * kMiB + 12345, 1);
  std::string state = store_.create_upload("upload-1");

  state = append_bytes(store_, "upload-1", state, 0, data);

  auto json = nlohmann::json::parse(state);
  ASSERT_EQ(json["segments"].size(), 1u) << state;
  EXPECT_EQ(json["segments"][0]["size"], data.size());
  EXPECT_TRUE(json["tail"].is_null()) << state;
  auto reader = store_.open_upload("upload-1", state);
  ASSERT_NE(reader, nullptr);
  EXPECT_TRUE(read_all(*reader) == data) << "open_upload returned other bytes";

  core::Digest digest = sha256_of(data);
  store_.commit_upload("upload-1", state, digest);
  auto blob = store_.open(digest);
  ASSERT_NE(blob, nullptr);
  EXPECT_EQ(blob->size(), data.size());
  EXPECT_TRUE(read_all(*blob) == data) << "the blob differs";
  EXPECT_THAT(keys_under(client(), "registry/uploads/"), ::testing::IsEmpty());
  EXPECT_THAT(client().list_multipart_uploads(""), ::testing::IsEmpty());
}

TEST_F(S3StoreTest, SmallChunksBecomeSegmentsAndTail) {
  // 3 MiB chunks: the tail grows to 6 MiB and becomes a segment, twice,
  // and the last chunk stays a tail. The commit then copies three pieces.
  std::string data = pattern_bytes(5 * 3 * kMiB, 2);
  std::string state = store_.create_upload("upload-1");
  for (std::uint64_t at = 0; at < data.size(); at += 3 * kMiB) {
    state = append_bytes(store_, "upload-1", state, at, std::string_view(data).substr(at, 3 * kMiB));
  }

  auto json = nlohmann::json::parse(state);
  ASSERT_EQ(json["segments"].size(), 2u) << state;
  EXPECT_EQ(json["segments"][0]["size"], 6 * kMiB);
  EXPECT_EQ(json["segments"][1]["size"], 6 * kMiB);
  ASSERT_FALSE(json["tail"].is_null()) << state;
  EXPECT_EQ(json["tail"]["size"], 3 * kMiB);
  // Replaced tails are deleted by the writer after the one that replaced
  // them; the last replaced tail is the one still listed as stale.
  EXPECT_EQ(keys_under(client(), "registry/uploads/upload-1/").size(), 1u + 3u + json["stale"].size());

  core::Digest digest = sha256_of(data);
  store_.commit_upload("upload-1", state, digest);
  EXPECT_EQ(store_.stat(digest), data.size());
  auto blob = store_.open(digest);
  ASSERT_NE(blob, nullptr);
  EXPECT_TRUE(read_all(*blob) == data) << "the blob differs";
  EXPECT_THAT(keys_under(client(), "registry/uploads/"), ::testing::IsEmpty());
}

TEST_F(S3StoreTest, SecondNodeContinuesFromState) {
  S3Store other(bucket_.options());
  std::string first = pattern_bytes(4 * kMiB, 3);   // stays a tail
  std::string second = pattern_bytes(6 * kMiB, 4);  // fills a part, becomes a segment
  std::string third = pattern_bytes(1 * kMiB + 5, 5);

  std::string state = store_.create_upload("upload-1");
  state = append_bytes(store_, "upload-1", state, 0, first);
  state = append_bytes(other, "upload-1", state, first.size(), second);
  state = append_bytes(store_, "upload-1", state, first.size() + second.size(), third);

  std::string data = first + second + third;
  EXPECT_EQ(other.upload_size("upload-1", state), data.size());
  core::Digest digest = sha256_of(data);
  other.commit_upload("upload-1", state, digest);
  auto blob = store_.open(digest);
  ASSERT_NE(blob, nullptr);
  EXPECT_TRUE(read_all(*blob) == data) << "the blob differs from what both nodes wrote";
}

TEST_F(S3StoreTest, UnfinishedWriterLeavesStateValid) {
  std::string state = append_bytes(store_, "upload-1", store_.create_upload("upload-1"), 0, "kept");
  {
    // A request that breaks off after a full part: no finish().
    auto writer = store_.append_upload("upload-1", state, 4);
    ASSERT_NE(writer, nullptr);
    std::string lost = pattern_bytes(6 * kMiB, 6);
    writer->write(lost.data(), lost.size());
  }

  EXPECT_THAT(client().list_multipart_uploads(""), ::testing::IsEmpty());
  EXPECT_EQ(store_.upload_size("upload-1", state), 4u);
  auto reader = store_.open_upload("upload-1", state);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(read_all(*reader), "kept");
}

TEST_F(S3StoreTest, DeleteUploadAbortsMultipartUploads) {
  store_.create_upload("upload-1");
  // A multipart upload that a crashed writer left behind.
  client().perform(S3Request{.method = "POST", .key = "registry/uploads/upload-1/segment-left", .query = {{"uploads", ""}}});
  EXPECT_THAT(store_.list_uploads(), ::testing::ElementsAre("upload-1"));
  EXPECT_TRUE(store_.upload_modified_at("upload-1").has_value());

  store_.delete_upload("upload-1");

  EXPECT_THAT(client().list_multipart_uploads(""), ::testing::IsEmpty());
  EXPECT_THAT(store_.list_uploads(), ::testing::IsEmpty());
  EXPECT_EQ(store_.upload_modified_at("upload-1"), std::nullopt);
}

TEST_F(S3StoreTest, ModifiedAtIsRecent) {
  std::string state = append_bytes(store_, "upload-1", store_.create_upload("upload-1"), 0, "data");
  core::Digest digest = sha256_of("data");
  store_.commit_upload("upload-1", state, digest);

  auto modified = store_.modified_at(digest);
  ASSERT_TRUE(modified.has_value());
  EXPECT_NEAR(static_cast<double>(*modified), static_cast<double>(std::time(nullptr)), 300.0);
  EXPECT_EQ(store_.modified_at(sha256_of("absent")), std::nullopt);
}

TEST_F(S3StoreTest, ListFollowsContinuationTokens) {
  for (int i = 0; i < 5; ++i) {
    S3Request put{.method = "PUT", .key = "registry/listing/" + std::to_string(i)};
    client().perform(put);
  }
  std::vector<std::string> prefixes;

  auto objects = client().list_objects("registry/listing/", "", nullptr, 2);
  client().list_objects("registry/", "/", &prefixes, 1);

  ASSERT_EQ(objects.size(), 5u);
  EXPECT_EQ(objects[4].key, "registry/listing/4");
  EXPECT_THAT(prefixes, ::testing::ElementsAre("registry/listing/"));
}

TEST_F(S3StoreTest, InvalidDriverStateThrows) {
  store_.create_upload("upload-1");

  try {
    store_.upload_size("upload-1", "{not json");
    FAIL() << "upload_size accepted invalid driver state";
  } catch (const core::InternalError& error) {
    EXPECT_THAT(error.what(), HasSubstr("upload-1"));
    EXPECT_THAT(error.what(), HasSubstr("not S3 driver state"));
  }
}

TEST_F(S3StoreTest, WrongSecretNamesSignatureError) {
  S3Options options = bucket_.options();
  options.secret_key = "WRONGSECRETWRONGSECRETWRONGSECRET0000000";
  S3Store wrong(options);

  try {
    wrong.list();
    FAIL() << "a request signed with a wrong secret succeeded";
  } catch (const core::InternalError& error) {
    EXPECT_THAT(error.what(), HasSubstr("SignatureDoesNotMatch"));
    EXPECT_THAT(error.what(), HasSubstr(options.bucket));
    EXPECT_THAT(error.what(), HasSubstr("request id"));
  }
}

TEST_F(S3StoreTest, MissingSettingsAreNamed) {
  S3Options options = bucket_.options();
  options.bucket.clear();
  EXPECT_THAT([&] { S3Store store(options); }, ::testing::ThrowsMessage<core::InternalError>(HasSubstr("bucket")));
  options = bucket_.options();
  options.part_size = 4 * kMiB;
  EXPECT_THAT([&] { S3Store store(options); }, ::testing::ThrowsMessage<core::InternalError>(HasSubstr("part size")));
}

// Fetches `url` without credentials; returns the HTTP status and body.
std::pair<long, std::string> plain_get(const std::string& url) {
  CURL* handle = curl_easy_init();
  std::string body;
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, +[](char* data, std::size_t size, std::size_t count, void* out) {
    static_cast<std::string*>(out)->append(data, size * count);
    return size * count;
  });
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &body);
  long status = 0;
  if (curl_easy_perform(handle) == CURLE_OK) curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(handle);
  return {status, body};
}

TEST_F(S3StoreTest, PresignedUrlServesBlob) {
  std::string data = pattern_bytes(300000, 7);
  std::string state = append_bytes(store_, "upload-1", store_.create_upload("upload-1"), 0, data);
  core::Digest digest = sha256_of(data);
  store_.commit_upload("upload-1", state, digest);
  EXPECT_EQ(store_.presigned_url(digest), std::nullopt) << "presigning is off by default";

  S3Options options = bucket_.options();
  options.presign_seconds = 60;
  S3Store presigning(options);
  auto url = presigning.presigned_url(digest);

  ASSERT_TRUE(url.has_value());
  EXPECT_THAT(*url, HasSubstr("X-Amz-Expires=60"));
  auto [status, body] = plain_get(*url);
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(body == data) << "the presigned URL returned other bytes";
  EXPECT_EQ(plain_get(*url + "0").first, 403) << "a changed signature must be rejected";
  EXPECT_EQ(plain_get(store_.client().options().endpoint + "/" + options.bucket + "/" + store_.blob_key(digest)).first,
            403)
      << "the blob must not be readable without a signature";
}

// Virtual-hosted addressing puts the bucket in the host name. curl
// resolves every name under localhost to the loopback address, and the
// test radosgw serves buckets under localhost (tests/services/ceph-up), so
// BUCKET.localhost:PORT reaches the test bucket.
TEST_F(S3StoreTest, VirtualHostedAddressingRoundTrip) {
  S3Options options = bucket_.options();
  std::string::size_type host = options.endpoint.find("127.0.0.1");
  ASSERT_NE(host, std::string::npos) << options.endpoint;
  options.endpoint.replace(host, 9, "localhost");
  options.path_style = false;
  options.presign_seconds = 60;
  S3Store virtual_hosted(options);
  // A full part and a tail, so that both kinds of upload object are written.
  std::string data = pattern_bytes(5 * kMiB + 4321, 5);
  std::string state =
      append_bytes(virtual_hosted, "upload-1", virtual_hosted.create_upload("upload-1"), 0, data);
  core::Digest digest = sha256_of(data);

  virtual_hosted.commit_upload("upload-1", state, digest);

  auto blob = virtual_hosted.open(digest);
  ASSERT_NE(blob, nullptr);
  EXPECT_TRUE(read_all(*blob) == data) << "the blob read by host name differs";
  auto same_bucket = store_.open(digest);
  ASSERT_NE(same_bucket, nullptr) << "the blob is not in the bucket that path-style requests reach";
  EXPECT_TRUE(read_all(*same_bucket) == data) << "the blob read by path differs";
  auto url = virtual_hosted.presigned_url(digest);
  ASSERT_TRUE(url.has_value());
  EXPECT_THAT(*url, HasSubstr("://" + options.bucket + ".localhost:"));
  auto [status, body] = plain_get(*url);
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(body == data) << "the presigned URL returned other bytes";
}

// A server on 127.0.0.1 that replies to each connection with the next of
// `responses` (the last one repeated) and counts the requests.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<std::string> responses) : responses_(std::move(responses)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(listener_, 16) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }

  ~ScriptedServer() {
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    thread_.join();
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_; }

 private:
  void serve() {
    while (true) {
      int connection = ::accept(listener_, nullptr, nullptr);
      if (connection < 0) return;
      // Reads the request head; the requests sent here have no body.
      std::string request;
      char buffer[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        ssize_t got = ::recv(connection, buffer, sizeof buffer, 0);
        if (got <= 0) break;
        request.append(buffer, static_cast<std::size_t>(got));
      }
      const std::string& response = responses_[std::min<std::size_t>(requests_, responses_.size() - 1)];
      ++requests_;
      ::send(connection, response.data(), response.size(), MSG_NOSIGNAL);
      ::close(connection);
    }
  }

  std::vector<std::string> responses_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<int> requests_{0};
  std::thread thread_;
};

std::string http_response(int status, const std::string& reason, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nx-amz-request-id: scripted-" + std::to_string(status) + "\r\nConnection: close\r\n\r\n" + body;
}

S3Options scripted_options(const std::string& endpoint) {
  return S3Options{.endpoint = endpoint, .bucket = "scripted", .access_key = "AK", .secret_key = "SK"};
}

TEST(S3ClientRetry, SlowDownIsRetried) {
  std::string slow_down = "<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>reduce your rate</Message></Error>";
  ScriptedServer server({http_response(503, "Slow Down", slow_down), http_response(500, "Internal Server Error", ""),
                         http_response(200, "OK", "")});
  S3Store store(scripted_options(server.endpoint()));

  EXPECT_EQ(store.stat(sha256_of("x")), 0u);
  EXPECT_EQ(server.requests(), 3);
}

TEST(S3ClientRetry, PersistentErrorThrowsWithCodeAndRequestId) {
  std::string slow_down = "<Error><Code>SlowDown</Code><Message>reduce your rate</Message></Error>";
  ScriptedServer server({http_response(503, "Slow Down", slow_down)});
  S3Store store(scripted_options(server.endpoint()));

  try {
    store.list();
    FAIL() << "list() succeeded against a server that only answers 503";
  } catch (const core::InternalError& error) {
    EXPECT_THAT(error.what(), HasSubstr("SlowDown"));
    EXPECT_THAT(error.what(), HasSubstr("scripted-503"));
    EXPECT_THAT(error.what(), HasSubstr("after 5 attempts"));
  }
  EXPECT_EQ(server.requests(), 5);
}

TEST(S3ClientRetry, ClientErrorIsNotRetried) {
  std::string denied = "<Error><Code>AccessDenied</Code><Message>no</Message></Error>";
  ScriptedServer server({http_response(403, "Forbidden", denied)});
  S3Store store(scripted_options(server.endpoint()));

  EXPECT_THAT([&] { store.list(); }, ::testing::ThrowsMessage<core::InternalError>(HasSubstr("AccessDenied")));
  EXPECT_EQ(server.requests(), 1);
}

TEST(S3ClientRetry, ConnectionErrorIsRetried) {
  // A port that was just free; nothing listens on it.
  int port = 0;
  {
    ScriptedServer server({http_response(200, "OK", "")});
    port = std::stoi(server.endpoint().substr(server.endpoint().rfind(':') + 1));
  }
  S3Store store(scripted_options("http://127.0.0.1:" + std::to_string(port)));

  auto started = std::chrono::steady_clock::now();
  EXPECT_THAT([&] { store.stat(sha256_of("x")); },
              ::testing::ThrowsMessage<core::InternalError>(HasSubstr("after 5 attempts")));
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(500));
}

TEST(S3Xml, DecodesEntities) {
  std::string xml = "<R><Key>a&amp;b&lt;&#x41;&#66;</Key><ETag>&quot;0f&quot;</ETag><Key>second</Key></R>";

  EXPECT_EQ(storage::xml_text(xml, "Key"), "a&b<AB");
  EXPECT_EQ(storage::xml_text(xml, "ETag"), "\"0f\"");
  EXPECT_EQ(storage::xml_elements(xml, "Key").size(), 2u);
  EXPECT_EQ(storage::xml_text(xml, "Missing"), "");
}

TEST(S3UriEncode, EncodesAsSigV4Requires) {
  EXPECT_EQ(storage::s3_uri_encode("a-b_c.d~e/f g+h=", false), "a-b_c.d~e%2Ff%20g%2Bh%3D");
  EXPECT_EQ(storage::s3_uri_encode("dir/file", true), "dir/file");
  EXPECT_EQ(storage::s3_uri_encode("\xff", false), "%FF");
}

}  // namespace
}  // namespace berth::store_tests
