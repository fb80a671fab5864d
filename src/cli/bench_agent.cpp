// `evokernel bench retrieval`: does value-driven retrieval learn which experience helps?
//
// THIS IS A SIMULATION. No LLM and no verifier are involved. What is real: the memory bank
// (SQLite store, structural recall, the selection policies, the value updates with their
// states, in the same calls the agent makes: RetrieveContext and Commit). What is simulated:
// the model and the verifier, replaced by a hidden rule that decides whether a draft is correct
// from which items its prompt contained:
//
//   P(correct) = clamp(p0 + sum over shown items of h(item, task), 0.01, 0.95), p0 = 0.03
//
// The hidden helpfulness h:
//   - Each synthetic item belongs to one task category: +0.3 for tasks of it for 15% of the
//     items (the key insight), -0.1 for 15% (misleading), 0 for the rest; 0 elsewhere.
//   - Categories come in pairs with the same operators. Cross items (--cross-items per
//     category, default 4) carry the pair's operators and no category, so recall finds them
//     for both categories of the pair; they help their own category (+0.3) and mislead its
//     sibling (-0.2). One value per item cannot hold that; a value per category can.
//   - Stored traces: a correct draft helps later tasks of its category (+0.25); a failed draft
//     is a decoy for its own task (-0.15 for later attempts at the same task, 0 elsewhere):
//     the most similar item there is, and a harmful one.
// Items of one category have near-identical signatures, so similarity alone cannot tell
// helpful items from useless ones; only values can learn it.
//
// Per seed the world (items, hidden h, tasks and their order) is the same for every policy;
// each task is drafted until correct or the budget is spent, in one bank shared by all tasks.
// The value policy runs once per value scope (--scopes: item, category, neighbourhood), side by
// side. Reported: correctness within budget at iteration t (share of tasks with a correct
// draft by t), mean and standard deviation over seeds, per policy (and scope).
#include "cli/bench_agent.h"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <random>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "common/fs.h"
#include "memory/memory.h"
#include "memory/policy.h"
#include "memory/values.h"
#include "verifier/verifier.h"

namespace evokernel {
namespace mem = memory;

namespace {

constexpr double kBaseRate = 0.03;

struct World {
  std::vector<mem::MemoryItem> items;
  // hidden: (item, category) -> h; a missing entry is 0
  std::map<std::pair<std::string, std::string>, double> helpfulness;
  std::vector<mem::TaskSignature> tasks;
};

std::string CategoryName(int c) { return fmt::format("category{}", c); }

World MakeWorld(const BenchRetrievalArgs& a, uint64_t seed) {
  static const char* kOps[] = {"conv2d", "relu",    "matmul",  "softmax", "layernorm", "maxpool2d", "sum",
                               "cumsum", "argmax",  "gelu",    "sigmoid", "bmm",       "batchnorm2d", "mean",
                               "tanh",   "avgpool2d", "mseloss", "exp",   "log",       "clamp",      "max",
                               "dropout", "linear", "transpose"};
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  World w;
  // Categories come in pairs with the same operators (as activation and elementwise-fusion
  // tasks look alike): only the category itself tells them apart.
  auto ops_of = [](int c) {
    c /= 2;
    std::vector<std::string> ops = {kOps[(3 * c) % 24], kOps[(3 * c + 1) % 24], kOps[(3 * c + 2) % 24]};
    std::sort(ops.begin(), ops.end());
    return ops;
  };
  for (int c = 0; c < a.categories; ++c) {
    std::vector<std::string> ops = ops_of(c);
    auto signature = [&](const std::string& task_id) {
      mem::TaskSignature s;
      s.task_id = task_id;
      s.category = CategoryName(c);
      s.level = 1;
      s.backend = "cpu";
      s.ops = ops;
      int64_t n = 64 << (rng() % 4);
      s.shapes = {{16, n}, {16, n}};
      s.num_inputs = 1;
      s.text = fmt::format("synthetic operator of category {} ({}, {}, {})", c, ops[0], ops[1], ops[2]);
      return s;
    };
    for (int j = 0; j < a.items_per_category; ++j) {
      mem::MemoryItem m;
      m.id = fmt::format("sim-{}-{}", c, j);
      m.kind = j % 2 ? mem::ItemKind::kSummary : mem::ItemKind::kTrace;
      m.signature = signature("");
      m.backend = "cpu";
      m.stage = mem::Stage::kDraft;
      m.title = fmt::format("synthetic experience {} of category {}", j, c);
      m.content = "simulated item: no real content";
      double r = u(rng);
      w.helpfulness[{m.id, CategoryName(c)}] = r < 0.15 ? 0.3 : r < 0.30 ? -0.1 : 0.0;
      w.items.push_back(std::move(m));
    }
    // Cross items: no category of their own and the pair's operators, so recall finds them
    // for both categories of the pair; they help this one and mislead its sibling.
    const int sibling = c ^ 1;
    if (sibling < a.categories)
      for (int j = 0; j < a.cross_items; ++j) {
        mem::MemoryItem m;
        m.id = fmt::format("sim-x-{}-{}", c, j);
        m.kind = mem::ItemKind::kSummary;
        m.signature = signature("");
        m.signature.category.clear();
        m.signature.text = fmt::format("synthetic operator of categories {} and {}", c, sibling);
        m.backend = "cpu";
        m.stage = mem::Stage::kDraft;
        m.title = fmt::format("synthetic cross-category experience {} of category {}", j, c);
        m.content = "simulated item: no real content";
        w.helpfulness[{m.id, CategoryName(c)}] = 0.3;
        w.helpfulness[{m.id, CategoryName(sibling)}] = -0.2;
        w.items.push_back(std::move(m));
      }
    for (int k = 0; k < a.tasks_per_category; ++k) w.tasks.push_back(signature(fmt::format("sim/{}-{}", c, k)));
  }
  std::shuffle(w.tasks.begin(), w.tasks.end(), rng);
  return w;
}

// Correctness-within-budget curve (index t-1 = share solved by iteration t) of one policy.
Result<std::vector<double>> Simulate(const BenchRetrievalArgs& a, const World& world, mem::RetrievalPolicy policy,
                                     mem::ValueScope scope, uint64_t seed) {
  EVK_ASSIGN_OR_RETURN(auto dir, MakeTempDir("evokernel-bench-retrieval-"));
  ScopedDir cleanup(dir);
  EVK_ASSIGN_OR_RETURN(auto store, mem::OpenStore((dir / "bank.sqlite").string()));
  EVK_RETURN_IF_ERROR(store->InsertMany(world.items).status());
  auto h = world.helpfulness;
  std::map<std::string, std::string> decoy_of;  // failed trace -> the task it misleads
  mem::MemoryConfig cfg;
  cfg.value_scope = scope;
  std::mt19937_64 rng(seed * 7919 + static_cast<uint64_t>(policy));
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<int> solved_at;
  for (const auto& task : world.tasks) {
    int solved = 0;
    for (int it = 1; it <= a.budget && !solved; ++it) {
      EVK_ASSIGN_OR_RETURN(auto ctx, mem::RetrieveContext(*store, task, "cpu", mem::Stage::kDraft, policy, cfg, rng));
      double p = kBaseRate;
      for (const auto& s : ctx.experience) {
        if (auto d = decoy_of.find(s.item.id); d != decoy_of.end()) {
          p += d->second == task.task_id ? -0.15 : 0.0;
          continue;
        }
        auto it = h.find({s.item.id, task.category});
        p += it != h.end() ? it->second : 0.0;
      }
      p = std::clamp(p, 0.01, 0.95);
      bool ok = u(rng) < p;
      mem::MemoryItem trace;
      trace.id = fmt::format("sim-t-{}-{}", task.task_id, it);
      trace.kind = mem::ItemKind::kTrace;
      trace.signature = task;
      trace.backend = "cpu";
      trace.stage = mem::Stage::kDraft;
      trace.title = fmt::format("simulated draft of {} ({})", task.task_id, ok ? "correct" : "wrong");
      trace.content = "simulated attempt";
      trace.outcome = ok ? "feasible" : "correctness/wrong_answer";
      trace.reward = mem::DraftReward(ok);
      if (ok) h[{trace.id, task.category}] = 0.25;
      else decoy_of[trace.id] = task.task_id;
      std::vector<mem::ValueUpdate> updates;
      // Like the agent: each update also names the task's category (the state of Q(s, m)).
      for (const auto& id : ctx.ids())
        updates.push_back({id, mem::Stage::kDraft, mem::DraftReward(ok), cfg.alpha, mem::StateOf(task)});
      EVK_RETURN_IF_ERROR(store->Commit({trace}, updates).status());
      if (ok) solved = it;
    }
    solved_at.push_back(solved);
  }
  std::vector<double> curve(static_cast<size_t>(a.budget), 0.0);
  for (int t = 1; t <= a.budget; ++t) {
    int n = 0;
    for (int s : solved_at) n += s > 0 && s <= t;
    curve[static_cast<size_t>(t - 1)] = double(n) / std::max<size_t>(solved_at.size(), 1);
  }
  return curve;
}

}  // namespace

CLI::App* AddBenchRetrieval(CLI::App* bench, BenchRetrievalArgs& a) {
  auto* app = bench->add_subcommand(
      "retrieval", "SIMULATION: does value-driven retrieval learn? Correctness against iteration per policy");
  app->add_option("--seeds", a.seeds, "Independent simulated worlds")->default_val(5)->check(CLI::Range(1, 1000));
  app->add_option("--categories", a.categories, "Task categories")->default_val(8)->check(CLI::Range(1, 100));
  app->add_option("--tasks-per-category", a.tasks_per_category, "Tasks per category")->default_val(5)
      ->check(CLI::Range(1, 1000));
  app->add_option("--items-per-category", a.items_per_category, "Synthetic memory items per category")
      ->default_val(30)->check(CLI::Range(1, 100000));
  app->add_option("--budget", a.budget, "Iterations per task")->default_val(30)->check(CLI::Range(1, 1000));
  app->add_option("--cross-items", a.cross_items,
                  "Items per category that help it and mislead its sibling category (recalled for both)")
      ->default_val(4)->check(CLI::Range(0, 100000));
  app->add_option("--policies", a.policies, "Comma-separated retrieval policies")
      ->default_val("value,similarity,random,none");
  app->add_option("--scopes", a.scopes, "Comma-separated value scopes the value policy runs with, side by side")
      ->default_val("item,category,neighbourhood");
  app->add_flag("--json", a.json, "JSON output");
  return app;
}

std::vector<std::string> CommaList(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i <= s.size();) {
    size_t c = std::min(s.find(',', i), s.size());
    if (c > i) out.push_back(s.substr(i, c - i));
    i = c + 1;
  }
  return out;
}

int RunBenchRetrieval(const BenchRetrievalArgs& a) {
  // One column per policy; the value policy once per scope ("value/category").
  struct Column {
    std::string name;
    mem::RetrievalPolicy policy;
    mem::ValueScope scope = mem::ValueScope::kItem;
  };
  std::vector<Column> policies;
  std::vector<mem::ValueScope> scopes;
  for (const std::string& name : CommaList(a.scopes)) {
    auto sc = mem::ParseValueScope(name);
    if (!sc.ok()) {
      std::cerr << "evokernel: error: --scopes: " << sc.status().message() << "\n";
      return kExitError;
    }
    scopes.push_back(*sc);
  }
  if (scopes.empty()) scopes.push_back(mem::MemoryConfig{}.value_scope);
  for (const std::string& name : CommaList(a.policies)) {
    auto p = mem::ParseRetrievalPolicy(name);
    if (!p.ok()) {
      std::cerr << "evokernel: error: --policies: " << p.status().message() << "\n";
      return kExitError;
    }
    if (*p == mem::RetrievalPolicy::kValue)
      for (auto sc : scopes) policies.push_back({"value/" + std::string(mem::ValueScopeName(sc)), *p, sc});
    else
      policies.push_back({std::string(mem::RetrievalPolicyName(*p)), *p});
  }
  nlohmann::json out = EnvironmentStamp();
  out["simulation"] =
      "no LLM and no verifier: P(correct) = clamp(0.03 + sum of the hidden helpfulness of the shown items, 0.01, "
      "0.95); the memory bank, recall, selection and value updates are evokernel's real code";
  out["settings"] = {{"seeds", a.seeds},
                     {"categories", a.categories},
                     {"cross_items", a.cross_items},
                     {"tasks_per_category", a.tasks_per_category},
                     {"items_per_category", a.items_per_category},
                     {"budget", a.budget}};
  if (!a.json)
    std::cout << fmt::format(
        "# evokernel bench retrieval -- SIMULATION (no LLM, no verifier; the memory code is real)\n"
        "# {} seeds x {} tasks ({} categories), {} synthetic items per category ({} of them helping it and "
        "misleading its sibling), failed drafts as decoys for their task, budget {}\n",
        a.seeds, a.categories * a.tasks_per_category, a.categories, a.items_per_category + a.cross_items,
        a.cross_items, a.budget);
  std::map<std::string, std::vector<std::vector<double>>> curves;
  for (int s = 0; s < a.seeds; ++s) {
    World w = MakeWorld(a, static_cast<uint64_t>(s) + 1);
    for (const auto& col : policies) {
      auto c = Simulate(a, w, col.policy, col.scope, static_cast<uint64_t>(s) + 1);
      if (!c.ok()) {
        std::cerr << "evokernel: error: " << c.status().ToString() << "\n";
        return kExitError;
      }
      curves[col.name].push_back(std::move(*c));
    }
  }
  std::vector<int> marks;
  for (int t : {1, 5, 10, 14, 20, 30, a.budget})
    if (t <= a.budget && std::find(marks.begin(), marks.end(), t) == marks.end()) marks.push_back(t);
  if (!a.json) {
    std::cout << fmt::format("{:<22}", "policy");
    for (int t : marks) std::cout << fmt::format("{:>16}", fmt::format("t={}", t));
    std::cout << "\n";
  }
  out["correct_by_iteration"] = nlohmann::json::object();
  for (const auto& col : policies) {
    const std::string& name = col.name;
    const auto& runs = curves[name];
    std::vector<double> mean(static_cast<size_t>(a.budget)), sd(static_cast<size_t>(a.budget));
    for (size_t t = 0; t < mean.size(); ++t) {
      double m = 0, v = 0;
      for (const auto& r : runs) m += r[t];
      m /= runs.size();
      for (const auto& r : runs) v += (r[t] - m) * (r[t] - m);
      mean[t] = m;
      sd[t] = runs.size() > 1 ? std::sqrt(v / (runs.size() - 1)) : 0;
    }
    out["correct_by_iteration"][name] = {{"mean", mean}, {"sd", sd}, {"per_seed", runs}};
    if (!a.json) {
      std::cout << fmt::format("{:<22}", name);
      for (int t : marks)
        std::cout << fmt::format("{:>16}", fmt::format("{:.1f}% +-{:.1f}", 100 * mean[t - 1], 100 * sd[t - 1]));
      std::cout << "\n";
    }
  }
  if (a.json) std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace evokernel
