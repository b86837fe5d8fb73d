// The background jobs of berthd and the Prometheus metrics about them and
// about each account's usage and quotas.
#pragma once

#include "api/image_facts.h"
#include "api/retention_service.h"
#include "lifecycle/garbage_collector.h"
#include "lifecycle/quota_enforcer.h"
#include "lifecycle/scheduler.h"
#include "metadata/metadata_store.h"
#include "server/config.h"
#include "storage/blob_store.h"

#include <memory>
#include <ostream>
#include <string>

namespace berth::server {

// The jobs and what they need, built from the configuration:
//   gc             unreferenced blobs and data without records
//   uploads-purge  upload sessions abandoned for uploads.max_age_seconds
//   trash-expiry   trash entries older than 30 days
//   retention      every namespace's retention policy
class Jobs {
 public:
  Jobs(const Config& config, metadata::MetadataStore& metadata, storage::BlobStore& blobs);

  lifecycle::Scheduler& scheduler() { return *scheduler_; }
  lifecycle::GarbageCollector& collector() { return collector_; }

 private:
  metadata::MetadataStore& metadata_;
  lifecycle::GarbageCollector collector_;
  api::ImageFactsReader facts_;
  api::RetentionService retention_;
  std::unique_ptr<lifecycle::Scheduler> scheduler_;
};

// The name of this node in job leases: host name and process id.
std::string node_name();

// The /metrics text: per-account storage, pull traffic and their quotas,
// and the last run of each job.
std::string render_metrics(metadata::MetadataStore& metadata, lifecycle::QuotaEnforcer& quotas,
                           const std::vector<lifecycle::JobSpec>& jobs);

// berthd admin commands on the jobs; each returns the exit status.
int admin_jobs(Jobs& jobs, metadata::MetadataStore& metadata, std::ostream& out);
int admin_job_run(Jobs& jobs, const std::string& name, std::ostream& out, std::ostream& err);
int admin_gc_dry_run(Jobs& jobs, const Config& config, std::ostream& out);

}  // namespace berth::server
