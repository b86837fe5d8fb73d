// Vulnerability Advisor rows of the SQLite store: inventories, advisories
// and exemptions. Placeholder bodies until the store work lands.
#include "metadata/sqlite_store.h"

#include <stdexcept>

namespace berth::metadata {

namespace {
[[noreturn]] void not_ready() { throw std::logic_error("the Vulnerability Advisor store is not built yet"); }
}  // namespace

void SqliteStore::queue_inventory(const core::Digest&, std::int64_t) { not_ready(); }
std::optional<ScanClaim> SqliteStore::claim_inventory(const std::string&, std::int64_t, std::int64_t) { not_ready(); }
void SqliteStore::save_inventory(const InventoryRecord&) { not_ready(); }
std::optional<InventoryRecord> SqliteStore::find_inventory(const core::Digest&) { not_ready(); }
std::size_t SqliteStore::purge_inventories(std::int64_t) { not_ready(); }
void SqliteStore::replace_advisories(const std::vector<AdvisoryRecord>&, const AdvisoryFeed&) { not_ready(); }
std::vector<AdvisoryMatch> SqliteStore::find_advisories(const std::string&, const std::vector<std::string>&) {
  not_ready();
}
std::optional<AdvisoryFeed> SqliteStore::advisory_feed() { not_ready(); }
bool SqliteStore::create_exemption(const ExemptionRecord&) { not_ready(); }
bool SqliteStore::delete_exemption(const ExemptionRecord&) { not_ready(); }
std::vector<ExemptionRecord> SqliteStore::list_exemptions(const std::string&) { not_ready(); }
std::size_t SqliteStore::delete_all_exemptions(const std::string&) { not_ready(); }

}  // namespace berth::metadata
