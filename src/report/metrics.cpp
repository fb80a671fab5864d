#include "report/metrics.h"

#include "agent/agent.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>

#include <fmt/format.h>

#include "common/fs.h"
#include "memory/memory.h"

namespace evokernel::report {
using nlohmann::json;

namespace {

// Derived figures are rounded to 12 significant digits in JSON so that golden files do not
// depend on the last bit of a libm call.
json Num(double v) {
  if (!std::isfinite(v)) return nullptr;
  return std::strtod(fmt::format("{:.12g}", v).c_str(), nullptr);
}
json Num(const std::optional<double>& v) { return v ? Num(*v) : json(nullptr); }

double Share(int count, int total) { return total > 0 ? static_cast<double>(count) / total : 0.0; }


std::string GuessKind(const std::string& id) {
  if (id.rfind("seed-", 0) == 0) return "seed";  // a shipped note: knowledge or best practice
  if (id.rfind("t-", 0) == 0) return "trace";
  if (id.rfind("s-", 0) == 0) return "summary";
  return "unknown";
}

}  // namespace

std::optional<double> PassAtK(int n, int c, int k) {
  if (k < 1 || n < k || c < 0 || c > n) return std::nullopt;
  if (n - c < k) return 1.0;  // every k-subset holds a correct sample
  // C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i): no factorials, no overflow.
  double fail = 1.0;
  for (int i = n - c + 1; i <= n; ++i) fail *= 1.0 - static_cast<double>(k) / i;
  return 1.0 - fail;
}

std::optional<double> Quantile(std::vector<double> v, double q) {
  if (v.empty()) return std::nullopt;
  std::sort(v.begin(), v.end());
  q = std::clamp(q, 0.0, 1.0);
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return v[lo] + (v[hi] - v[lo]) * frac;
}

Distribution Distribution::Of(const std::vector<double>& values) {
  Distribution d;
  if (values.empty()) return d;
  d.n = static_cast<int>(values.size());
  d.min = *std::min_element(values.begin(), values.end());
  d.max = *std::max_element(values.begin(), values.end());
  d.p25 = *Quantile(values, 0.25);
  d.median = *Quantile(values, 0.5);
  d.p75 = *Quantile(values, 0.75);
  double sum = 0, log_sum = 0;
  bool positive = true;
  for (double v : values) {
    sum += v;
    if (v > 0) log_sum += std::log(v);
    else positive = false;
  }
  d.mean = sum / d.n;
  if (positive) d.geomean = std::exp(log_sum / d.n);
  return d;
}

json Distribution::ToJson() const {
  if (n == 0)
    return {{"n", 0}, {"min", nullptr}, {"p25", nullptr}, {"median", nullptr}, {"p75", nullptr},
            {"max", nullptr}, {"mean", nullptr}, {"geomean", nullptr}};
  return {{"n", n},           {"min", Num(min)}, {"p25", Num(p25)},   {"median", Num(median)},
          {"p75", Num(p75)},  {"max", Num(max)}, {"mean", Num(mean)}, {"geomean", Num(geomean)}};
}

json TaskMetrics::ToJson() const {
  return {{"run", run_id},
          {"method", label},
          {"task", task},
          {"level", level},
          {"category", category},
          {"budget", budget},
          {"iterations", iterations},
          {"extracted", extracted},
          {"compiled", compiled},
          {"feasible", feasible},
          {"compiled_any", compiled_any},
          {"solved", solved()},
          {"first_feasible_iteration", first_feasible_iteration ? json(*first_feasible_iteration) : json(nullptr)},
          {"feasible_round1", feasible_round1},
          {"first_feasible_ms", Num(first_feasible_ms)},
          {"best_iteration", has_best ? json(best_iteration) : json(nullptr)},
          {"best_ms", Num(best_ms)},
          {"baseline_ms", Num(baseline_ms)},
          {"speedup_vs_eager", Num(speedup)},
          {"speedup_trusted", speedup_trusted},
          {"speedup_vs_draft", Num(speedup_vs_draft)},
          {"speedup_vs_draft_trusted", speedup_vs_draft_trusted},
          {"roofline_fraction", Num(roofline_fraction)},
          {"input_tokens", Num(input_tokens)},
          {"output_tokens", Num(output_tokens)},
          {"cost_usd", Num(cost_usd)},
          {"cached_replies", cached_replies},
          {"error", error.empty() ? json(nullptr) : json(error)}};
}

std::vector<TaskMetrics> ComputeTaskMetrics(const RunData& run) {
  std::vector<TaskMetrics> out;
  for (const TaskInfo& info : run.tasks) {
    TaskMetrics m;
    m.run_id = run.id;
    m.label = run.Label();
    m.task = info.id;
    m.level = info.level;
    m.category = info.category;
    m.budget = run.budget;
    if (auto e = run.task_errors.find(info.id); e != run.task_errors.end()) m.error = e->second;

    std::vector<const IterationEvent*> events;
    for (const auto& it : run.iterations)
      if (it.task == info.id) events.push_back(&it);
    std::stable_sort(events.begin(), events.end(),
                     [](const IterationEvent* a, const IterationEvent* b) { return a->iteration < b->iteration; });
    const IterationEvent* fastest = nullptr;  // the best kernel by the events' own rule
    for (const IterationEvent* e : events) {
      m.input_tokens += e->input_tokens;
      m.output_tokens += e->output_tokens;
      m.cost_usd += e->cost_usd;
      m.cached_replies += e->from_cache;
      if (e->iteration > run.budget) continue;  // only what the budget allowed counts
      ++m.iterations;
      m.extracted += e->extracted;
      m.compiled += e->compiled;
      if (!e->feasible) continue;
      ++m.feasible;
      if (!m.first_feasible_iteration) {
        m.first_feasible_iteration = e->iteration;
        m.first_feasible_ms = e->latency_ms;
        m.first_feasible_trusted = e->speedup_trusted;
        fastest = e;
      }
      if (e->latency_ms && (!fastest->latency_ms || *e->latency_ms < *fastest->latency_ms)) fastest = e;
    }
    m.compiled_any = m.compiled > 0;
    m.feasible_round1 = m.first_feasible_iteration == 1;

    if (m.solved()) {
      m.has_best = true;
      auto b = run.best.find(info.id);
      if (b != run.best.end() && b->second.feasible) {
        m.best_iteration = b->second.iteration;
        m.best_ms = b->second.median_ms;
        m.baseline_ms = b->second.baseline_median_ms;
        m.speedup = b->second.speedup;
        m.speedup_trusted = b->second.speedup_trusted && b->second.timed;
        m.roofline_fraction = b->second.roofline_fraction;
      } else {
        m.best_iteration = fastest->iteration;
        m.best_ms = fastest->latency_ms;
        m.baseline_ms = fastest->baseline_ms;
        m.speedup = fastest->speedup;
        m.speedup_trusted = fastest->speedup_trusted && fastest->speedup.has_value();
        m.roofline_fraction = fastest->roofline_fraction;
      }
      if (m.first_feasible_ms && m.best_ms && *m.best_ms > 0) {
        m.speedup_vs_draft = *m.first_feasible_ms / *m.best_ms;
        m.speedup_vs_draft_trusted = m.first_feasible_trusted && m.speedup_trusted;
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

std::optional<double> GroupMetrics::FastShare(double p) const {
  for (const auto& f : fast_p)
    if (f.p == p) return f.share;
  return std::nullopt;
}

json GroupMetrics::ToJson() const {
  json pk = json::object();
  for (const auto& p : pass_at_k) pk[fmt::format("{}", p.k)] = {{"value", Num(p.value)}, {"tasks", p.tasks}};
  json fp = json::object();
  for (const auto& f : fast_p) fp[fmt::format("{:g}", f.p)] = {{"count", f.count}, {"share", Num(f.share)}};
  json curve = json::array();
  for (double a : acc_by_iteration) curve.push_back(Num(a));
  return {{"group", group},
          {"tasks", tasks},
          {"iterations", iterations},
          {"compiled_iterations", compiled_iterations},
          {"compile_rate", Num(compile_rate)},
          {"tasks_compiled", tasks_compiled},
          {"compile_rate_tasks", Num(compile_rate_tasks)},
          {"tasks_feasible", tasks_feasible},
          {"acc", Num(acc)},
          {"tasks_feasible_round1", tasks_feasible_round1},
          {"acc_round1", Num(acc_round1)},
          {"pass_at_k", pk},
          {"fast_p", fp},
          {"untrusted_speedups", untrusted_speedups},
          {"untimed", untimed},
          {"speedup_vs_eager", speedup_vs_eager.ToJson()},
          {"speedup_vs_draft", speedup_vs_draft.ToJson()},
          {"iterations_to_feasible", iterations_to_feasible.ToJson()},
          {"roofline_fraction", roofline_fraction.ToJson()},
          {"input_tokens", Num(input_tokens)},
          {"output_tokens", Num(output_tokens)},
          {"cost_usd", Num(cost_usd)},
          {"acc_by_iteration", curve}};
}

GroupMetrics Aggregate(const std::string& group, const std::vector<TaskMetrics>& tasks, const MetricsOptions& opt) {
  GroupMetrics g;
  g.group = group;
  g.tasks = static_cast<int>(tasks.size());
  std::vector<double> eager, draft, iters, roofline;
  int max_budget = 0;
  for (const auto& t : tasks) {
    g.iterations += t.iterations;
    g.compiled_iterations += t.compiled;
    g.tasks_compiled += t.compiled_any;
    g.tasks_feasible += t.solved();
    g.tasks_feasible_round1 += t.feasible_round1;
    g.input_tokens += t.input_tokens;
    g.output_tokens += t.output_tokens;
    g.cost_usd += t.cost_usd;
    max_budget = std::max(max_budget, t.budget);
    if (!t.solved()) continue;
    iters.push_back(*t.first_feasible_iteration);
    if (t.roofline_fraction) roofline.push_back(*t.roofline_fraction);
    if (!t.speedup) {
      ++g.untimed;
    } else {
      if (!t.speedup_trusted) ++g.untrusted_speedups;
      if (t.speedup_trusted || opt.include_untrusted) eager.push_back(*t.speedup);
    }
    if (t.speedup_vs_draft && (t.speedup_vs_draft_trusted || opt.include_untrusted)) draft.push_back(*t.speedup_vs_draft);
  }
  if (g.iterations > 0) g.compile_rate = Share(g.compiled_iterations, g.iterations);
  g.compile_rate_tasks = Share(g.tasks_compiled, g.tasks);
  g.acc = Share(g.tasks_feasible, g.tasks);
  g.acc_round1 = Share(g.tasks_feasible_round1, g.tasks);
  for (int k : opt.ks) {
    PassK p;
    p.k = k;
    double sum = 0;
    for (const auto& t : tasks)
      if (auto v = PassAtK(t.iterations, t.feasible, k)) {
        sum += *v;
        ++p.tasks;
      }
    if (p.tasks > 0) p.value = sum / p.tasks;
    g.pass_at_k.push_back(p);
  }
  for (double p : opt.ps) {
    FastP f;
    f.p = p;
    for (const auto& t : tasks) {
      if (!t.solved()) continue;
      if (p <= 0) {
        ++f.count;  // fast_0: a feasible kernel, whatever its speed
      } else if (t.speedup && (t.speedup_trusted || opt.include_untrusted) && *t.speedup > p) {
        ++f.count;
      }
    }
    f.share = Share(f.count, g.tasks);
    g.fast_p.push_back(f);
  }
  g.speedup_vs_eager = Distribution::Of(eager);
  g.speedup_vs_draft = Distribution::Of(draft);
  g.iterations_to_feasible = Distribution::Of(iters);
  g.roofline_fraction = Distribution::Of(roofline);
  for (int t = 1; t <= max_budget; ++t) {
    int n = 0;
    for (const auto& tm : tasks) n += tm.first_feasible_iteration && *tm.first_feasible_iteration <= t;
    g.acc_by_iteration.push_back(Share(n, g.tasks));
  }
  return g;
}

namespace {

template <typename Key, typename KeyFn, typename NameFn>
std::vector<GroupMetrics> GroupBy(const std::vector<TaskMetrics>& tasks, const MetricsOptions& opt, KeyFn key,
                                  NameFn name) {
  std::map<Key, std::vector<TaskMetrics>> groups;
  for (const auto& t : tasks) groups[key(t)].push_back(t);
  std::vector<GroupMetrics> out;
  for (const auto& [k, members] : groups) out.push_back(Aggregate(name(k), members, opt));
  return out;
}

}  // namespace

std::vector<GroupMetrics> ByLevel(const std::vector<TaskMetrics>& tasks, const MetricsOptions& opt) {
  return GroupBy<int>(
      tasks, opt, [](const TaskMetrics& t) { return t.level; },
      [](int l) { return l > 0 ? fmt::format("level {}", l) : std::string("level unknown"); });
}

std::vector<GroupMetrics> ByCategory(const std::vector<TaskMetrics>& tasks, const MetricsOptions& opt) {
  return GroupBy<std::string>(
      tasks, opt, [](const TaskMetrics& t) { return t.category.empty() ? std::string("unknown") : t.category; },
      [](const std::string& c) { return "category " + c; });
}

std::vector<GroupMetrics> ByMethod(const std::vector<TaskMetrics>& tasks, const MetricsOptions& opt) {
  return GroupBy<std::string>(
      tasks, opt, [](const TaskMetrics& t) { return t.label; },
      [](const std::string& m) { return "method " + m; });
}

// --------------------------------------------------------------------------- memory

bool Helpful(const IterationEvent& e) { return (e.stage == "draft" && e.feasible) || (e.feasible && e.new_best); }

json ItemUse::ToJson() const {
  json pts = json::array();
  for (const auto& p : points) pts.push_back({{"step", p.step}, {"stage", p.stage}, {"q", Num(p.q)}});
  return {{"id", id},
          {"kind", kind},
          {"title", title},
          {"creator", creator.empty() ? json(nullptr) : json(creator)},
          {"created_in_run", created_in_run},
          {"shown", shown},
          {"helped", helped},
          {"shown_by_task", shown_by_task},
          {"helped_by_task", helped_by_task},
          {"updates_draft", updates_draft},
          {"updates_refine", updates_refine},
          {"q_draft", Num(q_draft)},
          {"q_refine", Num(q_refine)},
          {"bank_q_draft", Num(bank_q_draft)},
          {"bank_q_refine", Num(bank_q_refine)},
          {"bank_visits_draft", bank_visits_draft ? json(*bank_visits_draft) : json(nullptr)},
          {"bank_visits_refine", bank_visits_refine ? json(*bank_visits_refine) : json(nullptr)},
          {"values", pts}};
}

json TransferCell::ToJson() const {
  return {{"creator", creator}, {"consumer", consumer}, {"shown", shown}, {"helped", helped}, {"items", items}};
}

json MemoryAnalysis::ToJson() const {
  json items_j = json::array();
  for (const auto& i : items) items_j.push_back(i.ToJson());
  json transfer_j = json::array();
  for (const auto& c : transfer) transfer_j.push_back(c.ToJson());
  return {{"used", used},
          {"steps", steps},
          {"bank", bank.empty() ? json(nullptr) : json(bank)},
          {"items", items_j},
          {"transfer", transfer_j}};
}

Result<MemoryAnalysis> AnalyseMemory(const RunData& run, memory::MemoryStore* bank) {
  MemoryAnalysis a;
  a.steps = static_cast<int>(run.iterations.size());
  if (bank) a.bank = bank->location();

  // Which task created which item, from the events that stored them.
  std::map<std::string, std::string> creator;
  std::map<std::string, std::string> created_kind;
  std::set<std::string> feasible_tasks;
  for (const auto& e : run.iterations) {
    if (e.item_id.empty()) continue;
    creator[e.item_id] = e.task;
    created_kind[e.item_id] = "trace";
    // The agent writes a summary at milestones: the task's first feasible kernel and each
    // refining improvement, with an id derived from (run, task, iteration).
    const bool first_feasible = e.feasible && !feasible_tasks.count(e.task);
    if (first_feasible || (e.stage == "refine" && e.new_best && e.feasible)) {
      std::string sid = IterationItemId("s-", run.id, e.task, e.iteration);
      creator[sid] = e.task;
      created_kind[sid] = "summary";
    }
    if (e.feasible) feasible_tasks.insert(e.task);
  }

  std::map<std::string, ItemUse> items;
  std::map<std::pair<std::string, std::string>, TransferCell> cells;
  int step = 0;
  for (const auto& e : run.iterations) {
    ++step;
    std::vector<std::string> ids = e.items_used;
    if (e.stage == "refine" && !e.start_point.empty() &&
        std::find(ids.begin(), ids.end(), e.start_point) == ids.end())
      ids.push_back(e.start_point);
    if (!e.items_used.empty()) a.used = true;
    const bool helpful = Helpful(e);
    for (const auto& id : ids) {
      ItemUse& u = items[id];
      if (u.id.empty()) {
        u.id = id;
        u.q_draft = u.q_refine = run.initial_q;
        auto c = creator.find(id);
        if (c != creator.end()) {
          u.creator = c->second;
          u.created_in_run = true;
          u.kind = created_kind[id];
        } else {
          u.kind = GuessKind(id);
        }
      }
      ++u.shown;
      ++u.shown_by_task[e.task];
      if (helpful) {
        ++u.helped;
        ++u.helped_by_task[e.task];
      }
      const bool refine = e.stage == "refine";
      double& q = refine ? u.q_refine : u.q_draft;
      q += run.alpha * (e.normalised_reward - q);
      ++(refine ? u.updates_refine : u.updates_draft);
      u.points.push_back({step, e.stage, q});
    }
  }

  // Provenance and current values from the bank, when given.
  if (bank) {
    for (auto& [id, u] : items) {
      auto m = bank->Get(id);
      if (!m.ok()) {
        if (m.status().code() == StatusCode::kNotFound) continue;  // pruned since
        return m.status().WithContext("reading memory item " + id + " from " + bank->location());
      }
      u.kind = std::string(memory::ItemKindName(m->kind));
      u.title = m->title;
      if (!m->signature.task_id.empty()) u.creator = m->signature.task_id;
      if (m->run_id == run.id) u.created_in_run = true;
      u.bank_q_draft = m->q_draft;
      u.bank_q_refine = m->q_refine;
      u.bank_visits_draft = m->visits_draft;
      u.bank_visits_refine = m->visits_refine;
    }
  }

  // Cross-task transfer: per consumer iteration, the creators (other tasks) whose items it showed.
  for (const auto& e : run.iterations) {
    std::map<std::string, std::set<std::string>> by_creator;
    for (const auto& id : e.items_used) {
      const ItemUse& u = items[id];
      if (!u.creator.empty() && u.creator != e.task) by_creator[u.creator].insert(id);
    }
    const bool helpful = Helpful(e);
    for (const auto& [c, ids] : by_creator) {
      TransferCell& cell = cells[{c, e.task}];
      cell.creator = c;
      cell.consumer = e.task;
      ++cell.shown;
      cell.helped += helpful;
      for (const auto& id : ids)
        if (std::find(cell.items.begin(), cell.items.end(), id) == cell.items.end()) cell.items.push_back(id);
    }
  }
  for (auto& [k, cell] : cells) {
    std::sort(cell.items.begin(), cell.items.end());
    a.transfer.push_back(std::move(cell));
  }
  for (auto& [id, u] : items) a.items.push_back(std::move(u));
  std::stable_sort(a.items.begin(), a.items.end(),
                   [](const ItemUse& x, const ItemUse& y) { return x.shown > y.shown; });
  return a;
}

}  // namespace evokernel::report
