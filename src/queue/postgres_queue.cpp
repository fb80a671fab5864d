// The PostgreSQL evaluation queue (queue.h; docs/scale-out.md). How the database keeps the
// header's promises:
//
// - Every call is one transaction (READ COMMITTED) on this object's session; a call that fails
//   rolls back and changed nothing, and a lost connection is reported as kUnavailable and
//   re-established by the next call (common/pg_conn.h).
// - Lease picks with SELECT ... FOR UPDATE SKIP LOCKED: a row another leaser has locked is
//   skipped, not waited for, so concurrent leasers each take a different job without blocking
//   one another; the pick's WHERE is re-checked on the locked row (READ COMMITTED), so a job
//   leased and committed meanwhile is not taken twice.
// - Complete and Fail lock the job row (FOR UPDATE) and decide on its current state, so of two
//   racing Completes exactly one stores its result.
// - Times are the server's now() (the transaction's start), never the host's clock.
// - The schema is versioned in queue_meta.schema_version and created or migrated in one
//   transaction under an advisory lock, so two hosts opening a new queue at once do not both
//   create it; a version newer than this code knows is refused.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include <fmt/format.h>

#include "common/pg_conn.h"
#include "queue/queue.h"

namespace evokernel::queue {

Result<std::unique_ptr<EvalQueue>> OpenPostgresQueue(std::string_view url, const QueueOptions& options);

namespace {

using pg::Params;
using pg::PgResult;

struct QueueMigration {
  int version;
  const char* description;
  const char* sql;
};

// Migrations are only ever appended.
const std::vector<QueueMigration>& QueueMigrations() {
  static const std::vector<QueueMigration> kMigrations = {
      {1, "initial queue schema: queue_meta, queue_jobs, queue_workers",
       R"sql(
CREATE TABLE queue_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE queue_jobs(
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  iteration BIGINT NOT NULL,
  backend TEXT NOT NULL,
  payload JSONB NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'leased', 'done', 'failed')),
  owner TEXT NOT NULL DEFAULT '',
  lease_expires_at TIMESTAMPTZ,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  result JSONB,
  completed_by TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  UNIQUE(run_id, task_id, iteration));
CREATE INDEX queue_jobs_open ON queue_jobs(backend, id) WHERE state IN ('queued', 'leased');
CREATE TABLE queue_workers(
  worker_id TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  backend TEXT NOT NULL,
  device TEXT NOT NULL,
  peaks JSONB NOT NULL,
  registered_at TIMESTAMPTZ NOT NULL,
  last_seen TIMESTAMPTZ NOT NULL);
)sql"},
  };
  return kMigrations;
}

int QueueSchemaVersion() { return QueueMigrations().back().version; }

// Held (transaction-scoped) while the queue's schema is created or migrated. The value:
// "evkqueue" in ASCII, fixed forever (the memory bank uses another key).
constexpr int64_t kQueueSchemaLockKey = 0x65766b7175657565;

constexpr const char* kReadCommitted = "BEGIN ISOLATION LEVEL READ COMMITTED";

// Unix milliseconds of a timestamptz expression, 0 for NULL.
std::string Ms(const char* column) {
  return fmt::format("COALESCE((extract(epoch FROM {}) * 1000)::bigint, 0)", column);
}

const std::string& JobColumns() {
  static const std::string kColumns =
      "id, run_id, task_id, iteration, backend, payload::text, state, owner, " + Ms("lease_expires_at") +
      ", attempts, max_attempts, result::text, completed_by, error, " + Ms("created_at") + ", " + Ms("updated_at");
  return kColumns;
}

std::string Seconds(Params& p, double seconds) { return fmt::format("({} * interval '1 second')", p.Real(seconds)); }

class PostgresQueue final : public EvalQueue {
 public:
  PostgresQueue(std::unique_ptr<pg::Connection> db, QueueOptions options) : db_(std::move(db)), opt_(options) {}

  Status Init();

  std::string location() const override { return db_->url(); }

  Result<EnqueueReport> Enqueue(const JobKey& key, std::string_view backend, const nlohmann::json& payload) override;
  Result<std::optional<Job>> Lease(std::string_view backend, std::string_view worker_id, double lease_seconds) override;
  Result<HeartbeatReport> Heartbeat(int64_t job_id, std::string_view worker_id, double lease_seconds) override;
  Result<CompleteReport> Complete(int64_t job_id, std::string_view worker_id, const nlohmann::json& result) override;
  Result<FailReport> Fail(int64_t job_id, std::string_view worker_id, std::string_view error) override;
  Result<Job> Get(const JobKey& key) override;
  Result<Job> Await(const JobKey& key, int64_t timeout_ms, int64_t poll_ms) override;
  Result<QueueCounts> Counts(std::string_view backend) override;
  Status RegisterWorker(const WorkerInfo& worker) override;
  Status WorkerHeartbeat(std::string_view worker_id) override;
  Result<std::vector<WorkerInfo>> ListWorkers() override;

 private:
  const std::string& where() const { return db_->where(); }

  template <typename F>
  Status Txn(std::string_view what, F&& body) {
    return db_->RunTxn(kReadCommitted, what, std::forward<F>(body));
  }

  Result<Job> ReadJob(const PgResult& r, int row) const;
  // The job `id`, locked for this transaction; kNotFound when there is none.
  Result<Job> LockJob(int64_t id, std::string_view what);
  Result<int> ReadSchemaVersion();
  Status CheckLease(double lease_seconds) const {
    if (!(lease_seconds > 0) || !std::isfinite(lease_seconds) || lease_seconds > 1e7)
      return InvalidArgument(fmt::format("{}: lease of {} s: a lease must last more than 0 s", where(), lease_seconds));
    return Status::Ok();
  }

  std::unique_ptr<pg::Connection> db_;
  QueueOptions opt_;
};

Result<JobState> ParseState(std::string_view s) {
  if (s == "queued") return JobState::kQueued;
  if (s == "leased") return JobState::kLeased;
  if (s == "done") return JobState::kDone;
  if (s == "failed") return JobState::kFailed;
  return InvalidArgument("unknown job state '" + std::string(s) + "'");
}

Result<Job> PostgresQueue::ReadJob(const PgResult& r, int row) const {
  Job j;
  int c = 0;
  j.id = r.Int(row, c++);
  j.key.run = r.Text(row, c++);
  j.key.task = r.Text(row, c++);
  j.key.iteration = r.Int(row, c++);
  j.backend = r.Text(row, c++);
  j.payload = nlohmann::json::parse(r.View(row, c++), nullptr, false);
  if (j.payload.is_discarded()) return IoError(fmt::format("{}: job {}: its payload is not JSON", where(), j.id));
  auto state = ParseState(r.View(row, c++));
  if (!state.ok()) return IoError(fmt::format("{}: job {}: {}", where(), j.id, state.status().message()));
  j.state = *state;
  j.owner = r.Text(row, c++);
  j.lease_expires_ms = r.Int(row, c++);
  j.attempts = static_cast<int>(r.Int(row, c++));
  j.max_attempts = static_cast<int>(r.Int(row, c++));
  if (!r.IsNull(row, c)) {
    nlohmann::json result = nlohmann::json::parse(r.View(row, c), nullptr, false);
    if (result.is_discarded()) return IoError(fmt::format("{}: job {}: its result is not JSON", where(), j.id));
    j.result = std::move(result);
  }
  ++c;
  j.completed_by = r.Text(row, c++);
  j.error = r.Text(row, c++);
  j.created_ms = r.Int(row, c++);
  j.updated_ms = r.Int(row, c++);
  return j;
}

Result<Job> PostgresQueue::LockJob(int64_t id, std::string_view what) {
  Params p;
  EVK_ASSIGN_OR_RETURN(PgResult r, db_->Exec(fmt::format("SELECT {} FROM queue_jobs WHERE id = {} FOR UPDATE",
                                                         JobColumns(), p.Int(id)),
                                             p, fmt::format("{} job {}: lock the job", what, id)));
  if (r.rows() == 0) return NotFound(fmt::format("{}: {} job {}: no such job", where(), what, id));
  return ReadJob(r, 0);
}

Result<int> PostgresQueue::ReadSchemaVersion() {
  // Not to_regclass: it reads the backend's catalog cache without taking a lock, so after
  // waiting for the schema lock it can still miss the table another host just created (the
  // invalidation is not processed yet). A query on pg_class reads it with this statement's
  // snapshot, which sees every commit before it.
  EVK_ASSIGN_OR_RETURN(PgResult t, db_->Exec("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN "
                                             "pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE "
                                             "c.relname = 'queue_meta' AND n.nspname = ANY(current_schemas(false)))",
                                             "read the schema"));
  if (t.View(0, 0) != "t") return 0;
  EVK_ASSIGN_OR_RETURN(PgResult r,
                       db_->Exec("SELECT value FROM queue_meta WHERE key = 'schema_version'", "read queue_meta"));
  if (r.rows() == 0)
    return IoError(where() + ": queue_meta has no schema_version; this is not an evokernel queue; it was left untouched");
  std::string v = r.Text(0, 0);
  char* end = nullptr;
  long version = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end || version < 1)
    return IoError(where() + ": queue_meta.schema_version is '" + v + "', not a positive integer");
  return static_cast<int>(version);
}

Status PostgresQueue::Init() {
  int version = 0;
  EVK_RETURN_IF_ERROR(Txn("open", [&]() -> Status {
    EVK_ASSIGN_OR_RETURN(version, ReadSchemaVersion());
    return Status::Ok();
  }));
  auto too_new = [&](int v) {
    return Unavailable(fmt::format("{} has queue schema version {}, but this evokernel knows versions up to {}: "
                                   "the queue was created by a newer evokernel; use that version",
                                   where(), v, QueueSchemaVersion()));
  };
  if (version > QueueSchemaVersion()) return too_new(version);
  if (version == QueueSchemaVersion()) return Status::Ok();
  // The advisory lock serialises hosts creating or migrating the queue at once; the version is
  // read again under it, so the second host finds the first one's schema.
  return Txn("create the queue schema", [&]() -> Status {
    Params p;
    EVK_ASSIGN_OR_RETURN(PgResult l, db_->Exec("SELECT pg_advisory_xact_lock(" + p.Int(kQueueSchemaLockKey) + ")", p,
                                               "lock the schema"));
    (void)l;
    EVK_ASSIGN_OR_RETURN(int now, ReadSchemaVersion());
    if (now > QueueSchemaVersion()) return too_new(now);
    int last = now;
    for (const auto& m : QueueMigrations()) {
      if (m.version <= now) continue;
      EVK_ASSIGN_OR_RETURN(PgResult r,
                           db_->Exec(m.sql, fmt::format("queue schema migration {} ({})", m.version, m.description)));
      (void)r;
      last = m.version;
    }
    if (last == now) return Status::Ok();
    Params q;
    EVK_ASSIGN_OR_RETURN(PgResult w, db_->Exec("INSERT INTO queue_meta(key, value) VALUES ('schema_version', " +
                                                   q.Text(std::to_string(last)) +
                                                   ") ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                                               q, "write queue_meta.schema_version"));
    (void)w;
    return Status::Ok();
  });
}

Result<EnqueueReport> PostgresQueue::Enqueue(const JobKey& key, std::string_view backend,
                                             const nlohmann::json& payload) {
  if (key.run.empty() || key.task.empty())
    return InvalidArgument(fmt::format("{}: enqueue {}: a job needs a run and a task", where(), key.ToString()));
  if (backend.empty()) return InvalidArgument(fmt::format("{}: enqueue {}: no backend given", where(), key.ToString()));
  EnqueueReport report;
  const std::string what = "enqueue " + key.ToString();
  EVK_RETURN_IF_ERROR(Txn(what, [&]() -> Status {
    Params p;
    // ON CONFLICT DO NOTHING waits for a concurrent insert of the same key to commit, so the
    // SELECT below (a new snapshot under READ COMMITTED) then finds that job.
    std::string sql = fmt::format(
        "INSERT INTO queue_jobs(run_id, task_id, iteration, backend, payload, state, max_attempts) "
        "VALUES ({}, {}, {}, {}, {}::jsonb, 'queued', {}) ON CONFLICT (run_id, task_id, iteration) DO NOTHING "
        "RETURNING {}",
        p.Text(key.run), p.Text(key.task), p.Int(key.iteration), p.Text(backend), p.Text(payload.dump()),
        p.Int(opt_.max_attempts), JobColumns());
    EVK_ASSIGN_OR_RETURN(PgResult r, db_->Exec(sql, p, what));
    report.created = r.rows() == 1;
    if (report.created) {
      EVK_ASSIGN_OR_RETURN(report.job, ReadJob(r, 0));
      return Status::Ok();
    }
    Params q;
    EVK_ASSIGN_OR_RETURN(PgResult e, db_->Exec(fmt::format("SELECT {} FROM queue_jobs WHERE run_id = {} AND task_id = "
                                                           "{} AND iteration = {}",
                                                           JobColumns(), q.Text(key.run), q.Text(key.task),
                                                           q.Int(key.iteration)),
                                               q, what + ": read the existing job"));
    if (e.rows() == 0) return Internal(where() + ": " + what + ": the key conflicts but no job holds it");
    EVK_ASSIGN_OR_RETURN(report.job, ReadJob(e, 0));
    return Status::Ok();
  }));
  return report;
}

Result<std::optional<Job>> PostgresQueue::Lease(std::string_view backend, std::string_view worker_id,
                                                double lease_seconds) {
  EVK_RETURN_IF_ERROR(CheckLease(lease_seconds));
  if (worker_id.empty()) return InvalidArgument(where() + ": lease: no worker id given");
  std::optional<Job> leased;
  const std::string what = fmt::format("lease a {} job for worker {}", backend, worker_id);
  EVK_RETURN_IF_ERROR(Txn(what, [&]() -> Status {
    leased.reset();
    for (;;) {
      Params p;
      std::string pick = fmt::format(
          "SELECT id, attempts >= max_attempts, owner, attempts FROM queue_jobs WHERE backend = {} AND "
          "(state = 'queued' OR (state = 'leased' AND lease_expires_at <= now())) "
          "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
          p.Text(backend));
      EVK_ASSIGN_OR_RETURN(PgResult r, db_->Exec(pick, p, what + ": pick a job"));
      if (r.rows() == 0) return Status::Ok();
      const int64_t id = r.Int(0, 0);
      if (r.View(0, 1) == "t") {
        // An expired lease on the last attempt: the job has had all its chances.
        Params f;
        std::string sql = fmt::format(
            "UPDATE queue_jobs SET state = 'failed', lease_expires_at = NULL, updated_at = now(), error = {} "
            "WHERE id = {}",
            f.Text(fmt::format("the lease of worker {} expired on attempt {} of {} (the worker stopped "
                               "heartbeating)",
                               r.Text(0, 2), r.Int(0, 3), r.Int(0, 3))),
            f.Int(id));
        EVK_ASSIGN_OR_RETURN(PgResult u, db_->Exec(sql, f, fmt::format("{}: fail job {}", what, id)));
        (void)u;
        continue;
      }
      Params q;
      std::string sql = fmt::format(
          "UPDATE queue_jobs SET state = 'leased', owner = {}, lease_expires_at = now() + {}, "
          "attempts = attempts + 1, updated_at = now() WHERE id = {} RETURNING {}",
          q.Text(worker_id), Seconds(q, lease_seconds), q.Int(id), JobColumns());
      EVK_ASSIGN_OR_RETURN(PgResult u, db_->Exec(sql, q, fmt::format("{}: take job {}", what, id)));
      EVK_ASSIGN_OR_RETURN(Job job, ReadJob(u, 0));
      leased = std::move(job);
      return Status::Ok();
    }
  }));
  return leased;
}

Result<HeartbeatReport> PostgresQueue::Heartbeat(int64_t job_id, std::string_view worker_id, double lease_seconds) {
  EVK_RETURN_IF_ERROR(CheckLease(lease_seconds));
  HeartbeatReport report;
  const std::string what = fmt::format("heartbeat of worker {} on", worker_id);
  EVK_RETURN_IF_ERROR(Txn(what, [&]() -> Status {
    EVK_ASSIGN_OR_RETURN(Job job, LockJob(job_id, what));
    if (job.state != JobState::kLeased || job.owner != worker_id) {
      report.held = false;
      report.lease_expires_ms = 0;
      report.detail =
          job.state == JobState::kLeased
              ? fmt::format("lease lost: job {} is now leased by worker {}", job_id, job.owner)
              : fmt::format("lease lost: job {} is {}{}", job_id, JobStateName(job.state),
                            job.state == JobState::kDone ? " (completed by worker " + job.completed_by + ")" : "");
      return Status::Ok();
    }
    Params p;
    std::string sql = fmt::format(
        "UPDATE queue_jobs SET lease_expires_at = now() + {}, updated_at = now() WHERE id = {} RETURNING {}",
        Seconds(p, lease_seconds), p.Int(job_id), Ms("lease_expires_at"));
    EVK_ASSIGN_OR_RETURN(PgResult r, db_->Exec(sql, p, fmt::format("{} job {}: extend the lease", what, job_id)));
    report.held = true;
    report.lease_expires_ms = r.Int(0, 0);
    Params w;
    EVK_ASSIGN_OR_RETURN(PgResult s, db_->Exec("UPDATE queue_workers SET last_seen = now() WHERE worker_id = " +
                                                   w.Text(worker_id),
                                               w, what + ": mark the worker seen"));
    (void)s;
    return Status::Ok();
  }));
  return report;
}

Result<CompleteReport> PostgresQueue::Complete(int64_t job_id, std::string_view worker_id,
                                               const nlohmann::json& result) {
  CompleteReport report;
  const std::string what = fmt::format("complete by worker {} of", worker_id);
  EVK_RETURN_IF_ERROR(Txn(what, [&]() -> Status {
    EVK_ASSIGN_OR_RETURN(Job job, LockJob(job_id, what));
    if (job.state == JobState::kDone) {
      report.outcome = job.completed_by == worker_id ? CompleteOutcome::kDuplicate : CompleteOutcome::kIgnored;
      if (report.outcome == CompleteOutcome::kIgnored)
        report.detail = fmt::format("job {} ({}) already has the result of worker {}; this result was ignored", job_id,
                                    job.key.ToString(), job.completed_by);
      report.job = std::move(job);
      return Status::Ok();
    }
    if (job.state == JobState::kFailed) {
      report.outcome = CompleteOutcome::kIgnored;
      report.detail = fmt::format("job {} ({}) failed before this result came ({}); this result was ignored", job_id,
                                  job.key.ToString(), job.error);
      report.job = std::move(job);
      return Status::Ok();
    }
    Params p;
    std::string sql = fmt::format(
        "UPDATE queue_jobs SET state = 'done', result = {}::jsonb, completed_by = {}, lease_expires_at = NULL, "
        "updated_at = now() WHERE id = {} RETURNING {}",
        p.Text(result.dump()), p.Text(worker_id), p.Int(job_id), JobColumns());
    EVK_ASSIGN_OR_RETURN(PgResult r, db_->Exec(sql, p, fmt::format("{} job {}: store the result", what, job_id)));
    EVK_ASSIGN_OR_RETURN(report.job, ReadJob(r, 0));
    report.outcome = CompleteOutcome::kStored;
    return Status::Ok();
  }));
  return report;
}

Result<FailReport> PostgresQueue::Fail(int64_t job_id, std::string_view worker_id, std::string_view error) {
  FailReport report;
  const std::string what = fmt::format("fail by worker {} of", worker_id);
  EVK_RETURN_IF_ERROR(Txn(what, [&]() -> Status {
    EVK_ASSIGN_OR_RETURN(Job job, LockJob(job_id, what));
    if (job.state != JobState::kLeased || job.owner != worker_id) {
      report.outcome = FailOutcome::kIgnored;
      report.detail = fmt::format("lease lost: job {} is {}{}; the failure was ignored", job_id,
                                  JobStateName(job.state),
                                  job.state == JobState::kLeased ? " by worker " + job.owner : "");
      report.job = std::move(job);
      return Status::Ok();
    }
    const bool final = job.attempts >= job.max_attempts;
    Params p;
    std::string sql = fmt::format(
        "UPDATE queue_jobs SET state = {}, error = {}, lease_expires_at = NULL, updated_at = now() WHERE id = {} "
        "RETURNING {}",
        p.Text(final ? "failed" : "queued"), p.Text(error), p.Int(job_id), JobColumns());
    EVK_ASSIGN_OR_RETURN(PgResult r, db_->Exec(sql, p, fmt::format("{} job {}: record the failure", what, job_id)));
    EVK_ASSIGN_OR_RETURN(report.job, ReadJob(r, 0));
    report.outcome = final ? FailOutcome::kFailed : FailOutcome::kRequeued;
    return Status::Ok();
  }));
  return report;
}

Result<Job> PostgresQueue::Get(const JobKey& key) {
  std::optional<Job> found;
  const std::string what = "read job " + key.ToString();
  EVK_RETURN_IF_ERROR(Txn(what, [&]() -> Status {
    Params p;
    EVK_ASSIGN_OR_RETURN(PgResult r, db_->Exec(fmt::format("SELECT {} FROM queue_jobs WHERE run_id = {} AND task_id = "
                                                           "{} AND iteration = {}",
                                                           JobColumns(), p.Text(key.run), p.Text(key.task),
                                                           p.Int(key.iteration)),
                                               p, what));
    if (r.rows() == 0) return Status::Ok();
    EVK_ASSIGN_OR_RETURN(Job job, ReadJob(r, 0));
    found = std::move(job);
    return Status::Ok();
  }));
  if (!found) return NotFound(fmt::format("{}: no job {}", where(), key.ToString()));
  return std::move(*found);
}

Result<Job> PostgresQueue::Await(const JobKey& key, int64_t timeout_ms, int64_t poll_ms) {
  // The wait is measured on this host's steady clock: it bounds how long the caller waits, not
  // anything another host must agree with.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max<int64_t>(0, timeout_ms));
  const auto poll = std::chrono::milliseconds(std::max<int64_t>(1, poll_ms));
  for (;;) {
    EVK_ASSIGN_OR_RETURN(Job job, Get(key));
    if (job.state == JobState::kDone || job.state == JobState::kFailed) return job;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline)
      return TimeoutError(fmt::format("{}: job {} is still {} after {} ms of waiting", where(), key.ToString(),
                                      JobStateName(job.state), timeout_ms));
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(poll, deadline - now));
  }
}

Result<QueueCounts> PostgresQueue::Counts(std::string_view backend) {
  QueueCounts counts;
  EVK_RETURN_IF_ERROR(Txn("count jobs", [&]() -> Status {
    Params p;
    std::string sql = "SELECT state, count(*) FROM queue_jobs";
    if (!backend.empty()) sql += " WHERE backend = " + p.Text(backend);
    sql += " GROUP BY state";
    EVK_ASSIGN_OR_RETURN(PgResult r, db_->Exec(sql, p, "count jobs"));
    counts = QueueCounts();
    for (int i = 0; i < r.rows(); ++i) {
      auto state = ParseState(r.View(i, 0));
      if (!state.ok()) return IoError(where() + ": count jobs: " + state.status().message());
      const int64_t n = r.Int(i, 1);
      switch (*state) {
        case JobState::kQueued: counts.queued = n; break;
        case JobState::kLeased: counts.leased = n; break;
        case JobState::kDone: counts.done = n; break;
        case JobState::kFailed: counts.failed = n; break;
      }
    }
    return Status::Ok();
  }));
  return counts;
}

Status PostgresQueue::RegisterWorker(const WorkerInfo& worker) {
  if (worker.id.empty()) return InvalidArgument(where() + ": register a worker: no worker id given");
  const std::string what = "register worker " + worker.id;
  return Txn(what, [&]() -> Status {
    Params p;
    std::string sql = fmt::format(
        "INSERT INTO queue_workers(worker_id, host, backend, device, peaks, registered_at, last_seen) "
        "VALUES ({}, {}, {}, {}, {}::jsonb, now(), now()) ON CONFLICT (worker_id) DO UPDATE SET "
        "host = excluded.host, backend = excluded.backend, device = excluded.device, peaks = excluded.peaks, "
        "registered_at = now(), last_seen = now()",
        p.Text(worker.id), p.Text(worker.host), p.Text(worker.backend), p.Text(worker.device),
        p.Text(worker.peaks.dump()));
    EVK_ASSIGN_OR_RETURN(PgResult r, db_->Exec(sql, p, what));
    (void)r;
    return Status::Ok();
  });
}

Status PostgresQueue::WorkerHeartbeat(std::string_view worker_id) {
  const std::string what = fmt::format("heartbeat of worker {}", worker_id);
  return Txn(what, [&]() -> Status {
    Params p;
    EVK_ASSIGN_OR_RETURN(PgResult r, db_->Exec("UPDATE queue_workers SET last_seen = now() WHERE worker_id = " +
                                                   p.Text(worker_id),
                                               p, what));
    if (r.Affected() == 0)
      return NotFound(fmt::format("{}: {}: no such worker (register it first)", where(), what));
    return Status::Ok();
  });
}

Result<std::vector<WorkerInfo>> PostgresQueue::ListWorkers() {
  std::vector<WorkerInfo> workers;
  EVK_RETURN_IF_ERROR(Txn("list workers", [&]() -> Status {
    workers.clear();
    EVK_ASSIGN_OR_RETURN(PgResult r, db_->Exec(fmt::format("SELECT worker_id, host, backend, device, peaks::text, {}, "
                                                           "{}, extract(epoch FROM now() - last_seen)::float8 FROM "
                                                           "queue_workers ORDER BY worker_id",
                                                           Ms("registered_at"), Ms("last_seen")),
                                               "list workers"));
    for (int i = 0; i < r.rows(); ++i) {
      WorkerInfo w;
      w.id = r.Text(i, 0);
      w.host = r.Text(i, 1);
      w.backend = r.Text(i, 2);
      w.device = r.Text(i, 3);
      w.peaks = nlohmann::json::parse(r.View(i, 4), nullptr, false);
      if (w.peaks.is_discarded()) return IoError(where() + ": worker " + w.id + ": its peaks are not JSON");
      w.registered_ms = r.Int(i, 5);
      w.last_seen_ms = r.Int(i, 6);
      w.seconds_since_seen = r.Double(i, 7);
      workers.push_back(std::move(w));
    }
    return Status::Ok();
  }));
  return workers;
}

}  // namespace

Result<std::unique_ptr<EvalQueue>> OpenPostgresQueue(std::string_view url, const QueueOptions& options) {
  pg::ConnectionOptions co;
  co.noun = "evaluation queue";
  co.session_sql = fmt::format("SET lock_timeout = '{}ms'", options.lock_timeout_ms);
  co.timeout_hint = fmt::format("another session held the job for longer than the lock timeout ({} ms)",
                                options.lock_timeout_ms);
  EVK_ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> db, pg::Connection::Open(url, std::move(co)));
  auto queue = std::make_unique<PostgresQueue>(std::move(db), options);
  EVK_RETURN_IF_ERROR(queue->Init());
  return std::unique_ptr<EvalQueue>(std::move(queue));
}

}  // namespace evokernel::queue
