#include "verifier/verifier.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>

#include <fmt/format.h>

#include "backend/build_pipeline.h"
#include "common/fs.h"
#include "common/version.h"
#include "verifier/kernel_session.h"

#ifndef EVOKERNEL_VERSION
#define EVOKERNEL_VERSION "0.0.0"
#endif
#ifndef EVOKERNEL_BUILD_TYPE
#define EVOKERNEL_BUILD_TYPE "unknown"
#endif

namespace evokernel {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Failure category of a kernel session error.
std::string Category(const Status& st, const KernelSession* session = nullptr) {
  if (session && !session->failure_category().empty()) return session->failure_category();
  return st.code() == StatusCode::kTimeout ? "timeout" : "runtime_error";
}

bool IsKernelFault(const Status& st) {
  return st.code() == StatusCode::kRuntimeError || st.code() == StatusCode::kTimeout;
}

}  // namespace

std::string_view StageName(Stage s) {
  switch (s) {
    case Stage::kNone: return "";
    case Stage::kCheck: return "check";
    case Stage::kCompile: return "compile";
    case Stage::kLoad: return "load";
    case Stage::kCorrectness: return "correctness";
    case Stage::kTiming: return "timing";
  }
  return "?";
}

ResourceLimits VerifyOptions::DefaultRunnerLimits() {
  ResourceLimits l;
  l.cpu_seconds = 600;
  l.address_space_bytes = uint64_t{8} << 30;
  l.file_size_bytes = uint64_t{16} << 20;
  l.disable_core_dumps = true;
  return l;
}

size_t LastLevelCacheBytes() {
  static const size_t bytes = [] {
    size_t best = 0;
    int best_level = 0;
    for (int i = 0; i < 8; ++i) {
      fs::path d = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i);
      std::ifstream lv(d / "level"), sz(d / "size");
      int level = 0;
      std::string size;
      if (!(lv >> level) || !(sz >> size) || size.empty()) continue;
      size_t mult = 1;
      if (size.back() == 'K') mult = 1024;
      if (size.back() == 'M') mult = 1024 * 1024;
      size_t bytes = std::strtoull(size.c_str(), nullptr, 10) * mult;
      if (level > best_level || (level == best_level && bytes > best)) {
        best_level = level;
        best = bytes;
      }
    }
    return best ? best : size_t{32} << 20;
  }();
  return bytes;
}

nlohmann::json EnvironmentStamp() {
  struct utsname u{};
  uname(&u);
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return {{"evokernel_version", EVOKERNEL_VERSION},
          {"commit", GitCommit()},
          {"build_type", EVOKERNEL_BUILD_TYPE},
          {"cpu", CpuModelName()},
          {"logical_cores", sysconf(_SC_NPROCESSORS_ONLN)},
          {"os", std::string(u.sysname) + " " + u.release},
          {"host", host}};
}

Verifier::Verifier(Backend& backend, Oracle& oracle, const TaskSpec& spec, VerifyOptions options)
    : backend_(backend), oracle_(oracle), spec_(spec), opt_(std::move(options)) {}

Result<EvalResult> Verifier::Evaluate(std::string_view source, std::string_view label) {
  EvalResult r;
  r.task = spec_.ref.id;
  r.backend = std::string(backend_.name());
  r.kernel = std::string(label);
  r.kernel_sha256 = Sha256Hex(source);
  const double atol = opt_.atol.value_or(spec_.ref.atol);
  const double rtol = opt_.rtol.value_or(spec_.ref.rtol);
  const uint64_t base_seed = opt_.seed ? *opt_.seed : std::random_device{}() % 1000000000u + 1000;
  const size_t flush = opt_.flush_bytes.value_or(LastLevelCacheBytes());
  r.settings = {{"threads", opt_.threads},      {"atol", atol},
                {"rtol", rtol},                 {"seed", base_seed},
                {"correctness_trials", opt_.correctness_trials},
                {"hidden_trials", std::clamp(opt_.hidden_trials, 0, std::max(1, opt_.correctness_trials) - 1)},
                {"noise_threshold", opt_.noise_threshold},
                {"warmup", opt_.warmup},        {"flush_bytes", flush},
                {"call_timeout_ms", opt_.call_timeout.count()},
                {"overrides", spec_.ref.overrides},
                {"static_check", opt_.build.static_check}};
  r.env = EnvironmentStamp();
  r.env["toolchain"] = backend_.Toolchain();
  r.env["reference"] = spec_.env;
  r.env["threads"] = opt_.threads;

  // check: trivially broken input here; the anti-cheat rules run inside Build, on the source
  // before compiling and on the object after (they share its cache entry).
  auto t0 = Clock::now();
  if (source.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    r.failed_stage = Stage::kCheck;
    r.failure = "empty_source";
    r.feedback = "the kernel source is empty";
    return r;
  }
  r.stage_seconds["check"] = Since(t0);

  if (opt_.on_stage) opt_.on_stage(Stage::kCompile);
  // compile
  t0 = Clock::now();
  EVK_ASSIGN_OR_RETURN(r.build, Build(backend_, spec_, source, opt_.build));
  r.stage_seconds["compile"] = Since(t0);
  if (r.build.check_failed) {
    r.failed_stage = Stage::kCheck;
    r.failure = "anti_cheat";
    r.feedback = r.build.feedback;
    return r;
  }
  if (!r.build.ok) {
    r.failed_stage = Stage::kCompile;
    r.failure = "compile_error";
    r.feedback = r.build.feedback;
    return r;
  }
  r.compiled = true;

  // load: the kernel runs in its own process with a private working directory.
  if (opt_.on_stage) opt_.on_stage(Stage::kLoad);
  t0 = Clock::now();
  EVK_ASSIGN_OR_RETURN(fs::path dir, MakeTempDir("evokernel-run-"));
  ScopedDir cleanup(dir);
  SessionOptions so;
  so.argv = RunnerCommand(backend_, r.build, opt_.threads);
  so.threads = opt_.threads;
  so.work_dir = dir;
  so.limits = opt_.limits;
  so.load_timeout = std::max(opt_.call_timeout, milliseconds(10000));
  std::string load_category;
  auto session = KernelSession::Start(so, spec_, &load_category);
  r.stage_seconds["load"] = Since(t0);
  if (!session.ok()) {
    if (!IsKernelFault(session.status())) return session.status();
    r.failed_stage = Stage::kLoad;
    r.failure = session.status().code() == StatusCode::kTimeout ? "timeout"
                : load_category == "runtime_error" || load_category.empty() ? "load_error"
                                                                            : load_category;
    r.feedback = session.status().message();
    return r;
  }

  if (opt_.on_stage) opt_.on_stage(Stage::kCorrectness);
  r.env["sandbox"] = (*session)->sandbox();

  // correctness
  t0 = Clock::now();
  std::vector<double> elapsed;
  std::vector<Outputs> stashed;
  EVK_ASSIGN_OR_RETURN(bool correct, CheckCorrectness(**session, r, atol, rtol, elapsed, stashed));
  r.stage_seconds["correctness"] = Since(t0);
  if (!correct) return r;
  r.correctness = true;
  r.feasible = true;

  // timing
  if (opt_.timing) {
    if (opt_.on_stage) opt_.on_stage(Stage::kTiming);
    // The oracle builds the baseline's model and inputs for the timing seed (random tensors,
    // weights: tens of ms for large tasks) before the gate is taken: setting up is not timing.
    t0 = Clock::now();
    EVK_RETURN_IF_ERROR(oracle_.TimeBaseline(r.trials.front().seed, 0, 0, flush).status());
    r.stage_seconds["timing_setup"] = Since(t0);
    std::unique_lock<std::mutex> gate;
    if (opt_.timing_gate) {
      t0 = Clock::now();
      gate = std::unique_lock<std::mutex>(*opt_.timing_gate);
      r.stage_seconds["timing_wait"] = Since(t0);
    }
    t0 = Clock::now();
    double est = elapsed.empty() ? 1e6 : *std::min_element(elapsed.begin(), elapsed.end());
    auto timed = Time(**session, r, r.trials.front().seed, est, stashed, atol, rtol);
    r.stage_seconds["timing"] = Since(t0);
    if (!timed.ok()) {
      if (!IsKernelFault(timed.status())) return timed.status();
      r.feasible = false;
      r.failed_stage = Stage::kTiming;
      r.failure = Category(timed.status(), session->get());
      r.feedback = "the kernel passed correctness but failed while being timed: " + timed.status().message();
    } else if (!*timed) {
      r.feasible = false;
      r.failed_stage = Stage::kTiming;
    }
  }
  return r;
}

namespace {

// Feedback-ready check of what the runner observed around one call. Returns the failure
// category, or "" when the call behaved.
std::string CallViolation(const RunReply& run, const TaskSpec& spec, int threads, std::string& feedback) {
  if (!run.canary.empty()) {
    const CanaryHit& hit = run.canary[0];
    feedback = std::string("the kernel wrote ") + (hit.side == "after" ? "past the end of " : "before the start of ") +
               (hit.output ? "output '" : "argument '") + hit.name + "'";
    for (const auto& a : spec.args)
      if (a.name == hit.name)
        feedback += " (it has " + std::to_string(NumElements(a.shape)) + " elements, shape " + ShapeString(a.shape) + ")";
    return hit.output && hit.side == "after" ? "output_overflow" : "out_of_bounds";
  }
  if (!run.modified_inputs.empty()) {
    feedback = "the kernel modified its read-only argument '" + run.modified_inputs[0] +
               "'; inputs and parameters must not be written";
    return "input_modified";
  }
  if (!run.late_writes.empty()) {
    feedback = "output '" + run.late_writes[0] +
               "' changed after the kernel returned: all work must finish before evokernel_forward returns";
    return "work_after_return";
  }
  if (run.threads_after > std::max(threads, 1)) {
    feedback = std::to_string(run.threads_after) + " threads were alive after the kernel returned, but --threads is " +
               std::to_string(threads) + ": use at most omp_get_max_threads() threads and start none that outlive the call";
    return "too_many_threads";
  }
  return "";
}

}  // namespace

Result<bool> Verifier::CheckCorrectness(KernelSession& session, EvalResult& r, double atol,
                                        double rtol, std::vector<double>& elapsed,
                                        std::vector<Outputs>& stashed) {
  const uint64_t base_seed = r.settings["seed"].get<uint64_t>();
  const int n = std::max(1, opt_.correctness_trials);
  const int hidden = std::clamp(opt_.hidden_trials, 0, n - 1);
  static const char* kHidden[] = {"outliers", "scaled"};
  constexpr size_t kStash = 3;  // verified input sets kept for the timing loop
  for (int k = 0; k < n; ++k) {
    uint64_t seed = base_seed + static_cast<uint64_t>(k) * 7919;
    bool is_hidden = k >= n - hidden;
    std::string distribution = is_hidden ? kHidden[(k - (n - hidden)) % 2] : "default";
    // Feedback never says how a hidden distribution differs: models must not tune for it.
    std::string where = "correctness trial " + std::to_string(k + 1) + " of " + std::to_string(n) +
                        (is_hidden ? " (hidden input distribution, seed " : " (seed ") + std::to_string(seed) + ")";
    EVK_ASSIGN_OR_RETURN(Trial trial, oracle_.MakeTrial(seed, distribution));
    if (trial.inputs.size() != spec_.num_inputs() || trial.outputs.size() != spec_.num_outputs())
      return Internal("oracle trial does not match the contract of " + spec_.ref.id);
    TrialReport tr;
    tr.seed = seed;
    tr.distribution = trial.distribution;
    auto fail = [&](std::string category, std::string feedback) {
      r.trials.push_back(tr);
      r.failed_stage = Stage::kCorrectness;
      r.failure = std::move(category);
      r.feedback = where + ": " + feedback;
      return false;
    };
    // The first trial runs twice on the same inputs: a kernel must agree with itself.
    std::vector<Tensor> again;
    if (k == 0)
      for (const auto& t : trial.inputs) again.push_back(t.Clone());
    bool stash = !is_hidden && stashed.size() < kStash;
    auto run = session.Run(std::move(trial.inputs), opt_.call_timeout, stash);
    if (!run.ok()) {
      if (!IsKernelFault(run.status())) return run.status();
      return fail(Category(run.status(), &session), run.status().message());
    }
    elapsed.push_back(run->elapsed_ns);
    std::string feedback;
    if (std::string v = CallViolation(*run, spec_, opt_.threads, feedback); !v.empty()) return fail(v, feedback);
    std::string bad;
    tr.passed = true;
    for (size_t i = 0; i < trial.outputs.size(); ++i) {
      OutputReport rep = CompareOutput(trial.outputs[i], run->outputs[i], atol, rtol);
      rep.name = spec_.args[spec_.num_inputs() + i].name;
      if (!rep.passed) {
        tr.passed = false;
        bad += "\n" + rep.Describe();
      }
      tr.outputs.push_back(std::move(rep));
    }
    if (!tr.passed) {
      return fail("wrong_answer", "outputs differ from the PyTorch reference:" + bad);
    }
    // With several threads a race shows only when they overlap, so the same inputs run more
    // times (kMultiThreadReruns); a race that never shows cannot be caught by running.
    const int reruns = k == 0 ? (opt_.threads > 1 ? kMultiThreadReruns : 1) : 0;
    for (int rep_i = 0; rep_i < reruns; ++rep_i) {
      std::vector<Tensor> inputs;
      if (rep_i + 1 == reruns) {
        inputs = std::move(again);
      } else {
        for (const auto& t : again) inputs.push_back(t.Clone());
      }
      auto second = session.Run(std::move(inputs), opt_.call_timeout);
      if (!second.ok()) {
        if (!IsKernelFault(second.status())) return second.status();
        return fail(Category(second.status(), &session), "second run on the same inputs: " + second.status().message());
      }
      if (std::string v = CallViolation(*second, spec_, opt_.threads, feedback); !v.empty())
        return fail(v, "second run on the same inputs: " + feedback);
      for (size_t i = 0; i < run->outputs.size(); ++i) {
        OutputReport rep = CompareOutput(run->outputs[i], second->outputs[i], atol, rtol);
        rep.name = spec_.args[spec_.num_inputs() + i].name;
        if (!rep.passed)
          return fail("nondeterministic",
                      "two runs on the same inputs disagree (races, uninitialised memory or state kept between "
                      "calls?); run " + std::to_string(rep_i + 2) + " vs the first: " + rep.Describe());
      }
    }
    if (stash) stashed.push_back(std::move(run->outputs));
    r.trials.push_back(std::move(tr));
  }
  return true;
}

Result<bool> Verifier::Time(KernelSession& session, EvalResult& r, uint64_t seed, double est_k,
                            const std::vector<Outputs>& stashed, double atol, double rtol) {
  const size_t flush = r.settings["flush_bytes"].get<size_t>();
  // The baseline runs on the inputs of the first trial, which is also the runner's first
  // timing set. The minimum of a short probe sizes it: first calls after a (re)build of the
  // model pay page faults. The probe also reports the per-call cost outside the measured
  // interval (the cache flush), which the budget must include.
  EVK_ASSIGN_OR_RETURN(BaselineTimes probe, oracle_.TimeBaseline(seed, opt_.warmup, 3, flush));
  const double est_b = Summarise(probe.times_ns).min;
  const double overhead = probe.overhead_ns;
  // Calls per side and pass: as many as fit in the wall-clock budget, clamped.
  auto count = [&](double est) {
    if (opt_.timing_trials > 0) return opt_.timing_trials;
    double n = opt_.timing_budget_s * 1e9 / std::max(est + overhead, 1.0);
    // At least min_timing_trials calls, and for kernels of a few ms or more at least
    // kMinTimingSpan seconds of them (up to 16 calls): a median taken over a longer span is
    // less exposed to a passing disturbance of the machine.
    // A slow kernel needs fewer: its calls are long compared with any disturbance, so the
    // floor drops towards 5 calls once min_timing_trials of them would take over a second
    // (the noise check below still asks for more when they disagree).
    double floor_n = std::clamp(std::ceil(1e9 / std::max(est, 1.0)), std::min(5.0, double(opt_.min_timing_trials)),
                                double(opt_.min_timing_trials));
    double lo = std::clamp(kMinTimingSpanS * 1e9 / std::max(est, 1.0), floor_n, std::max(16.0, floor_n));
    return static_cast<int>(std::clamp(n, lo, std::max(lo, double(opt_.max_timing_trials))));
  };
  // Warm-up by time (as many calls as fit in 50 ms, at least 1). A kernel slower than
  // kRewarmBelowNs gets none: it has just run in this process for the correctness trials, and
  // a cold instruction cache is nothing next to a call that long.
  const int warmup_k = est_k >= kRewarmBelowNs
                           ? 0
                           : std::clamp(static_cast<int>(std::ceil(50e6 / std::max(est_k, 1.0))), 1, std::max(opt_.warmup, 1));
  const int n_k = count(est_k), n_b = count(est_b);
  const int rounds = std::clamp(opt_.timing_rounds, 1, std::min(n_k, n_b));
  std::vector<double> tk, tb, seen, fresh;
  uint64_t call_seed = seed * 31 + 7;
  // Relative standard error of a median from n samples with this IQR (normal approximation:
  // sigma ~ IQR / 1.349, SE(median) ~ 1.2533 sigma / sqrt(n)).
  auto median_se = [](const Summary& s) {
    return s.median > 0 && s.n > 0 ? 1.2533 * (s.iqr() / 1.349) / std::sqrt(double(s.n)) / s.median : 0.0;
  };
  auto time_kernel = [&](int calls, int warm) -> Result<bool> {
    auto timeout = milliseconds(static_cast<int64_t>(est_k * (calls + warm) * 20 / 1e6)) + opt_.call_timeout;
    EVK_ASSIGN_OR_RETURN(TimingReply reply, session.Time(warm, calls, flush, call_seed++, timeout, tk.size()));
    for (size_t c = 0; c < reply.calls.size() && c < reply.times_ns.size(); ++c) {
      const TimedCall& call = reply.calls[c];
      (call.fresh ? fresh : seen).push_back(reply.times_ns[c]);
      if (call.fresh || call.set >= stashed.size()) continue;
      // The same inputs at the same addresses must give the outputs verified earlier: a
      // kernel that caches by pointer or shape returns another set's results here.
      for (size_t o = 0; o < call.fingerprint.size() && o < stashed[call.set].size(); ++o) {
        const Tensor& want = stashed[call.set][o];
        for (auto [idx, got] : call.fingerprint[o]) {
          if (idx < 0 || idx >= want.numel()) continue;
          double e = want.GetAsDouble(idx);
          if (!ElementMatches(want.dtype(), e, got, atol, rtol)) {
            // Either a cache keyed by pointer or shape, or results that vary from call to call
            // (a data race that did not show during correctness): the same inputs gave
            // another answer.
            r.failure = "inconsistent_result";
            r.feedback = "while being timed, the kernel returned " + std::to_string(got) + " at " +
                         spec_.args[spec_.num_inputs() + o].name + IndexString(want.shape(), idx) +
                         " for inputs on which it had returned " + std::to_string(e) +
                         ": results must be computed on every call (not reused across calls by pointer, shape or "
                         "content) and must not depend on thread timing (no data races)";
            return false;
          }
        }
      }
    }
    tk.insert(tk.end(), reply.times_ns.begin(), reply.times_ns.end());
    return true;
  };
  auto time_baseline = [&](int calls, int warm) -> Status {
    EVK_ASSIGN_OR_RETURN(BaselineTimes bs, oracle_.TimeBaseline(seed, warm, calls, flush));
    tb.insert(tb.end(), bs.times_ns.begin(), bs.times_ns.end());
    return Status::Ok();
  };
  // First pass: kernel and baseline alternate in rounds, so drift hits both alike.
  // Round i gets its share of the calls, so each side makes exactly n calls in total. Later
  // rounds re-warm with one call (the other side ran in between), except for kernels slow
  // enough that instruction caches and branch predictors do not matter.
  auto share = [&](int n, int i) { return n * (i + 1) / rounds - n * i / rounds; };
  const int rewarm_k = est_k < kRewarmBelowNs ? 1 : 0, rewarm_b = est_b < kRewarmBelowNs ? 1 : 0;
  for (int i = 0; i < rounds; ++i) {
    EVK_ASSIGN_OR_RETURN(bool ok, time_kernel(share(n_k, i), i == 0 ? warmup_k : rewarm_k));
    if (!ok) return false;
    EVK_RETURN_IF_ERROR(time_baseline(share(n_b, i), rewarm_b));
  }
  // Re-measuring: only the side whose median is still uncertain gets more calls: as many as
  // its current spread says it needs (the standard error shrinks as 1/sqrt(calls)), with a
  // margin, at least a quarter and at most one pass's worth; and only while that fits in the
  // time cap (a slow kernel that stays noisy is flagged instead of costing many seconds more).
  const double cap_ns = kRemeasureBudgetFactor * opt_.timing_budget_s * 1e9;
  auto more_calls = [&](const std::vector<double>& v, int n) {
    Summary s = Summarise(v);
    double se = median_se(s);
    if (se <= opt_.noise_threshold) return 0;
    double need = double(s.n) * ((se / opt_.noise_threshold) * (se / opt_.noise_threshold) - 1) * 1.3;
    int calls = static_cast<int>(std::clamp(std::ceil(need), std::ceil(n / 4.0), double(n)));
    return calls * (s.median + overhead) <= cap_ns ? calls : 0;
  };
  int passes = 1;
  for (; passes <= opt_.max_remeasure; ++passes) {
    int more_k = more_calls(tk, n_k), more_b = more_calls(tb, n_b);
    if (!more_k && !more_b) break;
    if (more_k) {
      EVK_ASSIGN_OR_RETURN(bool ok, time_kernel(more_k, rewarm_k));
      if (!ok) return false;
    }
    if (more_b) EVK_RETURN_IF_ERROR(time_baseline(more_b, rewarm_b));
  }
  r.timing_passes = passes;
  r.kernel_ns = Summarise(tk);
  r.baseline_ns = Summarise(tb);
  r.noisy = median_se(r.kernel_ns) > opt_.noise_threshold || median_se(r.baseline_ns) > opt_.noise_threshold;
  r.timed = true;
  r.speedup = r.kernel_ns.median > 0 ? r.baseline_ns.median / r.kernel_ns.median : 0;
  r.speedup_mean = r.kernel_ns.mean > 0 ? r.baseline_ns.mean / r.kernel_ns.mean : 0;
  r.settings["timing_trials"] = {{"kernel", tk.size()}, {"baseline", tb.size()}, {"rounds", rounds},
                                 {"passes", r.timing_passes}, {"kernel_warmup", warmup_k}};
  r.settings["timing_median_rel_se"] = {{"kernel", median_se(r.kernel_ns)}, {"baseline", median_se(r.baseline_ns)}};
  r.settings["timing_overhead_ms_per_call"] = overhead / 1e6;

  // A kernel that is much faster on inputs it has already seen than on new ones is caching
  // results by content. Honest kernels take the same time on both.
  // The margins are wide on purpose: a result cache makes repeated inputs many times faster
  // (a lookup instead of the computation), while noise on a busy machine must never fail an
  // honest kernel.
  // With 5 or more calls of each kind the quartiles must separate; with fewer (slow kernels
  // get as few as 5 timed calls in all) every fresh call must take over twice the slowest
  // seen one.
  if (seen.size() >= 2 && fresh.size() >= 2) {
    Summary ss = Summarise(seen), sf = Summarise(fresh);
    r.settings["seen_vs_fresh_median_ms"] = {ss.median / 1e6, sf.median / 1e6};
    const bool separated = seen.size() >= 5 && fresh.size() >= 5 ? sf.p25 > 2 * ss.p75 : sf.min > 2 * ss.max;
    if (sf.median > 3 * ss.median && separated && sf.median - ss.median > 50e3) {
      r.failure = "cached_result";
      r.feedback = "while being timed, the kernel took " + std::to_string(ss.median / 1e6) + " ms (median) on inputs it had "
                   "seen before but " + std::to_string(sf.median / 1e6) + " ms on new inputs: results must be computed on "
                   "every call, not looked up from earlier calls";
      r.timed = false;
      return false;
    }
  }
  if (opt_.roofline) {
    if (!peaks_) peaks_ = LoadOrMeasurePeaks(opt_.threads);  // once per verifier
    const Result<MachinePeaks>& peaks = *peaks_;
    if (!peaks.ok()) {
      r.roofline_note = "roofline check not done: " + peaks.status().message();
    } else {
      r.roofline = ComputeRoofline(spec_, *peaks, r.kernel_ns.median);
      r.baseline_roofline_fraction = ComputeRoofline(spec_, *peaks, r.baseline_ns.median).fraction;
      if (r.roofline->fraction > kRooflineReviewFraction)
        r.review.push_back(fmt::format(
            "median {:.4g} ms is below the roofline bound of this machine ({:.4g} ms: {:.4g} GFLOP at {:.4g} GFLOP/s, "
            "{:.4g} MB at {:.4g} GB/s): faster than physically possible, so the timing or the work estimate is wrong; "
            "flagged for review, not trusted",
            r.kernel_ns.median / 1e6, r.roofline->bound_ns / 1e6, std::max(r.roofline->flops, 0.0) / 1e9,
            r.roofline->peak_flops_per_s / 1e9, r.roofline->bytes / 1e6, r.roofline->bandwidth_bytes_per_s / 1e9));
    }
  } else {
    r.roofline_note = "roofline check disabled";
  }
  if (r.speedup > opt_.review_speedup)
    r.review.push_back("speedup " + std::to_string(r.speedup) + "x exceeds " + std::to_string(opt_.review_speedup) +
                       "x: flagged for review (KernelBench's rule), not trusted");
  return true;
}

nlohmann::json EvalResult::ToJson() const {
  auto ms_or_null = [&](double ns) { return timed ? nlohmann::json(ns / 1e6) : nlohmann::json(nullptr); };
  nlohmann::json trials_j = nlohmann::json::array();
  for (const auto& t : trials) {
    nlohmann::json outs = nlohmann::json::array();
    for (const auto& o : t.outputs) outs.push_back(o.ToJson());
    trials_j.push_back({{"seed", t.seed}, {"distribution", t.distribution}, {"passed", t.passed}, {"outputs", outs}});
  }
  nlohmann::json j = {
      {"task", task},
      {"backend", backend},
      {"kernel", kernel},
      {"kernel_sha256", kernel_sha256},
      {"feasible", feasible},
      {"compiled", compiled},
      {"correctness", correctness},
      {"failed_stage", failed_stage == Stage::kNone ? nlohmann::json(nullptr)
                                                    : nlohmann::json(std::string(StageName(failed_stage)))},
      {"failure", failure.empty() ? nlohmann::json(nullptr) : nlohmann::json(failure)},
      {"feedback", feedback},
      {"mean_ms", ms_or_null(kernel_ns.mean)},
      {"median_ms", ms_or_null(kernel_ns.median)},
      {"iqr_ms", ms_or_null(kernel_ns.iqr())},
      {"baseline_mean_ms", ms_or_null(baseline_ns.mean)},
      {"baseline_median_ms", ms_or_null(baseline_ns.median)},
      {"baseline_iqr_ms", ms_or_null(baseline_ns.iqr())},
      {"speedup_vs_baseline", timed ? nlohmann::json(speedup) : nlohmann::json(nullptr)},
      {"speedup_vs_baseline_mean", timed ? nlohmann::json(speedup_mean) : nlohmann::json(nullptr)},
      {"correctness_trials", trials_j},
      {"check_findings", build.check.ToJson()},
      {"build", {{"ok", build.ok}, {"cached", build.cached}, {"seconds", build.seconds},
                 {"hash", build.hash}, {"command", build.command},
                 {"warnings", build.ok ? build.feedback : ""}}},
      {"stage_seconds", stage_seconds},
      {"settings", settings},
      {"env", env}};
  if (timed) {
    j["timing"] = {{"kernel_ms", kernel_ns.ToJson(1e-6)}, {"baseline_ms", baseline_ns.ToJson(1e-6)},
                   {"noisy", noisy}, {"passes", timing_passes}};
  }
  if (roofline) {
    j["roofline"] = roofline->ToJson();
    j["roofline"]["baseline_fraction"] = baseline_roofline_fraction;
  } else {
    j["roofline"] = nullptr;
  }
  if (!roofline_note.empty()) j["roofline_note"] = roofline_note;
  j["review"] = review;
  j["speedup_trusted"] = timed && review.empty() && !noisy;
  return j;
}

}  // namespace evokernel
