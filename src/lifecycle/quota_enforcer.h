// Checks a push or pull against the owning account's quotas before it
// starts, and counts the pull traffic that blob downloads send. The checks
// are check-then-act, as in the hosted registry Berth follows: an operation
// that starts below the limit completes even if it ends above it.
#pragma once

#include "lifecycle/quota.h"
#include "metadata/metadata_store.h"

#include <cstdint>
#include <optional>
#include <string>

namespace berth::lifecycle {

// The quota state of one account at one moment.
struct AccountQuotaState {
  std::string account_id;
  std::string plan;
  Limits limits;
  metadata::AccountUsage usage;
};

class QuotaEnforcer {
 public:
  explicit QuotaEnforcer(metadata::MetadataStore& metadata) : metadata_(metadata) {}

  // The state of the account; nullopt if it does not exist.
  std::optional<AccountQuotaState> state(const std::string& account_id);

  // Throws core::Error DENIED (403) with the storage message once the
  // account owning `repository` has reached its storage limit. Repositories
  // outside any account's namespace have no quota.
  void require_storage_room(const std::string& repository);
  // The same for the pull traffic limit of the current month.
  void require_traffic_room(const std::string& repository);
  // Adds `bytes` of blob data sent from `repository` to its account's
  // traffic of the current month.
  void record_pull(const std::string& repository, std::uint64_t bytes);

 private:
  metadata::MetadataStore& metadata_;
};

}  // namespace berth::lifecycle
