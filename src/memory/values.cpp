#include "memory/values.h"

#include <algorithm>
#include <cmath>

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
  return Status::Ok();
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
