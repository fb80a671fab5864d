// Run records: what `evokernel evolve` writes, and what `--resume` and reports read.
//
//   <runs dir>/<run id>/
//     config.json           the run's configuration (never an API key)
//     events.jsonl          one JSON object per line, appended and fsync'ed as things happen
//     attempts/<task>/<iteration><ext>  every generated kernel (<ext>: the backend's, .cpp or .cl)
//     best/<task>/kernel<ext>, best/<task>/result.json   the best feasible kernel so far
//     pending/<task>.json   an iteration's outcome between its first durable write and its event
//
// events.jsonl is the source of truth. An event is written only after everything it
// describes is durable (the memory bank transaction, the attempt file), so after a crash a
// resumed run redoes at most the one iteration whose event is missing. Once an iteration has
// a result, its outcome (event, bank items, value updates, best kernel) is written to
// pending/ first; the writes that follow are replayed from it on resume rather than redone,
// so the redo cannot describe a different kernel than the one the bank already holds. Memory
// writes are idempotent per (run, task, iteration). A torn last line (the crash hit mid-write)
// is ignored when reading.
//
// Thread safety: RunRecord serialises its own writes; one process owns a run directory at a
// time (a lock file enforces it).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace evokernel {

// What a run knows about one task, rebuilt from events on resume.
struct TaskProgress {
  int iterations = 0;           // iterations completed (events written)
  bool feasible = false;        // a feasible kernel exists
  int first_feasible_iteration = 0;
  std::optional<double> first_feasible_ms;
  std::optional<double> best_ms;
  std::string best_item;        // memory item id of the best kernel
  std::string last_feedback;    // for the next prompt
  bool done = false;            // budget spent or stopped for good
  double input_tokens = 0, output_tokens = 0, cost_usd = 0;
};

struct RunProgress {
  std::map<std::string, TaskProgress> tasks;
  double input_tokens = 0, output_tokens = 0, cost_usd = 0;
  double wall_seconds = 0;      // summed over sessions of the run
  int sessions = 0;             // run_started + resumed events
  bool finished = false;
  int ignored_lines = 0;        // torn or unreadable lines skipped
  std::map<std::string, std::string> task_errors;  // task -> why it could not be loaded (task_error)
};

// Default parent of run directories: $EVOKERNEL_RUNS_DIR, else ./runs.
std::filesystem::path DefaultRunsDir();
// "20261121-071530-3fa2": sortable, unique enough per machine.
std::string NewRunId();
// A task id as a directory name ("level1/19_relu" -> "level1__19_relu").
std::string TaskDirName(const std::string& task_id);

class RunRecord {
 public:
  // Creates <runs_dir>/<id>/ and writes config.json. Fails if it exists.
  static Result<std::unique_ptr<RunRecord>> Create(const std::filesystem::path& runs_dir, const std::string& id,
                                                   const nlohmann::json& config);
  // Opens an existing run for resuming: reads config.json and replays events.jsonl.
  // `run` is a run id under runs_dir or a path to a run directory.
  static Result<std::unique_ptr<RunRecord>> Open(const std::filesystem::path& runs_dir, const std::string& run);
  // Reads a run without taking ownership (reports).
  static Result<RunProgress> Replay(const std::filesystem::path& run_dir, std::vector<nlohmann::json>* events = nullptr);
  ~RunRecord();

  const std::string& id() const { return id_; }
  const std::filesystem::path& dir() const { return dir_; }
  const nlohmann::json& config() const { return config_; }
  // Progress as replayed at Open (not updated by Append: use the copies below while running).
  const RunProgress& progress() const { return progress_; }
  // Thread-safe copies of the current progress.
  TaskProgress TaskState(const std::string& task_id);
  RunProgress Totals();

  // Appends one event (adds "time" when absent), fsyncs, and folds it into progress().
  Status Append(nlohmann::json event);
  // Stores an attempt's source as <iteration><extension> (the backend's source extension);
  // returns its path relative to the run directory.
  Result<std::string> SaveAttempt(const std::string& task_id, int iteration, const std::string& source,
                                  std::string_view extension);
  // Replaces the task's best kernel (kernel<extension>) and its result JSON (atomically, file by
  // file).
  Status SaveBest(const std::string& task_id, const std::string& source, const nlohmann::json& result,
                  std::string_view extension);
  // The pending outcome of a task's current iteration (see above): written durably before the
  // iteration's first write to the bank, removed after its event. One per task.
  Status SavePending(const std::string& task_id, const nlohmann::json& step);
  // Every pending outcome left by a crash, in task order. kInvalidArgument naming the file when
  // one is unreadable (it was written atomically, so that is not a torn write).
  Result<std::vector<nlohmann::json>> LoadPending() const;
  Status ClearPending(const std::string& task_id);
  // The task's best kernel file (which may not exist yet).
  std::filesystem::path BestKernelPath(const std::string& task_id, std::string_view extension) const;

 private:
  RunRecord() = default;
  Status Lock();
  // Cuts events.jsonl after its last newline (a torn final line), under the lock.
  // Makes the file end with a complete line before the next Append: cuts a torn last line
  // (`torn`: Replay ignored it) or ends an unterminated but complete one with its newline.
  Status RepairTail(bool torn);
  static void Fold(RunProgress& p, const nlohmann::json& e);

  std::string id_;
  std::filesystem::path dir_;
  nlohmann::json config_;
  RunProgress progress_;  // at Open
  RunProgress live_;      // folded as events are appended (guarded by mu_)
  int events_fd_ = -1;
  int lock_fd_ = -1;
  std::mutex mu_;
};

}  // namespace evokernel
