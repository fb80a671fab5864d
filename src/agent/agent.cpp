#include "agent/agent.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "common/crash_point.h"
#include "common/fs.h"
#include "common/json_int.h"
#include "task/oracle.h"

namespace evokernel {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
namespace mem = memory;

nlohmann::json EvolveConfig::ToJson() const {
  nlohmann::json j = {{"method", MethodName(method)},
                      {"retrieval", mem::RetrievalPolicyName(retrieval)},
                      {"budget", budget},
                      {"draft_only", draft_only},
                      {"jobs", jobs},
                      {"seed", seed},
                      {"backend", backend},
                      {"bank", bank.string()},
                      {"threads", verify.threads},
                      {"memory",
                       {{"alpha", memory.alpha},
                        {"epsilon", memory.epsilon},
                        {"n", memory.n},
                        {"lambda", memory.lambda},
                        {"initial_q", memory.initial_q},
                        {"popart_beta", memory.popart_beta},
                        {"knowledge_slots", memory.knowledge_slots},
                        {"value_scope", mem::ValueScopeName(memory.value_scope)},
                        {"neighbour_prior", memory.neighbour_prior}}},
                      {"verify",
                       {{"correctness_trials", verify.correctness_trials},
                        {"hidden_trials", verify.hidden_trials},
                        {"timing", verify.timing},
                        {"timing_budget_s", verify.timing_budget_s}}}};
  if (max_tokens) j["max_tokens"] = *max_tokens;
  if (max_cost_usd) j["max_cost_usd"] = *max_cost_usd;
  if (max_wall_s) j["max_wall_s"] = *max_wall_s;
  return j;
}

Result<EvolveConfig> EvolveConfig::FromJson(const nlohmann::json& j) {
  EvolveConfig cfg;
  try {
    EVK_ASSIGN_OR_RETURN(cfg.method, ParseMethod(j.at("method").get<std::string>()));
    EVK_ASSIGN_OR_RETURN(cfg.retrieval, mem::ParseRetrievalPolicy(j.at("retrieval").get<std::string>()));
    cfg.budget = JsonInt<int>(j, "budget");
    if (j.contains("draft_only")) cfg.draft_only = j.at("draft_only").get<bool>();
    if (j.contains("jobs")) cfg.jobs = JsonInt<int>(j, "jobs");
    cfg.seed = JsonInt<uint64_t>(j, "seed");
    cfg.backend = j.at("backend").get<std::string>();
    cfg.bank = j.at("bank").get<std::string>();
    cfg.verify.threads = JsonInt<int>(j, "threads");
    const auto& m = j.at("memory");
    cfg.memory.alpha = m.at("alpha").get<double>();
    cfg.memory.epsilon = m.at("epsilon").get<double>();
    cfg.memory.n = JsonInt<int>(m, "n");
    cfg.memory.lambda = JsonInt<int>(m, "lambda");
    cfg.memory.initial_q = m.at("initial_q").get<double>();
    cfg.memory.popart_beta = m.at("popart_beta").get<double>();
    cfg.memory.knowledge_slots = JsonInt<int>(m, "knowledge_slots");
    // Runs recorded before value scopes ranked by the one global value: they resume that way.
    cfg.memory.value_scope = mem::ValueScope::kItem;
    if (m.contains("value_scope")) {
      EVK_ASSIGN_OR_RETURN(cfg.memory.value_scope, mem::ParseValueScope(m.at("value_scope").get<std::string>()));
    }
    if (m.contains("neighbour_prior")) cfg.memory.neighbour_prior = m.at("neighbour_prior").get<double>();
    const auto& v = j.at("verify");
    cfg.verify.correctness_trials = JsonInt<int>(v, "correctness_trials");
    cfg.verify.hidden_trials = JsonInt<int>(v, "hidden_trials");
    cfg.verify.timing = v.at("timing").get<bool>();
    cfg.verify.timing_budget_s = v.at("timing_budget_s").get<double>();
    if (j.contains("max_tokens")) cfg.max_tokens = JsonInt<int64_t>(j, "max_tokens");
    if (j.contains("max_cost_usd")) cfg.max_cost_usd = j["max_cost_usd"].get<double>();
    if (j.contains("max_wall_s")) cfg.max_wall_s = j["max_wall_s"].get<double>();
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("malformed run config: ") + e.what());
  }
  return cfg;
}

nlohmann::json EvolveSummary::ToJson() const {
  return {{"tasks", tasks},
          {"feasible_tasks", feasible_tasks},
          {"iterations", iterations},
          {"stopped_by_budget", stopped_by_budget},
          {"stop_reason", stop_reason}};
}

std::string IterationItemId(const std::string& prefix, const std::string& run, const std::string& task, int it) {
  return prefix + Sha256Hex(run + "\n" + task + "\n" + std::to_string(it)).substr(0, 16);
}

std::vector<TaskRef> CurriculumOrder(std::vector<TaskRef> tasks) {
  std::stable_sort(tasks.begin(), tasks.end(), [](const TaskRef& a, const TaskRef& b) {
    int la = a.level > 0 ? a.level : 1 << 20, lb = b.level > 0 ? b.level : 1 << 20;
    return la != lb ? la < lb : a.id < b.id;
  });
  return tasks;
}

namespace {

// State shared by the task workers of one Evolve call.
struct Shared {
  Shared(const EvolveConfig& c, Backend& b, Generator& g, RunRecord& r,
         const std::function<void(const ProgressEvent&)>& progress, const std::atomic<bool>* cancel_flag)
      : cfg(c), backend(b), generator(g), traits(g.traits()), record(r), on_progress(progress), cancel(cancel_flag) {}

  const EvolveConfig& cfg;
  Backend& backend;
  Generator& generator;
  const Generator::Traits traits;  // what the generator wants from the loop
  RunRecord& record;
  const std::function<void(const ProgressEvent&)>& on_progress;
  const std::atomic<bool>* cancel;
  Clock::time_point start = Clock::now();
  std::shared_ptr<std::mutex> gate = std::make_shared<std::mutex>();

  std::mutex mu;  // guards everything below
  std::optional<mem::PopArt> popart;  // refining rewards, persisted in the bank
  std::atomic<bool> stop{false};
  std::string stop_reason;
  bool stopped_by_budget = false;
  Status error;

  void Stop(std::string reason, bool budget) {
    std::lock_guard<std::mutex> lock(mu);
    if (!stop.exchange(true)) {
      stop_reason = std::move(reason);
      stopped_by_budget = budget;
    }
  }
  void Fail(Status st) {
    std::lock_guard<std::mutex> lock(mu);
    if (error.ok()) error = std::move(st);
    stop = true;
  }
  // Why the run must stop before another iteration, or "".
  std::string BudgetExhausted() {
    if (cancel && cancel->load()) return "cancelled";
    RunProgress p = record.Totals();
    if (cfg.max_tokens && p.input_tokens + p.output_tokens >= double(*cfg.max_tokens))
      return fmt::format("token budget of {} reached", *cfg.max_tokens);
    if (cfg.max_cost_usd && p.cost_usd >= *cfg.max_cost_usd)
      return fmt::format("cost budget of ${:.2f} reached", *cfg.max_cost_usd);
    if (cfg.max_wall_s && std::chrono::duration<double>(Clock::now() - start).count() >= *cfg.max_wall_s)
      return fmt::format("wall-clock budget of {:.0f} s reached", *cfg.max_wall_s);
    return "";
  }
};

std::string Truncate(const std::string& s, size_t n) { return s.size() <= n ? s : s.substr(0, n) + "\n[...]"; }


// Applies an iteration's outcome, written to pending/ before (RunRecord::SavePending), in the
// order of its durable writes: the refining normaliser, the bank transaction, the best kernel,
// the event; then removes the pending file. Each write is idempotent (the normaliser and the
// best kernel are overwritten with the same content, the bank transaction is skipped when its
// trace exists, the event is written only here and only while it is missing), so replaying a
// step after a crash at any point leaves the same state as an uninterrupted run.
Status ApplyStep(RunRecord& record, mem::MemoryStore* store, const nlohmann::json& step) {
  if (!step.contains("task") || !step["task"].is_string())
    return InvalidArgument("a pending iteration outcome names no task");
  const std::string task = step["task"].get<std::string>();
  try {
    if (store && step.contains("normaliser")) {
      const auto& n = step["normaliser"];
      mem::NormaliserState st;
      st.count = n.at("count").get<int64_t>();
      st.mean = n.at("mean").get<double>();
      st.mean_sq = n.at("mean_sq").get<double>();
      EVK_RETURN_IF_ERROR(store->SaveNormaliser(mem::Stage::kRefine, st));
      CrashPoint("normaliser");
    }
    if (store && step.contains("items")) {
      std::vector<mem::MemoryItem> items;
      for (const auto& j : step["items"]) {
        EVK_ASSIGN_OR_RETURN(mem::MemoryItem item, mem::MemoryItem::FromJson(j));
        items.push_back(std::move(item));
      }
      std::vector<mem::ValueUpdate> updates;
      for (const auto& u : step.at("updates")) {
        EVK_ASSIGN_OR_RETURN(mem::Stage stage, mem::ParseStage(u.at("stage").get<std::string>()));
        updates.push_back({u.at("id").get<std::string>(), stage, u.at("reward").get<double>(),
                           u.at("alpha").get<double>(), u.value("state", std::string())});
      }
      EVK_RETURN_IF_ERROR(store->Commit(std::move(items), updates).status());
      CrashPoint("commit");
    }
    if (step.contains("best")) {
      const auto& b = step["best"];
      EVK_RETURN_IF_ERROR(record.SaveBest(task, b.at("code").get<std::string>(), b.at("result"),
                                          b.at("extension").get<std::string>()));
      CrashPoint("best");
    }
    EVK_RETURN_IF_ERROR(record.Append(step.at("event")));
    CrashPoint("event");
  } catch (const std::exception& e) {
    return InvalidArgument(fmt::format("the pending outcome of task {} is malformed: {}", task, e.what()));
  }
  return record.ClearPending(task);
}

Status RunTask(Shared& sh, const TaskRef& ref, size_t index) {
  const EvolveConfig& cfg = sh.cfg;
  TaskProgress prog = sh.record.TaskState(ref.id);
  if (prog.done || prog.iterations >= cfg.budget) return Status::Ok();
  // A draft-only task that crashed after its feasible iteration but before task_done.
  if (cfg.draft_only && prog.feasible)
    return sh.record.Append({{"type", "task_done"}, {"task", ref.id}, {"reason", "feasible"}});

  OracleOptions oo;
  oo.threads = cfg.verify.threads;
  auto oracle = Oracle::Start(ref, oo);
  Result<TaskSpec> spec = oracle.ok() ? (*oracle)->Describe() : Result<TaskSpec>(oracle.status());
  if (!spec.ok()) {
    // A broken task is reported and skipped; the other tasks go on.
    if (spec.status().code() != StatusCode::kInvalidTask) return spec.status();
    return sh.record.Append({{"type", "task_error"}, {"task", ref.id}, {"error", spec.status().ToString()}});
  }
  VerifyOptions vo = cfg.verify;
  vo.timing_gate = sh.gate;
  Verifier verifier(sh.backend, **oracle, *spec, vo);
  const std::string contract = sh.backend.Contract(*spec);
  const mem::TaskSignature sig = mem::SignatureFromSpec(*spec, cfg.backend);
  // The coarse state s of Q(s, m): every value update also updates the item's value in it, and
  // retrieval resolves values for it under cfg.memory.value_scope.
  const std::string state = mem::StateOf(sig);
  std::mt19937_64 rng(cfg.seed * 1000003 + index * 7919 + static_cast<uint64_t>(prog.iterations));

  const Generator::Traits& traits = sh.traits;
  std::unique_ptr<mem::MemoryStore> store;
  std::vector<PromptItem> fixed;  // without the bank: what the generator shows with every proposal
  if (traits.uses_bank) {
    EVK_ASSIGN_OR_RETURN(store, mem::OpenStore(cfg.bank.string()));
  } else {
    EVK_ASSIGN_OR_RETURN(fixed, sh.generator.FixedContext(sig));
  }
  // Without the bank, refining starts from the task's own best kernel of this run.
  std::string best_code;
  const SourceLanguage& lang = sh.backend.language();
  if (auto b = ReadFile(sh.record.BestKernelPath(ref.id, lang.extension)); b.ok()) best_code = *b;

  bool feasible = prog.feasible;
  std::optional<double> best_ms = prog.best_ms, baseline_ms;
  std::string feedback = traits.feedback ? prog.last_feedback : "";

  for (int it = prog.iterations + 1; it <= cfg.budget; ++it) {
    if (sh.stop) return Status::Ok();
    if (std::string why = sh.BudgetExhausted(); !why.empty()) {
      sh.Stop(why, why != "cancelled");
      return Status::Ok();
    }
    mem::Stage stage = traits.refines && feasible ? mem::Stage::kRefine : mem::Stage::kDraft;

    // Context.
    ProposalRequest rq;
    rq.backend = cfg.backend;
    rq.task_id = ref.id;
    rq.task_source = spec->source;
    rq.contract = contract;
    rq.language = lang;
    rq.signature = sig;
    rq.spec = &*spec;
    rq.feedback = feedback;
    rq.iteration = it;
    rq.budget = cfg.budget;
    rq.baseline_ms = baseline_ms;
    rq.cancel = sh.cancel;
    std::vector<std::string> shown;
    std::optional<mem::MemoryItem> start;
    if (traits.uses_bank) {
      if (stage == mem::Stage::kRefine) {
        EVK_ASSIGN_OR_RETURN(start, mem::ChooseStartPoint(*store, ref.id, cfg.backend, cfg.retrieval, cfg.memory, rng,
                                                          state));
        if (!start) stage = mem::Stage::kDraft;  // the bank lost its variants: draft again
      }
      EVK_ASSIGN_OR_RETURN(mem::RetrievedContext ctx,
                           mem::RetrieveContext(*store, sig, cfg.backend, stage, cfg.retrieval, cfg.memory, rng,
                                                start ? &*start : nullptr));
      for (const auto& k : ctx.knowledge) rq.context.push_back(ToPromptItem(k));
      for (const auto& e : ctx.experience) rq.context.push_back(ToPromptItem(e.item));
      shown = ctx.ids();
      if (start) {
        rq.start_code = start->content;
        rq.start_ms = start->latency_ms;
      }
    } else {
      // What is shown is recorded as used (there is no bank to update).
      rq.context = fixed;
      for (const auto& d : fixed) shown.push_back(d.id);
      if (stage == mem::Stage::kRefine) {
        rq.start_code = best_code;
        rq.start_ms = best_ms;
        if (best_code.empty()) stage = mem::Stage::kDraft;
      }
    }
    const bool refining = stage == mem::Stage::kRefine;
    rq.stage = stage;

    // Generate.
    auto proposal = sh.generator.Propose(rq);
    if (!proposal.ok()) {
      if (sh.cancel && sh.cancel->load()) {
        // Nothing of this iteration was recorded: a resumed run redoes it.
        sh.Stop("cancelled", false);
        return Status::Ok();
      }
      return proposal.status().WithContext("task " + ref.id + ", iteration " + std::to_string(it));
    }
    const Extraction& x = proposal->kernel;
    const ChatResponse& reply = proposal->reply;

    // Verify.
    EvalResult er;
    EVK_ASSIGN_OR_RETURN(std::string attempt, sh.record.SaveAttempt(ref.id, it, x.ok ? x.code : reply.text, lang.extension));
    CrashPoint("attempt");
    if (x.ok) {
      // A refining step is timed alternately with the current best in the same evaluation: the
      // comparison that decides a new best is then not across whatever the machine did between
      // two evaluations.
      std::optional<Incumbent> incumbent;
      if (refining && !best_code.empty())
        incumbent = Incumbent{best_code, sh.record.BestKernelPath(ref.id, lang.extension).string()};
      EVK_ASSIGN_OR_RETURN(er, verifier.Evaluate(x.code, (sh.record.dir() / attempt).string(),
                                                 incumbent ? &*incumbent : nullptr));
    } else {
      er.task = ref.id;
      er.failed_stage = Stage::kCheck;
      er.failure = x.failure;
      er.feedback = x.feedback;
    }
    const bool ok = er.feasible;
    std::optional<double> lat;
    if (ok && er.timed) lat = er.kernel_ns.median / 1e6;
    if (er.timed) baseline_ms = er.baseline_ns.median / 1e6;
    std::string outcome = ok ? "feasible"
                             : (x.ok ? std::string(StageName(er.failed_stage)) : std::string("extract")) + "/" + er.failure;

    // Reward.
    double reward = 0, normalised = 0;
    std::optional<mem::NormaliserState> normaliser;
    if (!refining) {
      reward = normalised = mem::DraftReward(ok);
    } else {
      double b = best_ms.value_or(lat.value_or(1.0));
      // The latency relative to the best, from the paired comparison when there is one.
      std::optional<double> rel = lat;
      if (lat && er.vs_incumbent && best_ms) rel = *best_ms * er.vs_incumbent->ratio;
      reward = mem::RefineReward(ok, b, rel.value_or(std::nan("")));
      if (traits.uses_bank) {
        std::lock_guard<std::mutex> lock(sh.mu);
        if (!sh.popart) {
          EVK_ASSIGN_OR_RETURN(auto state, store->LoadNormaliser(mem::Stage::kRefine));
          sh.popart.emplace(cfg.memory, state);
        }
        normalised = sh.popart->Normalise(reward);
        normaliser = sh.popart->state();  // saved with the step's other writes, below
      } else {
        normalised = reward;
      }
    }
    // A new best: faster than the best by more than the noise can explain; from the paired
    // comparison when it was done (the whole 95% interval of the time ratio below 1), else
    // from the medians of the two evaluations.
    const bool new_best =
        ok && lat && (er.vs_incumbent ? er.vs_incumbent->verdict == "faster" : BeatsBest(er.kernel_ns, best_ms));
    const bool first_feasible = ok && !feasible;

    // The step's outcome: the bank's trace, a summary at milestones and the value updates (one
    // transaction), the best kernel, and the event. Written to pending/ first, then applied.
    nlohmann::json step = {{"task", ref.id}, {"iteration", it}};
    std::string item_id;
    if (traits.uses_bank) {
      std::vector<mem::MemoryItem> items;
      mem::MemoryItem trace;
      trace.id = item_id = IterationItemId("t-", sh.record.id(), ref.id, it);
      trace.kind = mem::ItemKind::kTrace;
      trace.signature = sig;
      trace.backend = cfg.backend;
      trace.stage = stage;
      trace.title = fmt::format("{} {} iteration {}: {}{}", ref.id, mem::StageName(stage), it, outcome,
                                lat ? fmt::format(" ({:.4g} ms)", *lat) : "");
      trace.content = x.ok ? x.code : Truncate(reply.text, 4000);
      if (trace.content.empty()) trace.content = "(empty reply)";
      trace.outcome = outcome;
      trace.feedback = Truncate(er.feedback, 4000);
      trace.reward = reward;
      trace.latency_ms = lat;
      trace.parent_id = start ? start->id : "";
      trace.q_draft = trace.q_refine = cfg.memory.initial_q;
      trace.model = reply.model;
      trace.run_id = sh.record.id();
      items.push_back(std::move(trace));
      if (first_feasible || (refining && new_best)) {
        mem::MemoryItem s;
        s.id = IterationItemId("s-", sh.record.id(), ref.id, it);
        s.kind = mem::ItemKind::kSummary;
        s.signature = sig;
        s.backend = cfg.backend;
        s.stage = refining ? mem::Stage::kRefine : mem::Stage::kDraft;
        if (first_feasible) {
          s.title = fmt::format("{}: first correct kernel at iteration {}", ref.id, it);
          s.content = fmt::format(
              "Task {} ({}; operators: {}) got its first feasible kernel at iteration {}{}. {}", ref.id,
              sig.category, fmt::join(sig.ops, ", "), it, lat ? fmt::format(", {:.4g} ms", *lat) : "",
              prog.last_feedback.empty() && feedback.empty()
                  ? std::string("It passed on the first verified attempt.")
                  : "The attempt before it failed with: " + Truncate(feedback.empty() ? prog.last_feedback : feedback, 600));
        } else {
          s.title = fmt::format("{}: refined from {:.4g} ms to {:.4g} ms", ref.id, best_ms.value_or(0), *lat);
          s.content = fmt::format("Task {} ({}; operators: {}): a variant of the start point ({}) ran in {:.4g} ms, "
                                  "down from the best {:.4g} ms (PyTorch eager {}). Its code is trace {}.",
                                  ref.id, sig.category, fmt::join(sig.ops, ", "), start ? start->id : "none", *lat,
                                  best_ms.value_or(0), baseline_ms ? fmt::format("{:.4g} ms", *baseline_ms) : "unknown",
                                  item_id);
        }
        s.outcome = "feasible";
        s.reward = reward;
        s.latency_ms = lat;
        s.parent_id = item_id;
        s.q_draft = s.q_refine = cfg.memory.initial_q;
        s.model = reply.model;
        s.run_id = sh.record.id();
        items.push_back(std::move(s));
      }
      std::vector<mem::ValueUpdate> updates;
      for (const auto& id : shown) updates.push_back({id, stage, normalised, cfg.memory.alpha, state});
      if (refining && start && std::find(shown.begin(), shown.end(), start->id) == shown.end())
        updates.push_back({start->id, stage, normalised, cfg.memory.alpha, state});
      step["items"] = nlohmann::json::array();
      for (const auto& item : items) step["items"].push_back(item.ToJson());
      step["updates"] = nlohmann::json::array();
      for (const auto& u : updates) {
        nlohmann::json uj = {{"id", u.id}, {"stage", mem::StageName(u.stage)}, {"reward", u.reward}, {"alpha", u.alpha}};
        if (!u.state.empty()) uj["state"] = u.state;
        step["updates"].push_back(std::move(uj));
      }
      if (normaliser)
        step["normaliser"] = {{"count", normaliser->count}, {"mean", normaliser->mean}, {"mean_sq", normaliser->mean_sq}};
    }

    // Record.
    if (new_best || (ok && best_code.empty())) {
      best_code = x.code;
      nlohmann::json rj = er.ToJson();
      rj["iteration"] = it;
      step["best"] = {{"code", x.code}, {"result", rj}, {"extension", lang.extension}};
    }
    nlohmann::json ev = {{"type", "iteration"},
                         {"task", ref.id},
                         {"level", ref.level},
                         {"category", ref.category},
                         {"iteration", it},
                         {"stage", mem::StageName(stage)},
                         {"method", MethodName(sh.generator.method())},
                         {"retrieval", mem::RetrievalPolicyName(cfg.retrieval)},
                         {"prompt_hash", proposal->prompt_hash},
                         {"request_hash", reply.request_hash},
                         {"model", reply.model},
                         {"endpoint", reply.endpoint},
                         {"input_tokens", reply.usage.input_tokens},
                         {"output_tokens", reply.usage.output_tokens},
                         {"cost_usd", reply.usage.cost_usd},
                         {"from_cache", reply.from_cache},
                         {"finish_reason", reply.finish_reason},
                         {"reply_oversized", reply.oversized},
                         {"extracted", x.ok},
                         {"compiled", er.compiled},
                         {"feasible", ok},
                         {"outcome", outcome},
                         {"failed_stage", ok ? nlohmann::json(nullptr) : nlohmann::json(outcome.substr(0, outcome.find('/')))},
                         {"failure", er.failure.empty() ? nlohmann::json(nullptr) : nlohmann::json(er.failure)},
                         {"feedback", Truncate(er.feedback, 2000)},
                         {"latency_ms", lat ? nlohmann::json(*lat) : nlohmann::json(nullptr)},
                         {"baseline_ms", er.timed ? nlohmann::json(er.baseline_ns.median / 1e6) : nlohmann::json(nullptr)},
                         {"speedup", er.timed && ok ? nlohmann::json(er.speedup) : nlohmann::json(nullptr)},
                         {"speedup_trusted", ok && er.speedup_trusted()},
                         {"machine_loaded", er.machine_loaded()},
                         {"vs_best", er.vs_incumbent ? er.vs_incumbent->ToJson() : nlohmann::json(nullptr)},
                         {"roofline_fraction", er.roofline ? nlohmann::json(er.roofline->fraction) : nlohmann::json(nullptr)},
                         {"reward", reward},
                         {"normalised_reward", normalised},
                         {"items_used", shown},
                         {"start_point", start ? nlohmann::json(start->id) : nlohmann::json(nullptr)},
                         {"item_id", item_id},
                         {"attempt", attempt},
                         {"new_best", new_best || first_feasible}};
    step["event"] = std::move(ev);
    EVK_RETURN_IF_ERROR(sh.record.SavePending(ref.id, step));
    CrashPoint("pending");
    EVK_RETURN_IF_ERROR(ApplyStep(sh.record, store.get(), step));

    // State for the next iteration.
    if (ok) {
      feasible = true;
      if (new_best || !best_ms) best_ms = lat ? lat : best_ms;
      feedback = lat ? fmt::format("Your last kernel was correct and ran in {:.4g} ms (best so far {:.4g} ms{}).", *lat,
                                   best_ms.value_or(*lat),
                                   baseline_ms ? fmt::format(", PyTorch eager {:.4g} ms", *baseline_ms) : "")
                     : "";
      if (lat && er.vs_incumbent)
        feedback += fmt::format(
            " Timed alternately with the best kernel so far, it took {:.3f}x its time (95% interval {:.3f}-{:.3f}): "
            "{}.",
            er.vs_incumbent->ratio, er.vs_incumbent->ratio_lo, er.vs_incumbent->ratio_hi,
            er.vs_incumbent->verdict == "faster"   ? "faster, now the best"
            : er.vs_incumbent->verdict == "slower" ? "slower"
                                                   : "no clear difference");
    } else {
      feedback = er.feedback;
    }
    if (!traits.feedback) feedback.clear();  // independent samples: no feedback
    if (sh.on_progress) {
      RunProgress tot = sh.record.Totals();
      ProgressEvent pe;
      pe.task = ref.id;
      pe.iteration = it;
      pe.budget = cfg.budget;
      pe.stage = std::string(mem::StageName(stage));
      pe.outcome = outcome;
      pe.latency_ms = lat;
      pe.best_ms = best_ms;
      pe.baseline_ms = baseline_ms;
      pe.run_cost_usd = tot.cost_usd;
      pe.run_tokens = static_cast<int64_t>(tot.input_tokens + tot.output_tokens);
      pe.elapsed_s = std::chrono::duration<double>(Clock::now() - sh.start).count();
      std::lock_guard<std::mutex> lock(sh.mu);
      sh.on_progress(pe);
    }
    if (cfg.draft_only && ok)
      return sh.record.Append({{"type", "task_done"}, {"task", ref.id}, {"reason", "feasible"}});
  }
  return sh.record.Append({{"type", "task_done"}, {"task", ref.id}, {"reason", "budget"}});
}

}  // namespace

bool BeatsBest(const Summary& kernel_ns, std::optional<double> best_ms) {
  if (!best_ms) return true;
  const double median_ms = kernel_ns.median / 1e6;
  if (!(median_ms < *best_ms)) return false;
  const double n = static_cast<double>(std::max<size_t>(kernel_ns.n, 1));
  const double se_ms = 1.2533 * (kernel_ns.iqr() / 1.349) / std::sqrt(n) / 1e6;
  return *best_ms - median_ms > 2 * se_ms;
}

Result<EvolveSummary> Evolve(const std::vector<TaskRef>& tasks, const EvolveConfig& cfg, Backend& backend,
                             Generator& generator, RunRecord& record,
                             const std::function<void(const ProgressEvent&)>& on_progress,
                             const std::atomic<bool>* cancel) {
  if (cfg.budget < 1) return InvalidArgument("--budget must be at least 1");
  if (generator.method() != cfg.method)
    return InvalidArgument(fmt::format("the run is configured for method {} but was given the {} generator",
                                       MethodName(cfg.method), MethodName(generator.method())));
  Shared sh(cfg, backend, generator, record, on_progress, cancel);
  if (sh.traits.uses_bank) EVK_RETURN_IF_ERROR(cfg.memory.Validate());
  EVK_RETURN_IF_ERROR(record.Append({{"type", record.progress().sessions == 0 ? "run_started" : "resumed"},
                                     {"run", record.id()},
                                     {"tasks", tasks.size()}}));
  // A crash between an iteration's first durable write and its event left that iteration's
  // outcome in pending/: finish its writes now, before any task runs, instead of redoing it.
  EVK_ASSIGN_OR_RETURN(std::vector<nlohmann::json> pending, record.LoadPending());
  if (!pending.empty()) {
    std::unique_ptr<mem::MemoryStore> store;
    if (sh.traits.uses_bank) {
      EVK_ASSIGN_OR_RETURN(store, mem::OpenStore(cfg.bank.string()));
    }
    for (auto& step : pending) {
      const std::string task = step["task"].get<std::string>();
      const int it = step["iteration"].get<int>();
      if (it == record.TaskState(task).iterations + 1) {
        step["event"]["recovered"] = true;  // finished by a resumed session from pending/
        EVK_RETURN_IF_ERROR(ApplyStep(record, store.get(), step).WithContext("recovering " + task));
      } else {
        EVK_RETURN_IF_ERROR(record.ClearPending(task));  // its event is on record already
      }
    }
  }
  std::mutex qmu;
  size_t next = 0;
  auto worker = [&] {
    for (;;) {
      size_t i;
      {
        std::lock_guard<std::mutex> lock(qmu);
        if (next >= tasks.size() || sh.stop) return;
        i = next++;
      }
      Status st = RunTask(sh, tasks[i], i);
      if (!st.ok()) {
        sh.Fail(st);
        return;
      }
    }
  };
  const int jobs = std::max(1, std::min<int>(cfg.jobs, static_cast<int>(tasks.size())));
  std::vector<std::thread> workers;
  for (int j = 0; j < jobs; ++j) workers.emplace_back(worker);
  for (auto& w : workers) w.join();

  const double wall = std::chrono::duration<double>(Clock::now() - sh.start).count();
  EVK_RETURN_IF_ERROR(record.Append({{"type", "session_end"},
                                     {"wall_seconds", wall},
                                     {"error", sh.error.ok() ? nlohmann::json(nullptr) : nlohmann::json(sh.error.ToString())},
                                     {"stop_reason", sh.stop_reason}}));
  if (!sh.error.ok()) return sh.error;
  EvolveSummary s;
  RunProgress p = record.Totals();
  s.tasks = static_cast<int>(tasks.size());
  for (const auto& t : tasks) {
    auto tp = record.TaskState(t.id);
    s.feasible_tasks += tp.feasible;
    s.iterations += tp.iterations;
  }
  s.stopped_by_budget = sh.stopped_by_budget;
  s.stop_reason = sh.stop_reason;
  if (!sh.stop) EVK_RETURN_IF_ERROR(record.Append({{"type", "run_finished"}}));
  return s;
}

}  // namespace evokernel
