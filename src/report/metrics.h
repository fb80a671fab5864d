// Metrics of runs: the paper's tables (../shared/method.md, Results) computed from run records.
// Every definition is in docs/reports.md; the short form is beside each field.
//
//   RunData (run_data.h) --ComputeTaskMetrics--> TaskMetrics (one per task of a run)
//                        --Aggregate(tasks)-->   GroupMetrics (overall, per level, category, method)
//                        --AnalyseMemory-->       MemoryAnalysis (value replay, cross-task transfer)
//
// Trust: a timing the verifier flagged (implausible speedup, faster than the roofline bound,
// too noisy) has speedup_trusted = false. Such speedups are left out of fast_p (p > 0) and of the
// speedup distributions unless MetricsOptions::include_untrusted, and always counted in
// GroupMetrics::untrusted_speedups.
//
// Thread safety: pure functions of their inputs.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "report/run_data.h"

namespace evokernel::memory {
class MemoryStore;
}

namespace evokernel::report {

struct MetricsOptions {
  bool include_untrusted = false;       // count untrusted speedups in fast_p and distributions
  std::vector<int> ks = {1, 5, 10};     // pass@k
  std::vector<double> ps = {0, 1, 1.5, 2};  // fast_p thresholds
};

// Unbiased pass@k (Chen et al. 2021) of one task with n samples of which c are correct:
// 1 - C(n-c, k) / C(n, k), computed as 1 - prod_{i=n-c+1..n} (1 - k/i) to stay finite.
// nullopt when k < 1, n < k or c is outside [0, n].
std::optional<double> PassAtK(int n, int c, int k);

// q-quantile of `v` (q in [0, 1]) by linear interpolation between order statistics (position
// q (n-1), numpy's default). nullopt for an empty vector.
std::optional<double> Quantile(std::vector<double> v, double q);

// Summary of a sample. Empty (n = 0) when there is nothing to summarise.
struct Distribution {
  int n = 0;
  double min = 0, p25 = 0, median = 0, p75 = 0, max = 0, mean = 0;
  std::optional<double> geomean;  // exp(mean(log x)) when every value is > 0
  static Distribution Of(const std::vector<double>& values);
  nlohmann::json ToJson() const;  // null fields when n = 0
};

// One task of one run.
struct TaskMetrics {
  std::string run_id, label;  // label: RunData::Label()
  std::string task, category;
  int level = 0;
  int budget = 0;
  int iterations = 0;  // iteration events within the budget (the samples n)
  int extracted = 0, compiled = 0, feasible = 0;  // of those iterations
  bool compiled_any = false;
  std::optional<int> first_feasible_iteration;
  bool feasible_round1 = false;
  std::optional<double> first_feasible_ms;
  bool first_feasible_trusted = false;
  // The best kernel: best/<task>/result.json, else the last new-best iteration event.
  bool has_best = false;
  int best_iteration = 0;
  std::optional<double> best_ms, baseline_ms, speedup;  // speedup over PyTorch eager
  bool speedup_trusted = false;
  std::optional<double> roofline_fraction;
  // first feasible latency / best latency; trusted when both timings are.
  std::optional<double> speedup_vs_draft;
  bool speedup_vs_draft_trusted = false;
  double input_tokens = 0, output_tokens = 0, cost_usd = 0;
  int cached_replies = 0;
  std::string error;  // a task_error event's message

  bool solved() const { return first_feasible_iteration.has_value(); }
  nlohmann::json ToJson() const;
};

std::vector<TaskMetrics> ComputeTaskMetrics(const RunData& run);

struct PassK {
  int k = 0;
  std::optional<double> value;  // mean over tasks with n >= k
  int tasks = 0;                // how many tasks had n >= k
};

struct FastP {
  double p = 0;
  int count = 0;
  double share = 0;  // count / tasks
};

// Aggregates of a group of tasks (all tasks of a run, one level, one category, one method).
struct GroupMetrics {
  std::string group;  // "all", "level 1", "category matmul", "method passk"
  int tasks = 0;
  int iterations = 0, compiled_iterations = 0;
  std::optional<double> compile_rate;  // compiled iterations / iterations
  int tasks_compiled = 0;
  double compile_rate_tasks = 0;  // tasks with a compiled kernel / tasks
  int tasks_feasible = 0;
  double acc = 0;  // tasks with a feasible kernel within the budget / tasks
  int tasks_feasible_round1 = 0;
  double acc_round1 = 0;
  std::vector<PassK> pass_at_k;
  std::vector<FastP> fast_p;
  int untrusted_speedups = 0;  // feasible best kernels whose speedup is not trusted
  int untimed = 0;             // feasible best kernels without a speedup
  Distribution speedup_vs_eager, speedup_vs_draft, iterations_to_feasible, roofline_fraction;
  double input_tokens = 0, output_tokens = 0, cost_usd = 0;
  // Acc by iteration: share of tasks with a feasible kernel by iteration t = 1..max budget.
  std::vector<double> acc_by_iteration;

  std::optional<double> FastShare(double p) const;
  nlohmann::json ToJson() const;
};

GroupMetrics Aggregate(const std::string& group, const std::vector<TaskMetrics>& tasks,
                       const MetricsOptions& options);

// Tasks grouped by level ("level 1", ...), category ("category matmul") or method label
// ("method evokernel/value"), each group aggregated, in sorted order.
std::vector<GroupMetrics> ByLevel(const std::vector<TaskMetrics>& tasks, const MetricsOptions& options);
std::vector<GroupMetrics> ByCategory(const std::vector<TaskMetrics>& tasks, const MetricsOptions& options);
std::vector<GroupMetrics> ByMethod(const std::vector<TaskMetrics>& tasks, const MetricsOptions& options);

// --------------------------------------------------------------------------- memory

// One Q value after one update.
struct ValuePoint {
  int step = 0;       // index of the iteration event in the run (1-based, file order)
  std::string stage;  // "draft" | "refine": which Q the update moved
  double q = 0;
};

struct ItemUse {
  std::string id;
  // trace, summary, knowledge, best_practice from the bank; without one guessed from the id
  // prefix: "trace" (t-), "summary" (s-), "seed" (seed-: a shipped note), "unknown".
  std::string kind;
  std::string title;    // from the bank; "" without one
  std::string creator;  // task that created it; "" for knowledge or when unknown
  bool created_in_run = false;
  int shown = 0;        // iterations that showed it (items_used) or started from it
  int helped = 0;       // of those, the helpful ones (see below)
  std::map<std::string, int> shown_by_task, helped_by_task;
  std::vector<ValuePoint> points;           // replayed values, in step order
  double q_draft = 0, q_refine = 0;         // after the replay (from the run's initial Q)
  int updates_draft = 0, updates_refine = 0;
  std::optional<double> bank_q_draft, bank_q_refine;  // the bank's current values (--bank)
  std::optional<int64_t> bank_visits_draft, bank_visits_refine;
  nlohmann::json ToJson() const;
};

// Items created by task `creator` shown to task `consumer` != creator.
struct TransferCell {
  std::string creator, consumer;
  int shown = 0;   // iterations of `consumer` that showed at least one item of `creator`
  int helped = 0;  // of those, helpful ones
  std::vector<std::string> items;  // which items (sorted)
  nlohmann::json ToJson() const;
};

// A helpful iteration: a drafting iteration that produced a feasible kernel, or any iteration
// whose kernel became the task's new best (an improvement while refining).
bool Helpful(const IterationEvent& e);

struct MemoryAnalysis {
  bool used = false;  // the run showed memory items (method evokernel, retrieval != none)
  int steps = 0;      // iteration events replayed
  std::vector<ItemUse> items;  // most shown first (ties: id)
  std::vector<TransferCell> transfer;  // creator, consumer sorted
  std::string bank;   // the bank read for final values and provenance, "" when none
  nlohmann::json ToJson() const;
};

// Replays the value updates of `run` (Q <- Q + alpha (normalised_reward - Q) on the iteration's
// stage for every item shown and, when refining, the start point), starting each item at
// config.memory.initial_q, and works out which task created each item: traces from the
// iteration events that stored them, summaries from their deterministic ids, and every item
// from the bank when `bank` is given (then kind, title and current values come from it too).
Result<MemoryAnalysis> AnalyseMemory(const RunData& run, memory::MemoryStore* bank);

}  // namespace evokernel::report
