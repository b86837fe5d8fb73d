// Runs the background jobs (garbage collection, upload purge, trash
// expiry, retention) on one thread. Before each run a job takes a lease in
// the metadata store, so that nodes sharing one store run each job on one
// node at a time. The lease is renewed while the job runs, so a run that
// takes longer than jobs.lease_seconds keeps it, while a node that dies
// mid-run frees it within that time. The last run is recorded there too,
// so a node started later does not repeat a job that another node just
// ran.
#pragma once

#include "metadata/metadata_store.h"

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace berth::lifecycle {

struct JobSpec {
  std::string name;                  // such as "gc"
  std::int64_t interval_seconds = 0;  // 0: only on demand
  // Does the work and returns its counts; throws on failure.
  std::function<nlohmann::json(std::int64_t now)> run;
};

enum class JobOutcome { kFinished, kFailed, kBusy /* another holder has the lease */, kUnknown };

struct JobResult {
  JobOutcome outcome = JobOutcome::kUnknown;
  metadata::JobRun run;  // set when kFinished
  std::string error;     // set when kFailed
};

class Scheduler {
 public:
  // `holder` names this node in leases and run records.
  Scheduler(metadata::MetadataStore& metadata, std::string holder, std::vector<JobSpec> jobs,
            std::int64_t lease_seconds = 3600);
  ~Scheduler();

  // Starts the thread that runs each job when its interval has passed
  // since its last recorded run.
  void start();
  // Stops the thread after the job it is running, if any.
  void stop();

  // Runs job `name` now in the calling thread, under its lease.
  JobResult run_now(const std::string& name);

  const std::vector<JobSpec>& jobs() const { return jobs_; }

 private:
  void loop();
  JobResult run_job(const JobSpec& job);

  metadata::MetadataStore& metadata_;
  std::string holder_;
  std::vector<JobSpec> jobs_;
  std::int64_t lease_seconds_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace berth::lifecycle
