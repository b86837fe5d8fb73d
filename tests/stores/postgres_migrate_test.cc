// berthd admin migrate and the check that admin commands make before they
// open a store, on a real PostgreSQL schema of the test's own.
#include "metadata/pg_connection.h"
#include "metadata/pg_store.h"
#include "server/config.h"
#include "server/stores.h"
#include "support/services.h"

#include <gmock/gmock.h>
#include <unistd.h>

#include <atomic>
#include <sstream>
#include <string>

namespace berth::server {
namespace {

using ::testing::HasSubstr;

// The parameter is the name of the setting with the PostgreSQL conninfo.
class AdminMigrate : public ::testing::TestWithParam<std::string> {
 protected:
  AdminMigrate() {
    config_.metadata_backend = "postgres";
    config_.postgres_url = test_support::service_setting(GetParam());
    config_.postgres_schema = "berth_migrate_test_" + std::to_string(::getpid()) + "_" + std::to_string(next_++);
  }

  ~AdminMigrate() override {
    try {
      metadata::PgConnection connection(config_.postgres_url);
      connection.exec("DROP SCHEMA IF EXISTS " + config_.postgres_schema + " CASCADE");
    } catch (const std::exception& error) {
      ADD_FAILURE() << "cannot drop test schema " << config_.postgres_schema << ": " << error.what();
    }
  }

  std::string migrate() {
    std::ostringstream out;
    EXPECT_EQ(admin_migrate(config_, out), 0);
    return out.str();
  }

  Config config_;

 private:
  static inline std::atomic<int> next_{0};
};

TEST_P(AdminMigrate, CreatesThenFindsCurrent) {
  std::string version = std::to_string(metadata::PgStore::schema_version());

  std::string first = migrate();
  std::string second = migrate();

  EXPECT_EQ(first, "PostgreSQL schema " + config_.postgres_schema + ": version 0 -> " + version + "\n");
  EXPECT_EQ(second, "PostgreSQL schema " + config_.postgres_schema + ": already at version " + version + "\n");
}

TEST_P(AdminMigrate, MissingStoreUntilMigrated) {
  auto before = missing_store(config_);
  migrate();
  auto after = missing_store(config_);

  ASSERT_TRUE(before.has_value());
  EXPECT_THAT(*before, HasSubstr(config_.postgres_schema));
  EXPECT_THAT(*before, HasSubstr("berthd admin migrate"));
  EXPECT_EQ(after, std::nullopt);
}

TEST_P(AdminMigrate, SqliteHasNothingToDo) {
  config_.metadata_backend = "sqlite";
  std::ostringstream out;

  EXPECT_EQ(admin_migrate(config_, out), 0);

  EXPECT_THAT(out.str(), HasSubstr("SQLite migrates itself"));
}

// Named Postgres/... like the store suites, so that ctest runs it with the
// services fixture that starts PostgreSQL.
INSTANTIATE_TEST_SUITE_P(Postgres, AdminMigrate, ::testing::Values(std::string("BERTH_TEST_POSTGRES")),
                         [](const ::testing::TestParamInfo<std::string>&) { return std::string("services"); });

}  // namespace
}  // namespace berth::server
