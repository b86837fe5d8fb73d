#include "stores/blob_store_suite.h"

#include "core/digest.h"
#include "storage/filesystem_store.h"
#include "support/printers.h"
#include "support/temp_directory.h"

#include <gmock/gmock.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <latch>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace berth::store_tests {

std::string blob_store_factory_name(const ::testing::TestParamInfo<BlobStoreFactory>& info) {
  return info.param.name;
}

namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;
using storage::BlobReader;
using storage::BlobStore;

core::Digest sha256_of(std::string_view data) { return core::digest_of(core::DigestAlgorithm::kSha256, data); }

// Bytes that differ from position to position and include NUL and 0xff, so
// a misplaced or dropped chunk changes the content.
std::string pattern_bytes(std::size_t size, unsigned seed) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    out[i] = static_cast<char>((i * 131 + i / 251 + seed) & 0xff);
  }
  return out;
}

// Reads up to `length` bytes at `offset`, calling read_at until it has them
// or read_at returns 0, because read_at may return fewer bytes than requested.
std::string read_range(BlobReader& reader, std::uint64_t offset, std::size_t length) {
  std::string out;
  std::vector<char> buffer(64 * 1024);
  while (out.size() < length) {
    std::size_t wanted = std::min(buffer.size(), length - out.size());
    std::size_t got = reader.read_at(offset + out.size(), buffer.data(), wanted);
    if (got == 0) break;
    out.append(buffer.data(), got);
  }
  return out;
}

// Reads until read_at reports the end, without trusting size().
std::string read_all(BlobReader& reader) {
  std::string out;
  std::vector<char> buffer(64 * 1024);
  while (true) {
    std::size_t got = reader.read_at(out.size(), buffer.data(), buffer.size());
    if (got == 0) break;
    out.append(buffer.data(), got);
  }
  return out;
}

// Creates upload `id`, writes `data` into it from offset 0 and returns the
// driver state that the writer's finish() returned.
std::string write_new_upload(BlobStore& store, const std::string& id, std::string_view data) {
  std::string state = store.create_upload(id);
  auto writer = store.append_upload(id, state, 0);
  if (writer == nullptr) throw std::logic_error("append_upload(" + id + ", 0) returned nullptr after create_upload");
  writer->write(data.data(), data.size());
  return writer->finish();
}

// Appends `data` at `offset` and returns the new driver state.
std::string append_bytes(BlobStore& store, const std::string& id, const std::string& state, std::uint64_t offset,
                         std::string_view data) {
  auto writer = store.append_upload(id, state, offset);
  if (writer == nullptr) throw std::logic_error("append_upload(" + id + ", " + std::to_string(offset) + ") returned nullptr");
  writer->write(data.data(), data.size());
  return writer->finish();
}

// Uploads `data` through upload `id` and commits it under its SHA-256 digest.
core::Digest commit_blob(BlobStore& store, const std::string& id, std::string_view data) {
  std::string state = write_new_upload(store, id, data);
  core::Digest digest = sha256_of(data);
  store.commit_upload(id, state, digest);
  return digest;
}

std::string upload_content(BlobStore& store, const std::string& id, const std::string& state) {
  auto reader = store.open_upload(id, state);
  if (reader == nullptr) throw std::logic_error("open_upload(" + id + ") returned nullptr");
  return read_all(*reader);
}

std::string blob_content(BlobStore& store, const core::Digest& digest) {
  auto reader = store.open(digest);
  if (reader == nullptr) throw std::logic_error("open(" + digest.str() + ") returned nullptr");
  return read_all(*reader);
}

// --- Committed blobs ----------------------------------------------------

TEST_P(BlobStoreContract, StatMissingBlob) {
  EXPECT_EQ(store().stat(sha256_of("absent")), std::nullopt);
}

TEST_P(BlobStoreContract, OpenMissingBlob) {
  EXPECT_EQ(store().open(sha256_of("absent")), nullptr);
}

TEST_P(BlobStoreContract, RemoveMissingBlob) {
  EXPECT_FALSE(store().remove(sha256_of("absent")));
}

TEST_P(BlobStoreContract, ListEmptyStore) {
  EXPECT_TRUE(store().list().empty());
  EXPECT_TRUE(store().list_uploads().empty());
}

TEST_P(BlobStoreContract, CommitMakesBlobReadable) {
  const char raw[] = "layer bytes\n\0with a NUL";
  std::string data(raw, sizeof raw - 1);
  core::Digest digest = commit_blob(store(), "upload-1", data);

  ASSERT_EQ(store().stat(digest), data.size());
  auto reader = store().open(digest);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->size(), data.size());
  EXPECT_EQ(read_all(*reader), data);
}

TEST_P(BlobStoreContract, CommitDropsUpload) {
  std::string state = write_new_upload(store(), "upload-1", "payload");
  store().commit_upload("upload-1", state, sha256_of("payload"));

  EXPECT_EQ(store().upload_size("upload-1", state), std::nullopt);
  EXPECT_EQ(store().open_upload("upload-1", state), nullptr);
  EXPECT_EQ(store().append_upload("upload-1", state, 0), nullptr);
  EXPECT_TRUE(store().list_uploads().empty());
}

TEST_P(BlobStoreContract, CommitExistingDigestKeepsOneBlob) {
  std::string data = pattern_bytes(10000, 1);
  core::Digest digest = commit_blob(store(), "upload-1", data);
  auto early_reader = store().open(digest);
  ASSERT_NE(early_reader, nullptr);

  std::string state = write_new_upload(store(), "upload-2", data);
  store().commit_upload("upload-2", state, digest);

  EXPECT_THAT(store().list(), ElementsAre(digest));
  EXPECT_EQ(store().stat(digest), data.size());
  EXPECT_EQ(blob_content(store(), digest), data);
  EXPECT_EQ(read_all(*early_reader), data);
  EXPECT_EQ(store().upload_size("upload-2", state), std::nullopt);
  EXPECT_TRUE(store().list_uploads().empty());
}

TEST_P(BlobStoreContract, RemoveDeletesBlob) {
  core::Digest kept = commit_blob(store(), "upload-1", "kept");
  core::Digest removed = commit_blob(store(), "upload-2", "removed");

  EXPECT_TRUE(store().remove(removed));

  EXPECT_EQ(store().stat(removed), std::nullopt);
  EXPECT_EQ(store().open(removed), nullptr);
  EXPECT_THAT(store().list(), ElementsAre(kept));
  EXPECT_EQ(blob_content(store(), kept), "kept");
  EXPECT_FALSE(store().remove(removed));
}

TEST_P(BlobStoreContract, ListReturnsEveryBlob) {
  core::Digest first = commit_blob(store(), "upload-1", "first");
  core::Digest second = commit_blob(store(), "upload-2", "second");
  core::Digest third = commit_blob(store(), "upload-3", "third");

  std::string sha512_data = "hashed with sha512";
  std::string state = write_new_upload(store(), "upload-4", sha512_data);
  core::Digest sha512 = core::digest_of(core::DigestAlgorithm::kSha512, sha512_data);
  store().commit_upload("upload-4", state, sha512);

  EXPECT_THAT(store().list(), UnorderedElementsAre(first, second, third, sha512));
  EXPECT_EQ(blob_content(store(), sha512), sha512_data);
}

TEST_P(BlobStoreContract, ZeroLengthBlob) {
  std::string state = store().create_upload("empty");
  EXPECT_EQ(store().upload_size("empty", state), 0u);

  core::Digest digest = sha256_of("");
  store().commit_upload("empty", state, digest);

  ASSERT_EQ(store().stat(digest), 0u);
  auto reader = store().open(digest);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->size(), 0u);
  char byte = 0;
  EXPECT_EQ(reader->read_at(0, &byte, 1), 0u);
  EXPECT_THAT(store().list(), ElementsAre(digest));
}

TEST_P(BlobStoreContract, ZeroLengthWrite) {
  std::string state = store().create_upload("upload-1");
  auto writer = store().append_upload("upload-1", state, 0);
  ASSERT_NE(writer, nullptr);

  writer->write("", 0);
  state = writer->finish();

  EXPECT_EQ(writer->size(), 0u);
  EXPECT_EQ(store().upload_size("upload-1", state), 0u);
  EXPECT_EQ(upload_content(store(), "upload-1", state), "");
}

TEST_P(BlobStoreContract, LargeBlobInSeveralAppends) {
  // 5 MiB and a few bytes, written by four writers in uneven chunks, so
  // chunk borders fall inside hash blocks and file pages.
  std::string data = pattern_bytes(5 * 1024 * 1024 + 123, 7);
  const std::vector<std::size_t> borders = {0, 1024 * 1024 + 1, 3 * 1024 * 1024 - 17, 4 * 1024 * 1024 + 4095,
                                            data.size()};
  std::string state = store().create_upload("large");
  for (std::size_t part = 0; part + 1 < borders.size(); ++part) {
    auto writer = store().append_upload("large", state, borders[part]);
    ASSERT_NE(writer, nullptr) << "append at " << borders[part];
    for (std::size_t at = borders[part]; at < borders[part + 1]; at += 100000) {
      std::size_t length = std::min<std::size_t>(100000, borders[part + 1] - at);
      writer->write(data.data() + at, length);
    }
    EXPECT_EQ(writer->size(), borders[part + 1]);
    state = writer->finish();
  }
  ASSERT_EQ(store().upload_size("large", state), data.size());
  EXPECT_TRUE(upload_content(store(), "large", state) == data) << "open_upload returned other bytes";

  core::Digest digest = sha256_of(data);
  store().commit_upload("large", state, digest);

  ASSERT_EQ(store().stat(digest), data.size());
  std::string stored = blob_content(store(), digest);
  EXPECT_EQ(stored.size(), data.size());
  EXPECT_TRUE(stored == data) << "the committed blob differs from the appended bytes";
  EXPECT_EQ(sha256_of(stored), digest);
}

TEST_P(BlobStoreContract, ConcurrentCommitsOfSameDigest) {
  constexpr int kThreads = 8;
  std::string data = pattern_bytes(1024 * 1024 + 5, 3);
  core::Digest digest = sha256_of(data);
  std::latch ready(kThreads);
  std::mutex failures_mutex;
  std::vector<std::string> failures;

  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      try {
        std::string id = "concurrent-" + std::to_string(i);
        std::string state = write_new_upload(store(), id, data);
        ready.arrive_and_wait();
        store().commit_upload(id, state, digest);
      } catch (const std::exception& error) {
        std::lock_guard<std::mutex> lock(failures_mutex);
        failures.push_back(error.what());
      }
    });
  }
  for (auto& thread : threads) thread.join();

  EXPECT_THAT(failures, ::testing::IsEmpty());
  EXPECT_THAT(store().list(), ElementsAre(digest));
  EXPECT_EQ(store().stat(digest), data.size());
  EXPECT_TRUE(blob_content(store(), digest) == data) << "the blob differs from the committed bytes";
  EXPECT_TRUE(store().list_uploads().empty());
}

TEST_P(BlobStoreContract, ConcurrentCommitsOfDifferentBlobs) {
  // 320 distinct blobs at once. The filesystem store shards blobs by the
  // first two hex digits, so several threads create the same directories.
  constexpr int kThreads = 8;
  constexpr int kBlobsPerThread = 40;
  std::latch ready(kThreads);
  std::mutex failures_mutex;
  std::vector<std::string> failures;
  std::vector<std::vector<core::Digest>> committed(kThreads);

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        ready.arrive_and_wait();
        for (int i = 0; i < kBlobsPerThread; ++i) {
          std::string id = "thread-" + std::to_string(t) + "-blob-" + std::to_string(i);
          committed[t].push_back(commit_blob(store(), id, "content of " + id));
        }
      } catch (const std::exception& error) {
        std::lock_guard<std::mutex> lock(failures_mutex);
        failures.push_back(error.what());
      }
    });
  }
  for (auto& thread : threads) thread.join();

  EXPECT_THAT(failures, ::testing::IsEmpty());
  EXPECT_EQ(store().list().size(), static_cast<std::size_t>(kThreads * kBlobsPerThread));
  EXPECT_TRUE(store().list_uploads().empty());
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < static_cast<int>(committed[t].size()); ++i) {
      std::string id = "thread-" + std::to_string(t) + "-blob-" + std::to_string(i);
      EXPECT_EQ(blob_content(store(), committed[t][i]), "content of " + id);
    }
  }
}

// --- Readers ------------------------------------------------------------

TEST_P(BlobStoreContract, ReadAtOffsets) {
  core::Digest digest = commit_blob(store(), "upload-1", "0123456789");
  auto reader = store().open(digest);
  ASSERT_NE(reader, nullptr);

  EXPECT_EQ(read_range(*reader, 0, 1), "0");
  EXPECT_EQ(read_range(*reader, 3, 4), "3456");
  EXPECT_EQ(read_range(*reader, 9, 1), "9");
  EXPECT_EQ(read_range(*reader, 0, 10), "0123456789");
}

TEST_P(BlobStoreContract, ReadAtPastEnd) {
  core::Digest digest = commit_blob(store(), "upload-1", "0123456789");
  auto reader = store().open(digest);
  ASSERT_NE(reader, nullptr);
  char buffer[16] = {};

  EXPECT_EQ(read_range(*reader, 8, 10), "89");
  EXPECT_EQ(reader->read_at(10, buffer, sizeof buffer), 0u);
  EXPECT_EQ(reader->read_at(1000, buffer, sizeof buffer), 0u);
}

TEST_P(BlobStoreContract, NativeFdSupportsPread) {
  std::string data = pattern_bytes(70000, 9);
  core::Digest digest = commit_blob(store(), "upload-1", data);
  auto reader = store().open(digest);
  ASSERT_NE(reader, nullptr);
  int fd = reader->native_fd();
  if (fd == -1) GTEST_SKIP() << "this driver does not serve blobs from local files";

  std::string buffer(1000, '\0');
  ssize_t got = ::pread(fd, buffer.data(), buffer.size(), 65000);

  ASSERT_EQ(got, 1000);
  EXPECT_TRUE(buffer == data.substr(65000, 1000)) << "pread at 65000 returned other bytes";
  EXPECT_EQ(::pread(fd, buffer.data(), buffer.size(), 70000), 0);
}

// --- Uploads ------------------------------------------------------------

TEST_P(BlobStoreContract, CreateUploadStartsEmpty) {
  std::string state = store().create_upload("upload-1");

  EXPECT_EQ(store().upload_size("upload-1", state), 0u);
  auto reader = store().open_upload("upload-1", state);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->size(), 0u);
  EXPECT_THAT(store().list_uploads(), ElementsAre("upload-1"));
}

TEST_P(BlobStoreContract, CreateUploadTwiceThrows) {
  std::string state = write_new_upload(store(), "upload-1", "first bytes");

  EXPECT_ANY_THROW(store().create_upload("upload-1"));
  EXPECT_EQ(upload_content(store(), "upload-1", state), "first bytes");
}

TEST_P(BlobStoreContract, UploadSizeOfUnknownUpload) {
  EXPECT_EQ(store().upload_size("never-created", ""), std::nullopt);
}

TEST_P(BlobStoreContract, AppendWritesBytes) {
  std::string state = store().create_upload("upload-1");
  auto writer = store().append_upload("upload-1", state, 0);
  ASSERT_NE(writer, nullptr);

  writer->write("hello", 5);
  state = writer->finish();

  EXPECT_EQ(writer->size(), 5u);
  EXPECT_EQ(store().upload_size("upload-1", state), 5u);
  EXPECT_EQ(upload_content(store(), "upload-1", state), "hello");
}

TEST_P(BlobStoreContract, AppendContinuesAtOffset) {
  std::string state = write_new_upload(store(), "upload-1", "hello");
  auto writer = store().append_upload("upload-1", state, 5);
  ASSERT_NE(writer, nullptr);
  EXPECT_EQ(writer->size(), 5u);

  writer->write(" world", 6);
  state = writer->finish();

  EXPECT_EQ(writer->size(), 11u);
  EXPECT_EQ(store().upload_size("upload-1", state), 11u);
  EXPECT_EQ(upload_content(store(), "upload-1", state), "hello world");
}

TEST_P(BlobStoreContract, AppendWithoutWritesKeepsData) {
  std::string state = write_new_upload(store(), "upload-1", "hello");
  auto writer = store().append_upload("upload-1", state, 5);
  ASSERT_NE(writer, nullptr);

  state = writer->finish();

  EXPECT_EQ(store().upload_size("upload-1", state), 5u);
  EXPECT_EQ(upload_content(store(), "upload-1", state), "hello");
}

TEST_P(BlobStoreContract, AppendDiscardsBytesBeyondOffset) {
  std::string state = write_new_upload(store(), "upload-1", "hello world");
  auto writer = store().append_upload("upload-1", state, 5);
  ASSERT_NE(writer, nullptr);
  EXPECT_EQ(writer->size(), 5u);

  writer->write("!!", 2);
  state = writer->finish();

  EXPECT_EQ(writer->size(), 7u);
  EXPECT_EQ(store().upload_size("upload-1", state), 7u);
  EXPECT_EQ(upload_content(store(), "upload-1", state), "hello!!");
}

TEST_P(BlobStoreContract, AppendAtZeroRestarts) {
  std::string state = write_new_upload(store(), "upload-1", "stale bytes");
  auto writer = store().append_upload("upload-1", state, 0);
  ASSERT_NE(writer, nullptr);

  writer->write("new", 3);
  state = writer->finish();

  EXPECT_EQ(store().upload_size("upload-1", state), 3u);
  EXPECT_EQ(upload_content(store(), "upload-1", state), "new");
}

TEST_P(BlobStoreContract, AppendTruncatesInsideLargeAppend) {
  // The cut falls inside bytes that one earlier writer wrote, past the
  // first 5 MiB, so a driver that keeps large appends in another form
  // than small ones has to take the cut apart.
  std::string data = pattern_bytes(6 * 1024 * 1024 + 99, 11);
  std::string state = write_new_upload(store(), "upload-1", data);
  const std::uint64_t cut = 5 * 1024 * 1024 + 4321;
  std::string fresh = pattern_bytes(70000, 12);

  state = append_bytes(store(), "upload-1", state, cut, fresh);

  std::string expected = data.substr(0, cut) + fresh;
  ASSERT_EQ(store().upload_size("upload-1", state), expected.size());
  EXPECT_TRUE(upload_content(store(), "upload-1", state) == expected) << "open_upload returned other bytes";
  core::Digest digest = sha256_of(expected);
  store().commit_upload("upload-1", state, digest);
  EXPECT_TRUE(blob_content(store(), digest) == expected) << "the committed blob differs";
}

TEST_P(BlobStoreContract, AppendPastEndReturnsNull) {
  std::string state = write_new_upload(store(), "upload-1", "hello");

  EXPECT_EQ(store().append_upload("upload-1", state, 6), nullptr);
  EXPECT_EQ(store().upload_size("upload-1", state), 5u);
  EXPECT_EQ(upload_content(store(), "upload-1", state), "hello");
}

TEST_P(BlobStoreContract, AppendUnknownUploadReturnsNull) {
  EXPECT_EQ(store().append_upload("never-created", "", 0), nullptr);
  EXPECT_TRUE(store().list_uploads().empty());
}

TEST_P(BlobStoreContract, OpenUnknownUploadReturnsNull) {
  // blob_store.h does not state this, but UploadSessions::rehash treats
  // nullptr from open_upload as an unknown upload.
  EXPECT_EQ(store().open_upload("never-created", ""), nullptr);
}

TEST_P(BlobStoreContract, OpenUploadReadsData) {
  std::string data = pattern_bytes(3000, 5);
  std::string state = write_new_upload(store(), "upload-1", data);

  auto reader = store().open_upload("upload-1", state);

  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->size(), data.size());
  EXPECT_TRUE(read_all(*reader) == data) << "open_upload returned other bytes";
  EXPECT_EQ(read_range(*reader, 2990, 20), data.substr(2990));
}

TEST_P(BlobStoreContract, DeleteUploadDropsData) {
  std::string first = write_new_upload(store(), "upload-1", "bytes");
  std::string second = write_new_upload(store(), "upload-2", "other");

  store().delete_upload("upload-1");

  EXPECT_EQ(store().upload_size("upload-1", first), std::nullopt);
  EXPECT_EQ(store().open_upload("upload-1", first), nullptr);
  EXPECT_EQ(store().append_upload("upload-1", first, 0), nullptr);
  EXPECT_THAT(store().list_uploads(), ElementsAre("upload-2"));
  EXPECT_EQ(upload_content(store(), "upload-2", second), "other");
}

TEST_P(BlobStoreContract, DeleteUnknownUpload) {
  EXPECT_NO_THROW(store().delete_upload("never-created"));
  EXPECT_TRUE(store().list_uploads().empty());
}

TEST_P(BlobStoreContract, DeleteUploadAllowsNewUpload) {
  write_new_upload(store(), "upload-1", "old");
  store().delete_upload("upload-1");

  std::string state = store().create_upload("upload-1");

  EXPECT_EQ(store().upload_size("upload-1", state), 0u);
  EXPECT_EQ(upload_content(store(), "upload-1", state), "");
}

TEST_P(BlobStoreContract, ListUploadsReturnsEveryUpload) {
  store().create_upload("upload-a");
  write_new_upload(store(), "upload-b", "data");
  store().create_upload("upload-c");

  EXPECT_THAT(store().list_uploads(), UnorderedElementsAre("upload-a", "upload-b", "upload-c"));
  EXPECT_TRUE(store().list().empty());
}

TEST_P(BlobStoreContract, UploadsAreNotBlobs) {
  std::string data = "not committed yet";
  write_new_upload(store(), "upload-1", data);

  EXPECT_EQ(store().stat(sha256_of(data)), std::nullopt);
  EXPECT_TRUE(store().list().empty());
}

// --- Driver state across nodes --------------------------------------------

TEST_P(BlobStoreContract, AnotherNodeContinuesUpload) {
  std::unique_ptr<BlobStore> other = open_another_node();
  std::string head = pattern_bytes(100000, 21);
  std::string middle = pattern_bytes(5 * 1024 * 1024 + 3, 22);
  std::string end = pattern_bytes(777, 23);

  // Each node takes the next chunk from the state that the other returned.
  std::string state = write_new_upload(store(), "upload-1", head);
  state = append_bytes(*other, "upload-1", state, head.size(), middle);
  EXPECT_EQ(store().upload_size("upload-1", state), head.size() + middle.size());
  state = append_bytes(store(), "upload-1", state, head.size() + middle.size(), end);

  std::string data = head + middle + end;
  EXPECT_EQ(other->upload_size("upload-1", state), data.size());
  EXPECT_TRUE(upload_content(*other, "upload-1", state) == data) << "the other node reads other bytes";
  core::Digest digest = sha256_of(data);
  other->commit_upload("upload-1", state, digest);

  EXPECT_EQ(store().stat(digest), data.size());
  EXPECT_TRUE(blob_content(store(), digest) == data) << "the blob differs from the bytes both nodes wrote";
  EXPECT_TRUE(store().list_uploads().empty());
}

TEST_P(BlobStoreContract, AnotherNodeDeletesUpload) {
  std::unique_ptr<BlobStore> other = open_another_node();
  std::string state = write_new_upload(store(), "upload-1", "bytes");

  other->delete_upload("upload-1");

  EXPECT_EQ(store().upload_size("upload-1", state), std::nullopt);
  EXPECT_EQ(store().append_upload("upload-1", state, 5), nullptr);
  EXPECT_TRUE(store().list_uploads().empty());
}

// --- Drivers ------------------------------------------------------------

class FilesystemInstance final : public BlobStoreInstance {
 public:
  FilesystemInstance() : store_(directory_.path() / "store") {}
  storage::BlobStore& store() override { return store_; }
  std::unique_ptr<storage::BlobStore> open_another_node() override {
    return std::make_unique<storage::FilesystemStore>(directory_.path() / "store");
  }

 private:
  test_support::TempDirectory directory_;  // declared first, so removed last
  storage::FilesystemStore store_;
};

INSTANTIATE_TEST_SUITE_P(Filesystem, BlobStoreContract,
                         ::testing::Values(BlobStoreFactory{"filesystem",
                                                            [] { return std::make_unique<FilesystemInstance>(); }}),
                         blob_store_factory_name);

}  // namespace

}  // namespace berth::store_tests
