// `evokernel bench memory`: recall + selection latency of the memory bank at several sizes.
//
// For each size: build a bank of synthetic items (signatures from plausible operator, category
// and shape mixes; random values; short contents) in large transactions, reopen it, time the
// first recall (which loads the recall index), then time `queries` retrieval steps as the agent
// runs them: Recall of K = lambda * N items for a task (80% tasks present in the bank, 20% new)
// followed by value-policy selection of N. Also timed: the full step with the knowledge lookup
// (RetrieveContext). Banks are deleted afterwards. Targets: p50 <= 2 ms at 100k items,
// <= 20 ms at 1M.
#include "cli/bench_memory.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <random>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "common/fs.h"
#include "common/version.h"
#include "memory/memory.h"
#include "memory/policy.h"
#include "memory/values.h"
#include "verifier/verifier.h"

namespace evokernel {
namespace fs = std::filesystem;
namespace mem = memory;
using Clock = std::chrono::steady_clock;

namespace {

struct OpGroup {
  const char* category;
  std::vector<const char*> ops;
};

const std::vector<OpGroup>& Groups() {
  static const std::vector<OpGroup> kGroups = {
      {"matmul", {"matmul", "bmm", "linear", "addmm", "mm", "einsum"}},
      {"activation", {"relu", "gelu", "sigmoid", "tanh", "silu", "leakyrelu", "softplus", "elu", "hardtanh", "mish",
                      "selu", "hardswish"}},
      {"normalization", {"batchnorm2d", "layernorm", "groupnorm", "instancenorm2d", "rmsnorm"}},
      {"pooling", {"maxpool1d", "maxpool2d", "maxpool3d", "avgpool2d", "adaptiveavgpool2d"}},
      {"reduction", {"sum", "mean", "max", "argmax", "min", "logsumexp", "prod"}},
      {"softmax", {"softmax", "logsoftmax"}},
      {"convolution", {"conv1d", "conv2d", "conv3d", "convtranspose1d", "convtranspose2d", "convtranspose3d"}},
      {"scan", {"cumsum", "cumprod"}},
      {"loss", {"mseloss", "crossentropy", "kldiv", "tripletmarginloss", "huberloss"}},
      {"attention", {"scaleddotproductattention", "softmax", "matmul"}},
  };
  return kGroups;
}

const std::vector<const char*> kFusionHeads = {"conv2d", "conv3d", "convtranspose2d", "linear", "matmul", "bmm"};
const std::vector<const char*> kFusionTails = {"relu", "gelu", "sigmoid", "tanh", "batchnorm2d", "groupnorm",
                                               "maxpool2d", "avgpool2d", "softmax", "logsumexp", "add", "mul",
                                               "clamp", "mish", "hardswish", "sum", "mean"};

size_t Pick(std::mt19937_64& rng, size_t n) { return static_cast<size_t>(rng() % n); }
double Uniform(std::mt19937_64& rng, double lo, double hi) {
  return lo + (hi - lo) * static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

mem::TaskSignature SyntheticTask(std::mt19937_64& rng, int index) {
  mem::TaskSignature s;
  s.backend = "cpu";
  std::vector<std::string> ops;
  if (rng() % 10 < 6) {
    const OpGroup& g = Groups()[Pick(rng, Groups().size())];
    s.level = 1;
    s.category = g.category;
    ops.push_back(g.ops[Pick(rng, g.ops.size())]);
    if (rng() % 5 == 0) ops.push_back(g.ops[Pick(rng, g.ops.size())]);
  } else {
    s.level = 2;
    std::string head = kFusionHeads[Pick(rng, kFusionHeads.size())];
    s.category = head.find("conv") != std::string::npos ? "conv_fusion" : "gemm_fusion";
    ops.push_back(head);
    size_t tails = 1 + Pick(rng, 3);
    for (size_t i = 0; i < tails; ++i) ops.push_back(kFusionTails[Pick(rng, kFusionTails.size())]);
  }
  std::sort(ops.begin(), ops.end());
  ops.erase(std::unique(ops.begin(), ops.end()), ops.end());
  s.ops = ops;
  size_t inputs = 1 + Pick(rng, 2);
  for (size_t i = 0; i <= inputs; ++i) {
    size_t rank = 2 + Pick(rng, 4);
    std::vector<int64_t> shape;
    for (size_t d = 0; d < rank; ++d) shape.push_back(int64_t{1} << (3 + Pick(rng, 8)));
    s.shapes.push_back(shape);
  }
  s.num_inputs = inputs;
  s.task_id = fmt::format("level{}/{:05d}_{}", s.level, index, fmt::join(ops, "_"));
  s.text = fmt::format("Synthetic {} task: {}", s.category, fmt::join(ops, " then "));
  return s;
}

mem::MemoryItem SyntheticItem(std::mt19937_64& rng, const mem::TaskSignature& task) {
  mem::MemoryItem m;
  int r = static_cast<int>(rng() % 100);
  m.kind = r < 75 ? mem::ItemKind::kTrace : r < 90 ? mem::ItemKind::kSummary : mem::ItemKind::kBestPractice;
  m.signature = task;
  m.backend = "cpu";
  m.stage = rng() % 2 ? mem::Stage::kDraft : mem::Stage::kRefine;
  m.title = fmt::format("{} for {}", mem::ItemKindName(m.kind), task.task_id);
  int o = static_cast<int>(rng() % 10);
  m.outcome = o < 4 ? "feasible" : o < 7 ? "correctness/wrong_answer" : o < 9 ? "compile/compile_error" : "timing/timeout";
  m.content = fmt::format("// {} {}\nextern \"C\" void kernel(const float* x, float* y) {{ /* {} */ }}\n",
                          mem::ItemKindName(m.kind), task.task_id, rng());
  m.feedback = m.outcome == "feasible" ? "" : "max abs err 0.31 at output[0][17]";
  m.reward = Uniform(rng, -1, 1);
  if (m.outcome == "feasible") m.latency_ms = Uniform(rng, 0.05, 50);
  m.q_draft = Uniform(rng, -1, 1);
  m.q_refine = Uniform(rng, -1, 1);
  m.visits_draft = static_cast<int64_t>(rng() % 30);
  m.visits_refine = static_cast<int64_t>(rng() % 30);
  m.model = "synthetic";
  m.run_id = "bench";
  return m;
}

std::vector<mem::MemoryItem> KnowledgeNotes(std::mt19937_64& rng, int count) {
  std::vector<mem::MemoryItem> out;
  for (int i = 0; i < count; ++i) {
    const OpGroup& g = Groups()[static_cast<size_t>(i) % Groups().size()];
    mem::MemoryItem m;
    m.kind = mem::ItemKind::kKnowledge;
    m.backend = "cpu";
    m.stage = mem::Stage::kAny;
    m.signature.backend = "cpu";
    m.signature.category = g.category;
    for (size_t k = 0; k < 3; ++k) m.signature.ops.push_back(g.ops[Pick(rng, g.ops.size())]);
    std::sort(m.signature.ops.begin(), m.signature.ops.end());
    m.signature.ops.erase(std::unique(m.signature.ops.begin(), m.signature.ops.end()), m.signature.ops.end());
    m.title = fmt::format("Note {} on {}", i, g.category);
    m.signature.text = m.title;
    m.content = "Knowledge note body.\n";
    out.push_back(std::move(m));
  }
  return out;
}

struct Percentiles {
  double p50 = 0, p99 = 0, mean = 0, max = 0;
  nlohmann::json ToJson() const { return {{"p50", p50}, {"p99", p99}, {"mean", mean}, {"max", max}}; }
};

Percentiles Summarise(std::vector<double> v) {
  Percentiles p;
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto rank = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(std::ceil(q * v.size())) - 1)]; };
  p.p50 = rank(0.50);
  p.p99 = rank(0.99);
  double sum = 0;
  for (double x : v) sum += x;
  p.mean = sum / v.size();
  p.max = v.back();
  return p;
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

Result<nlohmann::json> BenchOneSize(const fs::path& dir, int64_t size, const BenchMemoryArgs& a,
                                    const std::function<void(const std::string&)>& log) {
  std::mt19937_64 rng(a.seed * 1000003 + static_cast<uint64_t>(size));
  const std::string bank = a.db.empty() ? (dir / fmt::format("bank-{}.sqlite", size)).string() : a.db;
  if (!a.db.empty()) {
    EVK_ASSIGN_OR_RETURN(auto store, mem::OpenStore(bank));
    EVK_ASSIGN_OR_RETURN(mem::BankStats st, store->Stats());
    if (st.items > 0)
      return InvalidArgument(fmt::format("--db {}: the bank holds {} items; the benchmark needs an empty one",
                                         st.location, st.items));
  }
  const int kNotes = 40;
  const int64_t num_tasks = std::clamp<int64_t>(size / 50, 100, 20000);
  std::vector<mem::TaskSignature> tasks;
  for (int64_t i = 0; i < num_tasks; ++i) tasks.push_back(SyntheticTask(rng, static_cast<int>(i)));

  // Build.
  auto t0 = Clock::now();
  {
    EVK_ASSIGN_OR_RETURN(auto store, mem::OpenStore(bank));
    EVK_RETURN_IF_ERROR(store->InsertMany(KnowledgeNotes(rng, kNotes)).status());
    const int64_t kChunk = 20000;
    for (int64_t done = kNotes; done < size;) {
      std::vector<mem::MemoryItem> chunk;
      int64_t n = std::min(kChunk, size - done);
      chunk.reserve(n);
      for (int64_t i = 0; i < n; ++i) chunk.push_back(SyntheticItem(rng, tasks[Pick(rng, tasks.size())]));
      EVK_RETURN_IF_ERROR(store->InsertMany(std::move(chunk)).status());
      done += n;
    }
  }
  double build_s = std::chrono::duration<double>(Clock::now() - t0).count();
  // Reopen: what a new agent process pays.
  auto t1 = Clock::now();
  EVK_ASSIGN_OR_RETURN(auto store, mem::OpenStore(bank));
  double open_ms = Ms(Clock::now() - t1);
  EVK_ASSIGN_OR_RETURN(mem::BankStats stats, store->Stats());
  const int64_t file_bytes = stats.file_bytes;
  mem::MemoryConfig config;
  mem::RecallQuery warm;
  warm.signature = tasks[0];
  warm.backend = "cpu";
  warm.k = config.pool_size();
  auto t2 = Clock::now();
  EVK_RETURN_IF_ERROR(store->Recall(warm).status());
  double first_recall_ms = Ms(Clock::now() - t2);

  std::vector<double> step_ms, recall_ms, full_ms;
  std::mt19937_64 select_rng(a.seed);
  size_t pool_total = 0;
  for (int q = 0; q < a.queries; ++q) {
    mem::TaskSignature sig = rng() % 5 == 0 ? SyntheticTask(rng, static_cast<int>(num_tasks + q))
                                            : tasks[Pick(rng, tasks.size())];
    mem::Stage stage = q % 2 ? mem::Stage::kRefine : mem::Stage::kDraft;
    mem::RecallQuery rq;
    rq.signature = sig;
    rq.stage = stage;
    rq.backend = "cpu";
    rq.k = config.pool_size();
    rq.kinds = {mem::ItemKind::kSummary, mem::ItemKind::kTrace, mem::ItemKind::kBestPractice};
    auto s0 = Clock::now();
    auto pool = store->Recall(rq);
    auto s1 = Clock::now();
    if (!pool.ok()) return pool.status();
    const size_t pool_size = pool->size();
    pool_total += pool_size;
    auto chosen = mem::SelectContext(std::move(pool).value(), stage, mem::RetrievalPolicy::kValue, config, select_rng);
    auto s2 = Clock::now();
    recall_ms.push_back(Ms(s1 - s0));
    step_ms.push_back(Ms(s2 - s0));
    if (chosen.size() != std::min(pool_size, static_cast<size_t>(config.n)))
      return Internal(fmt::format("bench: selection returned {} items from a pool of {}", chosen.size(), pool_size));
    auto f0 = Clock::now();
    auto ctx = mem::RetrieveContext(*store, sig, "cpu", stage, mem::RetrievalPolicy::kValue, config, select_rng);
    full_ms.push_back(Ms(Clock::now() - f0));
    if (!ctx.ok()) return ctx.status();
  }
  Percentiles step = Summarise(step_ms), recall = Summarise(recall_ms), full = Summarise(full_ms);
  double target = size <= 100000 ? 2.0 : 20.0;
  log(fmt::format("{:>9} items: build {:6.1f} s ({:.0f} items/s, {:.0f} MiB); open {:.1f} ms; first recall "
                  "(index load) {:.0f} ms\n",
                  size, build_s, size / build_s, file_bytes / 1048576.0, open_ms, first_recall_ms));
  log(fmt::format("{:>9}        recall+select (K={}, N={}): p50 {:.3f} ms, p99 {:.3f} ms, mean {:.3f} ms "
                  "(recall alone p50 {:.3f} ms); with knowledge lookup p50 {:.3f} ms, p99 {:.3f} ms{}\n",
                  "", config.pool_size(), config.n, step.p50, step.p99, step.mean, recall.p50, full.p50, full.p99,
                  size == 100000 || size == 1000000
                      ? fmt::format("; target p50 <= {:g} ms: {}", target, step.p50 <= target ? "met" : "MISSED")
                      : ""));
  return nlohmann::json{{"items", size},
                        {"tasks", num_tasks},
                        {"build_seconds", build_s},
                        {"insert_per_second", size / build_s},
                        {"file_bytes", file_bytes},
                        {"open_ms", open_ms},
                        {"first_recall_ms", first_recall_ms},
                        {"queries", a.queries},
                        {"mean_pool_size", a.queries ? double(pool_total) / a.queries : 0.0},
                        {"recall_select_ms", step.ToJson()},
                        {"recall_ms", recall.ToJson()},
                        {"retrieve_context_ms", full.ToJson()}};
}

}  // namespace

CLI::App* AddBenchMemory(CLI::App* bench, BenchMemoryArgs& a) {
  auto* app = bench->add_subcommand("memory", "Memory bank: recall + selection latency (p50, p99) at several sizes");
  app->add_option("--sizes", a.sizes, "Bank sizes, comma-separated")->default_val("10000,100000,1000000");
  app->add_option("--queries", a.queries, "Queries per size")->default_val(1000)->check(CLI::Range(1, 10000000));
  app->add_option("--dir", a.dir, "Directory for the temporary banks (default: $TMPDIR or /tmp); deleted after");
  app->add_option("--seed", a.seed, "Seed of the synthetic data")->default_val(1);
  app->add_option("--db", a.db,
                  "Measure this bank instead of temporary SQLite files: a postgres:// URL (or a path) of an empty "
                  "bank; one size; the items stay in it");
  app->add_flag("--json", a.json, "JSON output");
  return app;
}

int RunBenchMemory(const BenchMemoryArgs& a) {
  auto fail = [](const Status& st) {
    std::cerr << "evokernel: error: " << st.ToString() << "\n";
    return kExitError;
  };
  std::vector<int64_t> sizes;
  for (size_t start = 0; start <= a.sizes.size();) {
    size_t comma = a.sizes.find(',', start);
    if (comma == std::string::npos) comma = a.sizes.size();
    std::string s = a.sizes.substr(start, comma - start);
    start = comma + 1;
    if (s.empty()) continue;
    char* end = nullptr;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (*end || v < 100) return fail(InvalidArgument("--sizes: '" + s + "' is not a size >= 100"));
    sizes.push_back(v);
  }
  if (sizes.empty()) return fail(InvalidArgument("--sizes: no size given"));
  if (!a.db.empty() && sizes.size() != 1)
    return fail(InvalidArgument("--db: give one size (--sizes N): each size needs an empty bank"));
  auto tmp = MakeTempDir("evokernel-bench-memory-", a.dir.empty() ? fs::path() : fs::path(a.dir));
  if (!tmp.ok()) return fail(tmp.status());
  ScopedDir cleanup(*tmp);

  nlohmann::json out = EnvironmentStamp();
  out["benchmark"] = "memory";
  out["queries"] = a.queries;
  out["seed"] = a.seed;
  if (std::string(EVOKERNEL_BUILD_TYPE) != "Release")
    std::cerr << "WARNING: " << EVOKERNEL_BUILD_TYPE << " build; figures are not representative\n";
  auto log = [&](const std::string& s) {
    if (!a.json) std::cout << s << std::flush;
  };
  log(fmt::format("# evokernel bench memory: commit {}, {} build, {}, 1 thread; {} queries per size; bank: {}\n",
                  GitCommit(), EVOKERNEL_BUILD_TYPE, out.value("cpu", std::string("unknown")), a.queries,
                  a.db.empty() ? "temporary SQLite files" : "--db"));
  nlohmann::json results = nlohmann::json::array();
  for (int64_t size : sizes) {
    auto r = BenchOneSize(*tmp, size, a, log);
    if (!r.ok()) return fail(r.status());
    results.push_back(*r);
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"})
      fs::remove(*tmp / fmt::format("bank-{}.sqlite{}", size, suffix), ec);
  }
  out["sizes"] = results;
  if (a.json) std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace evokernel
