// The agent: drafting -> refining with a value-driven memory (../shared/method.md, Lifecycle).
//
// Per task, for up to `budget` iterations (resumed runs continue where the record stops):
//
//   stage    = draft until a feasible kernel exists, then refine
//   start    = refine: a feasible variant of this task chosen by Q_refine (memory/policy.h)
//   context  = recall K = lambda*N similar items, select N by the stage's Q (+ knowledge slots)
//   proposal = the generator (generator/generator.h), given reference, contract, context, start
//              point and feedback; the LLM generators render a prompt (generator/prompt.h),
//              call the provider (retries, cache, accounting) and extract the kernel from the
//              reply: an unusable reply is an infeasible attempt
//   result   = Verifier::Evaluate(kernel)   timing gated: no two timings overlap
//   reward   = draft: +1/-1; refine: -1 or tanh(log best - log latency), PopArt-normalised
//   memory   = one transaction: Q <- Q + alpha (r - Q) for every item shown (and the start
//              point), plus the new trace (and a summary at milestones); idempotent per
//              (run, task, iteration) so a resumed run never applies an iteration twice
//   record   = the attempt file, the best kernel, then the iteration event (run_record.h)
//
// Methods (same budget for all, for ablations), each an LLM generator whose Traits tell the
// loop what it uses (generator/generator.h):
//   evokernel  shared memory bank + values (the method); --retrieval value|similarity|random|none
//   passk      independent samples, each shown one demonstration (a knowledge note); no
//              feedback, no refinement, no bank reads or writes
//   refine     per-task repair from feedback, then hill-climbing from the task's best kernel;
//              no shared memory
//
// Tasks run in the order given (the caller sorts them into a curriculum: level1 before
// level2); `jobs` tasks are in flight at once, their model calls concurrent, their timings
// serialised by one gate.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/run_record.h"
#include "backend/backend.h"
#include "memory/policy.h"
#include "memory/values.h"
#include "generator/generator.h"
#include "task/task.h"
#include "verifier/verifier.h"

namespace evokernel {

struct EvolveConfig {
  Method method = Method::kEvoKernel;
  memory::RetrievalPolicy retrieval = memory::RetrievalPolicy::kValue;
  memory::MemoryConfig memory;
  int budget = 30;  // iterations per task, drafting and refining together
  // Stop each task at its first feasible kernel (correctness sweeps, drafting studies): no
  // refining. The task's remaining budget is left unused.
  bool draft_only = false;
  // Run-wide limits; unset: none. Checked before each iteration; when one is reached the run
  // stops cleanly (resumable with a larger limit).
  std::optional<int64_t> max_tokens;
  std::optional<double> max_cost_usd;
  std::optional<double> max_wall_s;  // this session's wall-clock time
  int jobs = 1;                      // tasks in flight
  uint64_t seed = 1;                 // selection randomness (per task: seed + task index)
  std::string backend = "cpu";
  std::filesystem::path bank;         // the memory bank file
  std::filesystem::path prompts_dir;  // empty: <data dir>/prompts/<backend>
  VerifyOptions verify;               // threads, timing, tolerances for every evaluation

  // Recorded in the run's config.json (no secrets); FromJson reads it back for --resume.
  nlohmann::json ToJson() const;
  static Result<EvolveConfig> FromJson(const nlohmann::json& j);
};

// One line of live progress.
struct ProgressEvent {
  std::string task;
  int iteration = 0;
  int budget = 0;
  std::string stage;    // "draft" | "refine"
  std::string outcome;  // "feasible" or stage/failure
  std::optional<double> latency_ms, best_ms, baseline_ms;
  double run_cost_usd = 0;
  int64_t run_tokens = 0;
  double elapsed_s = 0;
};

struct EvolveSummary {
  int tasks = 0, feasible_tasks = 0, iterations = 0;
  bool stopped_by_budget = false;
  std::string stop_reason;
  nlohmann::json ToJson() const;
};

// Runs (or resumes) `record` over `tasks`, proposing kernels with `generator`, whose method()
// must be config.method. A generator fault (a provider that stays unreachable after its
// retries) ends the run with that error (resume later); kernel failures never do.
Result<EvolveSummary> Evolve(const std::vector<TaskRef>& tasks, const EvolveConfig& config, Backend& backend,
                             Generator& generator, RunRecord& record,
                             const std::function<void(const ProgressEvent&)>& on_progress = {},
                             const std::atomic<bool>* cancel = nullptr);

// Id of a memory item an iteration creates: prefix ("t-" trace, "s-" summary) + 16 hex digits
// of SHA-256(run, task, iteration). Deterministic, so a redone iteration after a crash finds
// its own items and changes nothing twice, and reports can tell which task made an item.
std::string IterationItemId(const std::string& prefix, const std::string& run, const std::string& task, int it);

// Whether a refinement measured at `kernel_ns` (nanoseconds) is a new best against `best_ms`:
// faster by more than the uncertainty of its median (2 standard errors, 1.2533 * IQR/1.349 /
// sqrt(n)), so that a "gain" inside the timing noise does not replace the start point.
bool BeatsBest(const Summary& kernel_ns, std::optional<double> best_ms);

// A task list in curriculum order: by level, then by id.
std::vector<TaskRef> CurriculumOrder(std::vector<TaskRef> tasks);

}  // namespace evokernel
