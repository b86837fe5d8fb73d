// Checks a push or pull against the owning account's quotas before it
// starts, and counts the pull traffic that blob downloads send. The checks
// are check-then-act, as in the hosted registry Berth follows: an operation
// that starts below the limit completes even if it ends above it.
//
// On a store of one process, traffic is buffered in memory and written to
// the metadata store at most once a second, because a durable write (an
// fsync) per blob download would slow small pulls down. The figures this
// object returns include the buffer. The buffer is written when a later
// download or quota check finds the last write a second old, and at
// shutdown, so a crash loses the traffic counted since the last write. Nodes that share a database write each download's
// traffic at once instead, because the others neither see a node's buffer
// nor learn of it until that node serves its next request. One instance
// serves the whole process.
#pragma once

#include "lifecycle/quota.h"
#include "metadata/metadata_store.h"

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

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
  // The buffer is written once the last write is `buffer_seconds` old. At
  // 0, record_pull writes each download's traffic before it returns.
  explicit QuotaEnforcer(metadata::MetadataStore& metadata, std::int64_t buffer_seconds = 1)
      : metadata_(metadata), buffer_seconds_(buffer_seconds) {}

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
  // Writes the buffered traffic to the metadata store.
  void flush();

 private:
  using AccountMonth = std::pair<std::string, std::string>;

  // Throws DENIED once the storage (or else the traffic) limit of the
  // repository's account is reached.
  void require_room(const std::string& repository, bool storage);
  // Writes the buffer if the last write is at least buffer_seconds_ old.
  void flush_if_due(std::int64_t now);
  std::uint64_t buffered(const std::string& account_id, const std::string& month);

  metadata::MetadataStore& metadata_;
  std::int64_t buffer_seconds_;
  std::mutex mutex_;
  std::map<AccountMonth, std::uint64_t> buffer_;
  std::int64_t last_flush_ = 0;
};

}  // namespace berth::lifecycle
