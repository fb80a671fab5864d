#include "cli/evolve_cmd.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <set>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "agent/agent.h"
#include "backend/registry.h"
#include "agent/run_record.h"
#include "cli/llm_cmd.h"
#include "common/fs.h"
#include "common/json_int.h"
#include "memory/seed.h"
#include "generator/builtin/builtin_generator.h"
#include "generator/llm_generator.h"
#include "provider/ledger.h"

namespace evokernel {
namespace fs = std::filesystem;
namespace mem = memory;

namespace {

std::atomic<bool> g_cancel{false};

extern "C" void OnInterrupt(int) {
  if (g_cancel.exchange(true)) {
    // Second Ctrl-C: stop now. The run stays resumable (every event is already on disk).
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
  }
}

int Fail(const Status& st) {
  std::cerr << "evokernel: error: " << st.ToString() << "\n";
  return 2;
}

class EvolveCommandImpl : public EvolveCommand {
 public:
  explicit EvolveCommandImpl(CLI::App& app) {
    cmd_ = app.add_subcommand("evolve", "Draft and refine kernels for task suites with an LLM, learning in a memory bank");
    cmd_->add_option("--suite", suites_, "Task suite to run (repeatable; default: level1)");
    cmd_->add_option("--task", task_ids_, "Single task to run (repeatable; instead of --suite)");
    cmd_->add_option("--tasks-dir", tasks_dir_, "Directory of task suites (default: <data dir>/tasks)")
        ->envname("EVOKERNEL_TASKS_DIR");
    cmd_->add_option("--limit", limit_, "Run only the first N tasks of the curriculum (0: all)")->default_val(0);
    cmd_->add_option("--backend", backend_, "Target backend")->default_val("cpu");
    cmd_->add_option("--method", method_, "evokernel (shared memory + values), passk, refine, or builtin (the built-in generator: no model; the "
                   "default when no model endpoint is configured)")->default_val("evokernel");
    cmd_->add_option("--retrieval", retrieval_, "Context selection: value, similarity, random, none")
        ->default_val("value");
    cmd_->add_option("--budget,-T", budget_, "Iterations per task (drafting and refining)")->default_val(30)
        ->check(CLI::Range(1, 100000));
    cmd_->add_flag("--draft-only", draft_only_,
                   "Stop each task at its first feasible kernel: drafting only, no refining (correctness sweeps)");
    cmd_->add_option("--jobs,-j", jobs_, "Tasks in flight (model calls overlap; timings never do)")->default_val(1)
        ->check(CLI::Range(1, 256));
    cmd_->add_option("--bank", bank_, "Memory bank file (default: $EVOKERNEL_MEMORY or ~/.local/share/evokernel/memory.sqlite)")
        ->envname("EVOKERNEL_MEMORY");
    cmd_->add_option("--runs-dir", runs_dir_, "Where run records go (default: $EVOKERNEL_RUNS_DIR or ./runs)")
        ->envname("EVOKERNEL_RUNS_DIR");
    cmd_->add_option("--resume", resume_, "Continue run RUN (an id under --runs-dir or a path) after a crash or Ctrl-C");
    cmd_->add_option("--max-tokens", max_tokens_, "Stop the run after this many tokens (input + output)");
    cmd_->add_option("--max-cost", max_cost_, "Stop the run after this much spend in USD (from the price table)");
    cmd_->add_option("--max-wall", max_wall_, "Stop this session after this many seconds");
    cmd_->add_option("--seed", seed_, "Seed of the selection randomness")->default_val(1);
    cmd_->add_option("--threads", threads_, "Threads for kernels and the PyTorch baseline")->default_val(1)
        ->envname("EVOKERNEL_THREADS")->check(CLI::Range(1, 4096));
    cmd_->add_option("--trials", trials_, "Correctness trials per evaluation")->default_val(5)->check(CLI::Range(1, 1000));
    cmd_->add_option("--timing-budget", timing_budget_,
                     "Wall-clock seconds of timing per side in the first pass (noisy sides get more calls)")
        ->default_val(VerifyOptions{}.timing_budget_s);
    cmd_->add_option("--alpha", memcfg_.alpha, "Value step size")->default_val(memcfg_.alpha);
    cmd_->add_option("--epsilon", memcfg_.epsilon, "Exploration rate of value selection")->default_val(memcfg_.epsilon);
    cmd_->add_option("--context-size,-N", memcfg_.n, "Memory items shown per step (N)")->default_val(memcfg_.n);
    cmd_->add_option("--lambda", memcfg_.lambda, "Recall pool multiplier (K = lambda * N)")->default_val(memcfg_.lambda);
    cmd_->add_option("--value-scope", value_scope_,
                     "Which value ranks items: item (one global value), category (the task's category, else "
                     "global) or neighbourhood (related categories too, shrunk to global); docs/memory.md")
        ->default_val(std::string(mem::ValueScopeName(memcfg_.value_scope)))
        ->check(CLI::IsMember({"item", "category", "neighbourhood", "neighborhood"}));
    cmd_->add_flag("--no-llm-cache", no_cache_, "Do not cache model responses (default: cache under <cache dir>/llm)");
    cmd_->add_flag("--json", json_, "Print the run summary as JSON at the end");
    cmd_->add_flag("--quiet,-q", quiet_, "No per-iteration progress lines");
    AddProviderOptions(cmd_, provider_opts_);
  }

  bool parsed() const override { return cmd_->parsed(); }

  int Run() override {
    // A new run or a resume first sweeps what killed evokernel processes of this host left
    // behind (oracle and runner directories, unfinished builds).
    if (int swept = SweepLeftovers(CacheDir() / "builds"); swept > 0 && !quiet_)
      std::cerr << "removed " << swept << " temporary director" << (swept == 1 ? "y" : "ies")
                << " left behind by evokernel processes that died\n";
    // The model endpoint first: without one, say exactly what to configure. The built-in
    // generator needs none (for a resumed run, the recorded method decides).
    fs::path runs_dir = runs_dir_.empty() ? DefaultRunsDir() : fs::path(runs_dir_);
    std::unique_ptr<RunRecord> record;
    std::string method = method_;
    if (!resume_.empty()) {
      auto r = RunRecord::Open(runs_dir, resume_);
      if (!r.ok()) return Fail(r.status());
      record = std::move(*r);
      method = record->config().value("method", method_);
    } else if (cmd_->get_option("--method")->count() == 0) {
      // No --method: a model when one is configured, else the built-in generator, said so.
      auto configured = EndpointConfigured(provider_opts_);
      if (!configured.ok()) return Fail(configured.status());
      if (!*configured) {
        method = method_ = MethodName(Method::kBuiltin);
        std::cerr << "evokernel: no LLM endpoint is configured (EVOKERNEL_BASE_URL and EVOKERNEL_MODEL, or --config): "
                     "using the built-in generator (--method builtin), which writes kernels from recipes, no model. "
                     "docs/providers.md says how to use a model.\n";
      }
    }
    const bool needs_model = method != MethodName(Method::kBuiltin);
    Result<ProviderConfig> pc = ProviderConfig{};
    auto ledger = std::make_shared<UsageLedger>();
    std::unique_ptr<Provider> provider;
    if (needs_model) {
      pc = ResolveProviderConfig(provider_opts_);
      if (!pc.ok()) return Fail(pc.status());
      if (pc->cache_dir.empty() && !no_cache_) pc->cache_dir = (CacheDir() / "llm").string();
      auto made = MakeProvider(*pc, ledger);
      if (!made.ok()) return Fail(made.status());
      provider = std::move(*made);
    }
    auto backend = MakeBackend(backend_);
    if (!backend.ok()) return Fail(backend.status());

    EvolveConfig cfg;
    std::vector<TaskRef> tasks;
    if (record) {
      auto st = ConfigFromRecord(record->config(), cfg, tasks);
      if (!st.ok()) return Fail(st.WithContext((record->dir() / "config.json").string()));
      for (const auto& line : IgnoredOnResume(cfg, tasks.size()))
        std::cerr << "evokernel: warning: ignored on resume: " << line << "\n";
      std::string recorded_model = record->config().value("provider", nlohmann::json::object()).value("model", "");
      if (needs_model && !recorded_model.empty() && recorded_model != pc->model)
        std::cerr << "evokernel: warning: run " << record->id() << " was started with model '" << recorded_model
                  << "', resuming with '" << pc->model << "'\n";
    } else {
      auto st = ConfigFromFlags(cfg, tasks);
      if (!st.ok()) return Fail(st);
      nlohmann::json config = cfg.ToJson();
      config["tasks"] = nlohmann::json::array();
      for (const auto& t : tasks) config["tasks"].push_back(t.ToJson());
      config["tasks_dir"] = TasksDir().string();
      if (needs_model) config["provider"] = pc->ToJson();  // never holds the key
      else config["provider"] = {{"kind", "builtin"}, {"model", "builtin"}};
      config["env"] = EnvironmentStamp();
      auto r = RunRecord::Create(runs_dir, NewRunId(), config);
      if (!r.ok()) return Fail(r.status());
      record = std::move(*r);
    }
    // Budgets and parallelism may change on resume; what the run learns from may not.
    cfg.jobs = jobs_;
    // Budgets come from this session's flags, never from the record.
    cfg.max_tokens = max_tokens_ > 0 ? std::optional<int64_t>(max_tokens_) : std::nullopt;
    cfg.max_cost_usd = max_cost_ > 0 ? std::optional<double>(max_cost_) : std::nullopt;
    cfg.max_wall_s = max_wall_ > 0 ? std::optional<double>(max_wall_) : std::nullopt;

    if (cfg.method == Method::kEvoKernel || cfg.method == Method::kBuiltin) {
      // A new bank starts with the backend's seed knowledge (idempotent for an existing one).
      // Checked whole before the run writes anything to it: a corrupt bank is refused untouched.
      mem::StoreOptions so;
      so.check_integrity = true;
      auto store = mem::OpenStore(cfg.bank.string(), so);
      if (!store.ok()) return Fail(store.status());
      auto seeded = mem::SeedKnowledge(**store, cfg.backend, mem::DefaultKnowledgeDir(cfg.backend));
      if (!seeded.ok()) return Fail(seeded.status());
      if (!quiet_ && seeded->added > 0)
        std::cerr << fmt::format("memory: seeded {} {} notes into {}\n", seeded->added, cfg.backend, cfg.bank.string());
    }

    if (!quiet_)
      std::cerr << fmt::format("run {} ({}): {} task(s), method {}, retrieval {}, budget {} per task{}, model {} at {}\n",
                               record->id(), record->dir().string(), tasks.size(), MethodName(cfg.method),
                               mem::RetrievalPolicyName(cfg.retrieval), cfg.budget,
                               cfg.draft_only ? " (drafting only)" : "",
                               needs_model ? pc->model : std::string("none (built-in generator)"),
                               needs_model ? pc->Endpoint() : std::string("this machine"));
    g_cancel = false;
    auto previous = std::signal(SIGINT, OnInterrupt);
    auto progress = [&](const ProgressEvent& e) {
      if (quiet_) return;
      std::string best = e.best_ms ? fmt::format("best {:.4g} ms", *e.best_ms) : "no feasible kernel yet";
      if (e.best_ms && e.baseline_ms) best += fmt::format(" = {:.2f}x PyTorch", *e.baseline_ms / *e.best_ms);
      std::cerr << fmt::format("[{}] {}/{} {:<6} {:<28} {} | run: ${:.4f}, {} tokens, {:.0f} s\n", e.task, e.iteration,
                               e.budget, e.stage, e.outcome, best, e.run_cost_usd, e.run_tokens, e.elapsed_s);
    };
    if (!provider && cfg.method != Method::kBuiltin)
      return Fail(InvalidArgument("method " + std::string(MethodName(cfg.method)) + " needs a model endpoint"));
    std::unique_ptr<Generator> generator = cfg.method == Method::kBuiltin
                                               ? MakeBuiltinGenerator()
                                               : MakeLlmGenerator(cfg.method, *provider, cfg.backend, cfg.prompts_dir);
    auto summary = Evolve(tasks, cfg, **backend, *generator, *record, progress, &g_cancel);
    std::signal(SIGINT, previous);
    if (!summary.ok()) {
      std::cerr << "evokernel: error: " << summary.status().ToString() << "\n"
                << "the run is saved; continue it with: evokernel evolve --resume " << record->id()
                << (runs_dir_.empty() ? "" : " --runs-dir " + runs_dir.string()) << "\n";
      return 2;
    }
    nlohmann::json out = summary->ToJson();
    // Tasks that could not be loaded (a broken task file) were skipped; the run says so and
    // fails, so a script never mistakes a run that did nothing for one that worked.
    const std::map<std::string, std::string> task_errors = record->Totals().task_errors;
    out["task_errors"] = task_errors;
    for (const auto& [task, err] : task_errors)
      std::cerr << "evokernel: error: task " << task << " could not be loaded: " << err << "\n";
    out["run"] = record->id();
    out["dir"] = record->dir().string();
    out["usage"] = ledger->ToJson();
    if (json_) std::cout << out.dump(2) << "\n";
    if (!quiet_)
      std::cerr << fmt::format("run {}: {} of {} task(s) have a feasible kernel after {} iteration(s){}\n", record->id(),
                               summary->feasible_tasks, summary->tasks, summary->iterations,
                               summary->stop_reason.empty() ? "" : " (stopped: " + summary->stop_reason +
                                                                       "; continue with --resume " + record->id() + ")");
    if (!task_errors.empty()) return 2;
    return summary->stop_reason.empty() ? 0 : 1;
  }

 private:
  fs::path TasksDir() const { return tasks_dir_.empty() ? DefaultTasksDir() : fs::path(tasks_dir_); }

  Status CommonConfig(EvolveConfig& cfg) {
    EVK_ASSIGN_OR_RETURN(cfg.method, ParseMethod(method_));
    EVK_ASSIGN_OR_RETURN(cfg.retrieval, mem::ParseRetrievalPolicy(retrieval_));
    cfg.memory = memcfg_;
    EVK_ASSIGN_OR_RETURN(cfg.memory.value_scope, mem::ParseValueScope(value_scope_));
    cfg.budget = budget_;
    cfg.draft_only = draft_only_;
    cfg.seed = seed_;
    cfg.backend = backend_;
    cfg.bank = bank_.empty() ? mem::DefaultBankPath() : fs::path(bank_);
    cfg.verify.threads = threads_;
    cfg.verify.correctness_trials = trials_;
    cfg.verify.hidden_trials = std::min(2, std::max(0, trials_ - 1));
    cfg.verify.timing_budget_s = timing_budget_;
    return Status::Ok();
  }

  Status ConfigFromFlags(EvolveConfig& cfg, std::vector<TaskRef>& tasks) {
    EVK_RETURN_IF_ERROR(CommonConfig(cfg));
    if (!task_ids_.empty() && !suites_.empty()) return InvalidArgument("give --suite or --task, not both");
    if (!task_ids_.empty()) {
      for (const auto& id : task_ids_) {
        EVK_ASSIGN_OR_RETURN(TaskRef t, ResolveTask(id, TasksDir()));
        tasks.push_back(std::move(t));
      }
    } else {
      std::vector<std::string> wanted = suites_.empty() ? std::vector<std::string>{"level1"} : suites_;
      EVK_ASSIGN_OR_RETURN(auto all, LoadSuites(TasksDir()));
      for (const auto& w : wanted) {
        auto it = std::find_if(all.begin(), all.end(), [&](const Suite& s) { return s.name == w; });
        if (it == all.end()) {
          std::string names;
          for (const auto& s : all) names += (names.empty() ? "" : ", ") + s.name;
          return NotFound("no suite '" + w + "' in " + TasksDir().string() + " (suites: " + names + ")");
        }
        tasks.insert(tasks.end(), it->tasks.begin(), it->tasks.end());
      }
    }
    tasks = CurriculumOrder(std::move(tasks));
    if (limit_ > 0 && tasks.size() > static_cast<size_t>(limit_)) tasks.resize(static_cast<size_t>(limit_));
    if (tasks.empty()) return InvalidArgument("no tasks to run");
    return Status::Ok();
  }

  // A resumed run keeps everything that shapes what it learns from its config.json.
  // Flags given on resume that would change what the run learns from: the run keeps its recorded
  // values, and says which of the given ones it does not use (only budgets, -j and output flags
  // apply to a resumed run).
  std::vector<std::string> IgnoredOnResume(const EvolveConfig& cfg, size_t n_tasks) const {
    std::vector<std::string> out;
    auto given = [&](const char* name) { return cmd_->get_option(name)->count() > 0; };
    auto differs = [&](const char* name, const std::string& mine, const std::string& recorded) {
      if (given(name) && mine != recorded)
        out.push_back(fmt::format("{} {} (the run uses {})", name, mine, recorded));
    };
    auto num = [](double v) { return fmt::format("{:g}", v); };
    for (const char* name : {"--suite", "--task", "--limit"})
      if (given(name)) out.push_back(fmt::format("{} (the run's {} task(s) are fixed)", name, n_tasks));
    differs("--backend", backend_, cfg.backend);
    differs("--method", method_, std::string(MethodName(cfg.method)));
    differs("--retrieval", retrieval_, std::string(mem::RetrievalPolicyName(cfg.retrieval)));
    if (given("--draft-only") && !cfg.draft_only)
      out.push_back("--draft-only (the run refines feasible kernels)");
    std::error_code ec;
    if (given("--bank") && fs::weakly_canonical(bank_, ec) != fs::weakly_canonical(cfg.bank, ec))
      out.push_back(fmt::format("--bank {} (the run uses {})", bank_, cfg.bank.string()));
    differs("--seed", std::to_string(seed_), std::to_string(cfg.seed));
    differs("--threads", std::to_string(threads_), std::to_string(cfg.verify.threads));
    differs("--trials", std::to_string(trials_), std::to_string(cfg.verify.correctness_trials));
    differs("--timing-budget", num(timing_budget_), num(cfg.verify.timing_budget_s));
    differs("--alpha", num(memcfg_.alpha), num(cfg.memory.alpha));
    differs("--epsilon", num(memcfg_.epsilon), num(cfg.memory.epsilon));
    differs("--context-size", std::to_string(memcfg_.n), std::to_string(cfg.memory.n));
    differs("--lambda", num(memcfg_.lambda), num(cfg.memory.lambda));
    if (auto scope = mem::ParseValueScope(value_scope_); scope.ok())
      differs("--value-scope", std::string(mem::ValueScopeName(*scope)),
              std::string(mem::ValueScopeName(cfg.memory.value_scope)));
    return out;
  }

  Status ConfigFromRecord(const nlohmann::json& j, EvolveConfig& cfg, std::vector<TaskRef>& tasks) {
    EVK_ASSIGN_OR_RETURN(cfg, EvolveConfig::FromJson(j));
    try {
      fs::path tasks_dir = j.value("tasks_dir", TasksDir().string());
      for (const auto& t : j.at("tasks")) {
        EVK_ASSIGN_OR_RETURN(TaskRef ref, ResolveTask(t.at("file").get<std::string>(), tasks_dir,
                                                      t.value("overrides", nlohmann::json::object())));
        ref.id = t.at("id").get<std::string>();
        if (t.contains("level")) ref.level = JsonInt<int>(t, "level");
        ref.category = t.value("category", ref.category);
        ref.suite = t.value("suite", ref.suite);
        ref.description = t.value("description", ref.description);
        ref.atol = t.value("atol", ref.atol);
        ref.rtol = t.value("rtol", ref.rtol);
        tasks.push_back(std::move(ref));
      }
    } catch (const std::exception& e) {
      return InvalidArgument(std::string("malformed run config: ") + e.what());
    }
    return Status::Ok();
  }

  CLI::App* cmd_ = nullptr;
  std::vector<std::string> suites_, task_ids_;
  std::string tasks_dir_, backend_, method_, retrieval_, bank_, runs_dir_, resume_, value_scope_;
  int limit_ = 0, budget_ = 30, jobs_ = 1, threads_ = 1, trials_ = 5;
  int64_t max_tokens_ = 0;
  double max_cost_ = 0, max_wall_ = 0, timing_budget_ = VerifyOptions{}.timing_budget_s;
  uint64_t seed_ = 1;
  mem::MemoryConfig memcfg_;
  bool no_cache_ = false, json_ = false, quiet_ = false, draft_only_ = false;
  ProviderCliOptions provider_opts_;
};

}  // namespace

std::unique_ptr<EvolveCommand> EvolveCommand::Add(CLI::App& app) { return std::make_unique<EvolveCommandImpl>(app); }

}  // namespace evokernel
