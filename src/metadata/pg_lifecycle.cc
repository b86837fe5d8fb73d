#include "metadata/pg_store.h"

#include "core/error.h"

namespace berth::metadata {

bool PgStore::set_account_plan(const std::string&, const std::string&) {
  throw core::InternalError("PgStore::set_account_plan is not written yet");
}

QuotaSettings PgStore::account_quota(const std::string&) {
  throw core::InternalError("PgStore::account_quota is not written yet");
}

bool PgStore::set_account_quota(const std::string&, const QuotaSettings&) {
  throw core::InternalError("PgStore::set_account_quota is not written yet");
}

AccountUsage PgStore::account_usage(const std::string&, const std::string&) {
  throw core::InternalError("PgStore::account_usage is not written yet");
}

std::uint64_t PgStore::count_storage_usage(const std::string&) {
  throw core::InternalError("PgStore::count_storage_usage is not written yet");
}

void PgStore::add_pull_traffic(const std::string&, const std::string&, std::uint64_t) {
  throw core::InternalError("PgStore::add_pull_traffic is not written yet");
}

std::optional<std::string> PgStore::repository_account(const std::string&) {
  throw core::InternalError("PgStore::repository_account is not written yet");
}

std::optional<RetentionPolicy> PgStore::find_retention_policy(const std::string&) {
  throw core::InternalError("PgStore::find_retention_policy is not written yet");
}

std::vector<RetentionPolicy> PgStore::list_retention_policies(const std::string&) {
  throw core::InternalError("PgStore::list_retention_policies is not written yet");
}

bool PgStore::set_retention_policy(const RetentionPolicy&) {
  throw core::InternalError("PgStore::set_retention_policy is not written yet");
}

void PgStore::touch_blob(const core::Digest&, std::uint64_t, std::int64_t) {
  throw core::InternalError("PgStore::touch_blob is not written yet");
}

std::vector<BlobRecord> PgStore::unreferenced_blobs(std::int64_t, std::size_t) {
  throw core::InternalError("PgStore::unreferenced_blobs is not written yet");
}

bool PgStore::collect_blob(const core::Digest&, std::int64_t, const std::function<void()>&) {
  throw core::InternalError("PgStore::collect_blob is not written yet");
}

bool PgStore::collect_orphan_data(const core::Digest&, const std::function<bool()>&) {
  throw core::InternalError("PgStore::collect_orphan_data is not written yet");
}

bool PgStore::acquire_lease(const std::string&, const std::string&, std::int64_t, std::int64_t) {
  throw core::InternalError("PgStore::acquire_lease is not written yet");
}

void PgStore::release_lease(const std::string&, const std::string&) {
  throw core::InternalError("PgStore::release_lease is not written yet");
}

void PgStore::record_job_run(const JobRun&) {
  throw core::InternalError("PgStore::record_job_run is not written yet");
}

std::optional<JobRun> PgStore::last_job_run(const std::string&) {
  throw core::InternalError("PgStore::last_job_run is not written yet");
}

}  // namespace berth::metadata
