// The PostgreSQL backend joins the metadata store suite. Each test gets a
// schema of its own in the database that tests/services/up started, and
// the schema is dropped afterwards.
#include "metadata/pg_connection.h"
#include "metadata/pg_store.h"
#include "stores/metadata_store_suite.h"
#include "support/services.h"

#include <unistd.h>

#include <atomic>
#include <string>

namespace berth::store_tests {
namespace {

class PostgresDatabase final : public MetadataDatabase {
 public:
  PostgresDatabase()
      : conninfo_(test_support::service_setting("BERTH_TEST_POSTGRES")),
        schema_("berth_test_" + std::to_string(::getpid()) + "_" + std::to_string(next_++)) {}

  ~PostgresDatabase() override {
    try {
      metadata::PgConnection connection(conninfo_);
      connection.exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
    } catch (const std::exception& error) {
      ADD_FAILURE() << "cannot drop test schema " << schema_ << ": " << error.what();
    }
  }

  std::unique_ptr<metadata::MetadataStore> open() override {
    return std::make_unique<metadata::PgStore>(
        metadata::PgOptions{.conninfo = conninfo_, .schema = schema_, .connections = 8});
  }

 private:
  static inline std::atomic<int> next_{0};
  std::string conninfo_;
  std::string schema_;
};

INSTANTIATE_TEST_SUITE_P(Postgres, MetadataStoreContract,
                         ::testing::Values(MetadataStoreFactory{"postgres",
                                                                [] { return std::make_unique<PostgresDatabase>(); }}),
                         metadata_store_factory_name);

}  // namespace
}  // namespace berth::store_tests
