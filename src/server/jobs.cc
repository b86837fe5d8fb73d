#include "server/jobs.h"

#include "core/time.h"
#include "lifecycle/quota_enforcer.h"
#include "lifecycle/trash.h"

#include <unistd.h>

#include <map>
#include <sstream>

namespace berth::server {

Jobs::Jobs(const Config& config, metadata::MetadataStore& metadata, storage::BlobStore& blobs)
    : metadata_(metadata), collector_(metadata, blobs), facts_(metadata, blobs), retention_(metadata, facts_) {
  std::int64_t grace = config.gc_grace_seconds;
  std::int64_t upload_age = config.uploads_max_age_seconds;
  std::vector<lifecycle::JobSpec> jobs = {
      {"gc", config.gc_interval_seconds,
       [this, grace](std::int64_t now) {
         return collector_.collect(lifecycle::CollectionOptions{.grace_seconds = grace}, now).to_json();
       }},
      {"uploads-purge", config.uploads_purge_interval_seconds,
       [this, upload_age](std::int64_t now) { return collector_.purge_uploads(upload_age, now).to_json(); }},
      {"trash-expiry", config.trash_expiry_interval_seconds,
       [this](std::int64_t now) {
         std::size_t removed = metadata_.expire_trash(now - lifecycle::kTrashRetentionSeconds);
         // An image's Vulnerability Advisor index goes with its last copy.
         std::size_t inventories = metadata_.purge_inventories(now);
         return nlohmann::json{{"entries_removed", removed}, {"inventories_removed", inventories}};
       }},
      {"retention", config.retention_interval_seconds,
       [this](std::int64_t now) { return nlohmann::json{{"images_trashed", retention_.apply_all(now)}}; }},
  };
  scheduler_ = std::make_unique<lifecycle::Scheduler>(metadata, node_name(), std::move(jobs),
                                                      config.jobs_lease_seconds);
}

std::string node_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown");
  return std::string(host) + ":" + std::to_string(::getpid());
}

namespace {

void gauge(std::ostringstream& out, const char* name, const char* help) {
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " gauge\n";
}

}  // namespace

std::string render_metrics(metadata::MetadataStore& metadata, lifecycle::QuotaEnforcer& quotas,
                           const std::vector<lifecycle::JobSpec>& jobs) {
  std::vector<lifecycle::AccountQuotaState> states;
  for (const auto& account : metadata.list_accounts()) {
    if (auto state = quotas.state(account.id)) states.push_back(*state);
  }

  std::ostringstream out;
  struct Series {
    const char* name;
    const char* help;
    std::int64_t (*value)(const lifecycle::AccountQuotaState&);
  };
  const Series series[] = {
      {"berth_storage_bytes", "Bytes of distinct blobs and manifests of the account's live images.",
       [](const lifecycle::AccountQuotaState& s) { return static_cast<std::int64_t>(s.usage.storage_bytes); }},
      {"berth_storage_quota_bytes", "The account's storage limit in bytes; -1 when unlimited.",
       [](const lifecycle::AccountQuotaState& s) { return s.limits.storage_bytes; }},
      {"berth_pull_traffic_bytes", "Blob bytes sent to the account's clients this calendar month (UTC).",
       [](const lifecycle::AccountQuotaState& s) { return static_cast<std::int64_t>(s.usage.traffic_bytes); }},
      {"berth_pull_traffic_quota_bytes", "The account's monthly pull traffic limit in bytes; -1 when unlimited.",
       [](const lifecycle::AccountQuotaState& s) { return s.limits.traffic_bytes; }},
  };
  for (const auto& one : series) {
    gauge(out, one.name, one.help);
    for (const auto& state : states) out << one.name << "{account=\"" << state.account_id << "\"} " << one.value(state) << "\n";
  }

  gauge(out, "berth_job_last_run_timestamp_seconds", "When the job last finished, in Unix seconds.");
  std::vector<metadata::JobRun> runs;
  for (const auto& job : jobs) {
    if (auto run = metadata.last_job_run(job.name)) runs.push_back(*run);
  }
  for (const auto& run : runs) {
    out << "berth_job_last_run_timestamp_seconds{job=\"" << run.job << "\"} " << run.finished_at << "\n";
  }
  gauge(out, "berth_job_last_run_duration_seconds", "How long the job's last run took.");
  for (const auto& run : runs) {
    out << "berth_job_last_run_duration_seconds{job=\"" << run.job << "\"} " << run.finished_at - run.started_at << "\n";
  }
  // The counts of the last garbage collection, one series per count.
  static const std::map<std::string, const char*> kGcHelp = {
      {"blobs_removed", "Unreferenced blobs the last garbage collection removed."},
      {"bytes_removed", "Bytes of the unreferenced blobs the last garbage collection removed."},
      {"orphans_removed", "Files without a metadata record the last garbage collection removed."},
      {"orphan_bytes_removed", "Bytes of the files without a record the last garbage collection removed."},
      {"blobs_back_in_use", "Candidates that a push used again while the last garbage collection ran."},
      {"blobs_in_grace", "Unreferenced blobs the last garbage collection left because of the grace period."},
      {"bytes_in_grace", "Bytes of the unreferenced blobs left because of the grace period."},
  };
  for (const auto& run : runs) {
    if (run.job != "gc") continue;
    auto counts = nlohmann::json::parse(run.result_json, nullptr, false);
    if (!counts.is_object()) continue;
    for (const auto& [key, value] : counts.items()) {
      auto help = kGcHelp.find(key);
      if (!value.is_number() || help == kGcHelp.end()) continue;
      std::string name = "berth_gc_last_" + key;
      gauge(out, name.c_str(), help->second);
      out << name << " " << value.dump() << "\n";
    }
  }
  return out.str();
}

namespace {

std::string count_of(std::uint64_t count, const char* one, const char* many) {
  return std::to_string(count) + " " + (count == 1 ? one : many);
}

void print_grace(std::ostream& out, std::uint64_t blobs, std::uint64_t bytes, std::int64_t grace_seconds) {
  if (blobs == 0) return;
  out << count_of(blobs, "unused blob", "unused blobs") << " (" << bytes << " bytes) wait out the grace period of "
      << grace_seconds << " s (gc.grace_seconds) and go in a later run unless an image uses them first.\n";
}

}  // namespace

int admin_jobs(Jobs& jobs, metadata::MetadataStore& metadata, std::ostream& out) {
  out << "JOB            INTERVAL   LAST FINISHED         RESULT\n";
  for (const auto& job : jobs.scheduler().jobs()) {
    auto run = metadata.last_job_run(job.name);
    std::string interval = job.interval_seconds > 0 ? std::to_string(job.interval_seconds) + "s" : "on demand";
    std::string finished = run ? core::format_rfc3339(run->finished_at) : "never";
    char line[128];
    std::snprintf(line, sizeof line, "%-14s %-10s %-21s ", job.name.c_str(), interval.c_str(), finished.c_str());
    out << line << (run ? run->result_json : "-") << "\n";
  }
  return 0;
}

int admin_job_run(Jobs& jobs, const std::string& name, std::ostream& out, std::ostream& err) {
  lifecycle::JobResult result = jobs.scheduler().run_now(name);
  switch (result.outcome) {
    case lifecycle::JobOutcome::kFinished:
      out << name << " finished in " << result.run.finished_at - result.run.started_at << " s: " << result.run.result_json
          << "\n";
      if (name == "gc") {
        auto counts = nlohmann::json::parse(result.run.result_json, nullptr, false);
        out << "Removed " << count_of(counts.value("blobs_removed", 0), "unreferenced blob", "unreferenced blobs")
            << " (" << counts.value("bytes_removed", 0) << " bytes) and "
            << count_of(counts.value("orphans_removed", 0), "file", "files") << " without a record ("
            << counts.value("orphan_bytes_removed", 0) << " bytes).\n";
      }
      return 0;
    case lifecycle::JobOutcome::kBusy:
      err << "berthd: " << name << " is running on another node or process now; try again when it has finished\n";
      return 1;
    case lifecycle::JobOutcome::kFailed:
      err << "berthd: " << name << " failed: " << result.error << "\n";
      return 1;
    case lifecycle::JobOutcome::kUnknown:
      break;
  }
  err << "berthd: unknown job '" << name << "'; the jobs are gc, uploads-purge, trash-expiry and retention\n";
  return 2;
}


int admin_gc_dry_run(Jobs& jobs, const Config& config, std::ostream& out) {
  lifecycle::CollectionReport report = jobs.collector().collect(
      lifecycle::CollectionOptions{.grace_seconds = config.gc_grace_seconds, .dry_run = true}, core::unix_now());
  for (const auto& [blob, reason] : report.would_remove) {
    out << blob.digest.str() << "  " << blob.size << " bytes  " << reason << "\n";
  }
  out << "Would remove " << count_of(report.blobs_removed, "unreferenced blob", "unreferenced blobs") << " ("
      << report.bytes_removed << " bytes) and " << count_of(report.orphans_removed, "file", "files")
      << " without a record (" << report.orphan_bytes_removed << " bytes).\n";
  print_grace(out, report.blobs_in_grace, report.bytes_in_grace, config.gc_grace_seconds);
  out << "Images in the trash keep their blobs until their 30 days are over.\n";
  return 0;
}

}  // namespace berth::server
