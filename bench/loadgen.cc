// berth-bench: a load generator that speaks the OCI distribution API
// directly (libcurl, one keep-alive connection per worker thread). It
// runs one workload against one registry and prints one JSON object with
// the result on standard output; bench/run drives it. kHelp below lists
// the commands and options (`berth-bench --help` prints it).
//
// push uploads N images, each a random layer of BYTES, a config and a
// manifest, into repositories P-0 .. P-(N-1), tag v1. Without --chunk a
// layer goes up as POST then one PUT; with --chunk it goes up as PATCH
// requests of that size with Content-Range, then an empty PUT. populate
// creates repositories P/repo<100000+K+i> or tags t<100000+K+i> (one small
// image each) for listing benchmarks. pull reads
// those images (HEAD and GET manifest, GET config, GET layer). mixed
// reads one of the pushed images three times in four and pushes a new one
// otherwise. push-blobs and put-manifests time single requests for the
// per-request overhead: one blob upload (POST and PUT) or one manifest PUT
// per operation, into one repository.
//
// berthd requires credentials (--user) and takes the first component of a
// repository name as its namespace, which must exist before a push, so
// callers pass a prefix such as NAMESPACE/push and create NAMESPACE first.

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string command;
  std::string url = "http://127.0.0.1:5000";
  std::string user;  // NAME:PASSWORD for Basic auth, or empty for no credentials
  std::string prefix = "bench";
  std::string path = "/v2/";
  std::string accept;
  std::string repository;
  std::string file;
  std::size_t images = 8;
  std::size_t size = 1 << 20;
  std::size_t chunk = 0;
  std::size_t concurrency = 1;
  std::size_t operations = 0;
  std::size_t repositories = 0;
  std::size_t tags = 0;
  std::size_t start = 0;
  double seconds = 5;
  int port = 0;
  bool head = false;
};

// The environment variable that supplies --user. It does not start with
// BERTH_, because berthd rejects unknown variables with that prefix.
constexpr const char* kUserVariable = "BERTHBENCH_USER";

constexpr const char* kHelp = R"(Usage:
  berth-bench push     --url U --prefix P --images N --size BYTES --concurrency C [--chunk BYTES]
  berth-bench pull     --url U --prefix P --images N --size BYTES --concurrency C
  berth-bench mixed    --url U --prefix P --images N --size BYTES --concurrency C --operations M
  berth-bench get      --url U --path PATH --concurrency C --seconds S [--head] [--accept TYPE]
  berth-bench populate --url U [--start K] --repositories N | --tags N --repository R
  berth-bench push-blobs    --url U --repository R --images N --size BYTES [--start K] [--chunk BYTES]
  berth-bench put-manifests --url U --repository R --images N [--start K]
  berth-bench serve-file --file F --port P

Options:
  --url U           registry base URL (default http://127.0.0.1:5000)
  --user NAME:PASSWORD
                    credentials sent as HTTP Basic auth with every request;
                    for berthd, iamapikey:API_KEY. Default: the value of the
                    environment variable BERTHBENCH_USER; without either, no
                    credentials are sent.
  --prefix P        repository name prefix (default bench): push, pull and
                    mixed use P-0 .. P-(N-1), populate uses P/repo<100000+K+i>.
                    berthd needs the first component of each name to be an
                    existing namespace, so pass a prefix such as NAMESPACE/push.
  --images N        images that push and pull move, and that mixed reads;
                    blobs that push-blobs uploads; manifests that
                    put-manifests sends
  --size BYTES      layer size in bytes; K, M and G (KiB, MiB, GiB) suffixes work
  --chunk BYTES     push layers as PATCH requests of this size (default: one PUT)
  --concurrency C   client threads, each with one keep-alive connection
  --operations M    requests of mixed: three pulls in four, one push in four
  --path PATH       target of get, such as /v2/NAME/manifests/TAG
  --head            get sends HEAD instead of GET
  --accept TYPE     Accept header of get
  --seconds S       duration of get, in seconds
  --repositories N  repositories that populate creates
  --tags N          tags that populate creates in --repository R
  --start K         number offset of the names of populate and put-manifests
                    and of the blob contents of push-blobs, for adding to
                    earlier runs in the same repository
  --file F, --port P  file and 127.0.0.1 port of serve-file
)";

[[noreturn]] void print_help() {
  std::fputs(kHelp, stdout);
  std::exit(0);
}

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr, "berth-bench: %s\nrun berth-bench --help for the commands and options\n", problem.c_str());
  std::exit(2);
}

std::size_t parse_size(const std::string& text) {
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  std::string unit(end);
  if (end == text.c_str() || value < 0) usage("invalid size \"" + text + "\"");
  if (unit == "K" || unit == "KiB") value *= 1024;
  else if (unit == "M" || unit == "MiB") value *= 1024 * 1024;
  else if (unit == "G" || unit == "GiB") value *= 1024.0 * 1024 * 1024;
  else if (!unit.empty()) usage("unknown unit in \"" + text + "\"; use K, M or G");
  return static_cast<std::size_t>(value);
}

Options parse_options(int argc, char** argv) {
  if (argc < 2) usage("missing command");
  if (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) print_help();
  Options options;
  options.command = argv[1];
  if (const char* user = std::getenv(kUserVariable)) options.user = user;
  for (int i = 2; i < argc; ++i) {
    std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage("flag " + flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--url") options.url = value();
    else if (flag == "--user") options.user = value();
    else if (flag == "--prefix") options.prefix = value();
    else if (flag == "--path") options.path = value();
    else if (flag == "--accept") options.accept = value();
    else if (flag == "--repository") options.repository = value();
    else if (flag == "--file") options.file = value();
    else if (flag == "--images") options.images = parse_size(value());
    else if (flag == "--size") options.size = parse_size(value());
    else if (flag == "--chunk") options.chunk = parse_size(value());
    else if (flag == "--concurrency") options.concurrency = std::max<std::size_t>(1, parse_size(value()));
    else if (flag == "--operations") options.operations = parse_size(value());
    else if (flag == "--repositories") options.repositories = parse_size(value());
    else if (flag == "--tags") options.tags = parse_size(value());
    else if (flag == "--start") options.start = parse_size(value());
    else if (flag == "--seconds") options.seconds = std::stod(value());
    else if (flag == "--port") options.port = std::stoi(value());
    else if (flag == "--head") options.head = true;
    else if (flag == "--help" || flag == "-h") print_help();
    else usage("unknown flag " + flag);
  }
  if (!options.user.empty() && options.user.find(':') == std::string::npos) {
    usage("invalid --user value: expected NAME:PASSWORD, such as iamapikey:API_KEY");
  }
  return options;
}

std::string sha256_hex(const char* data, std::size_t size) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data), size, digest);
  static const char kDigits[] = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned char byte : digest) {
    out += kDigits[byte >> 4];
    out += kDigits[byte & 0xf];
  }
  return out;
}

// --- HTTP client ------------------------------------------------------------

struct Reply {
  long status = 0;
  std::string location;
  std::string body;
  std::size_t bytes_received = 0;
};

// One libcurl handle, so one keep-alive connection, per worker thread.
class Client {
 public:
  // `user` is NAME:PASSWORD, sent as Basic auth with every request, or empty.
  Client(std::string base, std::string user)
      : base_(std::move(base)), user_(std::move(user)), handle_(curl_easy_init()) {
    if (handle_ == nullptr) throw std::runtime_error("curl_easy_init failed");
  }
  ~Client() {
    curl_easy_cleanup(handle_);
    curl_slist_free_all(headers_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends a request; `body` may be null. Keeps the response body only when
  // `keep_body` (tag lists, catalog pages); otherwise counts its bytes.
  // `stamp`, when not null, replaces the first 8 bytes of the body, so
  // callers can send a shared buffer as many distinct blobs without copying it.
  Reply send(const std::string& method, const std::string& target, const char* body, std::size_t body_size,
             const std::vector<std::string>& headers = {}, bool keep_body = false,
             const std::uint64_t* stamp = nullptr) {
    Reply reply;
    Upload upload{body, body_size, 0, stamp};
    Download download{&reply, keep_body};
    std::string request_key = method + " " + target;
    for (const auto& header : headers) request_key += "\n" + header;
    // A request identical to the previous one reuses the handle's options,
    // which keeps the client's cost per request low for hot GETs.
    if (request_key == last_request_ && !keep_body && body == nullptr) {
      curl_easy_setopt(handle_, CURLOPT_WRITEDATA, &download);
      curl_easy_setopt(handle_, CURLOPT_HEADERDATA, &reply);
      CURLcode rc = curl_easy_perform(handle_);
      if (rc != CURLE_OK) throw std::runtime_error(method + " " + target + ": " + curl_easy_strerror(rc));
      curl_easy_getinfo(handle_, CURLINFO_RESPONSE_CODE, &reply.status);
      return reply;
    }
    last_request_.clear();
    if (headers_ != nullptr) {
      curl_slist_free_all(headers_);
      headers_ = nullptr;
    }
    curl_easy_reset(handle_);
    std::string url = target.rfind("http", 0) == 0 ? target : base_ + target;
    curl_easy_setopt(handle_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(handle_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle_, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(handle_, CURLOPT_WRITEFUNCTION, &Client::on_body);
    curl_easy_setopt(handle_, CURLOPT_WRITEDATA, &download);
    curl_easy_setopt(handle_, CURLOPT_HEADERFUNCTION, &Client::on_header);
    curl_easy_setopt(handle_, CURLOPT_HEADERDATA, &reply);
    curl_easy_setopt(handle_, CURLOPT_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(handle_, CURLOPT_UPLOAD_BUFFERSIZE, 2L * 1024 * 1024);
    if (!user_.empty()) {
      // Basic is sent with the first request, without waiting for a 401.
      curl_easy_setopt(handle_, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
      curl_easy_setopt(handle_, CURLOPT_USERPWD, user_.c_str());
    }

    curl_slist* list = curl_slist_append(nullptr, "Expect:");
    for (const auto& header : headers) list = curl_slist_append(list, header.c_str());
    curl_easy_setopt(handle_, CURLOPT_HTTPHEADER, list);
    headers_ = list;

    if (method == "HEAD") {
      curl_easy_setopt(handle_, CURLOPT_NOBODY, 1L);
    } else if (method == "PUT" || method == "PATCH" || method == "POST") {
      curl_easy_setopt(handle_, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(handle_, CURLOPT_READFUNCTION, &Client::on_read);
      curl_easy_setopt(handle_, CURLOPT_READDATA, &upload);
      curl_easy_setopt(handle_, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body_size));
      if (method != "PUT") curl_easy_setopt(handle_, CURLOPT_CUSTOMREQUEST, method.c_str());
    } else if (method != "GET") {
      curl_easy_setopt(handle_, CURLOPT_CUSTOMREQUEST, method.c_str());
    }

    CURLcode rc = curl_easy_perform(handle_);
    if (rc != CURLE_OK) throw std::runtime_error(method + " " + target + ": " + curl_easy_strerror(rc));
    curl_easy_getinfo(handle_, CURLINFO_RESPONSE_CODE, &reply.status);
    if (body == nullptr && !keep_body) last_request_ = request_key;
    return reply;
  }

 private:
  struct Upload {
    const char* data;
    std::size_t size;
    std::size_t offset;
    const std::uint64_t* stamp;
  };
  struct Download {
    Reply* reply;
    bool keep;
  };

  static std::size_t on_read(char* buffer, std::size_t size, std::size_t count, void* user) {
    auto* upload = static_cast<Upload*>(user);
    std::size_t n = std::min(size * count, upload->size - upload->offset);
    std::memcpy(buffer, upload->data + upload->offset, n);
    if (upload->stamp != nullptr && upload->offset < sizeof(std::uint64_t)) {
      std::size_t overlap = std::min(n, sizeof(std::uint64_t) - upload->offset);
      std::memcpy(buffer, reinterpret_cast<const char*>(upload->stamp) + upload->offset, overlap);
    }
    upload->offset += n;
    return n;
  }

  static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* download = static_cast<Download*>(user);
    download->reply->bytes_received += size * count;
    if (download->keep) download->reply->body.append(data, size * count);
    return size * count;
  }

  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* reply = static_cast<Reply*>(user);
    std::string line(data, size * count);
    if (line.size() > 9 && strncasecmp(line.c_str(), "location:", 9) == 0) {
      std::string value = line.substr(9);
      value.erase(0, value.find_first_not_of(" \t"));
      value.erase(value.find_last_not_of("\r\n \t") + 1);
      reply->location = value;
    }
    return size * count;
  }

  std::string base_;
  std::string user_;
  CURL* handle_;
  curl_slist* headers_ = nullptr;  // the header list the handle's options point to
  std::string last_request_;       // method, target and headers of a reusable request
};

void expect(const Reply& reply, long status, const std::string& what) {
  if (reply.status != status) {
    throw std::runtime_error(what + ": status " + std::to_string(reply.status) + ", expected " + std::to_string(status));
  }
}

std::string with_digest(const std::string& location, const std::string& digest) {
  return location + (location.find('?') == std::string::npos ? "?" : "&") + "digest=" + digest;
}

// --- Images -----------------------------------------------------------------

// Layer contents: one random buffer shared by every image. The image number
// is written over its first 8 bytes as it is sent, so each layer has a
// digest of its own and no image costs a copy of the buffer.
class Layers {
 public:
  Layers(std::size_t size, std::size_t images, std::size_t seed) : base_(std::max<std::size_t>(size, 16)) {
    std::mt19937_64 random(seed);
    auto* words = reinterpret_cast<std::uint64_t*>(base_.data());
    for (std::size_t i = 0; i < base_.size() / 8; ++i) words[i] = random();
    base_.resize(std::max<std::size_t>(size, 8));
    digests_.resize(images);
  }

  const std::vector<char>& data() const { return base_; }

  // The digest of layer `index`, computed on first use.
  const std::string& digest(std::size_t index) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (index >= digests_.size()) digests_.resize(index + 1);
    if (digests_[index].empty()) {
      std::vector<char> copy = base_;
      std::uint64_t stamp = index;
      std::memcpy(copy.data(), &stamp, sizeof stamp);
      digests_[index] = sha256_hex(copy.data(), copy.size());
    }
    return digests_[index];
  }

 private:
  std::vector<char> base_;
  std::vector<std::string> digests_;
  std::mutex mutex_;
};

struct PushedImage {
  std::string repository;
  std::string config_digest;
};

void upload_blob(Client& client, const std::string& repository, const char* data, std::size_t size,
                 const std::string& digest, std::size_t chunk, const std::uint64_t* stamp = nullptr) {
  Reply started = client.send("POST", "/v2/" + repository + "/blobs/uploads/", nullptr, 0);
  expect(started, 202, "POST upload");
  std::string location = started.location;
  if (chunk == 0) {
    expect(client.send("PUT", with_digest(location, digest), data, size, {"Content-Type: application/octet-stream"},
                       false, stamp),
           201, "PUT blob");
    return;
  }
  for (std::size_t offset = 0; offset < size; offset += chunk) {
    std::size_t length = std::min(chunk, size - offset);
    std::string range = "Content-Range: " + std::to_string(offset) + "-" + std::to_string(offset + length - 1);
    Reply patched = client.send("PATCH", location, data + offset, length, {range, "Content-Type: application/octet-stream"},
                                false, offset == 0 ? stamp : nullptr);
    expect(patched, 202, "PATCH chunk");
    if (!patched.location.empty()) location = patched.location;
  }
  expect(client.send("PUT", with_digest(location, digest), nullptr, 0), 201, "PUT after chunks");
}

void push_image(Client& client, Layers& layers, const Options& options, std::size_t index) {
  std::string repository = options.prefix + "-" + std::to_string(index);
  const std::string layer_digest = layers.digest(index);
  const std::vector<char>& layer = layers.data();
  std::uint64_t stamp = index;
  upload_blob(client, repository, layer.data(), layer.size(), layer_digest, options.chunk, &stamp);

  std::string config = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[")" + layer_digest +
                       R"("]},"config":{"Labels":{"bench.image":")" + repository + R"("}}})";
  std::string config_digest = sha256_hex(config.data(), config.size());
  upload_blob(client, repository, config.data(), config.size(), config_digest, 0);

  std::string manifest = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                         config_digest + R"(","size":)" + std::to_string(config.size()) +
                         R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
                         layer_digest + R"(","size":)" + std::to_string(layer.size()) + "}]}";
  expect(client.send("PUT", "/v2/" + repository + "/manifests/v1", manifest.data(), manifest.size(),
                     {"Content-Type: application/vnd.oci.image.manifest.v1+json"}),
         201, "PUT manifest");
}

const char* kAcceptManifests =
    "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

// Pulls image `index` as a client does; returns the bytes received.
std::size_t pull_image(Client& client, const Options& options, std::size_t index) {
  std::string repository = options.prefix + "-" + std::to_string(index);
  std::string manifest_path = "/v2/" + repository + "/manifests/v1";
  expect(client.send("HEAD", manifest_path, nullptr, 0, {kAcceptManifests}), 200, "HEAD manifest");
  Reply manifest = client.send("GET", manifest_path, nullptr, 0, {kAcceptManifests}, true);
  expect(manifest, 200, "GET manifest");

  // The two digests in the manifest: config first, then the layer.
  std::vector<std::string> digests;
  for (std::size_t at = manifest.body.find("sha256:"); at != std::string::npos; at = manifest.body.find("sha256:", at + 71)) {
    digests.push_back(manifest.body.substr(at, 71));
  }
  if (digests.size() != 2) throw std::runtime_error("unexpected manifest in " + repository);
  std::size_t received = manifest.bytes_received;
  for (const auto& digest : digests) {
    Reply blob = client.send("GET", "/v2/" + repository + "/blobs/" + digest, nullptr, 0);
    expect(blob, 200, "GET blob");
    received += blob.bytes_received;
  }
  return received;
}

// --- Measurement ------------------------------------------------------------

struct Result {
  std::vector<double> latencies_ms;
  std::size_t errors = 0;
  std::size_t bytes = 0;
  double seconds = 0;
  std::string first_error;
};

double percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  std::size_t index = static_cast<std::size_t>(fraction * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

void print_result(const Options& options, const std::string& workload, const Result& result) {
  double megabytes = static_cast<double>(result.bytes) / 1e6;
  std::printf(
      "{\"workload\":\"%s\",\"concurrency\":%zu,\"size\":%zu,\"operations\":%zu,\"errors\":%zu,\"bytes\":%zu,"
      "\"seconds\":%.4f,\"mb_per_second\":%.2f,\"operations_per_second\":%.2f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
      "\"first_error\":\"%s\"}\n",
      workload.c_str(), options.concurrency, options.size, result.latencies_ms.size(), result.errors, result.bytes,
      result.seconds, result.seconds > 0 ? megabytes / result.seconds : 0,
      result.seconds > 0 ? static_cast<double>(result.latencies_ms.size()) / result.seconds : 0,
      percentile(result.latencies_ms, 0.5), percentile(result.latencies_ms, 0.99), result.first_error.c_str());
}

// Runs `operation(client, task)` for tasks 0..count-1 on `concurrency`
// threads, stopping early at `deadline`; the operation returns the bytes
// it moved.
template <class Operation>
Result run_tasks(const Options& options, std::size_t count, Operation operation,
                 Clock::time_point deadline = Clock::time_point::max()) {
  Result result;
  std::mutex mutex;
  std::atomic<std::size_t> next{0};
  auto start = Clock::now();
  std::vector<std::thread> workers;
  for (std::size_t w = 0; w < options.concurrency; ++w) {
    workers.emplace_back([&] {
      Client client(options.url, options.user);
      std::vector<double> latencies;
      std::size_t bytes = 0;
      std::size_t errors = 0;
      std::string first_error;
      for (std::size_t task = next++; task < count && Clock::now() < deadline; task = next++) {
        auto began = Clock::now();
        try {
          bytes += operation(client, task);
          latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - began).count());
        } catch (const std::exception& error) {
          ++errors;
          if (first_error.empty()) first_error = error.what();
        }
      }
      std::lock_guard<std::mutex> lock(mutex);
      result.latencies_ms.insert(result.latencies_ms.end(), latencies.begin(), latencies.end());
      result.bytes += bytes;
      result.errors += errors;
      if (result.first_error.empty()) result.first_error = first_error;
    });
  }
  for (auto& worker : workers) worker.join();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (char& c : result.first_error) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return result;
}

int command_push(const Options& options) {
  Layers layers(options.size, options.images, 1);
  // Hash the layers before the clock starts: the client's own hashing is
  // not what is measured.
  for (std::size_t i = 0; i < options.images; ++i) layers.digest(i);
  Result result = run_tasks(options, options.images, [&](Client& client, std::size_t task) {
    push_image(client, layers, options, task);
    return options.size;
  });
  print_result(options, options.chunk ? "push-chunked" : "push-monolithic", result);
  return result.errors == 0 ? 0 : 1;
}

int command_pull(const Options& options) {
  Result result = run_tasks(options, options.images,
                            [&](Client& client, std::size_t task) { return pull_image(client, options, task); });
  print_result(options, "pull", result);
  return result.errors == 0 ? 0 : 1;
}

int command_mixed(const Options& options) {
  // Images 0..images-1 exist already; pushes create images after them.
  Layers layers(options.size, options.images + options.operations, 2);
  for (std::size_t task = 3; task < options.operations; task += 4) layers.digest(options.images + task);
  Result result = run_tasks(options, options.operations, [&](Client& client, std::size_t task) {
    if (task % 4 == 3) {
      push_image(client, layers, options, options.images + task);
      return options.size;
    }
    return pull_image(client, options, task % options.images);
  });
  print_result(options, "mixed", result);
  return result.errors == 0 ? 0 : 1;
}

int command_get(const Options& options) {
  std::vector<std::string> headers;
  if (!options.accept.empty()) headers.push_back("Accept: " + options.accept);
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.seconds));
  Result result = run_tasks(
      options, SIZE_MAX,
      [&](Client& client, std::size_t) {
        Reply reply = client.send(options.head ? "HEAD" : "GET", options.path, nullptr, 0, headers);
        expect(reply, 200, options.path);
        return reply.bytes_received;
      },
      deadline);
  print_result(options, options.head ? "head" : "get", result);
  return result.errors == 0 ? 0 : 1;
}

int command_populate(const Options& options) {
  // Small images: one config blob per repository, so each repository or
  // tag costs few requests.
  if (options.repositories > 0) {
    Result result = run_tasks(options, options.repositories, [&](Client& client, std::size_t task) {
      std::string repository = options.prefix + "/repo" + std::to_string(100000 + options.start + task);
      std::string config = "{\"n\":" + std::to_string(task) + "}";
      std::string digest = sha256_hex(config.data(), config.size());
      upload_blob(client, repository, config.data(), config.size(), digest, 0);
      std::string manifest = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                             digest + R"(","size":)" + std::to_string(config.size()) + R"(},"layers":[]})";
      expect(client.send("PUT", "/v2/" + repository + "/manifests/v1", manifest.data(), manifest.size(),
                         {"Content-Type: application/vnd.oci.image.manifest.v1+json"}),
             201, "PUT manifest");
      return std::size_t{0};
    });
    print_result(options, "populate-repositories", result);
    return result.errors == 0 ? 0 : 1;
  }

  std::string config = R"({"populate":"tags"})";
  std::string digest = sha256_hex(config.data(), config.size());
  {
    Client client(options.url, options.user);
    upload_blob(client, options.repository, config.data(), config.size(), digest, 0);
  }
  std::string manifest = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                         digest + R"(","size":)" + std::to_string(config.size()) + R"(},"layers":[]})";
  Result result = run_tasks(options, options.tags, [&](Client& client, std::size_t task) {
    expect(client.send("PUT", "/v2/" + options.repository + "/manifests/t" + std::to_string(100000 + options.start + task),
                       manifest.data(), manifest.size(), {"Content-Type: application/vnd.oci.image.manifest.v1+json"}),
           201, "PUT tag");
    return std::size_t{0};
  });
  print_result(options, "populate-tags", result);
  return result.errors == 0 ? 0 : 1;
}

int command_push_blobs(const Options& options) {
  if (options.repository.empty()) usage("missing --repository: push-blobs needs the repository that receives the blobs");
  // Blob K+i is the shared random buffer stamped with K+i, so runs with
  // different --start values upload different blobs to the same repository.
  Layers blobs(options.size, options.start + options.images, 3);
  for (std::size_t i = 0; i < options.images; ++i) blobs.digest(options.start + i);
  Result result = run_tasks(options, options.images, [&](Client& client, std::size_t task) {
    std::uint64_t stamp = options.start + task;
    upload_blob(client, options.repository, blobs.data().data(), blobs.data().size(), blobs.digest(stamp),
                options.chunk, &stamp);
    return options.size;
  });
  print_result(options, "push-blobs", result);
  return result.errors == 0 ? 0 : 1;
}

int command_put_manifests(const Options& options) {
  if (options.repository.empty()) usage("missing --repository: put-manifests needs the repository that receives the manifests");
  // Every manifest references the same config blob, uploaded before the
  // clock starts, and differs from the others by an annotation, so each
  // PUT stores a new manifest under a new tag m<100000+K+i>.
  std::string config = R"({"put-manifests":"config"})";
  std::string config_digest = sha256_hex(config.data(), config.size());
  {
    Client client(options.url, options.user);
    upload_blob(client, options.repository, config.data(), config.size(), config_digest, 0);
  }
  Result result = run_tasks(options, options.images, [&](Client& client, std::size_t task) {
    std::string number = std::to_string(100000 + options.start + task);
    std::string manifest = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                           config_digest + R"(","size":)" + std::to_string(config.size()) +
                           R"(},"layers":[],"annotations":{"bench.number":")" + number + R"("}})";
    expect(client.send("PUT", "/v2/" + options.repository + "/manifests/m" + number, manifest.data(), manifest.size(),
                       {"Content-Type: application/vnd.oci.image.manifest.v1+json"}),
           201, "PUT manifest");
    return manifest.size();
  });
  print_result(options, "put-manifests", result);
  return result.errors == 0 ? 0 : 1;
}

// A minimal HTTP server that returns the whole file for every request
// through sendfile(2), the ceiling for serving bytes from the page cache.
int command_serve_file(const Options& options) {
  int file = ::open(options.file.c_str(), O_RDONLY);
  if (file < 0) usage("cannot open " + options.file);
  struct stat info {};
  ::fstat(file, &info);
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  int on = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(options.port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(listener, 64) != 0) {
    usage("cannot listen on 127.0.0.1:" + std::to_string(options.port));
  }
  std::printf("serving %s on 127.0.0.1:%d\n", options.file.c_str(), options.port);
  std::fflush(stdout);
  while (true) {
    int connection = ::accept(listener, nullptr, nullptr);
    if (connection < 0) continue;
    std::thread([connection, file, size = info.st_size] {
      char request[8192];
      while (::recv(connection, request, sizeof request, 0) > 0) {
        std::string head = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(size) + "\r\n\r\n";
        if (::send(connection, head.data(), head.size(), MSG_NOSIGNAL) < 0) break;
        off_t offset = 0;
        while (offset < size) {
          if (::sendfile(connection, file, &offset, static_cast<std::size_t>(size - offset)) <= 0) break;
        }
      }
      ::close(connection);
    }).detach();
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options options = parse_options(argc, argv);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  try {
    if (options.command == "push") return command_push(options);
    if (options.command == "pull") return command_pull(options);
    if (options.command == "mixed") return command_mixed(options);
    if (options.command == "get") return command_get(options);
    if (options.command == "populate") return command_populate(options);
    if (options.command == "push-blobs") return command_push_blobs(options);
    if (options.command == "put-manifests") return command_put_manifests(options);
    if (options.command == "serve-file") return command_serve_file(options);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "berth-bench: %s\n", error.what());
    return 1;
  }
  usage("unknown command \"" + options.command + "\"");
}
