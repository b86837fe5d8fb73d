#include "metadata/pg_store.h"

#include "core/error.h"

namespace berth::metadata {

void PgStore::queue_inventory(const core::Digest&, std::int64_t) {
  throw core::InternalError("PgStore::queue_inventory is not written yet");
}

std::optional<ScanClaim> PgStore::claim_inventory(const std::string&, std::int64_t, std::int64_t) {
  throw core::InternalError("PgStore::claim_inventory is not written yet");
}

void PgStore::save_inventory(const InventoryRecord&) {
  throw core::InternalError("PgStore::save_inventory is not written yet");
}

std::optional<InventoryRecord> PgStore::find_inventory(const core::Digest&) {
  throw core::InternalError("PgStore::find_inventory is not written yet");
}

std::size_t PgStore::purge_inventories(std::int64_t) {
  throw core::InternalError("PgStore::purge_inventories is not written yet");
}

std::size_t PgStore::requeue_inventories(const std::string&, std::int64_t) {
  throw core::InternalError("PgStore::requeue_inventories is not written yet");
}

void PgStore::replace_advisories(const std::vector<AdvisoryRecord>&, const AdvisoryFeed&) {
  throw core::InternalError("PgStore::replace_advisories is not written yet");
}

std::vector<AdvisoryMatch> PgStore::find_advisories(const std::string&, const std::vector<std::string>&) {
  throw core::InternalError("PgStore::find_advisories is not written yet");
}

std::optional<AdvisoryFeed> PgStore::advisory_feed() {
  throw core::InternalError("PgStore::advisory_feed is not written yet");
}

bool PgStore::create_exemption(const ExemptionRecord&) {
  throw core::InternalError("PgStore::create_exemption is not written yet");
}

bool PgStore::delete_exemption(const ExemptionRecord&) {
  throw core::InternalError("PgStore::delete_exemption is not written yet");
}

std::vector<ExemptionRecord> PgStore::list_exemptions(const std::string&) {
  throw core::InternalError("PgStore::list_exemptions is not written yet");
}

std::size_t PgStore::delete_all_exemptions(const std::string&) {
  throw core::InternalError("PgStore::delete_all_exemptions is not written yet");
}

}  // namespace berth::metadata
