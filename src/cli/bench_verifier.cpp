// `evokernel bench verifier`: throughput and precision of the verifier, with figures printed.
//
// For the backend given (--backend, default cpu); kernels are the files with its extension.
//
//  1. Evaluations per minute: every kernel under tests/kernels (naive and fast, level1 tasks),
//     compiled from an empty build cache, verified and timed with default settings; one oracle
//     per task, as the agent uses it; --jobs evaluations in flight, timing never overlapping.
//  2. Repeatability: one kernel evaluated N times (timing only); coefficient of variation of
//     the N medians.
//  3. Resolution: pairs of (kernel, same kernel doing 5% more work) evaluated alternately;
//     the share of pairs in which the slower variant gets the larger median.
//
// With --load-compile N, N compile loops run in the background throughout, and the figures
// say how many results were timed on a loaded machine and how many honest speedups (feasible
// kernels, timed) came out untrusted (flagged noisy or for review).
#include "cli/bench_verifier.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>
#include <barrier>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "backend/backend.h"
#include "backend/registry.h"
#include "common/fs.h"
#include "common/subprocess.h"
#include "common/version.h"
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

// The variant of a benchmark kernel that does 5% more work. A file may say how, in a line
// "// slow variant appends: TEXT" (OpenCL: one more launch); otherwise `cpp_define` is put in
// front (C++: a macro the kernel reads).
std::string SlowVariant(const std::string& src, const std::string& cpp_define) {
  const std::string marker = "// slow variant appends: ";
  if (size_t p = src.find(marker); p != std::string::npos) {
    size_t e = src.find('\n', p);
    return src + (src.empty() || src.back() == '\n' ? "" : "\n") +
           src.substr(p + marker.size(), e == std::string::npos ? e : e - p - marker.size()) + "\n";
  }
  return cpp_define + src;
}

// Background load: `count` shell loops compiling a header-heavy translation unit with -O2.
// Killed (with their process groups) when the object goes.
class CompileLoad {
 public:
  Status Start(int count, const fs::path& dir) {
    if (count <= 0) return Status::Ok();
    const fs::path src = dir / "load.cpp";
    EVK_RETURN_IF_ERROR(WriteFileAtomic(src,
                                        "#include <regex>\n#include <map>\n#include <iostream>\n#include <sstream>\n"
                                        "int main(int c, char** v) { std::map<std::string, std::regex> m;\n"
                                        "  m[v[0]] = std::regex(v[c - 1]); std::ostringstream o; o << m.size();\n"
                                        "  std::cout << o.str() << std::regex_match(v[0], m[v[0]]); }\n"));
    for (int i = 0; i < count; ++i) {
      SpawnOptions so;
      so.argv = {"/bin/sh", "-c",
                 "while :; do c++ -O2 -c '" + src.string() + "' -o /dev/null || sleep 1; done"};
      so.pipe_stdin = false;
      so.pipe_stdout = false;
      so.stderr_path = "/dev/null";
      EVK_ASSIGN_OR_RETURN(auto p, Subprocess::Spawn(so));
      procs_.push_back(std::move(p));
    }
    return Status::Ok();
  }
  ~CompileLoad() {
    for (auto& p : procs_) p->Kill();
  }

 private:
  std::vector<std::unique_ptr<Subprocess>> procs_;
};

// 1. Throughput (and trust): returns 0, or 2 after printing an error.
int Throughput(const BenchVerifierArgs& a, Backend& backend, const fs::path& cache, const std::string& ext,
               nlohmann::json& out, const std::function<void(const std::string&)>& log) {
  fs::path kernels_dir = a.kernels_dir.empty() ? DataDir() / "tests" / "kernels" : fs::path(a.kernels_dir);
  std::vector<fs::path> dirs;
  for (const auto& d : fs::directory_iterator(kernels_dir))
    if (d.is_directory() && d.path().filename().string().rfind("level1__", 0) == 0) dirs.push_back(d.path());
  std::sort(dirs.begin(), dirs.end());
  // Every task's oracle is started first (in parallel, timed separately), as in an agent run,
  // where one oracle serves all iterations of a task. Then `jobs` workers take kernels from a
  // queue; the shared gate keeps timing exclusive while compile and correctness overlap.
  // Workers wait for each other before exiting: a child process dies with the thread that
  // started it (PR_SET_PDEATHSIG), and any worker may use any task's oracle.
  const int jobs = a.jobs > 0 ? a.jobs : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  auto gate = std::make_shared<std::mutex>();
  std::mutex mu;  // guards everything below
  std::vector<std::unique_ptr<Loaded>> loaded(dirs.size());
  std::vector<std::unique_ptr<std::mutex>> task_mu;  // one evaluation per task at a time
  for (size_t i = 0; i < dirs.size(); ++i) task_mu.push_back(std::make_unique<std::mutex>());
  std::vector<std::pair<size_t, std::string>> queue;  // (task index, kernel file)
  for (size_t i = 0; i < dirs.size(); ++i)
    for (const char* k : {"naive", "fast"})
      if (fs::exists(dirs[i] / (k + ext))) queue.emplace_back(i, k + ext);
  int evals = 0, feasible = 0, noisy = 0;
  // Trust: feasible kernels that were timed, those of them whose speedup is not trusted (noisy
  // or under review), and results timed on a loaded machine.
  int timed_feasible = 0, untrusted = 0, loaded_results = 0;
  std::vector<std::string> untrusted_why;
  std::map<std::string, double> stage_sum;
  Status failure;
  size_t next_load = 0, next_eval = 0;
  std::barrier loaded_all(jobs), done_all(jobs);
  Clock::time_point load_start = Clock::now(), t0;
  auto worker = [&](int id) {
    for (;;) {
      size_t i;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (next_load >= dirs.size() || !failure.ok()) break;
        i = next_load++;
      }
      auto l = Load("level1/" + dirs[i].filename().string().substr(8), a.threads);
      std::lock_guard<std::mutex> lock(mu);
      if (!l.ok()) {
        failure = l.status();
        break;
      }
      loaded[i] = std::make_unique<Loaded>(std::move(*l));
    }
    loaded_all.arrive_and_wait();
    if (id == 0) t0 = Clock::now();
    loaded_all.arrive_and_wait();  // t0 is set before anyone starts
    for (;;) {
      size_t q;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (next_eval >= queue.size() || !failure.ok()) break;
        q = next_eval++;
      }
      const auto& [i, k] = queue[q];
      std::lock_guard<std::mutex> task_lock(*task_mu[i]);
      VerifyOptions vo;
      vo.threads = a.threads;
      vo.build.cache_dir = cache;
      vo.timing_gate = gate;
      Verifier v(backend, *loaded[i]->oracle, loaded[i]->spec, vo);
      auto src = ReadFile(dirs[i] / k);
      auto r = src.ok() ? v.Evaluate(*src, (dirs[i] / k).string()) : Result<EvalResult>(src.status());
      std::lock_guard<std::mutex> lock(mu);
      if (!r.ok()) {
        failure = r.status();
        break;
      }
      ++evals;
      feasible += r->feasible;
      noisy += r->noisy;
      loaded_results += r->machine_loaded();
      if (r->feasible && r->timed) {
        ++timed_feasible;
        if (!r->speedup_trusted()) {
          ++untrusted;
          untrusted_why.push_back(loaded[i]->spec.ref.id + " " + k + ": " +
                                  (!r->review.empty() ? r->review.front().substr(0, 160)
                                                      : fmt::format("too noisy (median rel. SE kernel {:.1f}%, PyTorch {:.1f}%)",
                                                                    100 * r->settings["timing_median_rel_se"].value("kernel", 0.0),
                                                                    100 * r->settings["timing_median_rel_se"].value("baseline", 0.0))));
        }
      }
      for (const auto& [st, sec] : r->stage_seconds.items()) stage_sum[st] += sec.get<double>();
      log(fmt::format("  {:<52} {:<10} {:>8.3f} s\n", loaded[i]->spec.ref.id + " " + k,
                      r->feasible ? "feasible" : r->failure,
                      r->stage_seconds.value("compile", 0.0) + r->stage_seconds.value("load", 0.0) +
                          r->stage_seconds.value("correctness", 0.0) + r->stage_seconds.value("timing", 0.0)));
    }
    done_all.arrive_and_wait();
  };
  std::vector<std::thread> workers;
  for (int j = 0; j < jobs; ++j) workers.emplace_back(worker, j);
  for (auto& w : workers) w.join();
  const double task_load_s = std::chrono::duration<double>(t0 - load_start).count();
  if (!failure.ok()) {
    std::cerr << "evokernel: error: " << failure.ToString() << "\n";
    return 2;
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const double per_min = evals / secs * 60;
  const double per_min_incl = evals / (secs + task_load_s) * 60;
  out["throughput"] = {{"evaluations", evals},
                       {"feasible", feasible},
                       {"noisy", noisy},
                       {"tasks", dirs.size()},
                       {"jobs", jobs},
                       {"seconds", secs},
                       {"evals_per_minute", per_min},
                       {"task_load_seconds", task_load_s},
                       {"evals_per_minute_including_task_load", per_min_incl}};
  log(fmt::format("throughput: {} evaluations ({} feasible, {} with timing flagged noisy) of {} tasks in {:.1f} s with "
                  "{} in flight = {:.1f} evals/min (target >= 60); starting the {} task oracles beforehand took {:.1f} s "
                  "more ({:.1f} evals/min counting it)\n",
                  evals, feasible, noisy, dirs.size(), secs, jobs, per_min, dirs.size(), task_load_s, per_min_incl));
  const double untrusted_share = timed_feasible ? double(untrusted) / timed_feasible : 0;
  out["trust"] = {{"timed_feasible", timed_feasible},
                  {"untrusted", untrusted},
                  {"untrusted_share", untrusted_share},
                  {"timed_on_loaded_machine", loaded_results},
                  {"untrusted_reasons", untrusted_why}};
  log(fmt::format("trust: {}/{} honest speedups (feasible, timed) not trusted = {:.0f}% (goal <= 10% under load); "
                  "{} of {} evaluations timed while the machine was loaded\n",
                  untrusted, timed_feasible, 100 * untrusted_share, loaded_results, evals));
  for (const auto& why : untrusted_why) log("  untrusted: " + why + "\n");
  nlohmann::json per_eval = nlohmann::json::object();
  for (const auto& [k, sum] : stage_sum) per_eval[k] = sum / std::max(evals, 1);
  out["throughput"]["mean_stage_seconds"] = per_eval;
  log(fmt::format("  mean seconds per evaluation: compile (incl. anti-cheat) {:.2f}, load {:.2f}, correctness {:.2f}, "
                  "waiting for the timing gate {:.2f}, timing {:.2f}\n", per_eval.value("compile", 0.0),
                  per_eval.value("load", 0.0), per_eval.value("correctness", 0.0), per_eval.value("timing_wait", 0.0),
                  per_eval.value("timing", 0.0)));

  return 0;
}

}  // namespace

int RunBenchVerifier(const BenchVerifierArgs& a) {
  auto backend = MakeBackend(a.backend);
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
  CompileLoad load;
  if (Status st = load.Start(a.load_compile, *cache); !st.ok()) {
    std::cerr << "evokernel: error: cannot start the background load: " << st.ToString() << "\n";
    return 2;
  }
  nlohmann::json out = EnvironmentStamp();
  out["load_compile"] = a.load_compile;
  out["threads"] = a.threads;
  out["backend"] = a.backend;
  const std::string ext = (*backend)->language().extension;
  if (std::string(EVOKERNEL_BUILD_TYPE) != "Release")
    std::cerr << "WARNING: " << EVOKERNEL_BUILD_TYPE << " build; figures are not representative\n";
  auto log = [&](const std::string& s) {
    if (!a.json) std::cout << s << std::flush;
  };
  log(fmt::format("# evokernel bench verifier: backend {}, commit {}, {} build, {}, {} thread(s){}\n", a.backend,
                  GitCommit(), EVOKERNEL_BUILD_TYPE, out["cpu"].get<std::string>(), a.threads,
                  a.load_compile ? fmt::format(", {} background compile loop(s)", a.load_compile) : ""));

  if (a.parts.count("throughput")) {
    if (int rc = Throughput(a, **backend, *cache, ext, out, log); rc != 0) return rc;
  }

  // 2 and 3 use the matmul task and the extra-rows kernel.
  auto mm = Load("level1/01_square_matmul", a.threads);
  if (!mm.ok()) {
    std::cerr << "evokernel: error: " << mm.status().ToString() << "\n";
    return 2;
  }
  auto base_src = ReadFile(DataDir() / "bench" / "kernels" / ("matmul_extra_rows" + ext));
  if (!base_src.ok()) {
    std::cerr << "evokernel: error: " << base_src.status().ToString() << "\n";
    return 2;
  }
  int64_t n = mm->spec.constants.value("N", int64_t{768});
  std::string slow_src = SlowVariant(*base_src, fmt::format("#define EVK_BENCH_EXTRA_ROWS {}\n", (n * 5 + 50) / 100));
  VerifyOptions vo;
  vo.threads = a.threads;
  vo.build.cache_dir = *cache;
  vo.correctness_trials = 1;  // correctness is not what is measured here
  vo.hidden_trials = 0;
  Verifier v(**backend, *mm->oracle, mm->spec, vo);

  std::vector<double> medians, speedups;
  for (int i = 0; i < (a.parts.count("repeatability") ? a.repeats : 0); ++i) {
    auto r = v.Evaluate(*base_src, "matmul_extra_rows" + ext);
    if (!r.ok() || !r->timed) {
      std::cerr << "evokernel: error: repeat evaluation failed: " << (r.ok() ? r->feedback : r.status().ToString()) << "\n";
      return 2;
    }
    medians.push_back(r->kernel_ns.median / 1e6);
    speedups.push_back(r->speedup);
  }
  if (!medians.empty()) {
    Summary s = Summarise(medians), ss = Summarise(speedups);
    out["repeatability"] = {{"repeats", a.repeats}, {"median_ms", s.median}, {"cv", s.cv()},
                            {"min_ms", s.min}, {"max_ms", s.max}, {"speedup_cv", ss.cv()}};
    log(fmt::format("repeatability: {} evaluations of one kernel: median {:.3f} ms, CV of the medians {:.2f}% "
                    "(target <= 2%); CV of its speedups over the interleaved baseline {:.2f}%\n",
                    a.repeats, s.median, 100 * s.cv(), 100 * ss.cv()));
  }

  // Resolution on two kernels: the compute-bound matmul above (about 20 ms) and a memory-bound
  // ReLU (about 2 ms, where the timing budget rather than the 0.4 s minimum span sizes the
  // calls). Ranked two ways: by the kernel's median (what the agent compares) and by the speedup
  // over the baseline timed in the same evaluation.
  auto relu = Load("level1/12_relu", a.threads);
  auto relu_src = ReadFile(DataDir() / "bench" / "kernels" / ("relu_extra" + ext));
  if (!relu.ok() || !relu_src.ok()) {
    std::cerr << "evokernel: error: " << (relu.ok() ? relu_src.status() : relu.status()).ToString() << "\n";
    return 2;
  }
  std::string relu_slow = SlowVariant(*relu_src, "#define EVK_BENCH_EXTRA_PERMILLE 50\n");
  VerifyOptions relu_vo = vo;
  // The C++ variant reads a clock, which models' kernels may not; the OpenCL one recomputes 5%.
  relu_vo.build.static_check = ext != ".cpp";
  Verifier relu_v(**backend, *relu->oracle, relu->spec, relu_vo);
  struct Case {
    const char* name;
    Verifier* verifier;
    const std::string* base;
    const std::string* slow;
  };
  if (!a.parts.count("resolution")) {
    if (a.json) std::cout << out.dump(2) << "\n";
    return 0;
  }
  out["resolution"] = nlohmann::json::object();
  for (const Case& c : {Case{"matmul", &v, &*base_src, &slow_src}, Case{"relu", &relu_v, &*relu_src, &relu_slow}}) {
    int correct = 0, correct_speedup = 0, noisy = 0, loaded_evals = 0, correct_p25 = 0, correct_min = 0;
    int paired_correct = 0, paired_decided = 0, paired_wrong_verdict = 0;
    std::vector<double> ratios, paired_ratios;
    for (int i = 0; i < a.pairs; ++i) {
      // Alternate the order so drift does not favour either variant. The second evaluation
      // is also timed alternately with the first kernel (the paired comparison a refining
      // step gets against the current best).
      auto first = c.verifier->Evaluate(i % 2 ? *c.slow : *c.base, "pair");
      const Incumbent against{i % 2 ? *c.slow : *c.base, "pair (first)"};
      auto second = c.verifier->Evaluate(i % 2 ? *c.base : *c.slow, "pair", &against);
      if (!first.ok() || !second.ok() || !first->timed || !second->timed || !second->vs_incumbent) {
        std::cerr << "evokernel: error: " << c.name << " pair evaluation failed"
                  << (second.ok() ? " " + second->vs_incumbent_note : std::string()) << "\n";
        return 2;
      }
      // The paired ratio is second/first: the slow variant's time over the base's, or its inverse.
      const PairedRatio& pr = *second->vs_incumbent;
      const double slow_over_base = i % 2 ? 1 / pr.ratio : pr.ratio;
      paired_ratios.push_back(slow_over_base);
      paired_correct += slow_over_base > 1;
      const char* right = i % 2 ? "faster" : "slower";
      paired_decided += pr.verdict == right;
      paired_wrong_verdict += pr.verdict != right && pr.verdict != "same";
      double base = (i % 2 ? second : first)->kernel_ns.median;
      double slow = (i % 2 ? first : second)->kernel_ns.median;
      correct += slow > base;
      // Other estimators of the same calls: interference only ever adds time, so the fast
      // tail of a loaded machine's calls may rank better than the median.
      correct_p25 += (i % 2 ? first : second)->kernel_ns.p25 > (i % 2 ? second : first)->kernel_ns.p25;
      correct_min += (i % 2 ? first : second)->kernel_ns.min > (i % 2 ? second : first)->kernel_ns.min;
      correct_speedup += (i % 2 ? first : second)->speedup < (i % 2 ? second : first)->speedup;
      noisy += first->noisy + second->noisy;
      loaded_evals += first->machine_loaded() + second->machine_loaded();
      ratios.push_back(slow / base);
    }
    Summary rs = Summarise(ratios), prs = Summarise(paired_ratios);
    double share = a.pairs ? double(correct) / a.pairs : 0;
    double paired_share = a.pairs ? double(paired_correct) / a.pairs : 0;
    out["resolution"][c.name] = {{"pairs", a.pairs}, {"ranked_correctly", correct}, {"share", share},
                                 {"ranked_correctly_by_speedup", correct_speedup}, {"noisy_evaluations", noisy},
                                 {"median_slow_over_base", rs.median}, {"min_ratio", rs.min}, {"max_ratio", rs.max},
                                 {"timed_on_loaded_machine", loaded_evals},
                                 {"ranked_correctly_by_p25", correct_p25}, {"ranked_correctly_by_min", correct_min},
                                 {"paired", {{"ranked_correctly", paired_correct}, {"share", paired_share},
                                             {"verdict_slower", paired_decided},
                                             {"verdict_wrong", paired_wrong_verdict},
                                             {"median_slow_over_base", prs.median}, {"min_ratio", prs.min},
                                             {"max_ratio", prs.max}}}};
    log(fmt::format("resolution ({}): a variant doing 5% more work ranked slower in {}/{} pairs = {:.0f}% "
                    "(target >= 95%); measured slow/base median ratio {:.3f} (range {:.3f}-{:.3f}); ranked by "
                    "speedup over the interleaved baseline: {}/{}, by p25: {}/{}, by min: {}/{}; evaluations flagged "
                    "noisy: {}, timed on a loaded machine: {}\n",
                    c.name, correct, a.pairs, 100 * share, rs.median, rs.min, rs.max, correct_speedup, a.pairs,
                    correct_p25, a.pairs, correct_min, a.pairs, noisy, loaded_evals));
    log(fmt::format("resolution ({}), paired (the two timed alternately in one evaluation, as a refining step is "
                    "against the best): ranked slower in {}/{} pairs = {:.0f}% (target >= 90% under load); 95% "
                    "interval entirely on the right side (a decided verdict) in {}/{}, on the wrong side in {}/{}; "
                    "paired slow/base ratio median {:.3f} (range {:.3f}-{:.3f})\n",
                    c.name, paired_correct, a.pairs, 100 * paired_share, paired_decided, a.pairs,
                    paired_wrong_verdict, a.pairs, prs.median, prs.min, prs.max));
  }
  if (a.json) std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace evokernel
