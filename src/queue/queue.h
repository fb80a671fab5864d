// The evaluation queue: candidate evaluations as jobs that workers on many hosts take, run and
// answer (issue 17; docs/scale-out.md). This is the library only: no command uses it yet.
//
// A job is keyed by (run, task, iteration) and carries the backend that must run it, a JSON
// payload (what to evaluate) and, once done, a JSON result. Its life:
//
//   Enqueue --> queued --Lease--> leased --Complete--> done
//                 ^                 |
//                 +-- Fail, while --+-- Fail, attempts used up --> failed
//                     attempts remain
//   A leased job whose lease expired is taken again by the next Lease (another attempt).
//
// Guarantees (PostgreSQL implementation, postgres_queue.cpp):
// - Enqueue is idempotent on the key: enqueueing a key again returns the existing job unchanged.
// - Lease hands each job to one worker at a time: concurrent leasers on any number of hosts
//   never get the same job while its lease runs (SELECT ... FOR UPDATE SKIP LOCKED). It takes the
//   oldest (first enqueued) queued job of the backend, or the oldest whose lease expired; each
//   lease is one attempt. An expired job whose attempts are used up is marked failed instead.
// - Heartbeat extends a lease only while the worker still owns the job; otherwise it reports
//   the lease lost (a worker should then drop the job).
// - A job's result is stored once: the first Complete wins (whoever sends it: a worker whose
//   lease expired but that finishes before anyone else still counts), every later Complete is
//   ignored and reported as such, and the stored result never changes.
// - Fail (only by the lease's owner) requeues the job while attempts remain, else marks it
//   failed with the error.
// - Every time is the database server's clock (now()), so hosts with skewed clocks agree about
//   leases and last-seen times.
// - Errors are data (common/status.h): kUnavailable when the server is unreachable or the
//   connection was lost (a failed call changed nothing; the next call reconnects), kTimeout for
//   lock waits past the lock timeout, kNotFound for an unknown job or worker, kIoError otherwise.
//   Messages name the queue by its URL without the password.
//
// Thread safety: an EvalQueue is one database session; use one per thread (or lock around it).
// Any number of EvalQueue objects, in any processes on any hosts, may share one queue.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace evokernel::queue {

// What a job evaluates: one candidate of one task at one iteration of one run.
struct JobKey {
  std::string run;
  std::string task;
  int64_t iteration = 0;

  bool operator==(const JobKey&) const = default;
  std::string ToString() const;  // "run/task#iteration"
};

enum class JobState { kQueued, kLeased, kDone, kFailed };
std::string_view JobStateName(JobState state);  // "queued", "leased", "done", "failed"

struct Job {
  int64_t id = 0;  // unique in the queue; what the worker calls refer to
  JobKey key;
  std::string backend;
  nlohmann::json payload;
  JobState state = JobState::kQueued;
  std::string owner;            // the worker holding (or that last held) the lease; "" when none
  int64_t lease_expires_ms = 0;  // the lease's end (database clock, Unix ms); 0 when not leased
  int attempts = 0;             // leases taken so far
  int max_attempts = 0;
  std::optional<nlohmann::json> result;  // set when done
  std::string completed_by;              // the worker whose result was stored
  std::string error;                     // the last Fail's error (the final one when failed)
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
};

struct EnqueueReport {
  Job job;
  bool created = false;  // false: the key was already queued; `job` is that job, unchanged
};

// Heartbeat: the lease was extended (`held`), or the worker no longer owns the job.
struct HeartbeatReport {
  bool held = false;
  int64_t lease_expires_ms = 0;  // the new end when held
  std::string detail;            // why the lease is lost, when !held
};

enum class CompleteOutcome {
  kStored,     // this result is the job's result
  kDuplicate,  // this worker's result had been stored already (a retried call); nothing changed
  kIgnored,    // the job already has another worker's result (or failed); this one was dropped
};

struct CompleteReport {
  CompleteOutcome outcome = CompleteOutcome::kStored;
  Job job;             // the job after the call (its stored result, whoever sent it)
  std::string detail;  // why it was ignored
};

enum class FailOutcome {
  kRequeued,  // attempts remain: the job is queued again
  kFailed,    // attempts used up: the job failed with this error
  kIgnored,   // the worker does not own the job's lease (lost, or the job is done); nothing changed
};

struct FailReport {
  FailOutcome outcome = FailOutcome::kRequeued;
  Job job;
  std::string detail;
};

struct QueueCounts {
  int64_t queued = 0;
  int64_t leased = 0;
  int64_t done = 0;
  int64_t failed = 0;
  int64_t total() const { return queued + leased + done + failed; }
};

struct WorkerInfo {
  std::string id;       // unique per worker process, e.g. "host-a:gpu0"
  std::string host;
  std::string backend;  // the backend it evaluates
  std::string device;   // a description of its device ("NVIDIA H100 80GB", "x86-64, 16 cores")
  nlohmann::json peaks = nlohmann::json::object();  // its measured peaks (roofline)
  // Set by the queue (database clock):
  int64_t registered_ms = 0;
  int64_t last_seen_ms = 0;
  double seconds_since_seen = 0;  // at the time of the listing
};

struct QueueOptions {
  // Attempts a job enqueued through this object gets (leases, expired ones included).
  int max_attempts = 3;
  // How long a call waits for a lock another session holds before kTimeout.
  int lock_timeout_ms = 10000;
};

class EvalQueue {
 public:
  virtual ~EvalQueue() = default;

  // The queue's URL without the password.
  virtual std::string location() const = 0;

  // Adds a job for `backend`, or returns the job already holding `key` (unchanged, whatever its
  // backend and payload).
  virtual Result<EnqueueReport> Enqueue(const JobKey& key, std::string_view backend,
                                        const nlohmann::json& payload) = 0;

  // Takes a job for `backend` for `lease_seconds` (> 0) on behalf of `worker_id` (see the top);
  // nullopt when there is none to take.
  virtual Result<std::optional<Job>> Lease(std::string_view backend, std::string_view worker_id,
                                           double lease_seconds) = 0;

  // Extends the lease of job `job_id` to now + lease_seconds while `worker_id` owns it (an expired
  // lease that nobody else took is still owned). kNotFound for an unknown job.
  virtual Result<HeartbeatReport> Heartbeat(int64_t job_id, std::string_view worker_id, double lease_seconds) = 0;

  // Stores `result` as the job's result unless it has one (see the top). kNotFound for an unknown job.
  virtual Result<CompleteReport> Complete(int64_t job_id, std::string_view worker_id,
                                          const nlohmann::json& result) = 0;

  // The lease owner gives the job up with `error`: requeued while attempts remain, else failed.
  virtual Result<FailReport> Fail(int64_t job_id, std::string_view worker_id, std::string_view error) = 0;

  // The job holding `key`; kNotFound when none.
  virtual Result<Job> Get(const JobKey& key) = 0;

  // Waits until the job holding `key` is done or failed and returns it; kTimeout after
  // `timeout_ms`, kNotFound when no job holds the key. Polls every `poll_ms`.
  virtual Result<Job> Await(const JobKey& key, int64_t timeout_ms, int64_t poll_ms = 100) = 0;

  // Jobs by state (queue depth), of one backend or ("") of all.
  virtual Result<QueueCounts> Counts(std::string_view backend = "") = 0;

  // Records a worker (again, after a restart: its description is replaced) and marks it seen.
  virtual Status RegisterWorker(const WorkerInfo& worker) = 0;
  // Marks a registered worker seen now; kNotFound for an unknown worker.
  virtual Status WorkerHeartbeat(std::string_view worker_id) = 0;
  // Every registered worker, by id.
  virtual Result<std::vector<WorkerInfo>> ListWorkers() = 0;
};

// Opens the queue at `url` (postgres://... or postgresql://...), creating its tables (queue_meta,
// queue_jobs, queue_workers) when the database has none; they may share a database with a memory
// bank. Errors: kInvalidArgument (not a PostgreSQL URL; bad options), kUnavailable (cannot
// connect; a queue schema written by a newer evokernel; built without libpq, naming
// EVOKERNEL_WITH_POSTGRES), kIoError (a failed statement).
Result<std::unique_ptr<EvalQueue>> OpenQueue(std::string_view url, const QueueOptions& options = {});

}  // namespace evokernel::queue
