#include "lifecycle/scheduler.h"

#include "core/time.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

namespace berth::lifecycle {

namespace {

// How often the thread looks for due jobs; jobs run at most this late.
constexpr std::int64_t kTickSeconds = 5;
// How long a job that failed, or whose lease another node held, waits
// before the next attempt.
constexpr std::int64_t kRetrySeconds = 60;

// Renews a job's lease every third of its length from a thread of its own
// until destroyed, so that a run that outlasts one lease keeps the job
// from starting on another node.
class LeaseRenewal {
 public:
  LeaseRenewal(metadata::MetadataStore& metadata, std::string job, std::string holder, std::int64_t lease_seconds)
      : metadata_(metadata), job_(std::move(job)), holder_(std::move(holder)), lease_seconds_(lease_seconds) {
    thread_ = std::thread([this] { loop(); });
  }

  ~LeaseRenewal() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  LeaseRenewal(const LeaseRenewal&) = delete;
  LeaseRenewal& operator=(const LeaseRenewal&) = delete;

 private:
  void loop() {
    auto period = std::chrono::seconds(std::max<std::int64_t>(1, lease_seconds_ / 3));
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        if (wake_.wait_for(lock, period, [this] { return stopping_; })) return;
      }
      try {
        std::int64_t now = core::unix_now();
        if (!metadata_.acquire_lease(job_, holder_, now, now + lease_seconds_)) {
          // Only after the lease expired unrenewed, such as while the
          // database was unreachable for longer than a lease.
          spdlog::error("job_lease_lost job={} holder={} effect=another_node_may_run_it_at_the_same_time", job_,
                        holder_);
          return;
        }
      } catch (const std::exception& error) {
        // The next attempt may succeed while the lease lasts.
        spdlog::warn("job_lease_renewal_failed job={} error={}", job_, error.what());
      }
    }
  }

  metadata::MetadataStore& metadata_;
  std::string job_;
  std::string holder_;
  std::int64_t lease_seconds_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace

Scheduler::Scheduler(metadata::MetadataStore& metadata, std::string holder, std::vector<JobSpec> jobs,
                     std::int64_t lease_seconds)
    : metadata_(metadata), holder_(std::move(holder)), jobs_(std::move(jobs)), lease_seconds_(lease_seconds) {}

Scheduler::~Scheduler() { stop(); }

void Scheduler::start() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void Scheduler::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

JobResult Scheduler::run_now(const std::string& name) {
  for (const auto& job : jobs_) {
    if (job.name == name) return run_job(job);
  }
  return JobResult{.outcome = JobOutcome::kUnknown, .error = "no job named '" + name + "'"};
}

JobResult Scheduler::run_job(const JobSpec& job) {
  std::int64_t started = core::unix_now();
  if (!metadata_.acquire_lease(job.name, holder_, started, started + lease_seconds_)) {
    spdlog::info("job_skipped job={} reason=lease_held_elsewhere", job.name);
    return JobResult{.outcome = JobOutcome::kBusy};
  }
  JobResult result;
  try {
    nlohmann::json counts;
    {
      LeaseRenewal renewal(metadata_, job.name, holder_, lease_seconds_);
      counts = job.run(started);
    }
    metadata::JobRun run{.job = job.name,
                         .holder = holder_,
                         .started_at = started,
                         .finished_at = core::unix_now(),
                         .result_json = counts.dump()};
    metadata_.record_job_run(run);
    spdlog::info("job_finished job={} seconds={} result={}", job.name, run.finished_at - started, run.result_json);
    result = JobResult{.outcome = JobOutcome::kFinished, .run = run};
  } catch (const std::exception& error) {
    spdlog::error("job_failed job={} error={}", job.name, error.what());
    result = JobResult{.outcome = JobOutcome::kFailed, .error = error.what()};
  }
  try {
    metadata_.release_lease(job.name, holder_);
  } catch (const std::exception& error) {
    // The lease expires by itself; log and go on.
    spdlog::error("job_lease_release_failed job={} error={}", job.name, error.what());
  }
  return result;
}

void Scheduler::loop() {
  spdlog::info("scheduler_started holder={} jobs={}", holder_, jobs_.size());
  std::map<std::string, std::int64_t> retry_after;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (wake_.wait_for(lock, std::chrono::seconds(kTickSeconds), [this] { return stopping_; })) break;
    }
    for (const auto& job : jobs_) {
      if (job.interval_seconds <= 0) continue;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) break;
      }
      try {
        std::int64_t now = core::unix_now();
        if (now < retry_after[job.name]) continue;
        auto last = metadata_.last_job_run(job.name);
        if (last && now - last->finished_at < job.interval_seconds) continue;
        if (run_job(job).outcome != JobOutcome::kFinished) retry_after[job.name] = now + kRetrySeconds;
      } catch (const std::exception& error) {
        // A failing database must not end the thread.
        spdlog::error("scheduler_error job={} error={}", job.name, error.what());
        retry_after[job.name] = core::unix_now() + kRetrySeconds;
      }
    }
  }
  spdlog::info("scheduler_stopped holder={}", holder_);
}

}  // namespace berth::lifecycle
