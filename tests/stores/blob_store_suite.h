// Contract tests for storage::BlobStore, shared by every driver.
//
// The tests in blob_store_suite.cc use only the BlobStore interface. A
// driver joins the suite with one instantiation that passes a factory for
// fresh, empty stores:
//
//   INSTANTIATE_TEST_SUITE_P(S3, BlobStoreContract,
//                            ::testing::Values(BlobStoreFactory{"s3", make_s3_store}),
//                            blob_store_factory_name);
#pragma once

#include "storage/blob_store.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

namespace berth::store_tests {

// A store with its own storage, empty at first. Destroying the instance
// removes that storage.
class BlobStoreInstance {
 public:
  virtual ~BlobStoreInstance() = default;
  virtual storage::BlobStore& store() = 0;
  // Another store on the same storage, as a second registry node would
  // open it. It must not outlive the instance.
  virtual std::unique_ptr<storage::BlobStore> open_another_node() = 0;
};

struct BlobStoreFactory {
  std::string name;  // suffix of the test names, letters and digits only
  std::function<std::unique_ptr<BlobStoreInstance>()> create;
};

// Prints the factory's name in test output instead of its bytes.
inline void PrintTo(const BlobStoreFactory& factory, std::ostream* out) { *out << factory.name; }

// Names each instantiation after its factory.
std::string blob_store_factory_name(const ::testing::TestParamInfo<BlobStoreFactory>& info);

class BlobStoreContract : public ::testing::TestWithParam<BlobStoreFactory> {
 protected:
  void SetUp() override { instance_ = GetParam().create(); }
  void TearDown() override { instance_.reset(); }

  storage::BlobStore& store() { return instance_->store(); }
  std::unique_ptr<storage::BlobStore> open_another_node() { return instance_->open_another_node(); }

 private:
  std::unique_ptr<BlobStoreInstance> instance_;
};

}  // namespace berth::store_tests
