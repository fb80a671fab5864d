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

PairedRatio EstimatePairedRatio(std::vector<double> d, double level) {
  PairedRatio p;
  p.rounds = static_cast<int>(d.size());
  p.verdict = "same";
  if (d.empty()) return p;
  std::sort(d.begin(), d.end());
  const size_t n = d.size();
  for (double x : d) p.a_faster_rounds += x < 0;
  p.ratio = std::exp(Quantile(d, 0.5));
  // The interval [d_(k), d_(n+1-k)] (1-based order statistics) covers the median with
  // probability 1 - 2 P(Bin(n, 1/2) <= k - 1). The largest k that keeps the coverage at
  // `level` or above; with none (n too small), the full range.
  std::vector<double> cdf(n + 1);
  double pk = std::pow(0.5, static_cast<double>(n)), acc = 0;
  for (size_t k = 0; k <= n; ++k) {
    acc += pk;
    cdf[k] = acc;
    pk = pk * static_cast<double>(n - k) / static_cast<double>(k + 1);
  }
  size_t k = 0;  // 0: no interval reaches the level
  for (size_t j = 1; j <= n / 2; ++j)
    if (1 - 2 * cdf[j - 1] >= level) k = j;
  if (k == 0) {
    p.ratio_lo = std::exp(d.front());
    p.ratio_hi = std::exp(d.back());
    p.confidence = n >= 2 ? 1 - 2 * cdf[0] : 0;
    return p;
  }
  p.ratio_lo = std::exp(d[k - 1]);
  p.ratio_hi = std::exp(d[n - k]);
  p.confidence = 1 - 2 * cdf[k - 1];
  if (p.ratio_hi < 1) p.verdict = "faster";
  if (p.ratio_lo > 1) p.verdict = "slower";
  return p;
}

nlohmann::json PairedRatio::ToJson() const {
  return {{"rounds", rounds},         {"ratio", ratio},         {"ratio_lo", ratio_lo},
          {"ratio_hi", ratio_hi},     {"confidence", confidence}, {"a_faster_rounds", a_faster_rounds},
          {"verdict", verdict}};
}

}  // namespace evokernel
