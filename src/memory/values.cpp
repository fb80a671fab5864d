#include "memory/values.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "common/strings.h"

namespace evokernel::memory {

Status MemoryConfig::Validate() const {
  auto bad = [](const char* field, const std::string& what) {
    return InvalidArgument("memory config: " + std::string(field) + " " + what);
  };
  if (!(alpha > 0 && alpha <= 1)) return bad("alpha", "must be in (0, 1], got " + std::to_string(alpha));
  if (!(epsilon >= 0 && epsilon <= 1)) return bad("epsilon", "must be in [0, 1], got " + std::to_string(epsilon));
  if (n < 1) return bad("n", "must be >= 1, got " + std::to_string(n));
  if (lambda < 1) return bad("lambda", "must be >= 1, got " + std::to_string(lambda));
  if (!std::isfinite(initial_q)) return bad("initial_q", "must be finite");
  if (!(popart_beta > 0 && popart_beta <= 1))
    return bad("popart_beta", "must be in (0, 1], got " + std::to_string(popart_beta));
  if (!(popart_sigma_floor > 0) || !std::isfinite(popart_sigma_floor))
    return bad("popart_sigma_floor", "must be > 0");
  if (knowledge_slots < 0) return bad("knowledge_slots", "must be >= 0");
  if (!(neighbour_prior > 0) || !std::isfinite(neighbour_prior))
    return bad("neighbour_prior", "must be > 0, got " + std::to_string(neighbour_prior));
  return Status::Ok();
}

std::string_view ValueScopeName(ValueScope s) {
  switch (s) {
    case ValueScope::kItem: return "item";
    case ValueScope::kCategory: return "category";
    case ValueScope::kNeighbourhood: return "neighbourhood";
  }
  return "unknown";
}

Result<ValueScope> ParseValueScope(std::string_view name) {
  for (auto s : {ValueScope::kItem, ValueScope::kCategory, ValueScope::kNeighbourhood})
    if (ValueScopeName(s) == name) return s;
  if (name == "neighborhood") return ValueScope::kNeighbourhood;
  return InvalidArgument("unknown value scope '" + std::string(name) + "' (expected item, category or neighbourhood)");
}

std::string StateOf(const TaskSignature& task) { return Trim(task.category); }

namespace {

std::set<std::string> CategoryWords(std::string_view c) {
  std::set<std::string> out;
  std::string w;
  auto flush = [&] {
    if (w.empty()) return;
    if (w == "convolution" || w == "conv" || w == "cnn" || w.rfind("conv", 0) == 0) w = "conv";
    else if (w == "matmul" || w == "gemm" || w == "linear" || w == "mlp") w = "gemm";
    else if (w.find("norm") != std::string::npos) w = "norm";
    else if (w.find("pool") != std::string::npos) w = "pool";
    else if (w == "transformer" || w == "attention") w = "attention";
    if (w != "fusion" && w != "fused" && w != "other" && w != "misc") out.insert(w);
    w.clear();
  };
  for (char ch : c) {
    if (ch == '_' || ch == '-' || ch == ',' || std::isspace(static_cast<unsigned char>(ch))) {
      flush();
    } else {
      w += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
  }
  flush();
  return out;
}

double GlobalValue(const MemoryItem& m, Stage stage) { return stage == Stage::kRefine ? m.q_refine : m.q_draft; }

}  // namespace

double StateSimilarity(std::string_view a, std::string_view b) {
  if (a == b) return 1.0;
  std::set<std::string> wa = CategoryWords(a), wb = CategoryWords(b);
  if (wa.empty() || wb.empty()) return 0.0;
  size_t common = 0;
  for (const auto& w : wa) common += wb.count(w);
  size_t all = wa.size() + wb.size() - common;
  return 0.5 * static_cast<double>(common) / static_cast<double>(all);
}

double ScopedValue(const MemoryItem& m, Stage stage, std::string_view state, const MemoryConfig& config) {
  if (stage == Stage::kAny)
    return 0.5 * (ScopedValue(m, Stage::kDraft, state, config) + ScopedValue(m, Stage::kRefine, state, config));
  const double global = GlobalValue(m, stage);
  if (config.value_scope == ValueScope::kItem || state.empty()) return global;
  if (config.value_scope == ValueScope::kCategory) {
    const StateValue* v = m.FindStateValue(stage, state);
    return v && v->visits > 0 ? v->q : global;
  }
  const double horizon = (2.0 - config.alpha) / config.alpha;
  double num = config.neighbour_prior * global, den = config.neighbour_prior;
  for (const StateValue& v : m.state_values) {
    if (v.stage != stage || v.visits <= 0) continue;
    const double w = StateSimilarity(state, v.state);
    if (w <= 0) continue;
    const double n = w * std::min(static_cast<double>(v.visits), horizon);
    num += n * v.q;
    den += n;
  }
  return num / den;
}

double UpdatedQ(double q, double reward, double alpha) { return q + alpha * (reward - q); }

double DraftReward(bool feasible) { return feasible ? 1.0 : -1.0; }

double RefineReward(bool feasible, double best_latency, double latency) {
  if (!feasible) return -1.0;
  if (!(best_latency > 0) || !(latency > 0) || !std::isfinite(best_latency) || !std::isfinite(latency))
    return 0.0;
  return std::tanh(std::log(best_latency) - std::log(latency));
}

double PopArt::sigma() const {
  double var = std::max(s_.mean_sq - s_.mean * s_.mean, 0.0);
  return std::max(std::sqrt(var), floor_);
}

double PopArt::Normalise(double r) {
  s_.count += 1;
  double w = std::max(beta_, 1.0 / static_cast<double>(s_.count));
  s_.mean += w * (r - s_.mean);
  s_.mean_sq += w * (r * r - s_.mean_sq);
  return (r - s_.mean) / sigma();
}

std::vector<ValueUpdate> ContextUpdates(const std::vector<std::string>& ids, Stage stage,
                                        double reward, const MemoryConfig& config) {
  std::vector<ValueUpdate> out;
  out.reserve(ids.size());
  for (const auto& id : ids) out.push_back({id, stage, reward, config.alpha});
  return out;
}

void InitValues(MemoryItem& item, const MemoryConfig& config) {
  item.q_draft = config.initial_q;
  item.q_refine = config.initial_q;
}

}  // namespace evokernel::memory
