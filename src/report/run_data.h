// Reading run records for reports: a run directory written by `evokernel evolve`
// (agent/run_record.h, docs/agent.md "Run records") becomes a typed, validated RunData.
//
//   <run>/config.json            method, retrieval, budget, memory, tasks, provider, env
//   <run>/events.jsonl           iteration | task_error | run_started | ... (one JSON per line)
//   <run>/best/<task>/result.json   the best kernel's full verifier result
//
// Validation is strict where a report would otherwise be silently wrong: a malformed line in
// the middle of events.jsonl, or a field of the wrong type, is an error naming the file, the line
// and the field. Only a torn final line (a crash mid-append, which `evolve --resume` also
// ignores) is skipped and counted. Unknown fields and event types are ignored, so newer
// evolve versions stay readable.
//
// Thread safety: the functions are reentrant; RunData is a plain value.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace evokernel::report {

struct TaskInfo {
  std::string id;        // "level1/12_relu"
  int level = 0;         // 0 when unknown
  std::string category;  // "" when unknown
};

// One `iteration` event, typed. Absent optional fields keep their defaults.
struct IterationEvent {
  int line = 0;  // line number in events.jsonl (1-based), for messages
  std::string task;
  int level = 0;
  std::string category;
  int iteration = 0;  // 1-based within the task
  std::string stage;  // "draft" | "refine"
  std::string model;
  bool extracted = false, compiled = false, feasible = false, new_best = false;
  bool speedup_trusted = false, from_cache = false;
  std::string outcome;
  std::optional<double> latency_ms, baseline_ms, speedup, roofline_fraction;
  double input_tokens = 0, output_tokens = 0, cost_usd = 0;
  double reward = 0, normalised_reward = 0;
  std::vector<std::string> items_used;
  std::string start_point;  // "" when none
  std::string item_id;      // the trace this iteration stored ("" for passk/refine)
};

// The best kernel of a task: best/<task>/result.json, reduced to what reports use.
struct BestResult {
  nlohmann::json raw;  // the whole verifier result
  int iteration = 0;   // which iteration produced it (0 when the file does not say)
  bool feasible = false;
  bool timed = false;  // has a speedup
  std::optional<double> median_ms, baseline_median_ms, speedup;
  bool speedup_trusted = false;
  std::optional<double> roofline_fraction;
};

// The environment a run was produced in, as (field, value) rows in a fixed order. Values that
// no record holds are "unknown".
using EnvStamp = std::vector<std::pair<std::string, std::string>>;

struct RunData {
  std::string id;  // the run directory's name
  std::filesystem::path dir;
  nlohmann::json config;
  std::string method = "unknown", retrieval;
  int budget = 0;
  double alpha = 0.2, initial_q = 0.0;  // config.memory, for the value replay
  std::vector<TaskInfo> tasks;           // config order, plus tasks only seen in events
  std::vector<IterationEvent> iterations;  // file order; a repeated (task, iteration) keeps the last
  std::map<std::string, std::string> task_errors;  // task -> error of a task_error event
  std::map<std::string, BestResult> best;          // task -> best/<task>/result.json
  int sessions = 0;
  bool finished = false;
  std::string stop_reason;  // of the last session_end, "" when it ran out its budget
  int ignored_lines = 0;    // a torn final line of events.jsonl
  EnvStamp env;

  // "evokernel/value" for the evokernel method (method/retrieval), else the method name.
  std::string Label() const;
  const TaskInfo* FindTask(const std::string& id) const;
};

// Loads `run`: a path to a run directory, or a run id under `runs_dir`. Errors: kNotFound (no
// such run; says where it looked), kInvalidArgument (malformed config.json, events.jsonl or
// result.json; names file:line and field).
Result<RunData> LoadRun(const std::filesystem::path& runs_dir, const std::string& run);

// The stamp of a run: config.json "env" (commit, build type, CPU, cores, OS), "provider"
// (model, kind, base URL), "backend" and "threads", completed from the best kernels'
// result.json "env" (compiler, PyTorch, Python and BLAS of the reference, threads).
EnvStamp MakeEnvStamp(const nlohmann::json& config, const std::map<std::string, BestResult>& best,
                      const std::vector<IterationEvent>& iterations);

}  // namespace evokernel::report
