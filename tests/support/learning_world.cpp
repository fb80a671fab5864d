#include "support/learning_world.h"

#include <algorithm>
#include <random>
#include <regex>
#include <set>

#include <fmt/format.h>

#include "common/fs.h"

namespace evokernel::testing {
namespace mem = memory;

namespace {

// A uniform number in [0, 1) from the first 53 bits of SHA-256(text): the same on every machine.
double Uniform(const std::string& text) {
  std::string h = Sha256Hex(text).substr(0, 14);
  return static_cast<double>(std::stoull(h, nullptr, 16) >> 3) / static_cast<double>(1ULL << 53);
}

std::string Category(const mem::TaskSignature& s) {
  std::string c = s.category;
  c.erase(0, c.find_first_not_of(" \t"));
  c.erase(c.find_last_not_of(" \t") + 1);
  return c;
}

// The retrieved-memory section of a prompt: from its heading to the next "## " heading.
std::string MemorySection(const std::string& prompt) {
  size_t b = prompt.find("\n## Experience and knowledge retrieved");
  if (b == std::string::npos) return {};
  size_t e = prompt.find("\n## ", b + 4);
  return prompt.substr(b, e == std::string::npos ? std::string::npos : e - b);
}

}  // namespace

nlohmann::json WorldParams::ToJson() const {
  return {{"seed", seed},
          {"base", base},
          {"own_items", own_items},
          {"own_helpful", own_helpful},
          {"own_misleading", own_misleading},
          {"help", help},
          {"mislead", mislead},
          {"cross_items", cross_items},
          {"cross_help", cross_help},
          {"cross_mislead", cross_mislead},
          {"trace_help", trace_help},
          {"decoy", decoy},
          {"reuse", reuse},
          {"pass", pass}};
}

nlohmann::json WorldAnswer::ToJson() const {
  return {{"task", task_id}, {"category", category}, {"stage", stage}, {"iteration", iteration},
          {"seen", seen},    {"p", p},               {"u", u},         {"correct", correct}};
}

Result<LearningWorld> LearningWorld::Build(std::vector<WorldTask> tasks, const WorldParams& params) {
  if (tasks.empty()) return InvalidArgument("learning world: no tasks");
  if (params.own_items < 0 || params.own_helpful < 0 || params.own_misleading < 0 || params.cross_items < 0 ||
      params.own_helpful + params.own_misleading > params.own_items)
    return InvalidArgument(fmt::format("learning world: item counts do not fit (own {}, helpful {}, misleading {}, cross {})",
                                       params.own_items, params.own_helpful, params.own_misleading,
                                       params.cross_items));
  LearningWorld w;
  w.params_ = params;
  std::map<std::string, const WorldTask*> first_of;  // category -> its first task
  std::vector<std::string> categories;
  for (auto& t : tasks) {
    if (Category(t.signature).empty()) return InvalidArgument("learning world: task " + t.id + " has no category");
    if (t.correct_code.empty()) return InvalidArgument("learning world: task " + t.id + " has no correct kernel");
    if (t.fast_code.empty()) t.fast_code = t.correct_code;
    if (w.tasks_.count(t.id)) return InvalidArgument("learning world: task " + t.id + " given twice");
    w.tasks_[t.id] = t;
  }
  for (const auto& t : tasks) {
    std::string c = Category(t.signature);
    if (!first_of.count(c)) {
      first_of[c] = &w.tasks_.at(t.id);
      categories.push_back(c);
    }
  }
  std::mt19937_64 rng(params.seed * 0x9E3779B97F4A7C15ULL + 17);
  int next = 1;
  auto add = [&](mem::TaskSignature sig, const std::string& title, const std::string& advice,
                 std::map<std::string, double> effect) {
    std::string marker = "W" + std::to_string(next++);
    mem::MemoryItem it;
    it.id = "world-" + marker;
    it.kind = mem::ItemKind::kSummary;
    it.backend = params.backend;
    it.stage = mem::Stage::kDraft;
    sig.task_id.clear();
    sig.text = advice;
    it.signature = std::move(sig);
    it.title = title;
    it.content = advice + " [world item " + marker + "]";
    it.outcome = "feasible";
    it.model = "learning-world (scripted, not a model)";
    w.items_.push_back(std::move(it));
    w.effects_[marker] = std::move(effect);
  };

  // Own items: a shuffled assignment of helpful, misleading and neutral roles per category.
  for (const auto& c : categories) {
    std::vector<double> roles(static_cast<size_t>(params.own_items), 0.0);
    for (int i = 0; i < params.own_helpful; ++i) roles[static_cast<size_t>(i)] = params.help;
    for (int i = 0; i < params.own_misleading; ++i) roles[static_cast<size_t>(params.own_helpful + i)] = params.mislead;
    std::shuffle(roles.begin(), roles.end(), rng);
    for (size_t i = 0; i < roles.size(); ++i) {
      std::map<std::string, double> effect;
      if (roles[i] != 0) effect[c] = roles[i];
      add(first_of[c]->signature, fmt::format("Advice for {} kernels ({})", c, i + 1),
          fmt::format("Advice note {} for {} kernels: how to lay out the loops, index the tensors and "
                      "check the edge cases of operators like {}.",
                      i + 1, c, fmt::join(first_of[c]->signature.ops, ", ")),
          std::move(effect));
    }
  }
  // Look-alike pairs and their cross items.
  std::vector<std::string> order = categories;
  std::shuffle(order.begin(), order.end(), rng);
  for (size_t i = 0; i + 1 < order.size(); i += 2) w.pairs_.emplace_back(order[i], order[i + 1]);
  for (const auto& [a, b] : w.pairs_) {
    for (const auto& [helps, misleads] : {std::pair{a, b}, std::pair{b, a}}) {
      mem::TaskSignature sig = first_of[helps]->signature;
      sig.category = helps + ", " + misleads;
      std::set<std::string> ops(sig.ops.begin(), sig.ops.end());
      ops.insert(first_of[misleads]->signature.ops.begin(), first_of[misleads]->signature.ops.end());
      sig.ops.assign(ops.begin(), ops.end());
      for (int k = 0; k < params.cross_items; ++k)
        add(sig, fmt::format("Advice shared by {} and {} kernels ({})", helps, misleads, k + 1),
            fmt::format("Advice note {} for {} and {} kernels alike: one loop structure for operators like {}.",
                        k + 1, helps, misleads, fmt::join(sig.ops, ", ")),
            {{helps, params.cross_help}, {misleads, params.cross_mislead}});
    }
  }
  return w;
}

double LearningWorld::Effect(const std::string& marker, const std::string& category) const {
  auto m = effects_.find(marker);
  if (m == effects_.end()) return 0;
  auto e = m->second.find(category);
  return e == m->second.end() ? 0 : e->second;
}

Result<WorldAnswer> LearningWorld::Answer(const std::string& prompt) const {
  static const std::regex task_re(R"(# Task (\S+): (write|make) a correct )");
  static const std::regex iter_re(R"(\(iteration (\d+) of \d+\))");
  static const std::regex item_re(R"(\[world item (W\d+)\])");
  static const std::regex kernel_re(R"(// world kernel: task=(\S+) (correct|wrong|fast))");
  std::smatch m;
  if (!std::regex_search(prompt, m, task_re)) return InvalidArgument("learning world: the prompt names no task");
  WorldAnswer a;
  a.task_id = m[1];
  a.stage = m[2] == "write" ? "draft" : "refine";
  auto t = tasks_.find(a.task_id);
  if (t == tasks_.end()) return InvalidArgument("learning world: task " + a.task_id + " is not in this world");
  if (!std::regex_search(prompt, m, iter_re)) return InvalidArgument("learning world: the prompt has no iteration");
  a.iteration = std::stoi(m[1]);
  a.category = Category(t->second.signature);

  const std::string memory = MemorySection(prompt);
  double sum = 0;
  for (auto i = std::sregex_iterator(memory.begin(), memory.end(), item_re); i != std::sregex_iterator(); ++i) {
    std::string marker = (*i)[1];
    a.seen.push_back(marker);
    sum += Effect(marker, a.category);
  }
  for (auto i = std::sregex_iterator(memory.begin(), memory.end(), kernel_re); i != std::sregex_iterator(); ++i) {
    std::string other = (*i)[1], verdict = (*i)[2];
    a.seen.push_back("kernel:" + other + ":" + verdict);
    auto o = tasks_.find(other);
    if (verdict == "wrong" && other == a.task_id) sum += params_.decoy;
    if (verdict != "wrong" && other == a.task_id) sum += params_.reuse;
    if (verdict != "wrong" && other != a.task_id && o != tasks_.end() && Category(o->second.signature) == a.category)
      sum += params_.trace_help;
  }
  a.u = Uniform(params_.pass == 1 ? fmt::format("{}\n{}\n{}", params_.seed, a.task_id, a.iteration)
                                   : fmt::format("{}\n{}\n{}\n{}", params_.seed, params_.pass, a.task_id, a.iteration));
  std::string code, verdict;
  if (a.stage == "refine") {
    a.p = 1;
    a.correct = true;
    verdict = "fast";
    code = t->second.fast_code;
  } else {
    a.p = std::clamp(params_.base + sum, 0.02, 0.95);
    a.correct = a.u < a.p;
    verdict = a.correct ? "correct" : "wrong";
    code = t->second.correct_code;
    if (!a.correct) code += "\nstatic_assert(sizeof(float) == 0, \"learning world: a misled draft\");\n";
  }
  if (!code.empty() && code.back() != '\n') code += '\n';
  std::string seen = a.seen.empty() ? "none" : fmt::format("{}", fmt::join(a.seen, ", "));
  a.text = fmt::format(
      "Scripted learning world (bench/learning.sh; not a model): task {}, {} iteration {}, world items and kernels "
      "shown: {}; P(correct) = {:.2f}, draw {:.3f}: {}.\n\n```cpp\n// world kernel: task={} {}\n{}```\n",
      a.task_id, a.stage, a.iteration, seen, a.p, a.u, verdict, a.task_id, verdict, code);
  return a;
}

}  // namespace evokernel::testing
