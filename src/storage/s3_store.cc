#include "storage/s3_store.h"

#include "core/error.h"
#include "core/random.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

namespace berth::storage {

using core::InternalError;

namespace {

// The largest object that UploadPartCopy copies as one part, and so the
// largest segment.
constexpr std::uint64_t kMaxSegmentSize = 5ull * 1024 * 1024 * 1024;

// Bytes per ranged GET of a reader. Large enough that a blob streams at
// the gateway's speed, small enough that a thousand readers at once stay
// within a few GiB.
constexpr std::uint64_t kReadWindow = 4 * 1024 * 1024;

constexpr const char* kStartedName = "started";

// Upload ids become key components; the same ids as on the filesystem
// (lower-case letters, digits and dashes, like the registry's UUIDs) are
// accepted.
void check_upload_id(const std::string& id) {
  bool ok = !id.empty() && id.size() <= 64;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) ok = false;
  }
  if (!ok) throw InternalError("invalid upload id \"" + id + "\"");
}

// An object that contains bytes of an upload, named relative to the
// upload's prefix.
struct Piece {
  std::string name;
  std::uint64_t size = 0;
};

// The parsed driver state of an upload.
struct UploadState {
  std::vector<Piece> segments;
  std::optional<Piece> tail;
  // Objects that the previous state named and this one does not. Deleting
  // them waits for the next writer, which gets this state only after the
  // caller recorded it, so no recorded state can still name them.
  std::vector<std::string> stale;

  std::vector<Piece> pieces() const {
    std::vector<Piece> out = segments;
    if (tail) out.push_back(*tail);
    return out;
  }

  std::uint64_t size() const {
    std::uint64_t total = 0;
    for (const auto& piece : pieces()) total += piece.size;
    return total;
  }
};

nlohmann::json piece_json(const Piece& piece) { return {{"name", piece.name}, {"size", piece.size}}; }

Piece parse_piece(const nlohmann::json& json) {
  return Piece{.name = json.at("name").get<std::string>(), .size = json.at("size").get<std::uint64_t>()};
}

std::string serialize_state(const UploadState& state) {
  nlohmann::json json = {{"version", 1}, {"segments", nlohmann::json::array()}, {"stale", state.stale}};
  for (const auto& segment : state.segments) json["segments"].push_back(piece_json(segment));
  json["tail"] = state.tail ? piece_json(*state.tail) : nlohmann::json(nullptr);
  return json.dump();
}

// An empty string is the state of an empty upload: sessions started before
// the S3 driver was configured have it.
UploadState parse_state(const std::string& id, const std::string& text) {
  UploadState state;
  if (text.empty()) return state;
  try {
    auto json = nlohmann::json::parse(text);
    if (json.at("version").get<int>() != 1) throw std::runtime_error("unknown version " + json.at("version").dump());
    for (const auto& segment : json.at("segments")) state.segments.push_back(parse_piece(segment));
    if (!json.at("tail").is_null()) state.tail = parse_piece(json.at("tail"));
    state.stale = json.at("stale").get<std::vector<std::string>>();
  } catch (const std::exception& error) {
    throw InternalError("the driver state of upload " + id + " is not S3 driver state (" + error.what() +
                        "); cancel the upload and start it again");
  }
  return state;
}

// Reads a sequence of objects as one stream of bytes, a window at a time.
class S3Reader final : public BlobReader {
 public:
  S3Reader(S3Client& client, std::vector<std::pair<std::string, std::uint64_t>> objects)
      : client_(client), objects_(std::move(objects)) {
    for (const auto& object : objects_) size_ += object.second;
  }

  std::uint64_t size() const override { return size_; }

  std::size_t read_at(std::uint64_t offset, char* buffer, std::size_t length) override {
    if (offset >= size_ || length == 0) return 0;
    if (offset < window_start_ || offset >= window_start_ + window_.size()) fetch(offset);
    std::size_t available = static_cast<std::size_t>(window_start_ + window_.size() - offset);
    std::size_t count = std::min(length, available);
    std::copy_n(window_.data() + (offset - window_start_), count, buffer);
    return count;
  }

 private:
  // Loads the window that starts at `offset`. It ends after kReadWindow
  // bytes or at the end of the object that contains `offset`.
  void fetch(std::uint64_t offset) {
    std::uint64_t object_start = 0;
    for (const auto& [key, object_size] : objects_) {
      if (offset < object_start + object_size) {
        std::uint64_t first = offset - object_start;
        std::uint64_t last = std::min(object_size, first + kReadWindow) - 1;
        S3Request request{.method = "GET", .key = key};
        request.headers = {"Range: bytes=" + std::to_string(first) + "-" + std::to_string(last)};
        request.expected_body_size = static_cast<std::size_t>(last - first + 1);
        S3Response response = client_.perform(request);
        if (response.body.size() != last - first + 1) {
          throw InternalError("S3 returned " + std::to_string(response.body.size()) + " bytes of key \"" + key +
                              "\" for a range of " + std::to_string(last - first + 1) +
                              "; the object changed while it was read");
        }
        window_ = std::move(response.body);
        window_start_ = offset;
        return;
      }
      object_start += object_size;
    }
  }

  S3Client& client_;
  std::vector<std::pair<std::string, std::uint64_t>> objects_;  // key and the bytes to read of it
  std::uint64_t size_ = 0;
  std::string window_;
  std::uint64_t window_start_ = 0;
};

}  // namespace

// Appends to an upload; see s3_store.h for how the bytes are kept.
class S3UploadWriter final : public UploadWriter {
 public:
  S3UploadWriter(S3Store& store, std::string id, std::string original_state, UploadState state, std::uint64_t offset)
      : store_(store),
        client_(store.client_),
        id_(std::move(id)),
        original_state_(std::move(original_state)),
        previous_(std::move(state)),
        size_(offset) {
    // Segments that end at or before `offset` stay as they are. The bytes
    // of a cut segment, and of the tail, up to `offset` are read back into
    // the new data when the writer first needs them.
    std::uint64_t position = 0;
    for (const auto& segment : previous_.segments) {
      if (position + segment.size <= offset) {
        kept_.push_back(segment);
      } else if (position < offset) {
        replay_.emplace_back(segment, offset - position);
      }
      position += segment.size;
    }
    if (previous_.tail && position < offset) replay_.emplace_back(*previous_.tail, offset - position);
    dirty_ = offset < previous_.size();
    buffer_.reserve(static_cast<std::size_t>(client_.options().part_size));
  }

  ~S3UploadWriter() override {
    if (finished_) return;
    // Best effort: an unfinished writer's parts and segments belong to no
    // state, and delete_upload() removes whatever this leaves.
    try {
      if (multipart_) abort_multipart();
      std::vector<std::string> keys;
      for (const auto& segment : new_segments_) keys.push_back(key(segment.name));
      if (!keys.empty()) client_.delete_objects(keys);
    } catch (const std::exception& error) {
      spdlog::warn("s3_upload_cleanup_failed upload={} error=\"{}\"", id_, error.what());
    }
  }

  std::uint64_t size() const override { return size_; }

  void write(const char* data, std::size_t length) override {
    if (length == 0) return;
    guarded([&] {
      replay();
      append(data, length);
      size_ += length;
      dirty_ = true;
    });
  }

  std::string finish() override {
    if (failed_) {
      throw InternalError("an earlier write to upload " + id_ + " failed, so its bytes are not stored");
    }
    if (finished_) return result_;
    if (!dirty_) {
      finished_ = true;
      result_ = original_state_;
      return result_;
    }
    guarded([&] {
      replay();
      UploadState next;
      if (multipart_) {
        if (!buffer_.empty() && multipart_->size + buffer_.size() <= kMaxSegmentSize) upload_part();
        complete_multipart();
      }
      next.segments = kept_;
      next.segments.insert(next.segments.end(), new_segments_.begin(), new_segments_.end());
      if (!buffer_.empty()) next.tail = put_tail();

      std::set<std::string> named;
      for (const auto& piece : next.pieces()) named.insert(piece.name);
      for (const auto& piece : previous_.pieces()) {
        if (!named.contains(piece.name)) next.stale.push_back(piece.name);
      }
      delete_stale();
      result_ = serialize_state(next);
      finished_ = true;
    });
    return result_;
  }

 private:
  struct Multipart {
    std::string name;
    std::string upload_id;
    std::vector<std::string> etags;  // of parts 1, 2, ...
    std::uint64_t size = 0;
  };

  std::string key(const std::string& name) const { return store_.upload_prefix(id_) + name; }

  // Runs `body`; after an exception the writer only throws.
  template <typename Body>
  void guarded(Body body) {
    if (failed_) throw InternalError("an earlier write to upload " + id_ + " failed; start the request again");
    if (finished_) throw InternalError("upload " + id_ + " was written to after its writer finished");
    try {
      body();
    } catch (...) {
      failed_ = true;
      throw;
    }
  }

  // Moves the kept bytes of cut pieces into the new data, once.
  void replay() {
    if (replayed_) return;
    replayed_ = true;
    for (const auto& [piece, length] : replay_) {
      S3Reader reader(client_, {{key(piece.name), length}});
      std::string chunk(static_cast<std::size_t>(std::min<std::uint64_t>(length, kReadWindow)), '\0');
      for (std::uint64_t at = 0; at < length;) {
        std::size_t got = reader.read_at(at, chunk.data(), chunk.size());
        if (got == 0) throw InternalError("key \"" + key(piece.name) + "\" ended early while it was read back");
        append(chunk.data(), got);
        at += got;
      }
    }
  }

  // Adds bytes to the data, uploading each part as it fills.
  void append(const char* data, std::size_t length) {
    const std::size_t part_size = static_cast<std::size_t>(client_.options().part_size);
    while (length > 0) {
      std::size_t take = std::min(length, part_size - buffer_.size());
      buffer_.append(data, take);
      data += take;
      length -= take;
      if (buffer_.size() == part_size) {
        if (multipart_ && multipart_->size + part_size > kMaxSegmentSize) complete_multipart();
        upload_part();
      }
    }
  }

  void upload_part() {
    if (!multipart_) start_multipart();
    std::string part_number = std::to_string(multipart_->etags.size() + 1);
    S3Request request{.method = "PUT", .key = key(multipart_->name)};
    request.query = {{"partNumber", part_number}, {"uploadId", multipart_->upload_id}};
    request.body = buffer_;
    S3Response response = client_.perform(request);
    std::string etag = response.header("etag");
    if (etag.empty()) {
      throw InternalError("S3 returned no ETag for part " + part_number + " of key \"" + key(multipart_->name) + "\"");
    }
    multipart_->etags.push_back(etag);
    multipart_->size += buffer_.size();
    buffer_.clear();
  }

  void start_multipart() {
    Multipart multipart{.name = "segment-" + core::random_hex(8)};
    S3Request request{.method = "POST", .key = key(multipart.name), .query = {{"uploads", ""}}};
    request.headers = {"Content-Type: application/octet-stream"};
    S3Response response = client_.perform(request);
    multipart.upload_id = xml_text(response.body, "UploadId");
    if (multipart.upload_id.empty()) {
      throw InternalError("S3 CreateMultipartUpload of key \"" + key(multipart.name) + "\" returned no UploadId");
    }
    multipart_ = std::move(multipart);
  }

  void complete_multipart() {
    std::string body = "<CompleteMultipartUpload>";
    for (std::size_t i = 0; i < multipart_->etags.size(); ++i) {
      body += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + multipart_->etags[i] +
              "</ETag></Part>";
    }
    body += "</CompleteMultipartUpload>";
    std::string segment_key = key(multipart_->name);
    S3Request request{.method = "POST", .key = segment_key, .query = {{"uploadId", multipart_->upload_id}}};
    request.headers = {"Content-Type: application/xml"};
    request.body = body;
    request.error_in_body = true;
    request.accepted = {404};
    S3Response response = client_.perform(request);
    if (response.status == 404) {
      // A retried request finds the upload gone when its first attempt
      // completed it; the segment then exists with every byte.
      S3Response head = client_.perform(S3Request{.method = "HEAD", .key = segment_key, .accepted = {404}});
      if (head.status == 404 || head.header("content-length") != std::to_string(multipart_->size)) {
        throw InternalError("S3 lost the multipart upload of key \"" + segment_key + "\" (" +
                            xml_text(response.body, "Code") + ")");
      }
    }
    new_segments_.push_back(Piece{.name = multipart_->name, .size = multipart_->size});
    multipart_.reset();
  }

  void abort_multipart() {
    client_.perform(S3Request{.method = "DELETE",
                              .key = key(multipart_->name),
                              .query = {{"uploadId", multipart_->upload_id}},
                              .accepted = {404}});
    multipart_.reset();
  }

  Piece put_tail() {
    Piece tail{.name = "tail-" + core::random_hex(8), .size = buffer_.size()};
    S3Request request{.method = "PUT", .key = key(tail.name)};
    request.headers = {"Content-Type: application/octet-stream"};
    request.body = buffer_;
    client_.perform(request);
    buffer_.clear();
    return tail;
  }

  // Deletes the objects that the state this writer started from lists as
  // stale. A failure only leaves them for commit_upload or delete_upload.
  void delete_stale() {
    if (previous_.stale.empty()) return;
    std::vector<std::string> keys;
    for (const auto& name : previous_.stale) keys.push_back(key(name));
    try {
      client_.delete_objects(keys);
    } catch (const std::exception& error) {
      spdlog::warn("s3_stale_delete_failed upload={} objects={} error=\"{}\"", id_, keys.size(), error.what());
    }
  }

  S3Store& store_;
  S3Client& client_;
  std::string id_;
  std::string original_state_;
  UploadState previous_;
  std::vector<Piece> kept_;                              // segments of `previous_` that stay
  std::vector<std::pair<Piece, std::uint64_t>> replay_;  // pieces and how many of their bytes to copy
  bool replayed_ = false;
  std::uint64_t size_;
  bool dirty_ = false;  // the data differs from `previous_`
  std::string buffer_;  // bytes after the last uploaded part
  std::optional<Multipart> multipart_;
  std::vector<Piece> new_segments_;
  bool failed_ = false;
  bool finished_ = false;
  std::string result_;
};

S3Store::S3Store(S3Options options) : client_(resolve_s3_options(std::move(options))) {}

std::string S3Store::blob_key(const core::Digest& digest) const {
  return client_.options().prefix + "blobs/" + std::string(core::algorithm_name(digest.algorithm())) + "/" +
         digest.hex().substr(0, 2) + "/" + digest.hex();
}

std::string S3Store::upload_prefix(const std::string& id) const {
  check_upload_id(id);
  return client_.options().prefix + "uploads/" + id + "/";
}

std::optional<std::uint64_t> S3Store::stat(const core::Digest& digest) {
  S3Response response = client_.perform(S3Request{.method = "HEAD", .key = blob_key(digest), .accepted = {404}});
  if (response.status == 404) return std::nullopt;
  return std::strtoull(response.header("content-length").c_str(), nullptr, 10);
}

std::unique_ptr<BlobReader> S3Store::open(const core::Digest& digest) {
  auto size = stat(digest);
  if (!size) return nullptr;
  return std::make_unique<S3Reader>(client_, std::vector<std::pair<std::string, std::uint64_t>>{{blob_key(digest), *size}});
}

bool S3Store::remove(const core::Digest& digest) {
  if (!stat(digest)) return false;
  client_.perform(S3Request{.method = "DELETE", .key = blob_key(digest)});
  return true;
}

std::optional<std::int64_t> S3Store::modified_at(const core::Digest& digest) {
  S3Response response = client_.perform(S3Request{.method = "HEAD", .key = blob_key(digest), .accepted = {404}});
  if (response.status == 404) return std::nullopt;
  std::string header = response.header("last-modified");
  time_t when = curl_getdate(header.c_str(), nullptr);
  if (when < 0) throw InternalError("S3 returned an invalid Last-Modified \"" + header + "\" for " + digest.str());
  return static_cast<std::int64_t>(when);
}

std::vector<core::Digest> S3Store::list() {
  std::string prefix = client_.options().prefix + "blobs/";
  std::vector<core::Digest> out;
  for (const auto& object : client_.list_objects(prefix)) {
    // <algorithm>/<first two hex digits>/<hex>; other keys are not blobs.
    std::string_view rest = std::string_view(object.key).substr(prefix.size());
    std::size_t first_slash = rest.find('/');
    std::size_t second_slash = rest.find('/', first_slash + 1);
    if (first_slash == std::string_view::npos || second_slash == std::string_view::npos) continue;
    std::string_view hex = rest.substr(second_slash + 1);
    auto digest = core::Digest::parse(std::string(rest.substr(0, first_slash)) + ":" + std::string(hex));
    if (digest && rest.substr(first_slash + 1, second_slash - first_slash - 1) == digest->hex().substr(0, 2)) {
      out.push_back(*digest);
    }
  }
  return out;
}

bool S3Store::upload_exists(const std::string& id) {
  S3Response response =
      client_.perform(S3Request{.method = "HEAD", .key = upload_prefix(id) + kStartedName, .accepted = {404}});
  return response.status != 404;
}

std::string S3Store::create_upload(const std::string& id) {
  if (upload_exists(id)) throw InternalError("upload " + id + " exists already in the S3 bucket");
  client_.perform(S3Request{.method = "PUT", .key = upload_prefix(id) + kStartedName});
  return serialize_state(UploadState{});
}

std::optional<std::uint64_t> S3Store::upload_size(const std::string& id, const std::string& state) {
  UploadState parsed = parse_state(id, state);
  if (!upload_exists(id)) return std::nullopt;
  return parsed.size();
}

std::unique_ptr<UploadWriter> S3Store::append_upload(const std::string& id, const std::string& state,
                                                     std::uint64_t offset) {
  UploadState parsed = parse_state(id, state);
  if (offset > parsed.size() || !upload_exists(id)) return nullptr;
  return std::make_unique<S3UploadWriter>(*this, id, state, std::move(parsed), offset);
}

std::unique_ptr<BlobReader> S3Store::open_upload(const std::string& id, const std::string& state) {
  UploadState parsed = parse_state(id, state);
  if (!upload_exists(id)) return nullptr;
  std::vector<std::pair<std::string, std::uint64_t>> objects;
  for (const auto& piece : parsed.pieces()) objects.emplace_back(upload_prefix(id) + piece.name, piece.size);
  return std::make_unique<S3Reader>(client_, std::move(objects));
}

void S3Store::commit_upload(const std::string& id, const std::string& state, const core::Digest& digest) {
  UploadState parsed = parse_state(id, state);
  std::vector<Piece> pieces = parsed.pieces();
  std::string target = blob_key(digest);

  // Content addressing makes an existing blob identical to this upload.
  if (!stat(digest)) {
    if (pieces.empty()) {
      S3Request request{.method = "PUT", .key = target};
      request.headers = {"Content-Type: application/octet-stream"};
      client_.perform(request);
    } else if (pieces.size() == 1) {
      S3Request request{.method = "PUT", .key = target, .error_in_body = true};
      request.headers = {"x-amz-copy-source: " + client_.copy_source(upload_prefix(id) + pieces.front().name)};
      client_.perform(request);
    } else {
      S3Request start{.method = "POST", .key = target, .query = {{"uploads", ""}}};
      start.headers = {"Content-Type: application/octet-stream"};
      std::string upload_id = xml_text(client_.perform(start).body, "UploadId");
      if (upload_id.empty()) throw InternalError("S3 CreateMultipartUpload of key \"" + target + "\" returned no UploadId");
      try {
        std::string body = "<CompleteMultipartUpload>";
        for (std::size_t i = 0; i < pieces.size(); ++i) {
          std::string part_number = std::to_string(i + 1);
          S3Request copy{.method = "PUT", .key = target, .error_in_body = true};
          copy.query = {{"partNumber", part_number}, {"uploadId", upload_id}};
          copy.headers = {"x-amz-copy-source: " + client_.copy_source(upload_prefix(id) + pieces[i].name)};
          std::string etag = xml_text(client_.perform(copy).body, "ETag");
          if (etag.empty()) throw InternalError("S3 UploadPartCopy into key \"" + target + "\" returned no ETag");
          body += "<Part><PartNumber>" + part_number + "</PartNumber><ETag>" + etag + "</ETag></Part>";
        }
        body += "</CompleteMultipartUpload>";
        // The ETag of the response is not read: radosgw 16 returns it empty.
        S3Request complete{.method = "POST", .key = target, .query = {{"uploadId", upload_id}}};
        complete.headers = {"Content-Type: application/xml"};
        complete.body = body;
        complete.error_in_body = true;
        client_.perform(complete);
      } catch (...) {
        try {
          client_.perform(S3Request{
              .method = "DELETE", .key = target, .query = {{"uploadId", upload_id}}, .accepted = {404}});
        } catch (const std::exception& error) {
          spdlog::warn("s3_multipart_abort_failed key={} upload_id={} error=\"{}\"", target, upload_id, error.what());
        }
        throw;
      }
    }
  }
  delete_upload_objects(id);
}

void S3Store::delete_upload_objects(const std::string& id) {
  std::string prefix = upload_prefix(id);
  // The marker goes first, so that the upload counts as gone even if
  // deleting the rest fails part way.
  std::vector<std::string> keys = {prefix + kStartedName};
  for (const auto& object : client_.list_objects(prefix)) {
    if (object.key != prefix + kStartedName) keys.push_back(object.key);
  }
  client_.perform(S3Request{.method = "DELETE", .key = keys.front()});
  keys.erase(keys.begin());
  client_.delete_objects(keys);
}

void S3Store::delete_upload(const std::string& id) {
  delete_upload_objects(id);
  for (const auto& upload : client_.list_multipart_uploads(upload_prefix(id))) {
    client_.perform(S3Request{
        .method = "DELETE", .key = upload.key, .query = {{"uploadId", upload.upload_id}}, .accepted = {404}});
  }
}

std::optional<std::int64_t> S3Store::upload_modified_at(const std::string& id) {
  std::string prefix = upload_prefix(id);
  std::optional<std::int64_t> latest;
  for (const auto& object : client_.list_objects(prefix)) latest = std::max(latest.value_or(0), object.last_modified);
  for (const auto& upload : client_.list_multipart_uploads(prefix)) latest = std::max(latest.value_or(0), upload.initiated);
  return latest;
}

std::vector<std::string> S3Store::list_uploads() {
  std::string prefix = client_.options().prefix + "uploads/";
  std::vector<std::string> prefixes;
  client_.list_objects(prefix, "/", &prefixes);
  client_.list_multipart_uploads(prefix, "/", &prefixes);
  std::set<std::string> ids;
  for (const auto& found : prefixes) {
    // "<prefix>uploads/<id>/"
    if (found.size() > prefix.size() + 1) ids.insert(found.substr(prefix.size(), found.size() - prefix.size() - 1));
  }
  return {ids.begin(), ids.end()};
}

std::optional<std::string> S3Store::presigned_url(const core::Digest& digest) {
  if (client_.options().presign_seconds <= 0) return std::nullopt;
  return client_.presign_get(blob_key(digest), client_.options().presign_seconds);
}

}  // namespace berth::storage
