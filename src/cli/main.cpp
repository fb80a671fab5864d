// evokernel: the command-line front end.
//
//   evokernel eval  --task T --kernel K [--backend cpu] [--json]   verify and time one kernel
//   evokernel tasks list|show|check                               browse and vet task suites
//   evokernel memory stats|list|show|export|import|prune|seed     the experience memory bank
//   evokernel machine                                             peaks used by the roofline check
//   evokernel llm ping                                            check the configured LLM endpoint
//   evokernel evolve --suite level1 --model M [--resume RUN]     draft and refine kernels with an LLM
//   evokernel report RUN [--format md|json|csv|html] | --compare A B  metrics, tables and plots of runs
//   evokernel version
//
// Exit codes: 0 success (for eval: the kernel is feasible), 1 the kernel is infeasible (eval) or
// a task is degenerate (tasks check), 2 evokernel could not do the job (bad task, bad option,
// missing dependency, internal error). Errors go to stderr; --json output goes to stdout.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "backend/backend.h"
#include "backend/registry.h"
#include "cli/bench_agent.h"
#include "cli/bench_memory.h"
#include "cli/bench_verifier.h"
#include "cli/evolve_cmd.h"
#include "cli/llm_cmd.h"
#include "cli/memory_cmd.h"
#include "cli/report_cmd.h"
#include "common/fs.h"
#include "common/version.h"
#include "task/oracle.h"
#include "task/task.h"
#include "verifier/degenerate.h"
#include "verifier/verifier.h"

namespace evokernel {
namespace {

int Fail(const Status& st) {
  std::cerr << "evokernel: error: " << st.ToString() << "\n";
  return kExitError;
}

struct Common {
  std::string tasks_dir;
  std::vector<std::string> sets;
  int threads = 1;
  bool json = false;
  bool quiet = false;
  int verbose = 0;

  std::filesystem::path TasksDir() const {
    return tasks_dir.empty() ? DefaultTasksDir() : std::filesystem::path(tasks_dir);
  }
  Result<nlohmann::json> Overrides() const {
    nlohmann::json o = nlohmann::json::object();
    for (const auto& s : sets) EVK_RETURN_IF_ERROR(ParseOverride(s, o));
    return o;
  }
};

void AddCommon(CLI::App* app, Common& c, bool with_sets) {
  app->add_option("--tasks-dir", c.tasks_dir, "Directory of task suites (default: <data dir>/tasks)")
      ->envname("EVOKERNEL_TASKS_DIR");
  if (with_sets)
    app->add_option("--set", c.sets,
                    "Override a task's module-level constant, NAME=VALUE (repeatable; wins over "
                    "suite.toml)");
  app->add_option("--threads", c.threads, "Threads for the kernel and the PyTorch baseline")
      ->envname("EVOKERNEL_THREADS")
      ->default_val(1)
      ->check(CLI::Range(1, 1024));
  app->add_flag("--json", c.json, "Machine-readable JSON on stdout");
  app->add_flag("-q,--quiet", c.quiet, "No progress output");
}

Result<std::pair<std::unique_ptr<Oracle>, TaskSpec>> LoadTask(const std::string& id, const Common& c) {
  EVK_ASSIGN_OR_RETURN(auto overrides, c.Overrides());
  EVK_ASSIGN_OR_RETURN(TaskRef ref, ResolveTask(id, c.TasksDir(), overrides));
  OracleOptions oo;
  oo.threads = c.threads;
  EVK_ASSIGN_OR_RETURN(auto oracle, Oracle::Start(ref, oo));
  EVK_ASSIGN_OR_RETURN(TaskSpec spec, oracle->Describe());
  return std::make_pair(std::move(oracle), std::move(spec));
}

// ---------------------------------------------------------------------------------- eval

struct EvalArgs {
  Common c;
  std::string task, kernel, backend = "cpu", output, against;
  int trials = 5, hidden_trials = 2, timing_trials = 0, warmup = 3;
  double noise_threshold = 0.01, review_speedup = VerifyOptions{}.review_speedup;
  bool no_timing = false, no_cache = false, no_static_check = false, no_roofline = false;
  int64_t seed = -1;
  double atol = -1, rtol = -1, timeout_s = 30, budget_s = VerifyOptions{}.timing_budget_s;
  int64_t flush_bytes = -1;
  double memory_limit_gib = 8;
};

std::string Ms(double ns) { return fmt::format("{:.4g} ms", ns / 1e6); }

void PrintHuman(const EvalResult& r, const TaskSpec& spec) {
  std::cout << fmt::format("task         {} ({})\n", r.task, spec.ref.category);
  std::cout << fmt::format("kernel       {} (sha256 {})\n", r.kernel, r.kernel_sha256.substr(0, 12));
  if (r.feasible)
    std::cout << "result       FEASIBLE\n";
  else
    std::cout << fmt::format("result       INFEASIBLE at {} ({})\n", StageName(r.failed_stage), r.failure);
  if (r.failed_stage != Stage::kCheck)
    std::cout << fmt::format("compile      {}{}\n", r.compiled ? "ok" : "failed",
                             r.build.cached ? " (cached)" : fmt::format(" in {:.2f} s", r.build.seconds));
  if (!r.trials.empty()) {
    size_t passed = 0;
    double max_abs = 0, max_rel = 0;
    for (const auto& t : r.trials) {
      passed += t.passed;
      for (const auto& o : t.outputs) {
        max_abs = std::max(max_abs, o.max_abs_err);
        max_rel = std::max(max_rel, o.max_rel_err);
      }
    }
    int planned = r.settings.value("correctness_trials", 0);
    if (passed == r.trials.size())
      std::cout << fmt::format("correctness  {}/{} trials passed (max abs err {:.3g}, max rel err {:.3g}; atol {:g}, rtol {:g})\n",
                               passed, planned, max_abs, max_rel, r.settings.value("atol", 0.0), r.settings.value("rtol", 0.0));
    else
      std::cout << fmt::format("correctness  failed at trial {} of {} (atol {:g}, rtol {:g})\n", r.trials.size(), planned,
                               r.settings.value("atol", 0.0), r.settings.value("rtol", 0.0));
  }
  if (r.timed) {
    std::cout << fmt::format("kernel       median {} (IQR {}, mean {}, n={})\n", Ms(r.kernel_ns.median),
                             Ms(r.kernel_ns.iqr()), Ms(r.kernel_ns.mean), r.kernel_ns.n);
    std::cout << fmt::format("PyTorch      median {} (IQR {}, mean {}, n={})\n", Ms(r.baseline_ns.median),
                             Ms(r.baseline_ns.iqr()), Ms(r.baseline_ns.mean), r.baseline_ns.n);
    std::cout << fmt::format("speedup      {:.3f}x over PyTorch eager ({} thread{})\n", r.speedup,
                             r.settings.value("threads", 1), r.settings.value("threads", 1) == 1 ? "" : "s");
    if (r.roofline)
      std::cout << fmt::format("roofline     {:.1f}% of this machine's bound ({} at {:.3g} GFLOP/s and {:.3g} GB/s); "
                               "PyTorch {:.1f}%\n", 100 * r.roofline->fraction, Ms(r.roofline->bound_ns),
                               r.roofline->peak_flops_per_s / 1e9, r.roofline->bandwidth_bytes_per_s / 1e9,
                               100 * r.baseline_roofline_fraction);
    else if (!r.roofline_note.empty())
      std::cout << "roofline     " << r.roofline_note << "\n";
    if (auto c = r.settings.find("high_speedup_checks"); c != r.settings.end())
      std::cout << fmt::format("checked      speedup above {:g}x: {} more fresh input sets correct, roofline {}\n",
                               c->value("threshold", 0.0), c->value("extra_fresh_trials", 0),
                               c->contains("roofline_fraction") && (*c)["roofline_fraction"].is_number()
                                   ? fmt::format("{:.0f}% of the bound", 100 * (*c)["roofline_fraction"].get<double>())
                                   : std::string("not available"));
    if (r.machine_load)
      std::cout << fmt::format("machine      {:.1f} of {} cores busy with other work while timed{}\n",
                               r.machine_load->other_busy_cores, r.machine_load->cpus,
                               r.machine_load->loaded ? ": LOADED, figures are of a shared machine" : "");
    for (const auto& why : r.review) std::cout << "REVIEW       " << why << "\n";
    if (r.vs_incumbent)
      std::cout << fmt::format("vs against   {:.3f}x its time (95% interval {:.3f}-{:.3f}, {} alternating rounds): {}\n",
                               r.vs_incumbent->ratio, r.vs_incumbent->ratio_lo, r.vs_incumbent->ratio_hi,
                               r.vs_incumbent->rounds,
                               r.vs_incumbent->verdict == "faster"   ? "FASTER"
                               : r.vs_incumbent->verdict == "slower" ? "SLOWER"
                                                                     : "no difference this machine can resolve");
  }
  if (!r.vs_incumbent_note.empty()) std::cout << "vs against   " << r.vs_incumbent_note << "\n";
  if (!r.feedback.empty()) std::cout << "feedback:\n" << r.feedback << (r.feedback.back() == '\n' ? "" : "\n");
}

int RunEval(const EvalArgs& a) {
  // Kernels are source files: 1 MiB is far more than any model reply (which is capped smaller).
  auto source = ReadUserFile(a.kernel, size_t{1} << 20, "kernel file");
  if (!source.ok()) return Fail(source.status());
  auto backend = MakeBackend(a.backend);
  if (!backend.ok()) return Fail(backend.status());
  bool progress = !a.c.quiet && !a.c.json && isatty(2);
  if (progress) std::cerr << "loading task " << a.task << "...\n";
  auto wall_start = std::chrono::steady_clock::now();
  auto loaded = LoadTask(a.task, a.c);
  double task_load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  if (!loaded.ok()) return Fail(loaded.status());
  auto& [oracle, spec] = *loaded;

  VerifyOptions vo;
  vo.threads = a.c.threads;
  vo.correctness_trials = a.trials;
  vo.hidden_trials = a.hidden_trials;
  vo.noise_threshold = a.noise_threshold;
  vo.timing = !a.no_timing;
  vo.timing_trials = a.timing_trials;
  vo.timing_budget_s = a.budget_s;
  vo.warmup = a.warmup;
  if (a.seed >= 0) vo.seed = static_cast<uint64_t>(a.seed);
  if (a.atol >= 0) vo.atol = a.atol;
  if (a.rtol >= 0) vo.rtol = a.rtol;
  if (a.flush_bytes >= 0) vo.flush_bytes = static_cast<size_t>(a.flush_bytes);
  vo.call_timeout = std::chrono::milliseconds(static_cast<int64_t>(a.timeout_s * 1000));
  vo.build.use_cache = !a.no_cache;
  vo.roofline = !a.no_roofline;
  vo.review_speedup = a.review_speedup;
  vo.build.static_check = !a.no_static_check;
  vo.limits.address_space_bytes = static_cast<uint64_t>(a.memory_limit_gib * double(uint64_t{1} << 30));
  if (progress) vo.on_stage = [](Stage s) { std::cerr << StageName(s) << "...\n"; };

  std::optional<Incumbent> against;
  if (!a.against.empty()) {
    auto other = ReadUserFile(a.against, size_t{1} << 20, "--against kernel file");
    if (!other.ok()) return Fail(other.status());
    against = Incumbent{*other, a.against};
  }
  Verifier verifier(**backend, *oracle, spec, vo);
  auto r = verifier.Evaluate(*source, a.kernel, against ? &*against : nullptr);
  if (!r.ok()) return Fail(r.status());
  nlohmann::json j = r->ToJson();
  j["category"] = spec.ref.category;
  // Starting the PyTorch oracle and deriving the contract happen before the verifier runs.
  j["stage_seconds"]["task_load"] = task_load_s;
  j["stage_seconds"]["total"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  if (!a.output.empty()) {
    Status st = WriteFileAtomic(a.output, j.dump(2) + "\n");
    if (!st.ok()) return Fail(st);
  }
  if (a.c.json)
    std::cout << j.dump(2) << "\n";
  else
    PrintHuman(*r, spec);
  return r->feasible ? kExitFeasible : kExitInfeasible;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

int RunMachine(const std::string& backend_name, int threads, bool remeasure, bool json) {
  auto backend = MakeBackend(backend_name);
  if (!backend.ok()) return Fail(backend.status());
  auto probe = (*backend)->Peaks(threads);
  if (!probe.ok()) return Fail(probe.status());
  auto peaks = LoadOrMeasurePeaks(probe->device, probe->argv, threads, remeasure);
  if (!peaks.ok()) return Fail(peaks.status());
  if (json) {
    std::cout << peaks->ToJson().dump(2) << "\n";
    return 0;
  }
  std::cout << fmt::format("backend      {}\ndevice       {}\nthreads      {}\npeak fp32    {:.1f} GFLOP/s\n",
                           backend_name, peaks->device, peaks->threads, peaks->flops_per_s / 1e9);
  for (const auto& [bytes, rate] : peaks->read_bandwidth)
    std::cout << fmt::format("read bw      {:>9.0f} KiB resident: {:.1f} GB/s\n", bytes / 1024, rate / 1e9);
  std::cout << "cached in    " << peaks->cache_file << "\n";
  return 0;
}

// ---------------------------------------------------------------------------------- tasks

int RunTasksList(const Common& c, const std::string& suite_filter) {
  auto suites = LoadSuites(c.TasksDir());
  if (!suites.ok()) return Fail(suites.status());
  nlohmann::json out = nlohmann::json::array();
  size_t shown = 0;
  for (const auto& s : *suites) {
    if (!suite_filter.empty() && s.name != suite_filter) continue;
    if (!c.json) std::cout << fmt::format("# {} (level {}, {} tasks) {}\n", s.name, s.level, s.tasks.size(), s.description);
    for (const auto& t : s.tasks) {
      ++shown;
      if (c.json)
        out.push_back(t.ToJson());
      else
        std::cout << fmt::format("{:<48} {:<16} {}\n", t.id, t.category, t.description);
    }
  }
  if (!suite_filter.empty() && shown == 0)
    return Fail(NotFound("no suite named '" + suite_filter + "' in " + c.TasksDir().string()));
  if (c.json) std::cout << out.dump(2) << "\n";
  return 0;
}

int RunTasksShow(const Common& c, const std::string& id, bool contract_only, const std::string& backend_name) {
  auto backend = MakeBackend(backend_name);
  if (!backend.ok()) return Fail(backend.status());
  auto loaded = LoadTask(id, c);
  if (!loaded.ok()) return Fail(loaded.status());
  const TaskSpec& spec = loaded->second;
  std::string contract = (*backend)->Contract(spec);
  if (contract_only) {
    std::cout << contract;
    return 0;
  }
  if (c.json) {
    nlohmann::json j = spec.ToJson();
    j["contract"] = contract;
    j["env"] = spec.env;
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << fmt::format("task      {}\nfile      {}\ncategory  {}\nlevel     {}\ntolerance atol {:g}, rtol {:g}\n",
                           spec.ref.id, spec.ref.file.string(), spec.ref.category, spec.ref.level,
                           spec.ref.atol, spec.ref.rtol);
  if (!spec.ref.overrides.empty()) std::cout << "overrides " << spec.ref.overrides.dump() << "\n";
  if (!spec.doc.empty()) std::cout << "doc       " << spec.doc << "\n";
  std::cout << "modules   ";
  for (const auto& m : spec.modules) std::cout << m << " ";
  std::cout << "\ncalls     ";
  for (const auto& m : spec.calls) std::cout << m << " ";
  std::cout << "\n\n" << contract;
  return 0;
}

int RunTasksCheck(const Common& c, std::vector<std::string> ids, const std::string& suite_filter) {
  if (ids.empty()) {
    auto suites = LoadSuites(c.TasksDir());
    if (!suites.ok()) return Fail(suites.status());
    for (const auto& s : *suites)
      if (suite_filter.empty() || s.name == suite_filter)
        for (const auto& t : s.tasks) ids.push_back(t.id);
    if (ids.empty()) return Fail(NotFound("no tasks to check"));
  }
  nlohmann::json out = nlohmann::json::array();
  int bad = 0, errors = 0;
  for (const auto& id : ids) {
    auto loaded = LoadTask(id, c);
    if (!loaded.ok()) {
      ++errors;
      out.push_back({{"task", id}, {"error", loaded.status().ToString()}});
      if (!c.json) std::cout << fmt::format("ERROR       {}: {}\n", id, loaded.status().ToString());
      continue;
    }
    auto rep = CheckDegenerate(*loaded->first, loaded->second);
    if (!rep.ok()) {
      ++errors;
      out.push_back({{"task", id}, {"error", rep.status().ToString()}});
      if (!c.json) std::cout << fmt::format("ERROR       {}: {}\n", id, rep.status().ToString());
      continue;
    }
    nlohmann::json j = rep->ToJson();
    j["task"] = loaded->second.ref.id;
    out.push_back(j);
    if (rep->degenerate) ++bad;
    if (!c.json) {
      std::cout << fmt::format("{:<11} {}\n", rep->degenerate ? "DEGENERATE" : "ok", loaded->second.ref.id);
      for (const auto& reason : rep->reasons) std::cout << "            " << reason << "\n";
    }
  }
  if (c.json) std::cout << out.dump(2) << "\n";
  else std::cout << fmt::format("{} task(s) checked: {} degenerate, {} error(s)\n", ids.size(), bad, errors);
  if (errors) return kExitError;
  return bad ? 1 : 0;
}

}  // namespace
}  // namespace evokernel

int main(int argc, char** argv) {
  using namespace evokernel;
  CLI::App app{"evokernel: LLM-written compute kernels, verified against PyTorch and learned from experience"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(EVOKERNEL_VERSION) + " (" + GitCommit() + ")");

  // eval
  EvalArgs ea;
  auto* eval = app.add_subcommand("eval", "Verify one kernel against a task: compile, check correctness, time vs PyTorch");
  eval->add_option("--task,-t", ea.task, "Task id (level1/19_relu) or path to a KernelBench .py file")->required();
  eval->add_option("--kernel,-k", ea.kernel, "Kernel source file")->required()->check(CLI::ExistingFile);
  eval->add_option("--backend,-b", ea.backend, "Backend (" + JoinNames(BackendNames()) + ")")
      ->default_val("cpu")
      ->envname("EVOKERNEL_BACKEND");
  eval->add_option("--trials", ea.trials, "Correctness trials (fresh seeds for inputs and weights each)")
      ->default_val(5)
      ->check(CLI::Range(1, 1000));
  eval->add_option("--hidden-trials", ea.hidden_trials,
                   "How many of the trials use hidden input distributions (never shown to models)")
      ->default_val(2)
      ->check(CLI::Range(0, 1000));
  eval->add_option("--noise-threshold", ea.noise_threshold,
                   "Relative standard error of a side's median above which that side is measured again "
                   "(and flagged noisy if it stays)")
      ->default_val(0.01);
  eval->add_option("--timing-trials", ea.timing_trials, "Timed calls per side (0: sized by --timing-budget)")->default_val(0);
  eval->add_option("--timing-budget", ea.budget_s, "Wall-clock seconds per side in the first timing pass (flush and input copy included) when --timing-trials is 0; noisy sides get more calls")->default_val(VerifyOptions{}.timing_budget_s);
  eval->add_option("--warmup", ea.warmup, "Untimed warm-up calls")->default_val(3);
  eval->add_flag("--no-timing", ea.no_timing, "Stop after correctness");
  eval->add_option("--seed", ea.seed, "Base seed of the correctness trials (default: fresh random, recorded)");
  eval->add_option("--atol", ea.atol, "Absolute tolerance (default: the task's, 1e-4 for fp32)");
  eval->add_option("--rtol", ea.rtol, "Relative tolerance (default: the task's, 1e-4 for fp32)");
  eval->add_option("--timeout", ea.timeout_s, "Seconds one kernel call may take")->default_val(30);
  eval->add_option("--flush-bytes", ea.flush_bytes, "Bytes written between timed calls to flush caches (default: L3 size; 0 disables)");
  eval->add_option("--memory-limit", ea.memory_limit_gib, "Address-space limit of the kernel process, GiB")
      ->default_val(8)
      ->check(CLI::Range(0.25, 1024.0));
  eval->add_flag("--no-cache", ea.no_cache, "Rebuild even if the build cache has this kernel");
  eval->add_option("--review-speedup", ea.review_speedup,
                   "Speedups above this get extra checks (more fresh inputs, the roofline bound) before they are "
                   "trusted")
      ->default_val(VerifyOptions{}.review_speedup)
      ->check(CLI::PositiveNumber);
  eval->add_flag("--no-roofline", ea.no_roofline,
                 "Skip the roofline check (a median below the machine's bound is flagged for review)");
  eval->add_flag("--no-static-check", ea.no_static_check,
                 "Skip the anti-cheat source/object rules (for testing the runtime sandbox; the result records it)");
  eval->add_option("--against", ea.against,
                   "Also time the kernel alternately with this one (e.g. the current best), on the same inputs, and "
                   "say which is faster with a 95% interval of the ratio of their times")
      ->check(CLI::ExistingFile);
  eval->add_option("--output,-o", ea.output, "Also write the JSON result to this file");
  AddCommon(eval, ea.c, true);

  // tasks
  auto* tasks = app.add_subcommand("tasks", "List, show and check tasks");
  tasks->require_subcommand(1);
  Common tc;
  std::string suite_filter, show_id, backend_name = "cpu";
  bool contract_only = false;
  std::vector<std::string> check_ids;
  auto* list = tasks->add_subcommand("list", "List the tasks of every suite");
  list->add_option("--suite", suite_filter, "Only this suite (level1, level2, ...)");
  AddCommon(list, tc, false);
  auto* show = tasks->add_subcommand("show", "Show a task: shapes, constants and its kernel contract");
  show->add_option("task", show_id, "Task id or path")->required();
  show->add_flag("--contract", contract_only, "Print only the contract header a kernel is built against");
  show->add_option("--backend,-b", backend_name, "Backend whose contract to show")->default_val("cpu");
  AddCommon(show, tc, true);
  auto* check = tasks->add_subcommand("check", "Reject degenerate tasks (near-constant or input-independent outputs)");
  check->add_option("tasks", check_ids, "Task ids (default: every task)");
  check->add_option("--suite", suite_filter, "Only this suite");
  AddCommon(check, tc, true);

  auto* bench = app.add_subcommand("bench", "Benchmarks that print figures");
  bench->require_subcommand(1);
  BenchVerifierArgs ba;
  auto* bench_verifier = bench->add_subcommand("verifier", "Verifier throughput, timing repeatability and resolution");
  bench_verifier->add_option("--backend", ba.backend, "Backend: " + JoinNames(BackendNames()))->default_val("cpu");
  bench_verifier->add_option("--threads", ba.threads, "Threads")->default_val(1);
  bench_verifier->add_option("--repeats", ba.repeats, "Evaluations of one kernel for the CV")->default_val(10);
  bench_verifier->add_option("--pairs", ba.pairs, "Base/5%-slower pairs for the ranking test")->default_val(20);
  bench_verifier->add_option("--parts", ba.parts, "Which parts to run: throughput (with trust), repeatability, resolution")
      ->delimiter(',')
      ->check(CLI::IsMember({"throughput", "repeatability", "resolution"}));
  bench_verifier->add_option("--jobs,-j", ba.jobs,
                             "Evaluations in flight for the throughput figure (timing never overlaps; 0: one per core)")
      ->default_val(0)
      ->check(CLI::Range(0, 64));
  bench_verifier->add_option("--kernels-dir", ba.kernels_dir, "Kernels to evaluate (default: tests/kernels)");
  bench_verifier->add_option("--load-compile", ba.load_compile,
                             "Keep this many compile loops running in the background (measures trust under load)")
      ->default_val(0)
      ->check(CLI::Range(0, 64));
  bench_verifier->add_flag("--json", ba.json, "JSON output");
  BenchMemoryArgs bma;
  auto* bench_memory = AddBenchMemory(bench, bma);
  BenchRetrievalArgs bra;
  auto* bench_retrieval = AddBenchRetrieval(bench, bra);

  auto memory_cmd = MemoryCommand::Add(app);
  auto llm_cmd = LlmCommand::Add(app);
  auto evolve_cmd = EvolveCommand::Add(app);
  auto report_cmd = ReportCommand::Add(app);

  auto* machine = app.add_subcommand("machine", "Measured peaks of this machine used by the roofline check");
  int machine_threads = 1;
  bool machine_remeasure = false, machine_json = false;
  machine->add_option("--threads", machine_threads, "Threads")->default_val(1)->envname("EVOKERNEL_THREADS")
      ->check(CLI::Range(1, 4096));
  machine->add_flag("--remeasure", machine_remeasure, "Measure again instead of using the cached figures");
  std::string machine_backend = "cpu";
  machine->add_option("--backend,-b", machine_backend, "Backend whose device to measure (" + JoinNames(BackendNames()) + ")")
      ->default_val("cpu")
      ->envname("EVOKERNEL_BACKEND");
  machine->add_flag("--json", machine_json, "JSON output");

  auto* version = app.add_subcommand("version", "Print version, commit and environment");
  bool version_json = false;
  version->add_flag("--json", version_json, "JSON output");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitError;
  }

  if (eval->parsed()) return RunEval(ea);
  if (list->parsed()) return RunTasksList(tc, suite_filter);
  if (show->parsed()) return RunTasksShow(tc, show_id, contract_only, backend_name);
  if (check->parsed()) return RunTasksCheck(tc, check_ids, suite_filter);
  if (bench_verifier->parsed()) return RunBenchVerifier(ba);
  if (bench_memory->parsed()) return RunBenchMemory(bma);
  if (bench_retrieval->parsed()) return RunBenchRetrieval(bra);
  if (memory_cmd->parsed()) return memory_cmd->Run();
  if (llm_cmd->parsed()) return llm_cmd->Run();
  if (evolve_cmd->parsed()) return evolve_cmd->Run();
  if (report_cmd->parsed()) return report_cmd->Run();
  if (machine->parsed()) return RunMachine(machine_backend, machine_threads, machine_remeasure, machine_json);
  if (version->parsed()) {
    nlohmann::json j = EnvironmentStamp();
    j["data_dir"] = DataDir().string();
    j["cache_dir"] = CacheDir().string();
    j["python"] = FindPython();
    std::cout << (version_json ? j.dump(2) : fmt::format("evokernel {} ({}, {} build)\n", j["evokernel_version"].get<std::string>(),
                                                         j["commit"].get<std::string>(), j["build_type"].get<std::string>()))
              << (version_json ? "\n" : "");
    return 0;
  }
  return kExitError;
}
