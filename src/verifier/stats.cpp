#include "verifier/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace evokernel {

namespace {
double Quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  double pos = q * static_cast<double>(sorted.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, sorted.size() - 1);
  double f = pos - static_cast<double>(lo);
  return sorted[lo] * (1 - f) + sorted[hi] * f;
}
}  // namespace

Summary Summarise(std::vector<double> v) {
  Summary s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.min = v.front();
  s.max = v.back();
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  s.median = Quantile(v, 0.5);
  s.p25 = Quantile(v, 0.25);
  s.p75 = Quantile(v, 0.75);
  double ss = 0;
  for (double x : v) ss += (x - s.mean) * (x - s.mean);
  s.stdev = v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) : 0;
  return s;
}

nlohmann::json Summary::ToJson(double k) const {
  return {{"n", n},           {"mean", mean * k}, {"median", median * k}, {"p25", p25 * k},
          {"p75", p75 * k},   {"iqr", iqr() * k}, {"min", min * k},       {"max", max * k},
          {"stdev", stdev * k}, {"cv", cv()}};
}

}  // namespace evokernel
