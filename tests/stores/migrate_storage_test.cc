// berthd admin migrate-storage's copy (copy_deployment) from an embedded
// data directory into a PostgreSQL schema of the test's own. A filesystem
// blob store replaces S3. The tests cover resuming, replacing damaged
// target blobs, and the checks that stop the copy without committing.
// tests/integration/test_migrate_storage.py runs the whole command against
// PostgreSQL and radosgw with the real test images.
#include "core/digest.h"
#include "core/random.h"
#include "metadata/pg_connection.h"
#include "metadata/pg_store.h"
#include "metadata/sqlite_store.h"
#include "server/admin_migrate_storage.h"
#include "storage/filesystem_store.h"
#include "support/services.h"
#include "support/temp_directory.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

namespace berth::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::int64_t kNow = 1767225600;  // 2026-01-01

std::string oci_manifest(const core::Digest& config, std::size_t config_size, const core::Digest& layer,
                         std::size_t layer_size) {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":)"
         R"("application/vnd.oci.image.config.v1+json","digest":")" +
         config.str() + R"(","size":)" + std::to_string(config_size) +
         R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" + layer.str() +
         R"(","size":)" + std::to_string(layer_size) + "}]}";
}

std::string oci_index(const std::vector<std::pair<core::Digest, std::size_t>>& children) {
  std::string out = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)";
  for (std::size_t i = 0; i < children.size(); ++i) {
    if (i > 0) out += ",";
    out += R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + children[i].first.str() +
           R"(","size":)" + std::to_string(children[i].second) +
           R"(,"platform":{"architecture":"amd64","os":"linux"}})";
  }
  return out + "]}";
}

core::Digest sha256(const std::string& data) { return core::digest_of(core::DigestAlgorithm::kSha256, data); }

// Runs `sql` on the SQLite database and returns the first column of its
// first row, or "" when it returns none.
std::string run_sqlite(const std::filesystem::path& database, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(database.c_str(), &db), SQLITE_OK);
  std::string value;
  char* message = nullptr;
  int status = sqlite3_exec(
      db, sql.c_str(),
      [](void* out, int columns, char** values, char**) {
        if (columns > 0 && values[0] != nullptr) *static_cast<std::string*>(out) = values[0];
        return 0;
      },
      &value, &message);
  std::string text = message != nullptr ? message : "";
  sqlite3_free(message);
  sqlite3_close(db);
  EXPECT_EQ(status, SQLITE_OK) << sql << ": " << text;
  return value;
}

// The parameter is the name of the setting with the PostgreSQL conninfo.
class MigrateStorage : public ::testing::TestWithParam<std::string> {
 protected:
  MigrateStorage()
      : conninfo_(test_support::service_setting(GetParam())),
        schema_("berth_migrate_storage_" + std::to_string(::getpid()) + "_" + std::to_string(next_++)),
        source_dir_(work_.path() / "source"),
        target_blobs_(work_.path() / "target") {
    // PgStore creates the schema at this build's version, as open_stores
    // does for the command.
    metadata::PgStore(metadata::PgOptions{.conninfo = conninfo_, .schema = schema_, .connections = 1});
  }

  void SetUp() override { populate(); }

  ~MigrateStorage() override {
    try {
      metadata::PgConnection connection(conninfo_);
      connection.exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
    } catch (const std::exception& error) {
      ADD_FAILURE() << "cannot drop test schema " << schema_ << ": " << error.what();
    }
  }

  // Stores `data` as a blob of the source and links it to `repository`.
  core::Digest put_blob(metadata::SqliteStore& store, storage::FilesystemStore& blobs, const std::string& repository,
                        const std::string& data) {
    core::Digest digest = sha256(data);
    std::string id = core::random_uuid();
    std::string state = blobs.create_upload(id);
    auto writer = blobs.append_upload(id, state, 0);
    writer->write(data.data(), data.size());
    state = writer->finish();
    writer.reset();
    blobs.commit_upload(id, state, digest);
    store.link_blob(repository, digest, data.size());
    return digest;
  }

  // An image manifest with its own config and layer; returns its digest and size.
  std::pair<core::Digest, std::size_t> put_image(metadata::SqliteStore& store, storage::FilesystemStore& blobs,
                                                 const std::string& repository, const std::string& name,
                                                 std::optional<std::string> tag) {
    std::string config = R"({"architecture":"amd64","os":"linux","name":")" + name + "\"}";
    std::string layer = "layer of " + name;
    auto config_digest = put_blob(store, blobs, repository, config);
    auto layer_digest = put_blob(store, blobs, repository, layer);
    std::string manifest = oci_manifest(config_digest, config.size(), layer_digest, layer.size());
    auto digest = sha256(manifest);
    auto result = store.put_manifest({.repository = repository,
                                      .digest = digest,
                                      .media_type = "application/vnd.oci.image.manifest.v1+json",
                                      .content = manifest,
                                      .blob_references = {config_digest, layer_digest},
                                      .tag = tag});
    EXPECT_TRUE(result.stored);
    return {digest, manifest.size()};
  }

  // Two accounts, one with a namespace, images, a tag, an index and the
  // trash; quotas, a retention policy and a queued inventory.
  void populate() {
    std::filesystem::create_directories(source_dir_);
    metadata::SqliteStore store(metadata::SqliteOptions{.path = (source_dir_ / "berth.db").string()});
    storage::FilesystemStore blobs(source_dir_);

    ASSERT_TRUE(store.create_account({.id = std::string(32, 'a'), .name = "default", .created_at = kNow}));
    ASSERT_TRUE(
        store.create_account({.id = std::string(32, 'b'), .name = "acme", .plan = "standard", .created_at = kNow}));
    ASSERT_EQ(store.create_namespace(
                  {.name = "team1", .account_id = std::string(32, 'b'), .created_at = kNow, .updated_at = kNow}, 100),
              metadata::CreateNamespaceResult::kCreated);
    ASSERT_TRUE(store.set_account_quota(std::string(32, 'b'), {.storage_bytes = 1 << 30, .traffic_bytes = {}}));
    ASSERT_TRUE(store.set_retention_policy(
        {.namespace_name = "team1", .images_per_repo = 3, .retain_untagged = true, .updated_at = kNow}));

    auto app = put_image(store, blobs, "team1/app", "app", "v1");
    put_image(store, blobs, "team1/app", "app2", "v2");
    store.queue_inventory(app.first, kNow);

    // An index in the trash with its untagged child, whose entry names the
    // index's entry in part_of.
    auto child = put_image(store, blobs, "team1/multi", "child", std::nullopt);
    std::string index = oci_index({child});
    auto index_digest = sha256(index);
    ASSERT_TRUE(store.put_manifest({.repository = "team1/multi",
                                    .digest = index_digest,
                                    .media_type = "application/vnd.oci.image.index.v1+json",
                                    .content = index,
                                    .manifest_references = {child.first},
                                    .tag = std::string("latest")})
                    .stored);
    ASSERT_EQ(store.trash_manifest("team1/multi", index_digest, kNow + 1).result, metadata::TrashResult::kTrashed);

    // An upload session in progress, which the copy leaves behind.
    store.create_upload({.id = core::random_uuid(), .repository = "team1/app", .created_at = kNow, .updated_at = kNow});
  }

  int run(std::string& out, std::string& err) {
    std::ostringstream out_stream;
    std::ostringstream err_stream;
    MigrateStorageOptions options{.source_dir = source_dir_.string(), .parallel = 3, .progress_seconds = 1};
    MigrationTarget target{.postgres_url = conninfo_,
                           .postgres_schema = schema_,
                           .blobs = &target_blobs_,
                           .blobs_description = "the test's blob directory"};
    int status = copy_deployment(options, target, out_stream, err_stream);
    out = out_stream.str();
    err = err_stream.str();
    return status;
  }

  std::string query(const std::string& sql) {
    metadata::PgConnection connection(conninfo_);
    connection.exec("SET search_path TO " + schema_);
    PGresult* result = PQexec(connection.native(), sql.c_str());
    std::string value;
    if (PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) > 0) value = PQgetvalue(result, 0, 0);
    std::string error = PQresultErrorMessage(result);
    PQclear(result);
    EXPECT_EQ(error, "") << sql;
    return value;
  }

  std::uint64_t source_blob_count() {
    storage::FilesystemStore blobs(source_dir_);
    return blobs.list().size();
  }

  std::string conninfo_;
  std::string schema_;
  test_support::TempDirectory work_;
  std::filesystem::path source_dir_;
  storage::FilesystemStore target_blobs_;

 private:
  static inline std::atomic<int> next_{0};
};

TEST_P(MigrateStorage, CopiesRowsAndBlobs) {
  std::string out;
  std::string err;

  ASSERT_EQ(run(out, err), 0) << out << err;

  EXPECT_THAT(out, HasSubstr("and verified the copy"));
  EXPECT_EQ(query("SELECT count(*) FROM accounts"), "2");
  EXPECT_EQ(query("SELECT count(*) FROM trash"), "2");
  EXPECT_EQ(query("SELECT count(*) FROM uploads"), "0");
  EXPECT_EQ(query("SELECT images_per_repo FROM retention_policies WHERE namespace_name = 'team1'"), "3");
  EXPECT_EQ(query("SELECT storage_bytes FROM account_quotas"), std::to_string(1 << 30));
  // Usage as PostgreSQL's triggers computed it from the copied rows.
  EXPECT_NE(query("SELECT storage_bytes FROM account_usage WHERE account_id = '" + std::string(32, 'b') + "'"), "");
  EXPECT_EQ(query("SELECT count(*) FROM va_inventories"),
            run_sqlite(source_dir_ / "berth.db", "SELECT count(*) FROM va_inventories"));
  EXPECT_EQ(query("SELECT count(*) FROM trash WHERE part_of IS NOT NULL"), "1");
  EXPECT_EQ(target_blobs_.list().size(), source_blob_count());
  // New rows get ids after the copied ones.
  EXPECT_EQ(query("SELECT nextval(pg_get_serial_sequence('manifests', 'id')) > max(id) FROM manifests"), "t");
}

TEST_P(MigrateStorage, SecondRunOnlyVerifies) {
  std::string out;
  std::string err;
  ASSERT_EQ(run(out, err), 0) << out << err;

  ASSERT_EQ(run(out, err), 0) << out << err;

  EXPECT_THAT(out, HasSubstr("the target already held a complete copy"));
  EXPECT_THAT(out, HasSubstr(": 0 copied"));
  EXPECT_THAT(out, HasSubstr(std::to_string(source_blob_count()) + " already in the target and verified"));
}

TEST_P(MigrateStorage, ReplacesDamagedTargetBlob) {
  storage::FilesystemStore source_blobs(source_dir_);
  auto digest = source_blobs.list().front();
  auto path = target_blobs_.blob_path(digest);
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << "not the blob's bytes";
  std::string out;
  std::string err;

  ASSERT_EQ(run(out, err), 0) << out << err;

  EXPECT_THAT(err, HasSubstr("blob " + digest.str() + " in the target does not match its digest"));
  EXPECT_THAT(out, HasSubstr("1 replaced"));
  auto reader = target_blobs_.open(digest);
  ASSERT_NE(reader, nullptr);
  std::string data(reader->size(), '\0');
  reader->read_at(0, data.data(), data.size());
  EXPECT_EQ(sha256(data), digest);
}

TEST_P(MigrateStorage, DeletesUploadsOfInterruptedRun) {
  // What a killed run leaves: upload data without a session, written
  // before the next run starts. Data written since stays.
  std::string left = core::random_uuid();
  std::string fresh = core::random_uuid();
  for (const auto& id : {left, fresh}) {
    std::string state = target_blobs_.create_upload(id);
    auto writer = target_blobs_.append_upload(id, state, 0);
    writer->write("partial", 7);
    writer->finish();
  }
  auto data = target_blobs_.list_uploads();
  ASSERT_EQ(data.size(), 2u);
  std::filesystem::last_write_time(work_.path() / "target" / "uploads" / left / "data",
                                   std::filesystem::file_time_type::clock::now() - std::chrono::hours(1));
  std::filesystem::last_write_time(work_.path() / "target" / "uploads" / fresh / "data",
                                   std::filesystem::file_time_type::clock::now() + std::chrono::hours(1));
  std::string out;
  std::string err;

  ASSERT_EQ(run(out, err), 0) << out << err;

  EXPECT_THAT(err, HasSubstr("deleted 1 unfinished upload that an interrupted run left"));
  EXPECT_EQ(target_blobs_.list_uploads(), std::vector<std::string>{fresh});
}

TEST_P(MigrateStorage, RejectsSourceWithMissingBlob) {
  storage::FilesystemStore source_blobs(source_dir_);
  auto digest = source_blobs.list().front();
  ASSERT_TRUE(source_blobs.remove(digest));
  std::string out;
  std::string err;

  EXPECT_EQ(run(out, err), 1);

  EXPECT_THAT(err, HasSubstr("the source is damaged"));
  EXPECT_THAT(err, HasSubstr(digest.str()));
  EXPECT_TRUE(target_blobs_.list().empty());
  EXPECT_EQ(query("SELECT count(*) FROM accounts"), "0");
}

TEST_P(MigrateStorage, RollsBackWhenCountsDiffer) {
  storage::FilesystemStore source_blobs(source_dir_);
  auto digest = source_blobs.list().front();
  run_sqlite(source_dir_ / "berth.db",
             "UPDATE blobs SET ref_count = ref_count + 5 WHERE digest = '" + digest.str() + "'");
  std::string out;
  std::string err;

  EXPECT_EQ(run(out, err), 1);

  EXPECT_THAT(err, HasSubstr("the copy was rolled back"));
  EXPECT_THAT(err, HasSubstr("Reference counts of blobs differ: " + digest.str()));
  EXPECT_EQ(query("SELECT count(*) FROM accounts"), "0");
}

TEST_P(MigrateStorage, RejectsTargetWithOtherAccount) {
  query("INSERT INTO accounts (id, name, plan, created_at) VALUES ('" + std::string(32, 'c') +
        "', 'other', 'lite', 1) RETURNING id");
  std::string out;
  std::string err;

  EXPECT_EQ(run(out, err), 1);

  EXPECT_THAT(err, HasSubstr("already holds data that is not a copy"));
  EXPECT_THAT(err, HasSubstr("it has the account other"));
  EXPECT_TRUE(target_blobs_.list().empty());
}

TEST_P(MigrateStorage, RejectsRunningServer) {
  // berthd holds berth.lock while it serves the directory.
  int fd = ::open((source_dir_ / "berth.lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  std::string out;
  std::string err;

  int status = run(out, err);
  ::close(fd);

  EXPECT_EQ(status, 1);
  EXPECT_THAT(err, HasSubstr("berthd is running on"));
  EXPECT_THAT(out, Not(HasSubstr("blobs:")));
}

// Named Postgres/... like the store suites, so that ctest runs it with the
// services fixture that starts PostgreSQL.
INSTANTIATE_TEST_SUITE_P(Postgres, MigrateStorage, ::testing::Values(std::string("BERTH_TEST_POSTGRES")),
                         [](const ::testing::TestParamInfo<std::string>&) { return std::string("services"); });

}  // namespace
}  // namespace berth::server
