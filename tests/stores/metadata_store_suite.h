// Contract tests for metadata::MetadataStore, shared by every backend.
//
// The tests in metadata_store_suite.cc use only the MetadataStore
// interface. A backend joins the suite with one instantiation that passes
// a factory for fresh, empty databases:
//
//   INSTANTIATE_TEST_SUITE_P(Postgres, MetadataStoreContract,
//                            ::testing::Values(MetadataStoreFactory{"postgres", make_postgres_database}),
//                            metadata_store_factory_name);
#pragma once

#include "metadata/metadata_store.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

namespace berth::store_tests {

// An empty database of its own. open() may be called again after the
// previous store is destroyed, and the new store must see everything the
// old one wrote. Destroying the database object removes the database.
class MetadataDatabase {
 public:
  virtual ~MetadataDatabase() = default;
  virtual std::unique_ptr<metadata::MetadataStore> open() = 0;
};

struct MetadataStoreFactory {
  std::string name;  // suffix of the test names, letters and digits only
  std::function<std::unique_ptr<MetadataDatabase>()> create;
};

// Prints the factory's name in test output instead of its bytes.
inline void PrintTo(const MetadataStoreFactory& factory, std::ostream* out) { *out << factory.name; }

// Names each instantiation after its factory.
std::string metadata_store_factory_name(const ::testing::TestParamInfo<MetadataStoreFactory>& info);

class MetadataStoreContract : public ::testing::TestWithParam<MetadataStoreFactory> {
 protected:
  void SetUp() override {
    database_ = GetParam().create();
    store_ = database_->open();
  }

  void TearDown() override {
    store_.reset();
    database_.reset();
  }

  metadata::MetadataStore& store() { return *store_; }

  // Closes the store and opens the same database again.
  void reopen() {
    store_.reset();
    store_ = database_->open();
  }

 private:
  std::unique_ptr<MetadataDatabase> database_;
  std::unique_ptr<metadata::MetadataStore> store_;
};

}  // namespace berth::store_tests
