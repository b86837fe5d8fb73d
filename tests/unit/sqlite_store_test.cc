// SQLite details that the shared MetadataStore suite cannot see: the
// schema version kept in PRAGMA user_version and the options check.
#include "metadata/sqlite_store.h"

#include "core/error.h"
#include "metadata/sqlite_connection.h"
#include "support/temp_directory.h"

#include <gmock/gmock.h>

#include <stdexcept>
#include <string>

namespace berth::metadata {
namespace {

using ::testing::HasSubstr;

std::int64_t user_version(const std::string& path) {
  SqliteConnection connection(path);
  auto query = connection.prepare("PRAGMA user_version");
  if (!query.step()) throw std::runtime_error("PRAGMA user_version returned no row");
  return query.column_int(0);
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::string path() const { return (directory_.path() / "metadata.db").string(); }

 private:
  test_support::TempDirectory directory_;
};

TEST_F(SqliteStoreTest, NewDatabaseGetsSchemaVersion) {
  { SqliteStore store(SqliteOptions{.path = path()}); }

  EXPECT_GE(SqliteStore::schema_version(), 1);
  EXPECT_EQ(user_version(path()), SqliteStore::schema_version());
}

TEST_F(SqliteStoreTest, ReopenKeepsSchemaVersion) {
  { SqliteStore store(SqliteOptions{.path = path()}); }
  { SqliteStore store(SqliteOptions{.path = path(), .connections = 2}); }

  EXPECT_EQ(user_version(path()), SqliteStore::schema_version());
}

TEST_F(SqliteStoreTest, NewerSchemaRejected) {
  { SqliteStore store(SqliteOptions{.path = path()}); }
  {
    SqliteConnection connection(path());
    std::string statement = "PRAGMA user_version = " + std::to_string(SqliteStore::schema_version() + 1);
    connection.exec(statement.c_str());
  }

  try {
    SqliteStore store(SqliteOptions{.path = path()});
    FAIL() << "a database with a newer schema was opened";
  } catch (const core::InternalError& error) {
    EXPECT_THAT(error.what(), HasSubstr(path()));
    EXPECT_THAT(error.what(), HasSubstr("newer"));
  }
}

TEST_F(SqliteStoreTest, InvalidSynchronousMode) {
  EXPECT_THROW(SqliteStore(SqliteOptions{.path = path(), .synchronous = "off"}), std::invalid_argument);
}

TEST_F(SqliteStoreTest, NormalSynchronousMode) {
  SqliteStore store(SqliteOptions{.path = path(), .synchronous = "normal"});
  store.link_blob("library/alpine", core::digest_of(core::DigestAlgorithm::kSha256, "layer"), 5);

  EXPECT_TRUE(store.repository_exists("library/alpine"));
}

}  // namespace
}  // namespace berth::metadata
