// Summary statistics of latency samples.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace evokernel {

struct Summary {
  size_t n = 0;
  double mean = 0, median = 0, p25 = 0, p75 = 0, min = 0, max = 0, stdev = 0;
  double iqr() const { return p75 - p25; }
  double cv() const { return mean > 0 ? stdev / mean : 0; }  // coefficient of variation
  nlohmann::json ToJson(double scale = 1.0) const;            // values multiplied by scale
};

// Quantiles by linear interpolation between order statistics. Empty input: all zero.
Summary Summarise(std::vector<double> samples);

// A paired comparison of two kernels timed alternately (A, B, B, A, ...) on the same inputs:
// each round gives log(A's time / B's time), and load that comes and goes hits both sides of a
// round alike. The estimate is the median of the rounds' log ratios, with a distribution-free
// confidence interval for it (order statistics of the binomial sign test), so a bursty machine
// widens the interval instead of biasing the estimate.
struct PairedRatio {
  int rounds = 0;
  double ratio = 1;                  // A / B: below 1, A is faster
  double ratio_lo = 0, ratio_hi = 0; // the confidence interval of `ratio`
  double confidence = 0;             // its actual coverage (>= the level asked for, when possible)
  int a_faster_rounds = 0;           // rounds in which A took less time
  // "faster" (A faster: the whole interval below 1), "slower" (above 1) or "same" (it holds 1:
  // the difference is within what this machine's noise can resolve).
  std::string verdict;
  nlohmann::json ToJson() const;
};

// From per-round log ratios log(A/B); `level` is the coverage wanted (0.95). Fewer than 6
// rounds cannot reach 95% coverage: the interval is then the full range, the verdict "same".
PairedRatio EstimatePairedRatio(std::vector<double> log_ratios, double level = 0.95);

}  // namespace evokernel
