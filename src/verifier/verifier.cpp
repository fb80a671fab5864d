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

// Memory the runner may hold in resident input sets (seen and fresh): more fresh sets for small
// tasks, at least two for any.
constexpr size_t kResidentSetBytes = size_t{1536} << 20;
// Oracle time the fresh sets of one evaluation may take (each is one reference run).
constexpr double kFreshSetSeconds = 1.0;
// Bytes of outputs compared in full per timing pass, at most (beyond one call of each kind).
constexpr size_t kFullCheckBytes = size_t{64} << 20;

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

Result<std::unique_ptr<KernelSession>> Verifier::StartSession(const BuildResult& build, const fs::path& dir,
                                                               int slots, size_t flush, std::string* category) {
  SessionOptions so;
  so.argv = RunnerCommand(backend_, build, opt_.threads);
  so.threads = opt_.threads;
  so.work_dir = dir;
  so.limits = opt_.limits;
  so.memory_limit = opt_.limits.address_space_bytes;
  so.limits.address_space_bytes = 0;  // the runner applies it to the kernel's process
  so.load_timeout = std::max(opt_.call_timeout, milliseconds(10000));
  so.slots = slots;
  so.flush_bytes = flush;
  return KernelSession::Start(so, spec_, category);
}

Result<EvalResult> Verifier::Evaluate(std::string_view source, std::string_view label, const Incumbent* incumbent) {
  EvalResult r;
  r.task = spec_.ref.id;
  r.backend = std::string(backend_.name());
  r.baseline_device = std::string(backend_.baseline_device());
  if (r.baseline_device != "cpu")
    return Status(StatusCode::kUnavailable, "backend '" + r.backend + "' needs its PyTorch baseline on '" +
                                                r.baseline_device + "', but the oracle runs PyTorch on the CPU only");
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
                {"noise_threshold", opt_.noise_threshold}, {"trust_noise", opt_.trust_noise},
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
  EVK_ASSIGN_OR_RETURN(fs::path dir, MakeOwnedTempDir(kRunnerDirPrefix));
  ScopedDir cleanup(dir);
  // Slots: the seen sets, one for the other correctness trials, and fresh sets, as many as
  // fit in the memory budget for resident input sets.
  size_t set_bytes = 0;
  for (size_t i = 0; i < spec_.num_inputs(); ++i)
    set_bytes += static_cast<size_t>(NumElements(spec_.args[i].shape)) * DTypeSize(spec_.args[i].dtype);
  const int fresh_room = static_cast<int>(std::clamp<size_t>(
      kResidentSetBytes / std::max<size_t>(set_bytes, 1), kSeenSets + 1 + 2, kSeenSets + 1 + kMaxFreshSets)) - (kSeenSets + 1);
  std::string load_category;
  auto session = StartSession(r.build, dir, kSeenSets + 1 + fresh_room, flush, &load_category);
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
  TimingSets sets;
  sets.reference.resize(static_cast<size_t>((*session)->slots()));
  EVK_ASSIGN_OR_RETURN(bool correct, CheckCorrectness(**session, r, atol, rtol, elapsed, sets));
  r.stage_seconds["correctness"] = Since(t0);
  if (!correct) return r;
  r.correctness = true;
  r.feasible = true;

  // timing
  if (opt_.timing) {
    if (opt_.on_stage) opt_.on_stage(Stage::kTiming);
    // Set-up outside the gate: the oracle builds the baseline's model and inputs for the
    // timing seed, and the fresh input sets are made and loaded.
    t0 = Clock::now();
    EVK_RETURN_IF_ERROR(oracle_.TimeBaseline(r.trials.front().seed, 0, 0, flush).status());
    double est = elapsed.empty() ? 1e6 : *std::min_element(elapsed.begin(), elapsed.end());
    // Fresh sets cost a reference run each: as many as a quarter of the timed calls, but no
    // more than about kFreshSetSeconds of the oracle's time, and at least two.
    const int affordable = static_cast<int>(kFreshSetSeconds / std::max(sets.trial_seconds, 1e-3));
    const int fresh = std::clamp(std::min(static_cast<int>(std::ceil(TimedCallsFor(est, 0) / 4.0)), affordable), 2,
                                 std::max(2, (*session)->slots() - (kSeenSets + 1)));
    Status loaded = LoadFreshSets(**session, r, fresh, sets);
    if (!loaded.ok()) {
      r.stage_seconds["timing_setup"] = Since(t0);
      if (!IsKernelFault(loaded)) return loaded;
      r.feasible = false;
      r.failed_stage = Stage::kTiming;
      r.failure = Category(loaded, session->get());
      r.feedback = loaded.message();
      return r;
    }
    // The incumbent, when there is one, is built and loaded now too, in its own directory.
    std::optional<ScopedDir> incumbent_cleanup;
    std::unique_ptr<KernelSession> incumbent_session;
    if (incumbent) {
      EVK_ASSIGN_OR_RETURN(fs::path inc_dir, MakeOwnedTempDir(kRunnerDirPrefix));
      incumbent_cleanup.emplace(inc_dir);
      EVK_ASSIGN_OR_RETURN(incumbent_session, PrepareIncumbent(*incumbent, inc_dir, r, flush));
    }
    r.stage_seconds["timing_setup"] = Since(t0);
    std::unique_lock<std::mutex> gate;
    if (opt_.timing_gate) {
      t0 = Clock::now();
      gate = std::unique_lock<std::mutex>(*opt_.timing_gate);
      r.stage_seconds["timing_wait"] = Since(t0);
    }
    t0 = Clock::now();
    CpuLoadWindow load;
    auto timed = Time(**session, r, r.trials.front().seed, est, sets, atol, rtol);
    r.machine_load = load.Close(opt_.threads);
    if (timed.ok() && *timed && r.timed && r.speedup > opt_.review_speedup)
      timed = ConfirmHighSpeedup(**session, r, atol, rtol);
    r.stage_seconds["timing"] = Since(t0);
    if (timed.ok() && *timed && r.timed && incumbent_session) {
      t0 = Clock::now();
      timed = TimePaired(**session, *incumbent_session, r, sets, atol, rtol);
      r.stage_seconds["paired_timing"] = Since(t0);
    } else if (timed.ok() && *timed && incumbent && r.vs_incumbent_note.empty()) {
      r.vs_incumbent_note = "not compared: the kernel was not timed";
    }
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

// Feedback-ready check of what the runner observed around calls. Returns the failure
// category, or "" when the calls behaved.
std::string CallViolation(const CallObservations& obs, const std::vector<std::string>& late_writes,
                          const TaskSpec& spec, int threads, std::string& feedback) {
  if (!obs.canary.empty()) {
    const CanaryHit& hit = obs.canary[0];
    feedback = std::string("the kernel wrote ") + (hit.side == "after" ? "past the end of " : "before the start of ") +
               (hit.output ? "output '" : "argument '") + hit.name + "'";
    for (const auto& a : spec.args)
      if (a.name == hit.name)
        feedback += " (it has " + std::to_string(NumElements(a.shape)) + " elements, shape " + ShapeString(a.shape) + ")";
    return hit.output && hit.side == "after" ? "output_overflow" : "out_of_bounds";
  }
  if (!obs.modified_inputs.empty()) {
    feedback = "the kernel modified its read-only argument '" + obs.modified_inputs[0] +
               "'; inputs and parameters must not be written";
    return "input_modified";
  }
  if (!late_writes.empty()) {
    feedback = "output '" + late_writes[0] +
               "' changed after the kernel returned: all work must finish before evokernel_forward returns";
    return "work_after_return";
  }
  if (obs.threads > std::max(obs.threads_granted, 1)) {
    feedback = std::to_string(obs.threads) + " threads were alive after the kernel returned, but " +
               std::to_string(obs.threads_granted) + " are granted (--threads " + std::to_string(threads) +
               "): use at most omp_get_max_threads() threads and start none that outlive the call";
    return "too_many_threads";
  }
  if (obs.fp_changed) {
    feedback = std::string("the kernel left the floating-point environment changed (") +
               ((obs.fp_changed & 1) ? "SSE control: flush-to-zero, denormals-are-zero or rounding" : "") +
               ((obs.fp_changed & 2) ? std::string(obs.fp_changed & 1 ? "; " : "") + "x87 control word" : "") +
               ((obs.fp_changed & 4) ? std::string(obs.fp_changed & 3 ? "; " : "") + "in a worker thread" : "") +
               "): a kernel may change it during a call but must restore it before returning";
    return "fp_environment";
  }
  return "";
}

}  // namespace

Result<bool> Verifier::CheckCorrectness(KernelSession& session, EvalResult& r, double atol, double rtol,
                                        std::vector<double>& elapsed, TimingSets& sets) {
  const uint64_t base_seed = r.settings["seed"].get<uint64_t>();
  const int n = std::max(1, opt_.correctness_trials);
  const int hidden = std::clamp(opt_.hidden_trials, 0, n - 1);
  static const char* kHidden[] = {"outliers", "scaled"};
  const int scratch = kSeenSets;  // slot of the trials not kept for timing
  int last_slot = -1;
  for (int k = 0; k < n; ++k) {
    uint64_t seed = base_seed + static_cast<uint64_t>(k) * 7919;
    bool is_hidden = k >= n - hidden;
    std::string distribution = is_hidden ? kHidden[(k - (n - hidden)) % 2] : "default";
    // Feedback never says how a hidden distribution differs: models must not tune for it.
    std::string where = "correctness trial " + std::to_string(k + 1) + " of " + std::to_string(n) +
                        (is_hidden ? " (hidden input distribution, seed " : " (seed ") + std::to_string(seed) + ")";
    auto trial_start = Clock::now();
    EVK_ASSIGN_OR_RETURN(Trial trial, oracle_.MakeTrial(seed, distribution));
    sets.trial_seconds = std::max(sets.trial_seconds, Since(trial_start));
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
    // Each trial's set goes into its own slot (the seen sets stay for timing), so arguments
    // sit at new addresses from trial to trial: a kernel correct only where its arguments
    // were first is caught. The other trials share a slot, and the last of them runs at the
    // very addresses of the one before it, with new content: a kernel that keys results on
    // addresses returns the previous trial's.
    const bool keep = !is_hidden && static_cast<int>(sets.seen.size()) < kSeenSets;
    const int slot = keep ? static_cast<int>(sets.seen.size()) : scratch;
    const bool same_addresses = !keep && slot == last_slot;
    last_slot = slot;
    Status loaded = session.Load(slot, std::move(trial.inputs));
    if (!loaded.ok()) {
      if (!IsKernelFault(loaded)) return loaded;
      return fail(Category(loaded, &session), loaded.message());
    }
    auto run = session.Run(slot, opt_.call_timeout, same_addresses);
    if (!run.ok()) {
      if (!IsKernelFault(run.status())) return run.status();
      return fail(Category(run.status(), &session), run.status().message());
    }
    elapsed.push_back(run->latency_ns);
    std::string feedback;
    if (std::string v = CallViolation(run->obs, run->late_writes, spec_, opt_.threads, feedback); !v.empty())
      return fail(v, feedback);
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
    // The first trial runs again on the same inputs: a kernel must agree with itself. With
    // several threads a race shows only when they overlap, so it runs more times
    // (kMultiThreadReruns); a race that never shows cannot be caught by running.
    const int reruns = k == 0 ? (opt_.threads > 1 ? kMultiThreadReruns : 1) : 0;
    for (int rep_i = 0; rep_i < reruns; ++rep_i) {
      auto second = session.Run(slot, opt_.call_timeout);
      if (!second.ok()) {
        if (!IsKernelFault(second.status())) return second.status();
        return fail(Category(second.status(), &session), "second run on the same inputs: " + second.status().message());
      }
      if (std::string v = CallViolation(second->obs, second->late_writes, spec_, opt_.threads, feedback); !v.empty())
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
    if (keep) {
      sets.seen.push_back(slot);
      sets.reference[static_cast<size_t>(slot)] = std::move(trial.outputs);
    }
    r.trials.push_back(std::move(tr));
  }
  return true;
}

Status Verifier::LoadFreshSets(KernelSession& session, EvalResult& r, int count, TimingSets& sets) {
  const uint64_t base_seed = r.settings["seed"].get<uint64_t>();
  const int first = kSeenSets + 1;
  for (int i = 0; i < count && first + i < session.slots(); ++i) {
    const uint64_t seed = base_seed + 1000003 + static_cast<uint64_t>(i) * 7919;
    EVK_ASSIGN_OR_RETURN(Trial trial, oracle_.MakeTrial(seed, "default"));
    if (trial.inputs.size() != spec_.num_inputs() || trial.outputs.size() != spec_.num_outputs())
      return Internal("oracle trial does not match the contract of " + spec_.ref.id);
    const int slot = first + i;
    EVK_RETURN_IF_ERROR(session.Load(slot, std::move(trial.inputs)));
    sets.fresh.push_back(slot);
    sets.reference[static_cast<size_t>(slot)] = std::move(trial.outputs);
  }
  r.settings["timing_sets"] = {{"seen", sets.seen.size()}, {"fresh", sets.fresh.size()}};
  return Status::Ok();
}

namespace {

// Timed calls per side and pass for a call of `est` ns costing `overhead` ns outside the
// measured interval.
// What was wrong with a timed call's outputs (its samples, and all of them when the call was
// compared in full) against the reference outputs `want`; "" when nothing was.
std::string WrongOutput(const TimingReply& reply, const TimedCall& call, const std::vector<Tensor>& want,
                        const TaskSpec& spec, double atol, double rtol) {
  for (size_t o = 0; o < call.samples.size() && o < want.size(); ++o) {
    const std::string& name = spec.args[spec.num_inputs() + o].name;
    for (const Sample& smp : call.samples[o]) {
      if (smp.poison) return "the kernel left " + name + IndexString(want[o].shape(), smp.index) + " unwritten";
      double e = want[o].GetAsDouble(smp.index);
      if (!ElementMatches(want[o].dtype(), e, smp.value, atol, rtol))
        return "the kernel returned " + std::to_string(smp.value) + " at " + name +
               IndexString(want[o].shape(), smp.index) + " where the reference is " + std::to_string(e);
    }
  }
  if (call.full) {
    for (size_t o = 0; o < want.size(); ++o) {
      OutputReport rep = CompareOutput(want[o], reply.outputs[call.first_output + o], atol, rtol);
      rep.name = spec.args[spec.num_inputs() + o].name;
      if (!rep.passed) return "outputs differed from the PyTorch reference (" + rep.Describe() + ")";
    }
  }
  return "";
}

int TimedCallsImpl(const VerifyOptions& o, double est, double overhead) {
  if (o.timing_trials > 0) return o.timing_trials;
  double n = o.timing_budget_s * 1e9 / std::max(est + overhead, 1.0);
  // At least min_timing_trials calls, and for kernels of a few ms or more at least
  // kMinTimingSpan seconds of them (up to 16 calls): a median taken over a longer span is
  // less exposed to a passing disturbance of the machine.
  // A slow kernel needs fewer: its calls are long compared with any disturbance, so the
  // floor drops towards 5 calls once min_timing_trials of them would take over a second
  // (the noise check still asks for more when they disagree).
  double floor_n = std::clamp(std::ceil(1e9 / std::max(est, 1.0)), std::min(5.0, double(o.min_timing_trials)),
                              double(o.min_timing_trials));
  double lo = std::clamp(kMinTimingSpanS * 1e9 / std::max(est, 1.0), floor_n, std::max(16.0, floor_n));
  return static_cast<int>(std::clamp(n, lo, std::max(lo, double(o.max_timing_trials))));
}

}  // namespace

int Verifier::TimedCallsFor(double est_ns, double overhead_ns) const { return TimedCallsImpl(opt_, est_ns, overhead_ns); }

Result<bool> Verifier::Time(KernelSession& session, EvalResult& r, uint64_t seed, double est_k,
                            const TimingSets& sets, double atol, double rtol) {
  const size_t flush = r.settings["flush_bytes"].get<size_t>();
  // The baseline runs on the inputs of the first trial, which is also the first seen set. The
  // minimum of a short probe sizes it: first calls after a (re)build of the model pay page
  // faults. The probe also reports the per-call cost outside the measured interval (the cache
  // flush), which the budget must include.
  EVK_ASSIGN_OR_RETURN(BaselineTimes probe, oracle_.TimeBaseline(seed, opt_.warmup, 3, flush));
  const double est_b = Summarise(probe.times_ns).min;
  const double overhead = probe.overhead_ns;
  double overhead_k = overhead;  // updated from the runner's replies
  // Warm-up by time (as many calls as fit in 50 ms, at least 1). A kernel slower than
  // kRewarmBelowNs gets none: it has just run in this process for the correctness trials, and
  // a cold instruction cache is nothing next to a call that long.
  const int warmup_k = est_k >= kRewarmBelowNs
                           ? 0
                           : std::clamp(static_cast<int>(std::ceil(50e6 / std::max(est_k, 1.0))), 1, std::max(opt_.warmup, 1));
  const int n_k = TimedCallsImpl(opt_, est_k, overhead_k), n_b = TimedCallsImpl(opt_, est_b, overhead);
  const int rounds = std::clamp(opt_.timing_rounds, 1, std::min(n_k, n_b));
  std::vector<double> tk, tb, seen, fresh;
  std::mt19937_64 rng(seed * 31 + 7);
  // Relative standard error of a median from n samples with this IQR (normal approximation:
  // sigma ~ IQR / 1.349, SE(median) ~ 1.2533 sigma / sqrt(n)).
  auto median_se = [](const Summary& s) {
    return s.median > 0 && s.n > 0 ? 1.2533 * (s.iqr() / 1.349) / std::sqrt(double(s.n)) / s.median : 0.0;
  };
  // Where the fresh sets go in the first pass: random timed calls, each set once. A fresh
  // set becomes a seen one after its call.
  std::vector<int> fresh_left = sets.fresh;
  std::vector<bool> fresh_at(static_cast<size_t>(n_k), false);
  {
    std::vector<int> pos(static_cast<size_t>(n_k));
    for (int i = 0; i < n_k; ++i) pos[static_cast<size_t>(i)] = i;
    std::shuffle(pos.begin(), pos.end(), rng);
    for (size_t i = 0; i < fresh_left.size() && i < pos.size(); ++i) fresh_at[static_cast<size_t>(pos[i])] = true;
  }
  std::vector<int> seen_pool = sets.seen;
  // Calls compared in full: a quarter of them, fewer for large outputs (each is copied,
  // transferred and compared: about kFullCheckBytes per pass at most).
  size_t out_bytes = 0;
  for (size_t o = spec_.num_inputs(); o < spec_.args.size(); ++o)
    out_bytes += static_cast<size_t>(NumElements(spec_.args[o].shape)) * DTypeSize(spec_.args[o].dtype);
  const double full_share = std::min(kFullCheckShare, double(kFullCheckBytes) / std::max<double>(1.0, double(out_bytes) * n_k));
  r.settings["timing_full_check_share"] = full_share;
  int timed_calls = 0;
  bool full_seen = false, full_fresh = false;
  std::string round_trip_note;
  // One request: `warm` warm-up calls then `calls` timed ones. Every call's outputs are
  // poisoned before it and sampled after it; about a quarter are compared in full. Which ones
  // is decided here and never visible to the kernel.
  auto time_kernel = [&](int calls, int warm) -> Result<bool> {
    std::vector<TimingCallRequest> req;
    std::vector<bool> is_fresh;
    for (int i = 0; i < warm + calls; ++i) {
      TimingCallRequest c;
      bool f = false;
      if (i >= warm) {
        const int idx = timed_calls + (i - warm);
        if (idx < n_k && fresh_at[static_cast<size_t>(idx)] && !fresh_left.empty()) {
          c.slot = fresh_left.back();
          fresh_left.pop_back();
          f = true;
        }
      }
      if (!f) c.slot = seen_pool[rng() % seen_pool.size()];
      c.full = std::uniform_real_distribution<double>(0, 1)(rng) < full_share;
      req.push_back(c);
      is_fresh.push_back(f);
    }
    // At least one timed call of each kind is compared in full.
    if (!full_seen || !full_fresh) {
      for (size_t i = req.size(); i-- > static_cast<size_t>(warm);) {
        if (is_fresh[i] && !full_fresh) { req[i].full = true; full_fresh = true; }
        if (!is_fresh[i] && !full_seen) { req[i].full = true; full_seen = true; }
      }
    }
    double est_total_ms = est_k * (calls + warm) / 1e6;
    auto timeout = milliseconds(static_cast<int64_t>(est_total_ms * 20)) + opt_.call_timeout;
    EVK_ASSIGN_OR_RETURN(TimingReply reply, session.Time(req, rng(), kSamplesPerOutput, timeout));
    if (reply.overhead_ns > 0) overhead_k = std::max(overhead, reply.overhead_ns);
    r.settings["timing_round_trip_us"] = reply.round_trip_ns / 1e3;
    std::string feedback;
    if (std::string v = CallViolation(reply.obs, {}, spec_, opt_.threads, feedback); !v.empty()) {
      r.failure = v;
      r.feedback = "while being timed, " + feedback;
      return false;
    }
    for (size_t c = 0; c < reply.calls.size(); ++c) {
      const TimedCall& call = reply.calls[c];
      const auto& want = sets.reference[static_cast<size_t>(call.slot)];
      const bool was_fresh = is_fresh[c];
      // The outputs of every call, warm-ups included, must be those of its inputs.
      auto wrong = [&](const std::string& what) {
        r.failure = was_fresh ? "wrong_answer" : "inconsistent_result";
        r.feedback = "while being timed, " + what +
                     (was_fresh ? " on inputs it had not been given before"
                                : " on inputs on which it had already returned correct outputs") +
                     ": outputs must be computed on every call, completely (not reused or skipped across calls by "
                     "pointer, shape, content or call count) and must not depend on thread timing (no data races)";
        return false;
      };
      if (std::string what = WrongOutput(reply, call, want, spec_, atol, rtol); !what.empty()) return wrong(what);
      if (static_cast<int>(c) < warm) continue;
      (was_fresh ? fresh : seen).push_back(call.latency_ns);
      tk.push_back(call.latency_ns);
    }
    for (int s : sets.fresh)
      if (std::find(fresh_left.begin(), fresh_left.end(), s) == fresh_left.end() &&
          std::find(seen_pool.begin(), seen_pool.end(), s) == seen_pool.end())
        seen_pool.push_back(s);
    timed_calls += calls;
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
  // Where the first half of the rounds ends on each side (the split-half check below).
  size_t half_k = 0, half_b = 0;
  for (int i = 0; i < rounds; ++i) {
    EVK_ASSIGN_OR_RETURN(bool ok, time_kernel(share(n_k, i), i == 0 ? warmup_k : rewarm_k));
    if (!ok) return false;
    EVK_RETURN_IF_ERROR(time_baseline(share(n_b, i), rewarm_b));
    if (i + 1 == rounds / 2) {
      half_k = tk.size();
      half_b = tb.size();
    }
  }
  const size_t end_k = tk.size(), end_b = tb.size();
  // Re-measuring: only the side whose median is still uncertain gets more calls: as many as
  // its current spread says it needs (the standard error shrinks as 1/sqrt(calls)), with a
  // margin, at least a quarter and at most one pass's worth; and only while that fits in the
  // time cap (a slow kernel that stays noisy is flagged instead of costing many seconds more).
  const double cap_ns = kRemeasureBudgetFactor * opt_.timing_budget_s * 1e9;
  auto more_calls = [&](const std::vector<double>& v, int n, double per_call_overhead) {
    Summary s = Summarise(v);
    double se = median_se(s);
    if (se <= opt_.noise_threshold) return 0;
    double need = double(s.n) * ((se / opt_.noise_threshold) * (se / opt_.noise_threshold) - 1) * 1.3;
    int calls = static_cast<int>(std::clamp(std::ceil(need), std::ceil(n / 4.0), double(n)));
    return calls * (s.median + per_call_overhead) <= cap_ns ? calls : 0;
  };
  int passes = 1;
  for (; passes <= opt_.max_remeasure; ++passes) {
    int more_k = more_calls(tk, n_k, overhead_k), more_b = more_calls(tb, n_b, overhead);
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
  r.too_noisy = median_se(r.kernel_ns) > opt_.trust_noise || median_se(r.baseline_ns) > opt_.trust_noise;
  // Other work on the machine widens every call's spread, so the medians' standard errors
  // (from the IQR) come out large although kernel and baseline, timed in alternating rounds,
  // were slowed alike. What a speedup needs is to be reproducible: the speedup of the first
  // half of the rounds and that of the second half must agree within 2 * trust_noise.
  if (r.too_noisy && half_k >= 3 && half_b >= 3 && end_k - half_k >= 3 && end_b - half_b >= 3) {
    auto med = [](const std::vector<double>& v, size_t a, size_t b) {
      return Summarise(std::vector<double>(v.begin() + static_cast<std::ptrdiff_t>(a),
                                           v.begin() + static_cast<std::ptrdiff_t>(b)))
          .median;
    };
    const double s1 = med(tb, 0, half_b) / std::max(med(tk, 0, half_k), 1e-9);
    const double s2 = med(tb, half_b, end_b) / std::max(med(tk, half_k, end_k), 1e-9);
    const double split = std::abs(s1 - s2) / std::max((s1 + s2) / 2, 1e-12);
    r.settings["timing_split_half_speedups"] = {s1, s2};
    if (split <= 2 * opt_.trust_noise) r.too_noisy = false;
  }
  r.timed = true;
  r.speedup = r.kernel_ns.median > 0 ? r.baseline_ns.median / r.kernel_ns.median : 0;
  r.speedup_mean = r.kernel_ns.mean > 0 ? r.baseline_ns.mean / r.kernel_ns.mean : 0;
  r.settings["timing_trials"] = {{"kernel", tk.size()}, {"baseline", tb.size()}, {"rounds", rounds},
                                 {"passes", r.timing_passes}, {"kernel_warmup", warmup_k},
                                 {"fresh", fresh.size()}, {"seen", seen.size()}};
  r.settings["timing_median_rel_se"] = {{"kernel", median_se(r.kernel_ns)}, {"baseline", median_se(r.baseline_ns)}};
  r.settings["timing_overhead_ms_per_call"] = {{"kernel", overhead_k / 1e6}, {"baseline", overhead / 1e6}};

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
    if (!peaks_) {  // once per verifier
      auto probe = backend_.Peaks(opt_.threads);
      peaks_ = probe.ok() ? LoadOrMeasurePeaks(probe->device, probe->argv, opt_.threads) : Result<MachinePeaks>(probe.status());
    }
    const Result<MachinePeaks>& peaks = *peaks_;
    if (!peaks.ok()) {
      r.roofline_note = "roofline check not done: " + peaks.status().message();
    } else {
      r.roofline = ComputeRoofline(spec_, *peaks, r.kernel_ns.median);
      if (r.roofline->fraction > kRooflineReviewFraction && !peaks_remeasured_) {
        // Peaks measured while the machine was busy come out low and would make honest kernels
        // "faster than possible": measure again (the cache keeps the higher figures, never the
        // lower) and judge against the new ones.
        peaks_remeasured_ = true;
        if (auto probe = backend_.Peaks(opt_.threads); probe.ok()) {
          auto again = LoadOrMeasurePeaks(probe->device, probe->argv, opt_.threads, /*remeasure=*/true);
          if (again.ok()) {
            peaks_ = std::move(again);
            r.roofline = ComputeRoofline(spec_, **peaks_, r.kernel_ns.median);
            r.roofline_note = "the device's peaks were measured again because this kernel beat the cached ones";
          }
        }
      }
      r.baseline_roofline_fraction = ComputeRoofline(spec_, **peaks_, r.baseline_ns.median).fraction;
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
  return true;
}

Result<bool> Verifier::ConfirmHighSpeedup(KernelSession& session, EvalResult& r, double atol, double rtol) {
  // KernelBench distrusts any speedup above 10x. Some are real (PyTorch's CPU max-pooling is
  // tens of times slower than a good kernel), so instead of excluding them the kernel must
  // pass more: correct outputs on more fresh inputs (also of the hidden distributions), and a
  // latency the machine's roofline bound allows.
  nlohmann::json checks = {{"speedup", r.speedup}, {"threshold", opt_.review_speedup}};
  const uint64_t base_seed = r.settings["seed"].get<uint64_t>() + 2000003;
  static const char* kDistributions[] = {"default", "outliers", "default", "scaled"};
  const int n = std::max(1, opt_.high_speedup_trials);
  for (int k = 0; k < n; ++k) {
    const uint64_t seed = base_seed + static_cast<uint64_t>(k) * 7919;
    const std::string distribution = kDistributions[k % 4];
    const std::string where = "an extra check of a speedup above " + fmt::format("{:g}", opt_.review_speedup) +
                              "x (fresh inputs " + std::to_string(k + 1) + " of " + std::to_string(n) + ")";
    auto fail = [&](std::string category, std::string feedback) {
      r.feasible = false;
      r.failed_stage = Stage::kCorrectness;
      r.failure = std::move(category);
      r.feedback = where + ": " + feedback;
      return false;
    };
    EVK_ASSIGN_OR_RETURN(Trial trial, oracle_.MakeTrial(seed, distribution));
    if (trial.inputs.size() != spec_.num_inputs() || trial.outputs.size() != spec_.num_outputs())
      return Internal("oracle trial does not match the contract of " + spec_.ref.id);
    Status loaded = session.Load(kSeenSets, std::move(trial.inputs));
    if (!loaded.ok()) {
      if (!IsKernelFault(loaded)) return loaded;
      return fail(Category(loaded, &session), loaded.message());
    }
    auto run = session.Run(kSeenSets, opt_.call_timeout);
    if (!run.ok()) {
      if (!IsKernelFault(run.status())) return run.status();
      return fail(Category(run.status(), &session), run.status().message());
    }
    std::string feedback;
    if (std::string v = CallViolation(run->obs, run->late_writes, spec_, opt_.threads, feedback); !v.empty())
      return fail(v, feedback);
    for (size_t i = 0; i < trial.outputs.size(); ++i) {
      OutputReport rep = CompareOutput(trial.outputs[i], run->outputs[i], atol, rtol);
      rep.name = spec_.args[spec_.num_inputs() + i].name;
      if (!rep.passed) return fail("wrong_answer", "outputs differ from the PyTorch reference: " + rep.Describe());
    }
  }
  checks["extra_fresh_trials"] = n;
  if (!r.roofline) {
    checks["roofline"] = nullptr;
    r.review.push_back(fmt::format(
        "speedup {:.4g}x exceeds {:g}x and the roofline bound could not confirm it ({}): flagged for review, "
        "not trusted",
        r.speedup, opt_.review_speedup, r.roofline_note.empty() ? "no peaks" : r.roofline_note));
  } else {
    checks["roofline_fraction"] = r.roofline->fraction;
  }
  // A roofline violation was already put under review by Time().
  checks["passed"] = r.review.empty();
  r.settings["high_speedup_checks"] = checks;
  return true;
}

Result<std::unique_ptr<KernelSession>> Verifier::PrepareIncumbent(const Incumbent& incumbent, const fs::path& dir,
                                                                   EvalResult& r, size_t flush) {
  const std::string sha = Sha256Hex(incumbent.source);
  r.settings["paired_timing"] = {{"incumbent", incumbent.label}, {"incumbent_sha256", sha}};
  auto not_compared = [&](const std::string& why) -> std::unique_ptr<KernelSession> {
    r.vs_incumbent_note = "not compared with the incumbent: " + why;
    return nullptr;
  };
  if (sha == r.kernel_sha256) return not_compared("it is the same source");
  EVK_ASSIGN_OR_RETURN(BuildResult build, Build(backend_, spec_, incumbent.source, opt_.build));
  if (build.check_failed || !build.ok)
    return not_compared(std::string(build.check_failed ? "it fails the anti-cheat checks now" : "it does not build") +
                        ": " + build.feedback.substr(0, 300));
  std::string category;
  auto session = StartSession(build, dir, 1, flush, &category);
  if (!session.ok()) {
    if (!IsKernelFault(session.status())) return session.status();
    return not_compared("its runner did not start: " + session.status().message());
  }
  // The inputs of the first correctness trial: the candidate's first seen set.
  EVK_ASSIGN_OR_RETURN(Trial trial, oracle_.MakeTrial(r.trials.front().seed, r.trials.front().distribution));
  if (Status st = (*session)->Load(0, std::move(trial.inputs)); !st.ok()) {
    if (!IsKernelFault(st)) return st;
    return not_compared("its inputs could not be loaded: " + st.message());
  }
  return std::move(*session);
}

Result<bool> Verifier::TimePaired(KernelSession& candidate, KernelSession& incumbent, EvalResult& r,
                                  const TimingSets& sets, double atol, double rtol) {
  // Both kernels run on the same inputs (the first seen set) in alternating blocks, A B B A:
  // whatever the rest of the machine does hits both sides of a round alike, and a drift within
  // a round cancels over two. Every call's outputs are sampled, as in Time().
  const int slot = sets.seen.front();
  const std::vector<Tensor>& want = sets.reference[static_cast<size_t>(slot)];
  const double full_share = r.settings.value("timing_full_check_share", kFullCheckShare);
  const double overhead = r.settings["timing_overhead_ms_per_call"].value("kernel", 0.0) * 1e6;
  std::mt19937_64 rng(r.settings["seed"].get<uint64_t>() * 131 + 17);
  nlohmann::json& detail = r.settings["paired_timing"];
  bool candidate_failed = false, incumbent_failed = false;
  // One block of `warm` + `calls` calls of one side; the timed calls' latencies go to `out`.
  auto block = [&](bool is_candidate, int calls, int warm, double est_ns, std::vector<double>& out) -> Status {
    KernelSession& s = is_candidate ? candidate : incumbent;
    std::vector<TimingCallRequest> req(static_cast<size_t>(warm + calls));
    for (auto& c : req) {
      c.slot = is_candidate ? slot : 0;
      c.full = std::uniform_real_distribution<double>(0, 1)(rng) < full_share;
    }
    auto timeout = milliseconds(static_cast<int64_t>(est_ns * (warm + calls) / 1e6 * 20)) + opt_.call_timeout;
    auto reply = s.Time(req, rng(), kSamplesPerOutput, timeout);
    std::string what;
    if (!reply.ok()) {
      if (is_candidate || !IsKernelFault(reply.status())) return reply.status();
      what = reply.status().message();
    } else {
      std::string feedback;
      if (std::string v = CallViolation(reply->obs, {}, spec_, opt_.threads, feedback); !v.empty()) {
        if (is_candidate) r.failure = v;
        what = feedback;
      }
      for (size_t c = 0; what.empty() && c < reply->calls.size(); ++c) {
        what = WrongOutput(*reply, reply->calls[c], want, spec_, atol, rtol);
        if (!what.empty() && is_candidate) r.failure = "inconsistent_result";
        if (what.empty() && static_cast<int>(c) >= warm) out.push_back(reply->calls[c].latency_ns);
      }
    }
    if (!what.empty()) {
      if (is_candidate) {
        candidate_failed = true;
        r.feedback = "while being timed against the current best kernel, " + what +
                     " on inputs on which it had already returned correct outputs";
      } else {
        incumbent_failed = true;
        r.vs_incumbent_note = "not compared with the incumbent: while being timed, " + what;
      }
    }
    return Status::Ok();
  };
  // The incumbent's first call sizes its side (the candidate's median is known).
  std::vector<double> probe;
  EVK_RETURN_IF_ERROR(block(false, 1, 1, r.kernel_ns.median, probe));
  if (incumbent_failed) return true;
  const double est = std::max(r.kernel_ns.median, probe.empty() ? 0.0 : probe.front());
  const int per_block = static_cast<int>(std::clamp(std::ceil(kPairedBlockNs / std::max(est, 1.0)), 1.0, 8.0));
  // One untimed call per block re-warms instruction caches and predictors after the other
  // side ran, where that matters (calls under a millisecond).
  const int rewarm = est < 1e6 ? 1 : 0;
  const double round_ns = 2.0 * (per_block + rewarm) * (est + overhead);
  const double budget_ns = opt_.paired_budget_s * 1e9;
  int rounds = static_cast<int>(budget_ns / round_ns);
  if (rounds < kMinPairedRounds)
    rounds = std::min(kMinPairedRounds, static_cast<int>(kPairedBudgetCap * budget_ns / round_ns));
  rounds = std::min(rounds, kMaxPairedRounds);
  detail["calls_per_block"] = per_block;
  if (rounds < 6) {
    r.vs_incumbent_note = fmt::format(
        "not compared with the incumbent: the 6 alternating rounds a 95% interval needs would take about {:.1f} s "
        "(calls of {:.4g} ms), more than {:g} paired budgets of {:g} s",
        6 * round_ns / 1e9, est / 1e6, kPairedBudgetCap, opt_.paired_budget_s);
    return true;
  }
  std::vector<double> tc, ti, log_ratios;
  CpuLoadWindow load;
  for (int i = 0; i < rounds; ++i) {
    std::vector<double> c, b;
    for (int side = 0; side < 2; ++side) {
      const bool is_candidate = (side == 0) == (i % 2 == 0);
      EVK_RETURN_IF_ERROR(block(is_candidate, per_block, rewarm, est, is_candidate ? c : b));
      if (candidate_failed) return false;
      if (incumbent_failed) return true;
    }
    tc.insert(tc.end(), c.begin(), c.end());
    ti.insert(ti.end(), b.begin(), b.end());
    const double mc = Summarise(c).median, mi = Summarise(b).median;
    if (mc > 0 && mi > 0) log_ratios.push_back(std::log(mc / mi));
  }
  r.vs_incumbent = EstimatePairedRatio(std::move(log_ratios));
  detail["rounds"] = rounds;
  detail["candidate_ms"] = Summarise(tc).ToJson(1e-6);
  detail["incumbent_ms"] = Summarise(ti).ToJson(1e-6);
  if (auto ml = load.Close(opt_.threads)) detail["machine_load"] = ml->ToJson();
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
      {"baseline_device", baseline_device},
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
                   {"noisy", noisy}, {"too_noisy", too_noisy}, {"passes", timing_passes}};
  }
  if (roofline) {
    j["roofline"] = roofline->ToJson();
    j["roofline"]["baseline_fraction"] = baseline_roofline_fraction;
  } else {
    j["roofline"] = nullptr;
  }
  if (!roofline_note.empty()) j["roofline_note"] = roofline_note;
  j["machine_load"] = machine_load ? machine_load->ToJson() : nlohmann::json(nullptr);
  j["machine_loaded"] = machine_loaded();
  j["review"] = review;
  j["speedup_trusted"] = speedup_trusted();
  if (vs_incumbent) j["vs_incumbent"] = vs_incumbent->ToJson();
  if (!vs_incumbent_note.empty()) j["vs_incumbent_note"] = vs_incumbent_note;
  return j;
}

}  // namespace evokernel
