// Summary statistics of latency samples.
#pragma once

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

}  // namespace evokernel
