// The verifier: the ground truth behind every reward, metric and claim of evokernel.
//
//   source --[check]--> --[compile]--> artifact --[load]--> runner process
//          --[correctness: seeded trials vs the PyTorch reference]-->
//          --[timing: kernel and eager baseline, interleaved, same inputs and threads]--> result
//
// Each stage either passes or ends the evaluation with a failure category and feedback a model
// can act on. Stages are data (EvalResult.failed_stage): a failed kernel is a result, not an
// error. Evaluate() returns a non-OK Status only when evokernel itself cannot work (oracle
// died, compiler missing, disk full), which callers must not blame on the kernel.
//
// Anti-cheat checks and the sandbox slot in as the "check" stage and the runner's launch
// options; they are configured through VerifyOptions so every caller gets them.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "common/subprocess.h"
#include "roofline/roofline.h"
#include "task/oracle.h"
#include "task/task.h"
#include "verifier/compare.h"
#include "verifier/machine_load.h"
#include "verifier/stats.h"

namespace evokernel {

enum class Stage { kNone, kCheck, kCompile, kLoad, kCorrectness, kTiming };
std::string_view StageName(Stage s);

struct VerifyOptions {
  int threads = 1;
  int correctness_trials = 5;  // the last `hidden_trials` of them use hidden input distributions
  int hidden_trials = 2;
  std::optional<uint64_t> seed;  // base seed of the trials; unset: fresh random per evaluation
  bool timing = true;
  int warmup = 3;
  int timing_trials = 0;  // fixed trials per side and pass; 0: from timing_budget
  // Wall-clock seconds per side and pass when timing_trials == 0, including what each call
  // costs outside the measured interval (cache flush, input copy).
  double timing_budget_s = 0.12;
  int min_timing_trials = 10;
  int max_timing_trials = 50;
  int timing_rounds = 4;  // kernel and baseline alternate this many times in the first pass
  // Noise: the relative standard error of a side's median (from its IQR and sample count).
  // Above this on either side, that side is measured again; if it stays above, the result is
  // flagged noisy.
  double noise_threshold = 0.01;
  // Trust: a speedup is trusted only while both medians' relative standard errors are at most
  // this (a precision the remeasuring could not reach is flagged `noisy`, but a speedup known
  // to within a few percent is still a measurement: PyTorch and the kernel shared the machine
  // alike). Above it the speedup is still trusted when it reproduces: the speedups of the
  // first and second half of the alternating rounds agree within 2 * trust_noise. Otherwise
  // the result is `too_noisy` and its speedup untrusted.
  double trust_noise = 0.05;
  int max_remeasure = 2;  // extra passes of the noisy side, each at most
                          // kRemeasureBudgetFactor * timing_budget_s long
  // A speedup above this gets extra checks (high_speedup_trials more fresh input sets, compared
  // in full, and the roofline bound); it is trusted when they pass, flagged for review when a
  // check cannot be done, and infeasible when the kernel fails one.
  double review_speedup = 10.0;
  int high_speedup_trials = 4;
  bool roofline = true;           // compare the latency with the machine's roofline bound
  std::optional<size_t> flush_bytes;  // cache flush before each timed call; unset: L3 size
  std::chrono::milliseconds call_timeout{30000};  // one kernel call
  std::optional<double> atol, rtol;               // override the task's tolerance
  BuildOptions build;
  ResourceLimits limits = DefaultRunnerLimits();
  std::function<void(Stage)> on_stage;  // progress callback, called as each stage starts
  // Held for the whole timing stage. Evaluations that share one gate (on other threads, for
  // other tasks) never time at the same moment, while their compile and correctness stages
  // overlap with the timing: how several evaluations use a machine's cores without timing
  // each other's load. The wait is reported as stage_seconds.timing_wait.
  std::shared_ptr<std::mutex> timing_gate;
  // The paired comparison with an incumbent (Evaluate's `incumbent`): wall-clock seconds of
  // its alternating rounds, both sides together (a slow kernel gets at least
  // kMinPairedRounds rounds all the same, within kPairedBudgetCap budgets).
  double paired_budget_s = 1.0;

  static ResourceLimits DefaultRunnerLimits();
};

// A kernel to compare the candidate with, timed alternately with it in the same evaluation on
// the same inputs: the current best of a refining run (`evokernel eval --against`). Its
// correctness was established when it became the best; its outputs are still sampled.
struct Incumbent {
  std::string source;
  std::string label;
};

struct TrialReport {
  uint64_t seed = 0;
  std::string distribution = "default";
  bool passed = false;
  std::vector<OutputReport> outputs;
};

struct EvalResult {
  std::string task;
  std::string backend;
  std::string baseline_device = "cpu";  // where PyTorch eager ran (Backend::baseline_device)
  std::string kernel;  // label (path) of the kernel source
  std::string kernel_sha256;

  bool feasible = false;  // passed every stage up to and including correctness
  bool compiled = false;
  bool correctness = false;
  Stage failed_stage = Stage::kNone;
  std::string failure;   // category: compile_error, runtime_error, timeout, wrong_answer, ...
  std::string feedback;  // what a model should read to fix the kernel

  std::vector<TrialReport> trials;
  bool timed = false;
  Summary kernel_ns, baseline_ns;
  double speedup = 0;       // baseline median / kernel median
  double speedup_mean = 0;  // baseline mean / kernel mean (KernelBench's definition)
  bool noisy = false;       // a median's relative SE stayed above noise_threshold after re-measuring
  bool too_noisy = false;   // ... and above trust_noise: the speedup is not trusted
  int timing_passes = 0;
  // Reasons to distrust the timing (implausible speedup, faster than the roofline bound, ...):
  // flagged for review, not trusted.
  std::vector<std::string> review;
  // The kernel's median against the machine's roofline bound (roofline/roofline.h); unset
  // when the check was not done, with the reason in roofline_note.
  std::optional<RooflineBound> roofline;
  double baseline_roofline_fraction = 0;
  std::string roofline_note;
  // How busy the rest of the machine was while the timing ran (machine_load.h); unset when
  // not timed or /proc/stat is unreadable. A loaded machine's figures are flagged, not dropped.
  std::optional<MachineLoad> machine_load;
  bool machine_loaded() const { return machine_load && machine_load->loaded; }

  // The paired comparison with the incumbent, A = this kernel, B = the incumbent: set when one
  // was given and the kernel was timed; otherwise, when one was given, the reason is in
  // vs_incumbent_note. Two kernels timed in separate evaluations seconds apart are compared
  // across whatever the machine did in between; timed in alternating rounds they are not.
  std::optional<PairedRatio> vs_incumbent;
  std::string vs_incumbent_note;

  BuildResult build;
  nlohmann::json stage_seconds = nlohmann::json::object();
  nlohmann::json settings = nlohmann::json::object();
  nlohmann::json env = nlohmann::json::object();

  // Timed, nothing under review, and not too noisy: the speedup counts (fast_p, medians).
  bool speedup_trusted() const { return timed && review.empty() && !too_noisy; }

  nlohmann::json ToJson() const;
};

class KernelSession;

class Verifier {
 public:
  // References must outlive the verifier. The oracle must have been started for spec.ref.
  Verifier(Backend& backend, Oracle& oracle, const TaskSpec& spec, VerifyOptions options);

  // Runs every stage on `source`. `label` names the kernel in the result (e.g. its path).
  // With an incumbent, a timed kernel is also compared with it (EvalResult::vs_incumbent).
  Result<EvalResult> Evaluate(std::string_view source, std::string_view label = "",
                              const Incumbent* incumbent = nullptr);

 private:
  // The input sets the timing loop calls on: slots of the runner with their reference outputs.
  // "Seen" sets were verified during correctness; "fresh" ones were never shown to the kernel
  // before timing.
  struct TimingSets {
    std::vector<int> seen, fresh;
    std::vector<std::vector<Tensor>> reference;  // by slot (empty where none)
    double trial_seconds = 0;  // the slowest oracle trial of correctness: what a fresh set costs
  };
  Result<bool> CheckCorrectness(class KernelSession& session, EvalResult& r, double atol, double rtol,
                                std::vector<double>& elapsed, TimingSets& sets);
  // Loads fresh input sets (new seeds) into the free slots, before the timing gate.
  Status LoadFreshSets(KernelSession& session, EvalResult& r, int count, TimingSets& sets);
  // Returns false (with r's failure set) when the timing loop caught the kernel misbehaving.
  Result<bool> Time(KernelSession& session, EvalResult& r, uint64_t seed, double kernel_est_ns,
                    const TimingSets& sets, double atol, double rtol);

  // The extra checks of a speedup above review_speedup (see VerifyOptions). False (with r's
  // failure set) when the kernel failed one.
  Result<bool> ConfirmHighSpeedup(KernelSession& session, EvalResult& r, double atol, double rtol);

  // Starts a runner for a built kernel in `dir`.
  Result<std::unique_ptr<KernelSession>> StartSession(const BuildResult& build, const std::filesystem::path& dir,
                                                      int slots, size_t flush, std::string* category);
  // The incumbent built, loaded and given the first seen set's inputs (slot 0), before the
  // timing gate; null with r.vs_incumbent_note set when that failed.
  Result<std::unique_ptr<KernelSession>> PrepareIncumbent(const Incumbent& incumbent, const std::filesystem::path& dir,
                                                          EvalResult& r, size_t flush);
  // The alternating rounds (in the timing gate). False (with r's failure set) when the
  // candidate misbehaved; the incumbent misbehaving only leaves the comparison undone.
  Result<bool> TimePaired(KernelSession& candidate, KernelSession& incumbent, EvalResult& r, const TimingSets& sets,
                          double atol, double rtol);

  // Timed calls per pass for a kernel of `est_ns` per call (see docs/eval.md, Timing).
  int TimedCallsFor(double est_ns, double overhead_ns) const;

  std::optional<Result<MachinePeaks>> peaks_;  // the roofline's peaks, read on first use
  bool peaks_remeasured_ = false;              // once per verifier, when a kernel beat them
  Backend& backend_;
  Oracle& oracle_;
  const TaskSpec& spec_;
  VerifyOptions opt_;
};

// Input sets of the correctness trials the runner keeps for the timing loop ("seen" sets), and
// the most fresh sets (never shown to the kernel before timing) one evaluation loads.
constexpr int kSeenSets = 3;
constexpr int kMaxFreshSets = 6;
// Share of timed calls whose outputs are compared in full (the others are sampled).
constexpr double kFullCheckShare = 0.25;
// Output elements sampled after every timed call.
constexpr int kSamplesPerOutput = 16;

// Runs of the first correctness trial's inputs after the first when --threads > 1 (1 with one
// thread): each is compared with the first.
constexpr int kMultiThreadReruns = 3;

// Calls per side cover at least this many seconds (between min_timing_trials and 16 calls).
constexpr double kMinTimingSpanS = 0.4;

// The paired comparison: at least this many rounds (fewer only when even these would take
// more than kPairedBudgetCap paired budgets, and never under 6, the fewest a 95% interval
// allows), at most kMaxPairedRounds, and calls per side and round filling about
// kPairedBlockNs.
constexpr int kMinPairedRounds = 16;
constexpr int kMaxPairedRounds = 60;
constexpr double kPairedBudgetCap = 8.0;
constexpr double kPairedBlockNs = 4e6;

// Kernels (and baselines) faster than this get one warm-up call at the start of every timing
// round and re-measuring pass; slower ones only at the start.
constexpr double kRewarmBelowNs = 20e6;

// A re-measuring pass is skipped when it would take longer than this many timing budgets.
constexpr double kRemeasureBudgetFactor = 5.0;

// Process exit codes of `evokernel eval`.
constexpr int kExitFeasible = 0;    // the kernel passed
constexpr int kExitInfeasible = 1;  // the kernel failed a stage (see failed_stage)
constexpr int kExitError = 2;       // evokernel could not evaluate (bad task, options, setup)

// Environment stamp for results: evokernel version and commit, build type, CPU, cores.
nlohmann::json EnvironmentStamp();

// Size of the last-level cache in bytes (sysfs), or 32 MiB when unknown.
size_t LastLevelCacheBytes();

}  // namespace evokernel
