// `evokernel bench verifier`: throughput and precision of the verifier, with figures printed.
//
//  1. Evaluations per minute: every kernel under tests/kernels (naive and fast, level1 tasks),
//     compiled from an empty build cache, verified and timed with default settings; one oracle
//     per task, as the agent uses it.
//  2. Repeatability: one kernel evaluated N times (timing only); coefficient of variation of
//     the N medians.
//  3. Resolution: pairs of (kernel, same kernel doing 5% more work) evaluated alternately;
//     the share of pairs in which the slower variant gets the larger median.
#include "cli/bench_verifier.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>

#include <fmt/format.h>

#include "backend/backend.h"
#include "common/fs.h"
#include "task/oracle.h"
#include "verifier/stats.h"
#include "verifier/verifier.h"

namespace evokernel {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Loaded {
  std::unique_ptr<Oracle> oracle;
  TaskSpec spec;
};

Result<Loaded> Load(const std::string& id, int threads) {
  EVK_ASSIGN_OR_RETURN(TaskRef ref, ResolveTask(id, DefaultTasksDir()));
  OracleOptions oo;
  oo.threads = threads;
  EVK_ASSIGN_OR_RETURN(auto oracle, Oracle::Start(ref, oo));
  EVK_ASSIGN_OR_RETURN(TaskSpec spec, oracle->Describe());
  return Loaded{std::move(oracle), std::move(spec)};
}

}  // namespace

int RunBenchVerifier(const BenchVerifierArgs& a) {
  auto backend = MakeBackend("cpu");
  if (!backend.ok()) {
    std::cerr << "evokernel: error: " << backend.status().ToString() << "\n";
    return 2;
  }
  auto cache = MakeTempDir("evokernel-bench-cache-");
  if (!cache.ok()) {
    std::cerr << "evokernel: error: " << cache.status().ToString() << "\n";
    return 2;
  }
  ScopedDir cleanup(*cache);
  nlohmann::json out = EnvironmentStamp();
  out["threads"] = a.threads;
  if (std::string(EVOKERNEL_BUILD_TYPE) != "Release")
    std::cerr << "WARNING: " << EVOKERNEL_BUILD_TYPE << " build; figures are not representative\n";
  auto log = [&](const std::string& s) {
    if (!a.json) std::cout << s << std::flush;
  };
  log(fmt::format("# evokernel bench verifier: commit {}, {} build, {}, {} thread(s)\n", EVOKERNEL_GIT_COMMIT,
                  EVOKERNEL_BUILD_TYPE, out["cpu"].get<std::string>(), a.threads));

  // 1. Throughput.
  fs::path kernels_dir = a.kernels_dir.empty() ? DataDir() / "tests" / "kernels" : fs::path(a.kernels_dir);
  std::vector<fs::path> dirs;
  for (const auto& d : fs::directory_iterator(kernels_dir))
    if (d.is_directory() && d.path().filename().string().rfind("level1__", 0) == 0) dirs.push_back(d.path());
  std::sort(dirs.begin(), dirs.end());
  int evals = 0, feasible = 0;
  std::map<std::string, double> stage_sum;
  auto t0 = Clock::now();
  double task_load_s = 0;
  for (const auto& d : dirs) {
    std::string stem = d.filename().string();
    std::string task = "level1/" + stem.substr(8);
    auto tl = Clock::now();
    auto loaded = Load(task, a.threads);
    task_load_s += std::chrono::duration<double>(Clock::now() - tl).count();
    if (!loaded.ok()) {
      std::cerr << "evokernel: error: " << loaded.status().ToString() << "\n";
      return 2;
    }
    VerifyOptions vo;
    vo.threads = a.threads;
    vo.build.cache_dir = *cache;
    Verifier v(**backend, *loaded->oracle, loaded->spec, vo);
    for (const char* k : {"naive.cpp", "fast.cpp"}) {
      if (!fs::exists(d / k)) continue;
      auto src = ReadFile(d / k);
      if (!src.ok()) continue;
      auto r = v.Evaluate(*src, (d / k).string());
      if (!r.ok()) {
        std::cerr << "evokernel: error: " << r.status().ToString() << "\n";
        return 2;
      }
      ++evals;
      feasible += r->feasible;
      for (const auto& [k, sec] : r->stage_seconds.items()) stage_sum[k] += sec.get<double>();
      log(fmt::format("  {:<52} {:<10} {:>8.3f} s\n", task + " " + k, r->feasible ? "feasible" : r->failure,
                      r->stage_seconds.value("compile", 0.0) + r->stage_seconds.value("load", 0.0) +
                          r->stage_seconds.value("correctness", 0.0) + r->stage_seconds.value("timing", 0.0)));
    }
  }
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  double per_min = evals / secs * 60;
  double per_min_no_load = evals / std::max(secs - task_load_s, 1e-9) * 60;
  out["throughput"] = {{"evaluations", evals}, {"feasible", feasible}, {"seconds", secs},
                       {"evals_per_minute", per_min}, {"task_load_seconds", task_load_s},
                       {"evals_per_minute_excluding_task_load", per_min_no_load}};
  nlohmann::json per_eval = nlohmann::json::object();
  for (const auto& [k, sum] : stage_sum) per_eval[k] = sum / std::max(evals, 1);
  out["throughput"]["mean_stage_seconds"] = per_eval;
  log(fmt::format("throughput: {} evaluations ({} feasible) in {:.1f} s = {:.1f} evals/min "
                  "({:.1f}/min excluding {:.1f} s of task loading; target >= 60)\n",
                  evals, feasible, secs, per_min, per_min_no_load, task_load_s));
  log(fmt::format("  mean seconds per evaluation: compile (incl. anti-cheat) {:.2f}, load {:.2f}, correctness {:.2f}, "
                  "timing {:.2f}\n", per_eval.value("compile", 0.0), per_eval.value("load", 0.0),
                  per_eval.value("correctness", 0.0), per_eval.value("timing", 0.0)));

  // 2 and 3 use the matmul task and the extra-rows kernel.
  auto mm = Load("level1/01_square_matmul", a.threads);
  if (!mm.ok()) {
    std::cerr << "evokernel: error: " << mm.status().ToString() << "\n";
    return 2;
  }
  auto base_src = ReadFile(DataDir() / "bench" / "kernels" / "matmul_extra_rows.cpp");
  if (!base_src.ok()) {
    std::cerr << "evokernel: error: " << base_src.status().ToString() << "\n";
    return 2;
  }
  int64_t n = mm->spec.constants.value("N", int64_t{768});
  std::string slow_src = fmt::format("#define EVK_BENCH_EXTRA_ROWS {}\n", (n * 5 + 50) / 100) + *base_src;
  VerifyOptions vo;
  vo.threads = a.threads;
  vo.build.cache_dir = *cache;
  vo.correctness_trials = 1;  // correctness is not what is measured here
  vo.hidden_trials = 0;
  Verifier v(**backend, *mm->oracle, mm->spec, vo);

  std::vector<double> medians;
  for (int i = 0; i < a.repeats; ++i) {
    auto r = v.Evaluate(*base_src, "matmul_extra_rows.cpp");
    if (!r.ok() || !r->timed) {
      std::cerr << "evokernel: error: repeat evaluation failed: " << (r.ok() ? r->feedback : r.status().ToString()) << "\n";
      return 2;
    }
    medians.push_back(r->kernel_ns.median / 1e6);
  }
  Summary s = Summarise(medians);
  out["repeatability"] = {{"repeats", a.repeats}, {"median_ms", s.median}, {"cv", s.cv()},
                          {"min_ms", s.min}, {"max_ms", s.max}};
  log(fmt::format("repeatability: {} evaluations of one kernel: median {:.3f} ms, CV of the medians {:.2f}% "
                  "(target <= 2%)\n", a.repeats, s.median, 100 * s.cv()));

  int correct = 0;
  std::vector<double> ratios;
  for (int i = 0; i < a.pairs; ++i) {
    // Alternate the order so drift does not favour either variant.
    auto first = v.Evaluate(i % 2 ? slow_src : *base_src, "pair");
    auto second = v.Evaluate(i % 2 ? *base_src : slow_src, "pair");
    if (!first.ok() || !second.ok() || !first->timed || !second->timed) {
      std::cerr << "evokernel: error: pair evaluation failed\n";
      return 2;
    }
    double base = (i % 2 ? second : first)->kernel_ns.median;
    double slow = (i % 2 ? first : second)->kernel_ns.median;
    correct += slow > base;
    ratios.push_back(slow / base);
  }
  Summary rs = Summarise(ratios);
  double share = a.pairs ? double(correct) / a.pairs : 0;
  out["resolution"] = {{"pairs", a.pairs}, {"ranked_correctly", correct}, {"share", share},
                       {"median_slow_over_base", rs.median}, {"min_ratio", rs.min}, {"max_ratio", rs.max}};
  log(fmt::format("resolution: a variant doing 5% more work ranked slower in {}/{} pairs = {:.0f}% "
                  "(target >= 95%); measured slow/base median ratio {:.3f} (range {:.3f}-{:.3f})\n",
                  correct, a.pairs, 100 * share, rs.median, rs.min, rs.max));
  if (a.json) std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace evokernel
