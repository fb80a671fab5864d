#include "report/report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "memory/memory.h"
#include "report/svg.h"

namespace evokernel::report {
namespace fs = std::filesystem;
using nlohmann::json;

Result<Format> ParseFormat(std::string_view name) {
  if (name == "md" || name == "markdown") return Format::kMarkdown;
  if (name == "json") return Format::kJson;
  if (name == "csv") return Format::kCsv;
  if (name == "html") return Format::kHtml;
  return InvalidArgument("unknown report format '" + std::string(name) + "' (expected md, json, csv or html)");
}

std::string_view FormatName(Format f) {
  switch (f) {
    case Format::kMarkdown: return "md";
    case Format::kJson: return "json";
    case Format::kCsv: return "csv";
    case Format::kHtml: return "html";
  }
  return "?";
}

std::optional<Format> FormatFromPath(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == ".md" || ext == ".markdown") return Format::kMarkdown;
  if (ext == ".json") return Format::kJson;
  if (ext == ".csv") return Format::kCsv;
  if (ext == ".html" || ext == ".htm") return Format::kHtml;
  return std::nullopt;
}

Result<Report> BuildReport(std::vector<RunData> runs, const MetricsOptions& options, memory::MemoryStore* bank,
                           bool compare) {
  if (runs.empty()) return InvalidArgument("no run to report");
  if (compare && runs.size() < 2) return InvalidArgument("--compare needs at least two runs");
  Report r;
  r.options = options;
  r.compare = compare;
  std::set<int> levels;
  std::vector<TaskMetrics> all;
  for (auto& run : runs) {
    RunReport rr;
    rr.tasks = ComputeTaskMetrics(run);
    rr.overall = Aggregate("all", rr.tasks, options);
    rr.by_level = ByLevel(rr.tasks, options);
    rr.by_category = ByCategory(rr.tasks, options);
    EVK_ASSIGN_OR_RETURN(rr.memory, AnalyseMemory(run, bank));
    for (const auto& t : rr.tasks) {
      levels.insert(t.level);
      all.push_back(t);
    }
    rr.run = std::move(run);
    r.runs.push_back(std::move(rr));
  }
  r.levels.assign(levels.begin(), levels.end());
  r.by_method = ByMethod(all, options);
  if (compare) {
    const RunData& first = r.runs.front().run;
    auto task_set = [](const RunData& d) {
      std::set<std::string> s;
      for (const auto& t : d.tasks) s.insert(t.id);
      return s;
    };
    auto model = [](const RunData& d) {
      for (const auto& [k, v] : d.env)
        if (k == "model") return v;
      return std::string("unknown");
    };
    for (size_t i = 1; i < r.runs.size(); ++i) {
      const RunData& d = r.runs[i].run;
      if (task_set(d) != task_set(first))
        r.warnings.push_back(fmt::format("runs {} and {} have different task sets", first.id, d.id));
      if (d.budget != first.budget)
        r.warnings.push_back(
            fmt::format("runs {} and {} have different budgets ({} and {})", first.id, d.id, first.budget, d.budget));
      if (model(d) != model(first))
        r.warnings.push_back(fmt::format("runs {} and {} used different models ({} and {})", first.id, d.id,
                                         model(first), model(d)));
    }
  }
  for (const auto& rr : r.runs) {
    if (!rr.run.finished)
      r.warnings.push_back(fmt::format("run {} has not finished{}: its figures cover the iterations recorded so far",
                                       rr.run.id, rr.run.stop_reason.empty() ? "" : " (stopped: " + rr.run.stop_reason + ")"));
    if (rr.run.ignored_lines > 0)
      r.warnings.push_back(fmt::format("run {}: ignored a torn last line of events.jsonl", rr.run.id));
    for (const auto& [task, err] : rr.run.task_errors)
      r.warnings.push_back(fmt::format("run {}: task {} could not run: {}", rr.run.id, task, err));
  }
  return r;
}

// ----------------------------------------------------------------------------- formatting

namespace {

const std::string kNa = "n/a";

std::string Pct(double v) { return fmt::format("{:.1f}%", v * 100); }
std::string Frac(int count, int total) {
  return total > 0 ? fmt::format("{}/{} ({})", count, total, Pct(static_cast<double>(count) / total))
                   : fmt::format("{}/0", count);
}
std::string X(double v) { return fmt::format("{:.2f}x", v); }
std::string Ms(const std::optional<double>& v) { return v ? fmt::format("{:.4g}", *v) : kNa; }
std::string G(double v) { return fmt::format("{:g}", v); }
std::string Tokens(double v) { return fmt::format("{:.0f}", v); }
std::string Usd(double v) { return fmt::format("${:.4f}", v); }

std::string MedianIqr(const Distribution& d, bool times) {
  if (d.n == 0) return kNa;
  auto f = [&](double v) { return times ? X(v) : fmt::format("{:.3g}", v); };
  return fmt::format("{} [{}–{}] (n={})", f(d.median), f(d.p25), f(d.p75), d.n);
}

std::string PassK(const GroupMetrics& g, int k) {
  for (const auto& p : g.pass_at_k)
    if (p.k == k) return p.value ? fmt::format("{} ({} tasks)", Pct(*p.value), p.tasks) : kNa;
  return kNa;
}

std::string FastP(const GroupMetrics& g, double p) {
  for (const auto& f : g.fast_p)
    if (f.p == p) return Frac(f.count, g.tasks);
  return kNa;
}

std::string EnvValue(const EnvStamp& env, const std::string& key) {
  for (const auto& [k, v] : env)
    if (k == key) return v;
  return "unknown";
}

// Iterations at which the Acc curve is tabulated: all of them up to 10, else checkpoints.
std::vector<int> Checkpoints(int budget) {
  std::vector<int> out;
  if (budget <= 10) {
    for (int t = 1; t <= budget; ++t) out.push_back(t);
    return out;
  }
  for (int t : {1, 5, 10, 14, 20, 30, 50, 100})
    if (t < budget) out.push_back(t);
  out.push_back(budget);
  return out;
}

// A table, rendered as Markdown or HTML.
struct Table {
  std::string id, title;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

std::string MdCell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

std::string ToMarkdown(const Table& t) {
  std::string s;
  if (!t.title.empty()) s += "### " + t.title + "\n\n";
  s += "|";
  for (const auto& h : t.header) {
    s += ' ';
    s += MdCell(h);
    s += " |";
  }
  s += "\n|";
  for (size_t i = 0; i < t.header.size(); ++i) s += "---|";
  s += "\n";
  for (const auto& row : t.rows) {
    s += "|";
    for (const auto& c : row) {
      s += ' ';
      s += MdCell(c);
      s += " |";
    }
    s += "\n";
  }
  return s + "\n";
}

std::string ToHtml(const Table& t) {
  std::string s = fmt::format("<table id=\"{}\">\n", svg::Escape(t.id));
  if (!t.title.empty()) s += "<caption>" + svg::Escape(t.title) + "</caption>\n";
  s += "<thead><tr>";
  for (const auto& h : t.header) s += "<th>" + svg::Escape(h) + "</th>";
  s += "</tr></thead>\n<tbody>\n";
  for (const auto& row : t.rows) {
    s += "<tr>";
    for (size_t i = 0; i < row.size(); ++i) s += (i == 0 ? "<th scope=\"row\">" : "<td>") + svg::Escape(row[i]) + (i == 0 ? "</th>" : "</td>");
    s += "</tr>\n";
  }
  return s + "</tbody>\n</table>\n";
}

// ----------------------------------------------------------------------------- tables

Table SummaryTable(const RunReport& rr, const MetricsOptions& opt) {
  Table t;
  t.id = "summary-" + rr.run.id;
  t.title = "Summary";
  std::vector<const GroupMetrics*> cols = {&rr.overall};
  t.header = {"metric", "all"};
  if (rr.by_level.size() > 1)
    for (const auto& g : rr.by_level) {
      cols.push_back(&g);
      t.header.push_back(g.group);
    }
  auto row = [&](const std::string& name, auto fn) {
    std::vector<std::string> r = {name};
    for (const GroupMetrics* g : cols) r.push_back(fn(*g));
    t.rows.push_back(std::move(r));
  };
  row("tasks", [](const GroupMetrics& g) { return std::to_string(g.tasks); });
  row("iterations (within budget)", [](const GroupMetrics& g) { return std::to_string(g.iterations); });
  row("compile rate (iterations)", [](const GroupMetrics& g) { return Frac(g.compiled_iterations, g.iterations); });
  row("CR: tasks with a compiled kernel", [](const GroupMetrics& g) { return Frac(g.tasks_compiled, g.tasks); });
  row("Acc: tasks with a feasible kernel", [](const GroupMetrics& g) { return Frac(g.tasks_feasible, g.tasks); });
  row("Acc at iteration 1", [](const GroupMetrics& g) { return Frac(g.tasks_feasible_round1, g.tasks); });
  for (int k : opt.ks)
    row(fmt::format("pass@{}", k), [k](const GroupMetrics& g) { return PassK(g, k); });
  for (double p : opt.ps)
    row(fmt::format("fast_{:g}", p), [p](const GroupMetrics& g) { return FastP(g, p); });
  row("untrusted speedups (excluded)", [](const GroupMetrics& g) { return std::to_string(g.untrusted_speedups); });
  row("feasible but not timed", [](const GroupMetrics& g) { return std::to_string(g.untimed); });
  row("speedup vs PyTorch eager: median [IQR]", [](const GroupMetrics& g) { return MedianIqr(g.speedup_vs_eager, true); });
  row("speedup vs PyTorch eager: geometric mean", [](const GroupMetrics& g) {
    return g.speedup_vs_eager.geomean ? X(*g.speedup_vs_eager.geomean) : kNa;
  });
  row("speedup over first feasible draft: median [IQR]",
      [](const GroupMetrics& g) { return MedianIqr(g.speedup_vs_draft, true); });
  row("iterations to first feasible: median / mean", [](const GroupMetrics& g) {
    const auto& d = g.iterations_to_feasible;
    return d.n ? fmt::format("{} / {:.2f} (n={})", G(d.median), d.mean, d.n) : kNa;
  });
  row("roofline fraction of best kernels: median [IQR]",
      [](const GroupMetrics& g) { return MedianIqr(g.roofline_fraction, false); });
  row("tokens in / out", [](const GroupMetrics& g) {
    return fmt::format("{} / {}", Tokens(g.input_tokens), Tokens(g.output_tokens));
  });
  row("cost (USD)", [](const GroupMetrics& g) { return Usd(g.cost_usd); });
  return t;
}

// "category matmul" -> "matmul" (the table's first column names the grouping).
std::string ShortGroup(const std::string& group) {
  for (const char* prefix : {"category ", "method "})
    if (group.rfind(prefix, 0) == 0) return group.substr(std::string_view(prefix).size());
  return group;
}

Table GroupTable(const std::string& id, const std::string& title, const std::string& first,
                 const std::vector<GroupMetrics>& groups) {
  Table t;
  t.id = id;
  t.title = title;
  t.header = {first, "tasks", "compile rate (iterations)", "CR (tasks)", "Acc", "Acc at iteration 1", "fast_1",
              "median speedup"};
  for (const auto& g : groups)
    t.rows.push_back({ShortGroup(g.group), std::to_string(g.tasks), g.compile_rate ? Pct(*g.compile_rate) : kNa,
                      Pct(g.compile_rate_tasks), Pct(g.acc), Pct(g.acc_round1),
                      g.FastShare(1) ? Pct(*g.FastShare(1)) : kNa,
                      g.speedup_vs_eager.n ? X(g.speedup_vs_eager.median) : kNa});
  return t;
}

Table AccTable(const std::string& id, const std::vector<const RunReport*>& runs) {
  Table t;
  t.id = id;
  t.title = "Acc by iteration (share of tasks with a feasible kernel by iteration t)";
  int budget = 0;
  for (const auto* rr : runs) budget = std::max(budget, static_cast<int>(rr->overall.acc_by_iteration.size()));
  t.header = {"run"};
  std::vector<int> ts = Checkpoints(budget);
  for (int x : ts) t.header.push_back(fmt::format("t={}", x));
  for (const auto* rr : runs) {
    std::vector<std::string> row = {runs.size() > 1 ? rr->run.Label() + " (" + rr->run.id + ")" : rr->run.Label()};
    for (int x : ts) {
      const auto& c = rr->overall.acc_by_iteration;
      row.push_back(x <= static_cast<int>(c.size()) ? Pct(c[static_cast<size_t>(x - 1)]) : kNa);
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

std::string SpeedupCell(const TaskMetrics& t) {
  if (!t.speedup) return kNa;
  return X(*t.speedup) + (t.speedup_trusted ? "" : " (untrusted)");
}

Table TasksTable(const RunReport& rr) {
  Table t;
  t.id = "tasks-" + rr.run.id;
  t.title = "Tasks";
  t.header = {"task",   "level", "category", "iterations", "compiled", "feasible", "first feasible",
              "best ms", "eager ms", "speedup", "vs first draft", "roofline", "tokens", "cost"};
  for (const auto& m : rr.tasks) {
    std::string vs_draft = m.speedup_vs_draft ? X(*m.speedup_vs_draft) + (m.speedup_vs_draft_trusted ? "" : " (untrusted)")
                                              : kNa;
    t.rows.push_back({m.task, m.level ? std::to_string(m.level) : kNa, m.category.empty() ? kNa : m.category,
                      std::to_string(m.iterations), std::to_string(m.compiled), std::to_string(m.feasible),
                      m.first_feasible_iteration ? std::to_string(*m.first_feasible_iteration) : (m.error.empty() ? "never" : "task error"),
                      Ms(m.best_ms), Ms(m.baseline_ms), SpeedupCell(m), vs_draft,
                      m.roofline_fraction ? Pct(*m.roofline_fraction) : kNa,
                      Tokens(m.input_tokens + m.output_tokens), Usd(m.cost_usd)});
  }
  return t;
}

constexpr size_t kTopItems = 12;

Table ItemsTable(const RunReport& rr) {
  Table t;
  t.id = "items-" + rr.run.id;
  t.title = "Memory items most shown (values replayed from the events)";
  const bool bank = !rr.memory.bank.empty();
  t.header = {"item", "kind", "created by", "shown", "helpful", "draft updates", "Q_draft", "refine updates", "Q_refine"};
  if (bank) {
    t.header.push_back("bank Q_draft");
    t.header.push_back("bank Q_refine");
  }
  for (size_t i = 0; i < rr.memory.items.size() && i < kTopItems; ++i) {
    const ItemUse& u = rr.memory.items[i];
    std::vector<std::string> row = {u.id,
                                    u.kind,
                                    u.creator.empty() ? (u.id.rfind("seed-", 0) == 0 || u.kind == "knowledge" || u.kind == "best_practice"
                                                         ? "(seed note)"
                                                         : "unknown")
                                                    : u.creator,
                                    std::to_string(u.shown),
                                    std::to_string(u.helped),
                                    std::to_string(u.updates_draft),
                                    fmt::format("{:.3f}", u.q_draft),
                                    std::to_string(u.updates_refine),
                                    fmt::format("{:.3f}", u.q_refine)};
    if (bank) {
      row.push_back(u.bank_q_draft ? fmt::format("{:.3f}", *u.bank_q_draft) : kNa);
      row.push_back(u.bank_q_refine ? fmt::format("{:.3f}", *u.bank_q_refine) : kNa);
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

Table TransferTable(const RunReport& rr) {
  Table t;
  t.id = "transfer-" + rr.run.id;
  t.title = "Cross-task transfer (items created by one task, shown to another)";
  t.header = {"created by", "shown to", "iterations shown", "helpful iterations", "items"};
  for (const auto& c : rr.memory.transfer) {
    std::string items;
    for (const auto& id : c.items) items += (items.empty() ? "" : ", ") + id;
    t.rows.push_back({c.creator, c.consumer, std::to_string(c.shown), std::to_string(c.helped), items});
  }
  return t;
}

Table EnvTable(const std::string& id, const std::vector<const RunReport*>& runs) {
  Table t;
  t.id = id;
  t.title = "Environment";
  t.header = {"field"};
  for (const auto* rr : runs) t.header.push_back(runs.size() > 1 ? rr->run.id : "value");
  if (runs.empty()) return t;
  for (const auto& [k, v] : runs.front()->run.env) {
    std::vector<std::string> row = {k};
    for (const auto* rr : runs) row.push_back(EnvValue(rr->run.env, k));
    t.rows.push_back(std::move(row));
  }
  return t;
}

Table CompareTable(const Report& r) {
  Table t;
  t.id = "compare";
  t.title = "Ablation: method x level x CR / Acc";
  t.header = {"method", "retrieval", "run", "tasks"};
  for (int l : r.levels) {
    std::string name = l > 0 ? fmt::format("L{}", l) : "L?";
    t.header.push_back(name + " CR");
    t.header.push_back(name + " Acc");
  }
  for (const char* h : {"CR", "Acc", "fast_1", "median speedup"}) t.header.push_back(h);
  for (const auto& rr : r.runs) {
    std::vector<std::string> row = {rr.run.method, rr.run.method == "evokernel" ? rr.run.retrieval : "-", rr.run.id,
                                    std::to_string(rr.overall.tasks)};
    for (int l : r.levels) {
      std::string name = l > 0 ? fmt::format("level {}", l) : "level unknown";
      auto g = std::find_if(rr.by_level.begin(), rr.by_level.end(), [&](const GroupMetrics& x) { return x.group == name; });
      row.push_back(g == rr.by_level.end() ? kNa : Pct(g->compile_rate_tasks));
      row.push_back(g == rr.by_level.end() ? kNa : Pct(g->acc));
    }
    row.push_back(Pct(rr.overall.compile_rate_tasks));
    row.push_back(Pct(rr.overall.acc));
    row.push_back(rr.overall.FastShare(1) ? Pct(*rr.overall.FastShare(1)) : kNa);
    row.push_back(rr.overall.speedup_vs_eager.n ? X(rr.overall.speedup_vs_eager.median) : kNa);
    t.rows.push_back(std::move(row));
  }
  return t;
}

std::string RunHeadline(const RunData& d) {
  return fmt::format("Method `{}`{}, budget {} iteration{} per task, {} task{}, model `{}`, backend `{}`.", d.method,
                     d.method == "evokernel" ? " (retrieval `" + d.retrieval + "`)" : "", d.budget,
                     d.budget == 1 ? "" : "s", d.tasks.size(), d.tasks.size() == 1 ? "" : "s", EnvValue(d.env, "model"),
                     EnvValue(d.env, "backend"));
}

std::string RunStatus(const RunData& d) {
  return fmt::format("Sessions: {}; {}.", d.sessions,
                     d.finished ? "finished" : "not finished" + (d.stop_reason.empty() ? "" : " (stopped: " + d.stop_reason + ")"));
}

std::vector<std::string> Notes(const Report& r) {
  std::vector<std::string> notes;
  int untrusted = 0;
  for (const auto& rr : r.runs) untrusted += rr.overall.untrusted_speedups;
  if (r.options.include_untrusted)
    notes.push_back(fmt::format("Untrusted speedups are included (--include-untrusted): {} best kernel(s) have a "
                                "timing the verifier flagged.", untrusted));
  else
    notes.push_back(fmt::format("Only trusted speedups count in fast_p (p > 0) and the speedup figures; {} best "
                                "kernel(s) with a flagged timing (review or noise) are excluded and counted as "
                                "untrusted (--include-untrusted counts them).", untrusted));
  notes.push_back("CR counts tasks with at least one compiled kernel within the budget; the compile rate (iterations) "
                  "counts compiled kernels among all iterations. Definitions: docs/reports.md.");
  for (const auto& w : r.warnings) notes.push_back("Warning: " + w + ".");
  return notes;
}

std::vector<const RunReport*> Pointers(const Report& r) {
  std::vector<const RunReport*> out;
  for (const auto& rr : r.runs) out.push_back(&rr);
  return out;
}

}  // namespace

// ----------------------------------------------------------------------------- markdown

std::string RenderMarkdown(const Report& r) {
  std::string s;
  auto runs = Pointers(r);
  if (r.compare) {
    s += fmt::format("# evokernel comparison: {} runs\n\n", r.runs.size());
    for (const auto& rr : r.runs) s += fmt::format("- `{}`: {}\n", rr.run.id, RunHeadline(rr.run));
    s += "\n## Comparison\n\n" + ToMarkdown(CompareTable(r));
    s += ToMarkdown(AccTable("acc-by-iteration", runs));
    s += ToMarkdown(GroupTable("by-method", "By method (all runs' tasks)", "method", r.by_method));
  } else {
    const RunReport& rr = r.runs.front();
    s += fmt::format("# evokernel report: {}\n\n{} {}\n\n", rr.run.id, RunHeadline(rr.run), RunStatus(rr.run));
    s += "## Results\n\n" + ToMarkdown(SummaryTable(rr, r.options));
    s += ToMarkdown(AccTable("acc-by-iteration", runs));
    s += ToMarkdown(GroupTable("by-category", "By category", "category", rr.by_category));
    s += ToMarkdown(TasksTable(rr));
    if (rr.memory.used) {
      s += "## Memory\n\n" + ToMarkdown(ItemsTable(rr));
      s += ToMarkdown(TransferTable(rr));
    }
  }
  Table env = EnvTable("environment", runs);
  env.title.clear();  // the section heading says it
  s += "## Environment\n\n" + ToMarkdown(env);
  s += "## Notes\n\n";
  for (const auto& n : Notes(r)) s += "- " + n + "\n";
  return s;
}

// ----------------------------------------------------------------------------- JSON

std::string RenderJson(const Report& r) {
  json runs = json::array();
  for (const auto& rr : r.runs) {
    json env = json::object();
    for (const auto& [k, v] : rr.run.env) env[k] = v;
    json tasks = json::array();
    for (const auto& t : rr.tasks) {
      json tj = t.ToJson();
      for (int k : r.options.ks) {
        auto v = PassAtK(t.iterations, t.feasible, k);
        tj[fmt::format("pass_at_{}", k)] = v ? json(std::round(*v * 1e12) / 1e12) : json(nullptr);
      }
      tasks.push_back(std::move(tj));
    }
    json levels = json::array(), cats = json::array();
    for (const auto& g : rr.by_level) levels.push_back(g.ToJson());
    for (const auto& g : rr.by_category) cats.push_back(g.ToJson());
    runs.push_back({{"id", rr.run.id},
                    {"method", rr.run.method},
                    {"retrieval", rr.run.retrieval},
                    {"label", rr.run.Label()},
                    {"budget", rr.run.budget},
                    {"sessions", rr.run.sessions},
                    {"finished", rr.run.finished},
                    {"stop_reason", rr.run.stop_reason},
                    {"ignored_lines", rr.run.ignored_lines},
                    {"task_errors", rr.run.task_errors},
                    {"memory_settings", {{"alpha", rr.run.alpha}, {"initial_q", rr.run.initial_q}}},
                    {"env", env},
                    {"overall", rr.overall.ToJson()},
                    {"by_level", levels},
                    {"by_category", cats},
                    {"tasks", tasks},
                    {"memory", rr.memory.ToJson()}});
  }
  json methods = json::array();
  for (const auto& g : r.by_method) methods.push_back(g.ToJson());
  json out = {{"evokernel_report", 1},
              {"kind", r.compare ? "compare" : "run"},
              {"options",
               {{"include_untrusted", r.options.include_untrusted}, {"k", r.options.ks}, {"p", r.options.ps}}},
              {"runs", runs},
              {"by_method", methods},
              {"warnings", r.warnings}};
  if (r.compare) {
    Table t = CompareTable(r);
    json rows = json::array();
    for (const auto& row : t.rows) {
      json o = json::object();
      for (size_t i = 0; i < t.header.size() && i < row.size(); ++i) o[t.header[i]] = row[i];
      rows.push_back(std::move(o));
    }
    out["compare"] = rows;
  }
  return out.dump(2) + "\n";
}

// ----------------------------------------------------------------------------- CSV

namespace {

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string CsvNum(const std::optional<double>& v) { return v ? fmt::format("{:.6g}", *v) : ""; }

}  // namespace

std::string RenderCsv(const Report& r) {
  std::vector<std::string> header = {
      "run", "method", "retrieval", "task", "level", "category", "budget", "iterations", "extracted", "compiled",
      "feasible", "compiled_any", "solved", "first_feasible_iteration", "feasible_round1", "first_feasible_ms",
      "best_iteration", "best_ms", "baseline_ms", "speedup_vs_eager", "speedup_trusted", "speedup_vs_draft",
      "speedup_vs_draft_trusted", "roofline_fraction", "input_tokens", "output_tokens", "cost_usd"};
  for (int k : r.options.ks) header.push_back(fmt::format("pass_at_{}", k));
  header.push_back("error");
  if (!r.runs.empty())
    for (const auto& [k, v] : r.runs.front().run.env) {
      std::string name = "env_" + k;
      std::replace(name.begin(), name.end(), ' ', '_');
      header.push_back(name);
    }
  std::string s;
  for (size_t i = 0; i < header.size(); ++i) s += (i ? "," : "") + header[i];
  s += "\n";
  auto b = [](bool v) { return std::string(v ? "true" : "false"); };
  for (const auto& rr : r.runs)
    for (const auto& t : rr.tasks) {
      std::vector<std::string> f = {rr.run.id,
                                    rr.run.method,
                                    rr.run.retrieval,
                                    t.task,
                                    std::to_string(t.level),
                                    t.category,
                                    std::to_string(t.budget),
                                    std::to_string(t.iterations),
                                    std::to_string(t.extracted),
                                    std::to_string(t.compiled),
                                    std::to_string(t.feasible),
                                    b(t.compiled_any),
                                    b(t.solved()),
                                    t.first_feasible_iteration ? std::to_string(*t.first_feasible_iteration) : "",
                                    b(t.feasible_round1),
                                    CsvNum(t.first_feasible_ms),
                                    t.has_best ? std::to_string(t.best_iteration) : "",
                                    CsvNum(t.best_ms),
                                    CsvNum(t.baseline_ms),
                                    CsvNum(t.speedup),
                                    b(t.speedup_trusted),
                                    CsvNum(t.speedup_vs_draft),
                                    b(t.speedup_vs_draft_trusted),
                                    CsvNum(t.roofline_fraction),
                                    fmt::format("{:.0f}", t.input_tokens),
                                    fmt::format("{:.0f}", t.output_tokens),
                                    fmt::format("{:.6g}", t.cost_usd)};
      for (int k : r.options.ks) f.push_back(CsvNum(PassAtK(t.iterations, t.feasible, k)));
      f.push_back(t.error);
      for (const auto& [k, v] : r.runs.front().run.env) f.push_back(EnvValue(rr.run.env, k));
      for (size_t i = 0; i < f.size(); ++i) {
        if (i) s += ',';
        s += CsvField(f[i]);
      }
      s += "\n";
    }
  return s;
}

// ----------------------------------------------------------------------------- HTML

namespace {

constexpr std::string_view kCss = R"(
:root { --fg: #1d2430; --muted: #5b6574; --line: #d5dae1; --bg: #ffffff; --band: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1180px; padding: 24px 28px 64px; color: var(--fg); background: var(--bg);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
h1 { font-size: 24px; margin: 0 0 6px; }
h2 { font-size: 19px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 22px 0 8px; }
p.meta { color: var(--muted); margin: 2px 0; }
nav { margin: 12px 0 8px; }
nav a { margin-right: 14px; color: #1f5fae; text-decoration: none; }
table { border-collapse: collapse; margin: 8px 0 18px; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: right; vertical-align: top; }
thead th { background: var(--band); text-align: center; }
tbody th { text-align: left; font-weight: 500; background: #fbfcfd; }
.scroll { overflow-x: auto; }
figure { margin: 10px 0 22px; }
figcaption { color: var(--muted); max-width: 680px; }
svg.plot { background: #fff; border: 1px solid var(--line); border-radius: 4px; max-width: 100%; height: auto; }
svg .plot-title { font-size: 14px; font-weight: 600; fill: var(--fg); }
svg .tick, svg .bar-label, svg .legend-label, svg .row-label, svg .col-label, svg .cell-label { font-size: 11px; fill: var(--fg); }
svg .axis-label { font-size: 12px; fill: var(--muted); }
svg .grid { stroke: #eceff3; stroke-width: 1; }
svg .axis-line, svg .tick-mark { stroke: #8a93a0; stroke-width: 1; }
svg .ref-line { stroke: #444; stroke-width: 1; stroke-dasharray: 3 3; }
svg .no-data { font-size: 13px; fill: var(--muted); }
svg rect.bar { fill: #1f77b4; }
svg rect.bar.faster { fill: #2ca02c; }
svg rect.bar.slower { fill: #ff7f0e; }
svg rect.bar.untrusted { fill: #b8bec7; }
ul.notes li { margin: 3px 0; }
.legend-swatch { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 10px; }
)";

std::string Section(const std::string& id, const std::string& title, const std::string& body) {
  return fmt::format("<section id=\"{}\">\n<h2>{}</h2>\n{}</section>\n", svg::Escape(id), svg::Escape(title), body);
}

std::string Figure(const std::string& svg_text, const std::string& caption) {
  return "<figure>\n" + svg_text + "<figcaption>" + svg::Escape(caption) + "</figcaption>\n</figure>\n";
}

std::string Scroll(const std::string& inner) { return "<div class=\"scroll\">\n" + inner + "</div>\n"; }

std::string AccPlot(const std::string& id, const std::vector<svg::Series>& series, int budget) {
  svg::LineChart ch;
  ch.id = id;
  ch.title = "Correctness (Acc) by iteration";
  ch.x_label = "iteration";
  ch.y_label = "tasks with a feasible kernel";
  ch.y_percent = true;
  ch.integer_x = true;
  ch.x_min = 1;
  ch.x_max = std::max(budget, 2);
  ch.y_min = 0;
  ch.y_max = 1;
  ch.series = series;
  return svg::RenderLineChart(ch);
}

svg::Series AccSeries(const std::string& name, const GroupMetrics& g) {
  svg::Series s;
  s.name = name;
  for (size_t i = 0; i < g.acc_by_iteration.size(); ++i)
    s.points.emplace_back(static_cast<double>(i + 1), g.acc_by_iteration[i]);
  return s;
}

std::string SpeedupPlot(const RunReport& rr, int* untrusted_shown) {
  svg::BarChart ch;
  ch.id = "plot-speedup-" + rr.run.id;
  ch.title = "Best kernel speedup over PyTorch eager, per task (" + rr.run.Label() + ")";
  ch.y_label = "speedup (log scale)";
  ch.log_y = true;
  ch.ref_line = 1.0;
  std::vector<const TaskMetrics*> timed;
  for (const auto& t : rr.tasks)
    if (t.solved() && t.speedup && *t.speedup > 0) timed.push_back(&t);
  std::stable_sort(timed.begin(), timed.end(), [](const TaskMetrics* a, const TaskMetrics* b) { return *a->speedup < *b->speedup; });
  for (const TaskMetrics* t : timed) {
    svg::Bar b;
    b.label = t->task;
    b.value = *t->speedup;
    b.css_class = !t->speedup_trusted ? "untrusted" : (*t->speedup > 1 ? "faster" : "slower");
    if (!t->speedup_trusted) ++*untrusted_shown;
    b.tooltip = fmt::format("{}: {}{}", t->task, X(*t->speedup), t->speedup_trusted ? "" : " (untrusted)");
    ch.bars.push_back(std::move(b));
  }
  return svg::RenderBarChart(ch);
}

constexpr size_t kPlotItems = 6;

std::string ValuePlot(const RunReport& rr, const std::string& stage) {
  std::vector<const ItemUse*> items;
  for (const auto& u : rr.memory.items)
    if ((stage == "draft" ? u.updates_draft : u.updates_refine) > 0) items.push_back(&u);
  std::stable_sort(items.begin(), items.end(), [&](const ItemUse* a, const ItemUse* b) {
    return (stage == "draft" ? a->updates_draft : a->updates_refine) > (stage == "draft" ? b->updates_draft : b->updates_refine);
  });
  if (items.size() > kPlotItems) items.resize(kPlotItems);
  svg::LineChart ch;
  ch.id = "plot-values-" + stage + "-" + rr.run.id;
  ch.title = fmt::format("Value evolution: Q_{} of the {} most-updated items", stage, items.size());
  ch.x_label = "iteration of the run (all tasks, in order)";
  ch.y_label = "Q_" + stage;
  ch.integer_x = true;
  ch.x_min = 1;
  ch.x_max = std::max(rr.memory.steps, 2);
  ch.y_ref = rr.run.initial_q;
  for (const ItemUse* u : items) {
    svg::Series s;
    s.name = u->id + (u->creator.empty() ? "" : " (" + u->creator + ")");
    for (const auto& p : u->points)
      if (p.stage == stage) s.points.emplace_back(p.step, p.q);
    ch.series.push_back(std::move(s));
  }
  return svg::RenderLineChart(ch);
}

std::string TransferPlot(const RunReport& rr) {
  std::set<std::string> creators, consumers;
  for (const auto& c : rr.memory.transfer) {
    creators.insert(c.creator);
    consumers.insert(c.consumer);
  }
  svg::HeatMap hm;
  hm.id = "plot-transfer-" + rr.run.id;
  hm.title = "Cross-task transfer: helpful / shown iterations";
  hm.row_title = "items created by";
  hm.col_title = "shown to";
  hm.rows.assign(creators.begin(), creators.end());
  hm.cols.assign(consumers.begin(), consumers.end());
  hm.values.assign(hm.rows.size(), std::vector<double>(hm.cols.size(), 0));
  hm.labels.assign(hm.rows.size(), std::vector<std::string>(hm.cols.size()));
  hm.tooltips.assign(hm.rows.size(), std::vector<std::string>(hm.cols.size()));
  for (const auto& c : rr.memory.transfer) {
    size_t i = std::find(hm.rows.begin(), hm.rows.end(), c.creator) - hm.rows.begin();
    size_t j = std::find(hm.cols.begin(), hm.cols.end(), c.consumer) - hm.cols.begin();
    hm.values[i][j] = c.helped > 0 ? c.helped : 0.0;
    hm.labels[i][j] = fmt::format("{}/{}", c.helped, c.shown);
    hm.tooltips[i][j] = fmt::format("items of {} shown to {} in {} iteration(s), {} helpful", c.creator, c.consumer,
                                    c.shown, c.helped);
  }
  return svg::RenderHeatMap(hm);
}

std::string NotesHtml(const Report& r) {
  std::string s = "<ul class=\"notes\">\n";
  for (const auto& n : Notes(r)) s += "<li>" + svg::Escape(n) + "</li>\n";
  return s + "</ul>\n";
}

std::string MdInline(const std::string& s) {
  // The headline uses `code` spans; render them as <code>.
  std::string out, esc = svg::Escape(s);
  bool open = false;
  for (char c : esc) {
    if (c == '`') {
      out += open ? "</code>" : "<code>";
      open = !open;
    } else {
      out += c;
    }
  }
  if (open) out += "</code>";
  return out;
}

std::string RunSections(const Report& r, const RunReport& rr, bool with_acc_plot) {
  std::string s;
  const std::string& id = rr.run.id;
  // Results
  std::string results = Scroll(ToHtml(SummaryTable(rr, r.options)));
  if (rr.by_category.size() > 1 || !r.compare)
    results += Scroll(ToHtml(GroupTable("by-category-" + id, "By category", "category", rr.by_category)));
  s += Section((r.compare ? "results-" + id : std::string("results")),
               r.compare ? "Run " + id + " (" + rr.run.Label() + ")" : "Results", results);
  // Plots
  std::string plots;
  if (with_acc_plot) {
    std::vector<svg::Series> series = {AccSeries("all tasks", rr.overall)};
    if (rr.by_level.size() > 1)
      for (const auto& g : rr.by_level) {
        series.push_back(AccSeries(g.group, g));
        series.back().dashed = true;
      }
    plots += Figure(AccPlot("plot-acc", series, rr.run.budget),
                    "Share of tasks with a feasible kernel by iteration t (the paper's correctness curve).");
  }
  int untrusted = 0;
  std::string speed = SpeedupPlot(rr, &untrusted);
  plots += Figure(speed, fmt::format("Each bar is one task's best kernel, sorted; above the dashed 1x line it beats "
                                     "PyTorch eager. Green: faster, orange: slower, grey: timing not trusted ({} "
                                     "shown, not counted in fast_p or the medians).",
                                     untrusted));
  s += Section(r.compare ? "plots-" + id : std::string("plots"), r.compare ? "Plots: " + rr.run.Label() : "Plots", plots);
  // Tasks
  s += Section(r.compare ? "tasks-" + id : std::string("tasks"), "Tasks", Scroll(ToHtml(TasksTable(rr))));
  // Memory
  if (rr.memory.used) {
    std::string mem;
    bool refine = false;
    for (const auto& u : rr.memory.items) refine |= u.updates_refine > 0;
    mem += Figure(ValuePlot(rr, "draft"),
                  "Q_draft of the most-updated items after each update, replayed from the run's events "
                  "(Q <- Q + alpha (normalised reward - Q), starting at the initial Q, dashed).");
    if (refine)
      mem += Figure(ValuePlot(rr, "refine"), "Q_refine of the most-updated items (refining updates).");
    mem += Scroll(ToHtml(ItemsTable(rr)));
    s += Section(r.compare ? "memory-" + id : std::string("memory"), "Memory: value evolution", mem);
    std::string tr = Figure(TransferPlot(rr),
                            "Rows: the task that created an item; columns: another task that was shown it. Cell: "
                            "helpful iterations / iterations that showed it (helpful: a draft became feasible, or a "
                            "kernel became the task's new best).");
    tr += Scroll(ToHtml(TransferTable(rr)));
    s += Section(r.compare ? "transfer-" + id : std::string("transfer"), "Cross-task transfer", tr);
  }
  return s;
}

}  // namespace

std::string RenderHtml(const Report& r) {
  auto runs = Pointers(r);
  std::string title = r.compare ? fmt::format("evokernel comparison: {} runs", r.runs.size())
                                : "evokernel report: " + r.runs.front().run.id;
  std::string s = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  s += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  s += "<title>" + svg::Escape(title) + "</title>\n<style>" + std::string(kCss) + "</style>\n</head>\n<body>\n";
  s += "<h1>" + svg::Escape(title) + "</h1>\n";
  for (const auto& rr : r.runs) {
    s += "<p class=\"meta\">" + (r.compare ? "<strong>" + svg::Escape(rr.run.id) + "</strong>: " : std::string()) +
         MdInline(RunHeadline(rr.run) + " " + RunStatus(rr.run)) + "</p>\n";
  }
  s += "<nav>";
  if (r.compare) {
    s += "<a href=\"#comparison\">Comparison</a>";
    for (const auto& rr : r.runs)
      s += "<a href=\"#results-" + svg::Escape(rr.run.id) + "\">" + svg::Escape(rr.run.Label()) + "</a>";
  } else {
    s += "<a href=\"#results\">Results</a><a href=\"#plots\">Plots</a><a href=\"#tasks\">Tasks</a>";
    if (r.runs.front().memory.used) s += "<a href=\"#memory\">Memory</a><a href=\"#transfer\">Transfer</a>";
  }
  s += "<a href=\"#environment\">Environment</a><a href=\"#notes\">Notes</a></nav>\n";

  if (r.compare) {
    std::string body = Scroll(ToHtml(CompareTable(r)));
    std::vector<svg::Series> series;
    int budget = 1;
    for (const auto& rr : r.runs) {
      series.push_back(AccSeries(rr.run.Label() + " (" + rr.run.id + ")", rr.overall));
      budget = std::max(budget, rr.run.budget);
    }
    body += Figure(AccPlot("plot-acc", series, budget), "Share of tasks with a feasible kernel by iteration t, per run.");
    body += Scroll(ToHtml(AccTable("acc-by-iteration", runs)));
    body += Scroll(ToHtml(GroupTable("by-method", "By method (all runs' tasks)", "method", r.by_method)));
    s += Section("comparison", "Comparison", body);
  }
  for (const auto& rr : r.runs) s += RunSections(r, rr, !r.compare);
  s += Section("environment", "Environment", Scroll(ToHtml(EnvTable("environment-table", runs))));
  s += Section("notes", "Notes", NotesHtml(r));
  s += "</body>\n</html>\n";
  return s;
}

std::string Render(const Report& report, Format format) {
  switch (format) {
    case Format::kMarkdown: return RenderMarkdown(report);
    case Format::kJson: return RenderJson(report);
    case Format::kCsv: return RenderCsv(report);
    case Format::kHtml: return RenderHtml(report);
  }
  return "";
}

}  // namespace evokernel::report
