// Reports: metric maths (pass@k, quantiles, fast_p, speedup distributions) with exact values on
// hand-checked fixture runs (tests/fixtures/runs/README.md), golden Markdown/CSV/JSON outputs,
// bad input, the HTML report rendered in headless Chromium, and a live scripted run whose
// replayed memory values must equal the bank's.
#include <cmath>
#include <fstream>
#include <regex>

#include <gtest/gtest.h>

#include "agent/run_record.h"
#include "common/fs.h"
#include "report/metrics.h"
#include "report/report.h"
#include "report/run_data.h"
#include "report/svg.h"
#include "support/scripted_llm_server.h"
#include "test_util.h"

namespace evokernel::report {
namespace {
namespace fs = std::filesystem;
using evokernel::testing::RunCli;

fs::path RunsDir() { return evokernel::testing::FixturesDir() / "runs"; }

RunData Load(const std::string& name) {
  auto r = LoadRun(RunsDir(), name);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(*r) : RunData{};
}

const TaskMetrics& Task(const std::vector<TaskMetrics>& ts, const std::string& id) {
  for (const auto& t : ts)
    if (t.task == id) return t;
  ADD_FAILURE() << "no task " << id;
  static TaskMetrics none;
  return none;
}

const GroupMetrics& Group(const std::vector<GroupMetrics>& gs, const std::string& name) {
  for (const auto& g : gs)
    if (g.group == name) return g;
  ADD_FAILURE() << "no group " << name;
  static GroupMetrics none;
  return none;
}

int FastCount(const GroupMetrics& g, double p) {
  for (const auto& f : g.fast_p)
    if (f.p == p) return f.count;
  ADD_FAILURE() << "no fast_" << p;
  return -1;
}

std::optional<double> PassK(const GroupMetrics& g, int k) {
  for (const auto& p : g.pass_at_k)
    if (p.k == k) return p.value;
  return std::nullopt;
}

// ------------------------------------------------------------------------------ maths

// 1 - C(n-c, k) / C(n, k) by log-gamma, independent of the product form under test.
double PassAtKReference(int n, int c, int k) {
  if (n - c < k) return 1.0;
  auto lc = [](int a, int b) { return std::lgamma(a + 1.0) - std::lgamma(b + 1.0) - std::lgamma(a - b + 1.0); };
  return 1.0 - std::exp(lc(n - c, k) - lc(n, k));
}

TEST(PassAtK, MatchesTheEstimatorInclusiveOfEdgeCases) {
  EXPECT_EQ(PassAtK(4, 0, 1), 0.0);  // c = 0: never
  EXPECT_EQ(PassAtK(4, 4, 1), 1.0);  // c = n: always
  EXPECT_EQ(PassAtK(10, 10, 10), 1.0);
  EXPECT_DOUBLE_EQ(*PassAtK(4, 2, 1), 0.5);  // pass@1 = c / n
  EXPECT_DOUBLE_EQ(*PassAtK(30, 1, 10), 1.0 / 3.0);  // C(29,10)/C(30,10) = 20/30
  EXPECT_NEAR(*PassAtK(10, 3, 5), 1.0 - 21.0 / 252.0, 1e-15);  // C(7,5)/C(10,5)
  EXPECT_EQ(PassAtK(5, 1, 5), 1.0);  // n - c < k: every 5-subset holds the correct one
  EXPECT_FALSE(PassAtK(4, 1, 5).has_value());  // n < k: undefined
  EXPECT_FALSE(PassAtK(0, 0, 1).has_value());
  EXPECT_FALSE(PassAtK(4, 5, 1).has_value());  // c > n
  EXPECT_FALSE(PassAtK(4, 1, 0).has_value());
  // Stable where the binomials overflow doubles (C(1000, 500) ~ 1e299).
  for (auto [n, c, k] : {std::tuple{1000, 3, 500}, {200, 100, 10}, {1000, 1, 1}, {1000, 999, 10}}) {
    auto v = PassAtK(n, c, k);
    ASSERT_TRUE(v.has_value());
    EXPECT_TRUE(std::isfinite(*v));
    EXPECT_NEAR(*v, PassAtKReference(n, c, k), 1e-9) << n << " " << c << " " << k;
  }
}

TEST(Quantile, InterpolatesLinearlyBetweenOrderStatistics) {
  EXPECT_FALSE(Quantile({}, 0.5).has_value());
  EXPECT_EQ(*Quantile({7}, 0.25), 7);
  EXPECT_DOUBLE_EQ(*Quantile({4, 1, 3, 2}, 0.5), 2.5);  // unsorted input
  EXPECT_DOUBLE_EQ(*Quantile({1, 2, 3, 4}, 0.25), 1.75);
  EXPECT_DOUBLE_EQ(*Quantile({1, 2, 3, 4}, 0.75), 3.25);
  EXPECT_DOUBLE_EQ(*Quantile({1, 2, 3, 4, 5}, 0.5), 3);
  EXPECT_DOUBLE_EQ(*Quantile({1, 2, 3, 4}, 0), 1);
  EXPECT_DOUBLE_EQ(*Quantile({1, 2, 3, 4}, 1), 4);
}

TEST(Distribution, SummarisesWithGeometricMeanOnlyForPositiveValues) {
  Distribution d = Distribution::Of({2, 8});
  EXPECT_EQ(d.n, 2);
  EXPECT_DOUBLE_EQ(d.median, 5);
  EXPECT_DOUBLE_EQ(d.p25, 3.5);
  EXPECT_DOUBLE_EQ(d.p75, 6.5);
  EXPECT_DOUBLE_EQ(d.mean, 5);
  ASSERT_TRUE(d.geomean.has_value());
  EXPECT_NEAR(*d.geomean, 4, 1e-12);
  EXPECT_FALSE(Distribution::Of({0, 2}).geomean.has_value());
  EXPECT_EQ(Distribution::Of({}).n, 0);
  EXPECT_TRUE(Distribution::Of({}).ToJson()["median"].is_null());
}

TEST(Svg, TicksAreNiceAndCoverTheRange) {
  EXPECT_EQ(svg::LinearTicks(0, 1), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  EXPECT_EQ(svg::LinearTicks(1, 4, 8), (std::vector<double>{1, 1.5, 2, 2.5, 3, 3.5, 4}));
  EXPECT_EQ(svg::LogTicks(1, 10), (std::vector<double>{1, 2, 5, 10}));
  EXPECT_EQ(svg::LogTicks(0.01, 1000), (std::vector<double>{0.01, 0.1, 1, 10, 100, 1000}));
  EXPECT_TRUE(svg::LogTicks(0, 10).empty());
  EXPECT_EQ(svg::Escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
}

TEST(Svg, ChartsCarryOneMarkPerDatum) {
  svg::LineChart lc;
  lc.id = "x";
  lc.series = {{"a", {{1, 1}, {2, 2}, {3, 1}}, false}, {"b <b>", {{1, 0}}, true}};
  std::string s = svg::RenderLineChart(lc);
  EXPECT_NE(s.find("data-series=\"2\" data-points=\"4\""), std::string::npos);
  std::regex point("<circle class=\"point\"");
  EXPECT_EQ(std::distance(std::sregex_iterator(s.begin(), s.end(), point), std::sregex_iterator()), 4);
  EXPECT_NE(s.find("b &lt;b&gt;"), std::string::npos);  // escaped name in the legend
  svg::BarChart bc;
  bc.id = "y";
  bc.log_y = true;
  bc.ref_line = 1;
  bc.bars = {{"t1", 0.5, "slower", ""}, {"t2", 20, "faster", ""}};
  s = svg::RenderBarChart(bc);
  EXPECT_NE(s.find("data-bars=\"2\" data-scale=\"log\""), std::string::npos);
  EXPECT_NE(s.find("<rect class=\"bar slower\""), std::string::npos);
  EXPECT_NE(s.find("<rect class=\"bar faster\""), std::string::npos);
}

// ------------------------------------------------------------------------------ fixtures

TEST(RunData, LoadsTheFixtureWithItsEnvironmentStamp) {
  RunData r = Load("evo_value");
  EXPECT_EQ(r.id, "evo_value");
  EXPECT_EQ(r.method, "evokernel");
  EXPECT_EQ(r.Label(), "evokernel/value");
  EXPECT_EQ(r.budget, 4);
  ASSERT_EQ(r.tasks.size(), 4u);
  EXPECT_EQ(r.tasks[3].id, "level2/23_matmul_swish_scale_clamp");
  EXPECT_EQ(r.tasks[3].level, 2);
  EXPECT_EQ(r.tasks[3].category, "gemm_fusion");
  EXPECT_EQ(r.iterations.size(), 16u);
  EXPECT_EQ(r.best.size(), 3u);
  EXPECT_TRUE(r.finished);
  EXPECT_EQ(r.sessions, 1);
  std::map<std::string, std::string> env(r.env.begin(), r.env.end());
  EXPECT_EQ(env["commit"], "032c3a83c352-dirty");
  EXPECT_EQ(env["build type"], "Release");
  EXPECT_EQ(env["cpu"], "AMD EPYC");
  EXPECT_EQ(env["threads"], "1");
  EXPECT_EQ(env["compiler"], "g++ (Debian 12.2.0-14+deb12u1) 12.2.0");
  EXPECT_EQ(env["pytorch"], "1.13.0a0");
  EXPECT_NE(env["blas"].find("openblas"), std::string::npos);
  EXPECT_EQ(env["backend"], "cpu");
  EXPECT_EQ(env["model"], "scripted-model");
  EXPECT_EQ(env["provider"], "openai at http://127.0.0.1:8000/v1");
}

TEST(RunData, EnvironmentFieldsNoRecordHoldsAreUnknown) {
  EnvStamp s = MakeEnvStamp(nlohmann::json{{"method", "passk"}}, {}, {});
  std::map<std::string, std::string> env(s.begin(), s.end());
  for (const char* k : {"commit", "build type", "cpu", "threads", "compiler", "pytorch", "blas", "backend", "model",
                        "provider"})
    EXPECT_EQ(env[k], "unknown") << k;
}

TEST(Metrics, PerTaskFiguresOfTheEvoKernelFixture) {
  auto ts = ComputeTaskMetrics(Load("evo_value"));
  ASSERT_EQ(ts.size(), 4u);
  const TaskMetrics& relu = Task(ts, "level1/12_relu");
  EXPECT_EQ(relu.iterations, 4);
  EXPECT_EQ(relu.compiled, 3);  // the wrong answer compiled; the prose reply did not
  EXPECT_EQ(relu.feasible, 2);
  EXPECT_EQ(relu.first_feasible_iteration, 2);
  EXPECT_FALSE(relu.feasible_round1);
  EXPECT_EQ(relu.best_iteration, 3);
  EXPECT_EQ(relu.best_ms, 0.5);
  EXPECT_EQ(relu.baseline_ms, 4.0);
  EXPECT_EQ(relu.speedup, 8.0);
  EXPECT_TRUE(relu.speedup_trusted);
  EXPECT_EQ(relu.speedup_vs_draft, 4.0);  // 2 ms first feasible / 0.5 ms best
  EXPECT_TRUE(relu.speedup_vs_draft_trusted);
  EXPECT_EQ(relu.roofline_fraction, 0.6);
  EXPECT_EQ(relu.input_tokens, 1200 + 1500 + 1800 + 1900);
  EXPECT_EQ(relu.output_tokens, 300 + 280 + 350 + 20);

  const TaskMetrics& softmax = Task(ts, "level1/17_softmax");
  EXPECT_TRUE(softmax.feasible_round1);
  EXPECT_EQ(softmax.speedup_vs_draft, 5.0);  // 6 ms / 1.2 ms; the slower third kernel is not the best

  const TaskMetrics& sum = Task(ts, "level1/40_sum_reduction");
  EXPECT_FALSE(sum.solved());
  EXPECT_FALSE(sum.compiled_any);
  EXPECT_FALSE(sum.speedup.has_value());

  // The best kernel is the fastest, even though its timing is not trusted and a slower one's is.
  const TaskMetrics& l2 = Task(ts, "level2/23_matmul_swish_scale_clamp");
  EXPECT_EQ(l2.best_iteration, 3);
  EXPECT_EQ(l2.speedup, 3.0);
  EXPECT_FALSE(l2.speedup_trusted);
  EXPECT_EQ(l2.speedup_vs_draft, 225.0);
  EXPECT_FALSE(l2.speedup_vs_draft_trusted);
}

TEST(Metrics, AggregatesOfTheEvoKernelFixture) {
  auto ts = ComputeTaskMetrics(Load("evo_value"));
  GroupMetrics g = Aggregate("all", ts, MetricsOptions{});
  EXPECT_EQ(g.tasks, 4);
  EXPECT_EQ(g.iterations, 16);
  EXPECT_EQ(g.compiled_iterations, 9);
  EXPECT_DOUBLE_EQ(*g.compile_rate, 9.0 / 16);
  EXPECT_EQ(g.tasks_compiled, 3);
  EXPECT_DOUBLE_EQ(g.acc, 0.75);
  EXPECT_DOUBLE_EQ(g.acc_round1, 0.25);
  // pass@1 = mean of c/n = (2/4 + 3/4 + 0 + 3/4) / 4; n = 4 < 5 leaves pass@5 undefined.
  EXPECT_DOUBLE_EQ(*PassK(g, 1), 0.5);
  EXPECT_FALSE(PassK(g, 5).has_value());
  EXPECT_FALSE(PassK(g, 10).has_value());
  // fast_p: speedups 8 (trusted), 2 (trusted), 3 (untrusted): strictly greater than p.
  EXPECT_EQ(FastCount(g, 0), 3);
  EXPECT_EQ(FastCount(g, 1), 2);
  EXPECT_EQ(FastCount(g, 1.5), 2);
  EXPECT_EQ(FastCount(g, 2), 1);  // 2.0 is not > 2
  EXPECT_EQ(g.untrusted_speedups, 1);
  EXPECT_EQ(g.untimed, 0);
  EXPECT_EQ(g.speedup_vs_eager.n, 2);
  EXPECT_DOUBLE_EQ(g.speedup_vs_eager.median, 5);
  EXPECT_DOUBLE_EQ(g.speedup_vs_eager.p25, 3.5);
  EXPECT_DOUBLE_EQ(g.speedup_vs_eager.p75, 6.5);
  EXPECT_NEAR(*g.speedup_vs_eager.geomean, 4, 1e-12);
  EXPECT_DOUBLE_EQ(g.speedup_vs_draft.median, 4.5);
  EXPECT_DOUBLE_EQ(g.speedup_vs_draft.p25, 4.25);
  EXPECT_DOUBLE_EQ(g.speedup_vs_draft.p75, 4.75);
  EXPECT_DOUBLE_EQ(g.iterations_to_feasible.median, 2);
  EXPECT_DOUBLE_EQ(g.iterations_to_feasible.mean, 5.0 / 3);
  EXPECT_DOUBLE_EQ(g.roofline_fraction.median, 0.6);
  EXPECT_DOUBLE_EQ(g.roofline_fraction.p25, 0.425);
  EXPECT_EQ(g.input_tokens, 26900);
  EXPECT_EQ(g.output_tokens, 4730);
  EXPECT_NEAR(g.cost_usd, (26900 + 4 * 4730) / 1e6, 1e-12);
  EXPECT_EQ(g.acc_by_iteration, (std::vector<double>{0.25, 0.75, 0.75, 0.75}));

  auto levels = ByLevel(ts, MetricsOptions{});
  ASSERT_EQ(levels.size(), 2u);
  EXPECT_DOUBLE_EQ(Group(levels, "level 1").acc, 2.0 / 3);
  EXPECT_DOUBLE_EQ(*PassK(Group(levels, "level 1"), 1), (0.5 + 0.75 + 0) / 3);
  EXPECT_DOUBLE_EQ(Group(levels, "level 2").acc, 1.0);
  EXPECT_EQ(FastCount(Group(levels, "level 2"), 1), 0);  // its only speedup is untrusted
  auto cats = ByCategory(ts, MetricsOptions{});
  EXPECT_EQ(Group(cats, "category activation").tasks, 2);
  EXPECT_DOUBLE_EQ(Group(cats, "category reduction").acc, 0);
}

TEST(Metrics, IncludeUntrustedCountsFlaggedSpeedups) {
  MetricsOptions o;
  o.include_untrusted = true;
  GroupMetrics g = Aggregate("all", ComputeTaskMetrics(Load("evo_value")), o);
  EXPECT_EQ(FastCount(g, 1), 3);
  EXPECT_EQ(FastCount(g, 2), 2);
  EXPECT_EQ(g.untrusted_speedups, 1);  // still reported
  EXPECT_DOUBLE_EQ(g.speedup_vs_eager.median, 3);      // {2, 3, 8}
  EXPECT_DOUBLE_EQ(g.speedup_vs_draft.median, 5);      // {4, 5, 225}
}

TEST(Metrics, PassKFixture) {
  GroupMetrics g = Aggregate("all", ComputeTaskMetrics(Load("passk")), MetricsOptions{});
  EXPECT_DOUBLE_EQ(*PassK(g, 1), (2.0 / 4 + 1.0 / 4 + 0 + 0) / 4);
  EXPECT_EQ(g.compiled_iterations, 5);
  EXPECT_DOUBLE_EQ(g.acc, 0.5);
  EXPECT_EQ(FastCount(g, 1), 1);
  EXPECT_EQ(FastCount(g, 2), 0);
  EXPECT_DOUBLE_EQ(g.speedup_vs_eager.median, 1.2);  // {0.4, 2}
  EXPECT_NEAR(*g.speedup_vs_eager.geomean, std::sqrt(0.8), 1e-12);
  // relu's fourth sample is feasible but slower: the best stays the second.
  EXPECT_EQ(Task(ComputeTaskMetrics(Load("passk")), "level1/12_relu").best_iteration, 2);
}

TEST(Memory, ReplaysValuesAndFindsCrossTaskTransfer) {
  RunData run = Load("evo_value");
  auto a = AnalyseMemory(run, nullptr);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_TRUE(a->used);
  EXPECT_EQ(a->steps, 16);
  auto item = [&](const std::string& id) -> const ItemUse& {
    for (const auto& u : a->items)
      if (u.id == id) return u;
    ADD_FAILURE() << "no item " << id;
    static ItemUse none;
    return none;
  };
  // Replayed by hand from the fixture's events (alpha 0.2, initial Q 0).
  const ItemUse& seed = item("seed-e5a6e5c1193bd969");
  EXPECT_EQ(seed.kind, "seed");  // without a bank: from the id
  EXPECT_EQ(seed.shown, 9);
  EXPECT_EQ(seed.updates_draft, 6);
  EXPECT_EQ(seed.updates_refine, 3);
  EXPECT_NEAR(seed.q_draft, 0.030784, 1e-12);
  EXPECT_NEAR(seed.q_refine, -0.247058816, 1e-12);
  ASSERT_EQ(seed.points.size(), 9u);
  EXPECT_EQ(seed.points[0].step, 1);
  EXPECT_NEAR(seed.points[0].q, -0.2, 1e-12);  // 0 + 0.2 (-1 - 0)
  EXPECT_EQ(a->items.front().id, "seed-e5a6e5c1193bd969");  // the most shown

  // Provenance: the trace of relu's first feasible iteration and the summary written with it.
  const std::string trace = "t-" + Sha256Hex("evo_value\nlevel1/12_relu\n2").substr(0, 16);
  const std::string summary = "s-" + trace.substr(2);
  EXPECT_EQ(item(trace).creator, "level1/12_relu");
  EXPECT_EQ(item(trace).kind, "trace");
  EXPECT_EQ(item(summary).creator, "level1/12_relu");
  EXPECT_EQ(item(summary).kind, "summary");

  // relu's items were shown in all four softmax iterations; the first (draft feasible) and the
  // second (new best) were helpful.
  std::map<std::pair<std::string, std::string>, std::pair<int, int>> cells;
  for (const auto& c : a->transfer) cells[{c.creator, c.consumer}] = {c.shown, c.helped};
  EXPECT_EQ((cells[{"level1/12_relu", "level1/17_softmax"}]), std::make_pair(4, 2));
  EXPECT_EQ((cells[{"level1/12_relu", "level1/40_sum_reduction"}]), std::make_pair(4, 0));
  EXPECT_EQ((cells[{"level1/17_softmax", "level2/23_matmul_swish_scale_clamp"}]), std::make_pair(3, 1));
  for (const auto& c : a->transfer) EXPECT_NE(c.creator, c.consumer);

  // pass@k shows no items and stores none.
  auto p = AnalyseMemory(Load("passk"), nullptr);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->used);
  EXPECT_TRUE(p->items.empty());
}

TEST(Memory, HelpfulMeansFeasibleDraftOrNewBest) {
  IterationEvent e;
  e.stage = "draft";
  e.feasible = true;
  EXPECT_TRUE(Helpful(e));
  e.stage = "refine";
  EXPECT_FALSE(Helpful(e));  // feasible but not faster
  e.new_best = true;
  EXPECT_TRUE(Helpful(e));
  e.feasible = false;
  EXPECT_FALSE(Helpful(e));
}

// ------------------------------------------------------------------------------ bad input

struct TempRuns {
  TempRuns() : dir(*MakeTempDir("evokernel-report-test-")), cleanup(dir) {
    fs::copy(RunsDir() / "evo_value", dir / "run", fs::copy_options::recursive);
  }
  void RewriteEvents(const std::function<void(std::vector<std::string>&)>& edit) {
    std::vector<std::string> lines;
    std::ifstream in(dir / "run" / "events.jsonl");
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    edit(lines);
    std::string text;
    for (const auto& l : lines) text += l + "\n";
    ASSERT_TRUE(WriteFileAtomic(dir / "run" / "events.jsonl", text).ok());
  }
  fs::path dir;
  ScopedDir cleanup;
};

TEST(RunData, MissingRunSaysWhereItLooked) {
  auto r = LoadRun(RunsDir(), "no_such_run");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("no_such_run"), std::string::npos);
  EXPECT_NE(r.status().message().find(RunsDir().string()), std::string::npos);
}

TEST(RunData, MalformedLineNamesFileAndLine) {
  TempRuns t;
  t.RewriteEvents([](auto& lines) { lines[2] = "{\"type\": \"iteration\", oops"; });
  auto r = LoadRun(t.dir, "run");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("events.jsonl:3: not valid JSON"), std::string::npos) << r.status().ToString();
}

TEST(RunData, WrongFieldTypeNamesLineAndField) {
  TempRuns t;
  t.RewriteEvents([](auto& lines) {
    auto e = nlohmann::json::parse(lines[1]);
    e["feasible"] = "yes";
    lines[1] = e.dump();
  });
  auto r = LoadRun(t.dir, "run");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("events.jsonl:2: field 'feasible': expected true or false, got string"),
            std::string::npos)
      << r.status().ToString();
}

TEST(RunData, TornLastLineIsIgnoredAndCounted) {
  TempRuns t;
  std::string text = *ReadFile(t.dir / "run" / "events.jsonl");
  ASSERT_TRUE(WriteFileAtomic(t.dir / "run" / "events.jsonl", text + "{\"type\":\"itera").ok());
  auto r = LoadRun(t.dir, "run");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->ignored_lines, 1);
  EXPECT_EQ(r->iterations.size(), 16u);
}

TEST(RunData, MalformedConfigNamesTheField) {
  TempRuns t;
  auto cfg = nlohmann::json::parse(*ReadFile(t.dir / "run" / "config.json"));
  cfg["budget"] = "four";
  ASSERT_TRUE(WriteFileAtomic(t.dir / "run" / "config.json", cfg.dump()).ok());
  auto r = LoadRun(t.dir, "run");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("config.json: field 'budget': expected an integer"), std::string::npos)
      << r.status().ToString();
}

TEST(ReportCli, BadInputExitsTwoWithAClearMessage) {
  auto r = RunCli({"report", "no_such_run", "--runs-dir", RunsDir().string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no run 'no_such_run'"), std::string::npos) << r.err;
  r = RunCli({"report", "evo_value", "--runs-dir", RunsDir().string(), "--format", "xml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown report format 'xml' (expected md, json, csv or html)"), std::string::npos) << r.err;
  r = RunCli({"report", "--compare", "evo_value", "--runs-dir", RunsDir().string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--compare needs at least two runs"), std::string::npos) << r.err;
  r = RunCli({"report", "evo_value", "passk", "--runs-dir", RunsDir().string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("add --compare"), std::string::npos) << r.err;
  TempRuns t;
  t.RewriteEvents([](auto& lines) { lines[4] = "not json"; });
  r = RunCli({"report", (t.dir / "run").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("events.jsonl:5"), std::string::npos) << r.err;
  r = RunCli({"report", "evo_value", "--runs-dir", RunsDir().string(), "--bank", (t.dir / "missing.sqlite").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--bank"), std::string::npos) << r.err;
}

// ------------------------------------------------------------------------------ goldens

// Golden files: any change to a report must be deliberate. Regenerate with
// EVOKERNEL_UPDATE_GOLDEN=1.
void ExpectGolden(const std::string& got, const std::string& name) {
  fs::path golden = evokernel::testing::TestDir() / "golden" / name;
  if (std::getenv("EVOKERNEL_UPDATE_GOLDEN")) {
    ASSERT_TRUE(WriteFileAtomic(golden, got).ok());
  }
  auto want = ReadFile(golden);
  ASSERT_TRUE(want.ok()) << "missing golden file " << golden;
  EXPECT_EQ(got, *want) << "report differs from " << golden << " (regenerate with EVOKERNEL_UPDATE_GOLDEN=1)";
}

std::string Cli(const std::vector<std::string>& args) {
  std::vector<std::string> a = {"report", "--runs-dir", RunsDir().string()};
  a.insert(a.end(), args.begin(), args.end());
  auto r = RunCli(a);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

TEST(ReportGolden, Markdown) { ExpectGolden(Cli({"evo_value"}), "report_evo_value.md"); }
TEST(ReportGolden, Csv) { ExpectGolden(Cli({"evo_value", "--format", "csv"}), "report_evo_value.csv"); }
TEST(ReportGolden, Json) {
  std::string out = Cli({"evo_value", "--format", "json"});
  ExpectGolden(out, "report_evo_value.json");
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["runs"][0]["overall"]["fast_p"]["1.5"]["count"], 2);
  EXPECT_EQ(j["runs"][0]["env"]["compiler"], "g++ (Debian 12.2.0-14+deb12u1) 12.2.0");
}
TEST(ReportGolden, CompareMarkdown) { ExpectGolden(Cli({"--compare", "evo_value", "passk"}), "report_compare.md"); }
TEST(ReportGolden, CompareCsvHasOneRowPerTaskPerRun) {
  std::string out = Cli({"--compare", "evo_value", "passk", "--format", "csv"});
  ExpectGolden(out, "report_compare.csv");
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1 + 8);
}

TEST(ReportCli, WritesTheFormatOfTheOutputExtension) {
  TempRuns t;
  auto r = RunCli({"report", "evo_value", "passk", "--compare", "--runs-dir", RunsDir().string(), "-o",
                   (t.dir / "cmp.json").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(*ReadFile(t.dir / "cmp.json"));
  EXPECT_EQ(j["kind"], "compare");
  ASSERT_EQ(j["compare"].size(), 2u);
  EXPECT_EQ(j["compare"][0]["L1 Acc"], "66.7%");
  EXPECT_EQ(j["compare"][1]["L2 Acc"], "0.0%");
  EXPECT_EQ(j["compare"][1]["median speedup"], "1.20x");
}

// ------------------------------------------------------------------------------ HTML

std::string Chromium() {
  if (const char* c = std::getenv("EVOKERNEL_CHROMIUM"); c && *c) return c;
  for (const char* name : {"chromium", "chromium-browser"}) {
    const char* path = std::getenv("PATH");
    std::string p = path ? path : "/usr/bin:/bin";
    size_t start = 0;
    while (start <= p.size()) {
      size_t end = p.find(':', start);
      if (end == std::string::npos) end = p.size();
      fs::path cand = fs::path(p.substr(start, end - start)) / name;
      if (access(cand.c_str(), X_OK) == 0) return cand.string();
      start = end + 1;
    }
  }
  return "";
}

struct Rendered {
  std::string dom;
  std::string png;
};

Rendered RenderInChromium(const std::string& chromium, const fs::path& html, const fs::path& work) {
  Rendered out;
  auto run = [&](std::vector<std::string> extra) -> std::string {
    SpawnOptions so;
    so.argv = {chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
               "--user-data-dir=" + (work / "profile").string()};
    so.argv.insert(so.argv.end(), extra.begin(), extra.end());
    so.argv.push_back("file://" + html.string());
    auto r = RunCommand(so, std::chrono::seconds(120));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return "";
    EXPECT_TRUE(r->exit.ok()) << r->exit.Describe() << "\n" << r->err;
    return r->out;
  };
  out.dom = run({"--dump-dom"});
  fs::path png = work / "shot.png";
  run({"--window-size=1280,2400", "--screenshot=" + png.string()});
  auto bytes = ReadFile(png);
  if (bytes.ok()) out.png = *bytes;
  return out;
}

// The text of the first element that starts at `open_tag_prefix`, up to its closing tag.
std::string Element(const std::string& dom, const std::string& open_tag_prefix, const std::string& close_tag) {
  size_t a = dom.find(open_tag_prefix);
  if (a == std::string::npos) return "";
  size_t b = dom.find(close_tag, a);
  return dom.substr(a, b == std::string::npos ? std::string::npos : b + close_tag.size() - a);
}

int Count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

void ExpectSelfContained(const std::string& html) {
  for (const char* bad : {"src=\"http", "href=\"http", "src='http", "href='http", "url(http", "url(//", "@import",
                          "<script", "<link", "<iframe", "<img", "xlink:href"})
    EXPECT_EQ(html.find(bad), std::string::npos) << "external resource or script: " << bad;
  std::regex href("href=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), href); it != std::sregex_iterator(); ++it)
    EXPECT_EQ((*it)[1].str().rfind("#", 0), 0u) << "non-local link " << (*it)[1];
}

TEST(ReportHtml, RendersInHeadlessChromiumWithPlotsAndTables) {
  std::string chromium = Chromium();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (scripts/install-deps.sh installs it)";
  TempRuns t;
  fs::path html = t.dir / "report.html";
  auto r = RunCli({"report", "evo_value", "--runs-dir", RunsDir().string(), "-o", html.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string file = *ReadFile(html);
  ExpectSelfContained(file);

  Rendered page = RenderInChromium(chromium, html, t.dir);
  const std::string& dom = page.dom;
  ASSERT_FALSE(dom.empty());
  EXPECT_NE(dom.find("<title>evokernel report: evo_value</title>"), std::string::npos);
  EXPECT_NE(dom.find("<h1>evokernel report: evo_value</h1>"), std::string::npos);
  EXPECT_EQ(Count(dom, "<svg class=\"plot\""), 5);  // Acc, speedup, Q_draft, Q_refine, transfer

  // Acc by iteration: all tasks + level 1 + level 2, four iterations each.
  std::string acc = Element(dom, "<svg class=\"plot\" id=\"plot-acc\"", "</svg>");
  EXPECT_NE(acc.find("data-series=\"3\" data-points=\"12\""), std::string::npos);
  EXPECT_EQ(Count(acc, "<circle class=\"point\""), 12);
  EXPECT_EQ(Count(acc, "<polyline class=\"line\""), 3);
  EXPECT_NE(acc.find("<title>all tasks: 2 = 75.0%</title>"), std::string::npos);

  // Speedups: three timed tasks, sorted, log scale; the untrusted one is grey.
  std::string speed = Element(dom, "<svg class=\"plot\" id=\"plot-speedup-evo_value\"", "</svg>");
  EXPECT_NE(speed.find("data-bars=\"3\" data-scale=\"log\""), std::string::npos);
  EXPECT_EQ(Count(speed, "<rect class=\"bar"), 3);
  EXPECT_EQ(Count(speed, "<rect class=\"bar untrusted\""), 1);
  EXPECT_EQ(Count(speed, "<rect class=\"bar faster\""), 2);
  size_t p2 = speed.find("level1/17_softmax: 2.00x"), p3 = speed.find("3.00x (untrusted)"),
         p8 = speed.find("level1/12_relu: 8.00x");
  ASSERT_NE(p2, std::string::npos);
  ASSERT_NE(p3, std::string::npos);
  ASSERT_NE(p8, std::string::npos);
  EXPECT_LT(p2, p3);
  EXPECT_LT(p3, p8);

  // Value evolution: six most-updated items; the most shown item's 6 draft updates are plotted.
  std::string qd = Element(dom, "<svg class=\"plot\" id=\"plot-values-draft-evo_value\"", "</svg>");
  EXPECT_NE(qd.find("data-series=\"6\""), std::string::npos);
  EXPECT_NE(qd.find("data-name=\"seed-e5a6e5c1193bd969\""), std::string::npos);
  std::string seed_series = Element(qd, "<g class=\"series\" data-series=\"0\"", "</g>");
  EXPECT_EQ(Count(seed_series, "<circle class=\"point\""), 6);

  // Transfer: creators x consumers.
  std::string tr = Element(dom, "<svg class=\"plot\" id=\"plot-transfer-evo_value\"", "</svg>");
  EXPECT_NE(tr.find("data-rows=\"3\" data-cols=\"3\""), std::string::npos);
  EXPECT_EQ(Count(tr, "<rect class=\"cell\""), 9);
  EXPECT_NE(tr.find(">2/4</text>"), std::string::npos);  // relu's items: 2 of 4 softmax iterations helped

  // Tables with the expected values.
  std::string summary = Element(dom, "<table id=\"summary-evo_value\"", "</table>");
  EXPECT_NE(summary.find("<th scope=\"row\">fast_1</th><td>2/4 (50.0%)</td>"), std::string::npos) << summary;
  EXPECT_NE(summary.find("<td>5.00x [3.50x–6.50x] (n=2)</td>"), std::string::npos);
  std::string tasks = Element(dom, "<table id=\"tasks-evo_value\"", "</table>");
  EXPECT_NE(tasks.find("<td>3.00x (untrusted)</td>"), std::string::npos);
  EXPECT_EQ(Count(tasks, "<tr>"), 5);  // header + 4 tasks
  std::string env = Element(dom, "<table id=\"environment-table\"", "</table>");
  EXPECT_NE(env.find("<td>1.13.0a0</td>"), std::string::npos);
  EXPECT_NE(env.find("<td>032c3a83c352-dirty</td>"), std::string::npos);

  // The screenshot is a non-trivial PNG.
  ASSERT_GT(page.png.size(), 20000u);
  EXPECT_EQ(page.png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
}

TEST(ReportHtml, CompareRendersEveryRun) {
  std::string chromium = Chromium();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (scripts/install-deps.sh installs it)";
  TempRuns t;
  fs::path html = t.dir / "compare.html";
  auto r = RunCli({"report", "--compare", "evo_value", "passk", "--runs-dir", RunsDir().string(), "-o", html.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectSelfContained(*ReadFile(html));
  Rendered page = RenderInChromium(chromium, html, t.dir);
  EXPECT_NE(page.dom.find("<h1>evokernel comparison: 2 runs</h1>"), std::string::npos);
  std::string acc = Element(page.dom, "<svg class=\"plot\" id=\"plot-acc\"", "</svg>");
  EXPECT_NE(acc.find("data-series=\"2\" data-points=\"8\""), std::string::npos);
  EXPECT_NE(acc.find("data-name=\"passk (passk)\""), std::string::npos);
  std::string cmp = Element(page.dom, "<table id=\"compare\"", "</table>");
  EXPECT_EQ(Count(cmp, "<tr>"), 3);
  EXPECT_NE(cmp.find("<th scope=\"row\">passk</th><td>-</td><td>passk</td><td>4</td><td>66.7%</td><td>66.7%</td>"
                     "<td>0.0%</td><td>0.0%</td><td>50.0%</td><td>50.0%</td><td>25.0%</td><td>1.20x</td>"),
            std::string::npos)
      << cmp;
  EXPECT_NE(page.dom.find("id=\"plot-speedup-passk\""), std::string::npos);
  EXPECT_GT(page.png.size(), 20000u);
}

// ------------------------------------------------------------------------------ live run

std::string Kernel(const std::string& name) {
  auto s = ReadFile(evokernel::testing::KernelsDir() / "level1__12_relu" / name);
  EXPECT_TRUE(s.ok()) << name;
  return s.ok() ? *s : "";
}

// A real run (wrong draft, repair, faster refinement) through `evokernel evolve`, then
// `evokernel report --bank`: in a fresh bank only this run moved the values, so the values the
// report replays from the events must equal the bank's.
TEST(ReportLive, ReplayedValuesEqualTheBanksAfterAScriptedRun) {
  auto server = evokernel::testing::ScriptedLlmServer::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto reply = [](const std::string& code) { return "Here is the kernel.\n\n```cpp\n" + code + "```\n"; };
  (*server)->Push(evokernel::testing::ScriptStep::Text(reply(Kernel("wrong_answer.cpp"))));
  (*server)->Push(evokernel::testing::ScriptStep::Text(reply(Kernel("naive.cpp"))));
  (*server)->Push(evokernel::testing::ScriptStep::Text(reply(Kernel("fast.cpp"))));
  TempRuns t;
  std::map<std::string, std::string> env = {{"EVOKERNEL_BASE_URL", (*server)->openai_base_url()},
                                            {"EVOKERNEL_MODEL", "scripted-model"},
                                            {"EVOKERNEL_MEMORY", (t.dir / "bank.sqlite").string()},
                                            {"EVOKERNEL_RUNS_DIR", (t.dir / "live").string()}};
  auto r = RunCli({"evolve", "--task", "level1/12_relu", "--budget", "3", "--no-llm-cache", "--json", "--timing-budget",
                   "0.05", "-q"},
                  600, env);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  std::string run = r.json["run"];

  auto rep = RunCli({"report", run, "--format", "json", "--bank", (t.dir / "bank.sqlite").string()}, 120, env);
  ASSERT_EQ(rep.exit_code, 0) << rep.err;
  const auto& j = rep.json["runs"][0];
  EXPECT_EQ(j["id"], run);
  EXPECT_EQ(j["tasks"][0]["first_feasible_iteration"], 2);
  EXPECT_EQ(j["overall"]["acc"], 1.0);
  EXPECT_EQ(j["overall"]["compile_rate"], 1.0);
  EXPECT_NE(j["env"]["pytorch"], "unknown");
  EXPECT_NE(j["env"]["compiler"], "unknown");
  const auto& items = j["memory"]["items"];
  ASSERT_FALSE(items.empty());
  int checked = 0;
  for (const auto& it : items) {
    ASSERT_FALSE(it["bank_q_draft"].is_null()) << it["id"];
    EXPECT_NEAR(it["q_draft"].get<double>(), it["bank_q_draft"].get<double>(), 1e-9) << it["id"];
    EXPECT_NEAR(it["q_refine"].get<double>(), it["bank_q_refine"].get<double>(), 1e-9) << it["id"];
    EXPECT_EQ(it["updates_draft"], it["bank_visits_draft"]) << it["id"];
    EXPECT_EQ(it["updates_refine"], it["bank_visits_refine"]) << it["id"];
    EXPECT_FALSE(it["title"].get<std::string>().empty()) << it["id"];
    if (it["id"].get<std::string>().rfind("seed-", 0) == 0) {
      EXPECT_TRUE(it["kind"] == "knowledge" || it["kind"] == "best_practice") << it["kind"];
    }
    ++checked;
  }
  EXPECT_GT(checked, 0);

  // The HTML of a live run is self-contained too.
  auto html = RunCli({"report", run, "--format", "html"}, 120, env);
  ASSERT_EQ(html.exit_code, 0) << html.err;
  ExpectSelfContained(html.out);
}

}  // namespace
}  // namespace evokernel::report
