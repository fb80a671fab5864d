#include "verifier/degenerate.h"

#include <cmath>

#include "verifier/compare.h"

namespace evokernel {

nlohmann::json DegeneracyReport::ToJson() const {
  return {{"degenerate", degenerate}, {"reasons", reasons}, {"outputs", outputs}};
}

Result<DegeneracyReport> CheckDegenerate(Oracle& oracle, const TaskSpec& spec, uint64_t seed_a,
                                         uint64_t seed_b) {
  EVK_ASSIGN_OR_RETURN(Trial a, oracle.MakeTrial(seed_a));
  EVK_ASSIGN_OR_RETURN(Trial b, oracle.MakeTrial(seed_b));
  DegeneracyReport rep;
  if (a.outputs.size() != b.outputs.size()) return Internal("trials disagree on the output count");
  for (size_t i = 0; i < a.outputs.size(); ++i) {
    const Tensor& x = a.outputs[i];
    std::string name = spec.num_inputs() + i < spec.args.size() ? spec.args[spec.num_inputs() + i].name
                                                                : "out" + std::to_string(i);
    int64_t n = x.numel();
    double mean = 0, mean_abs = 0;
    for (int64_t k = 0; k < n; ++k) {
      double v = x.GetAsDouble(k);
      mean += v;
      mean_abs += std::fabs(v);
    }
    mean /= std::max<int64_t>(n, 1);
    mean_abs /= std::max<int64_t>(n, 1);
    double var = 0;
    for (int64_t k = 0; k < n; ++k) var += (x.GetAsDouble(k) - mean) * (x.GetAsDouble(k) - mean);
    double stdev = n > 1 ? std::sqrt(var / static_cast<double>(n - 1)) : 0;
    double spread = mean_abs > 0 ? stdev / mean_abs : (stdev > 0 ? INFINITY : 0);
    OutputReport cmp = CompareOutput(b.outputs[i], x, spec.ref.atol, spec.ref.rtol);
    bool differs = !cmp.passed;
    rep.outputs.push_back({{"name", name},
                           {"numel", n},
                           {"rel_spread", std::isfinite(spread) ? nlohmann::json(spread) : nlohmann::json("inf")},
                           {"differs_across_seeds", differs},
                           {"elements_differing", cmp.mismatches}});
    if (n > 1 && !(spread > 1e-3)) {
      rep.degenerate = true;
      rep.reasons.push_back("output '" + name + "' is near-constant: std/mean|x| = " +
                            std::to_string(spread) + " <= 1e-3");
    }
    if (!differs) {
      rep.degenerate = true;
      rep.reasons.push_back("output '" + name + "' does not change between seeds " +
                            std::to_string(seed_a) + " and " + std::to_string(seed_b) +
                            " within the task tolerance");
    }
  }
  return rep;
}

}  // namespace evokernel
