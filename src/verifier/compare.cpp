#include "verifier/compare.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "common/poison.h"

namespace evokernel {

bool ElementMatches(DType dtype, double e, double g, double atol, double rtol) {
  if (!IsFloating(dtype)) return e == g;
  if (!std::isfinite(e) || !std::isfinite(g)) return (std::isnan(e) && std::isnan(g)) || (!std::isnan(e) && e == g);
  return std::fabs(g - e) <= atol + rtol * std::fabs(e);
}

namespace {

// The common case, float32 outputs that all match, in one tight pass: no poison, non-finite
// values only where the reference has the same ones. Returns false as soon as anything needs
// the detailed pass below (which then recomputes everything).
bool AllMatchF32(const Tensor& expected, const Tensor& got, double atol, double rtol, OutputReport& r) {
  const float* e = expected.as<float>();
  const float* g = got.as<float>();
  const int64_t n = expected.numel();
  double max_abs = 0, max_rel = 0;
  // Branch-free blocks the compiler can vectorise (tens of MB per output); a block with any
  // mismatch or non-finite value ends the fast path. NaN (the poison included) fails `d <= tol`
  // and an infinite expected value fails `ae < inf`, so neither passes here.
  constexpr int64_t kBlock = 4096;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t end = std::min(n, b + kBlock);
    int64_t bad = 0;
    double block_abs = 0, block_rel = 0;
    for (int64_t i = b; i < end; ++i) {
      const double ei = e[i], gi = g[i];
      const double d = std::fabs(gi - ei), ae = std::fabs(ei);
      bad += !((d <= atol + rtol * ae) & (ae < INFINITY));
      block_abs = d > block_abs ? d : block_abs;
      // Relative error only where |expected| > atol: elsewhere divide by infinity (gives 0).
      const double rel = d / (ae > atol ? ae : INFINITY);
      block_rel = rel > block_rel ? rel : block_rel;
    }
    if (bad) return false;
    max_abs = std::max(max_abs, block_abs);
    max_rel = std::max(max_rel, block_rel);
  }
  r.max_abs_err = max_abs;
  r.max_rel_err = max_rel;
  return true;
}

}  // namespace

OutputReport CompareOutput(const Tensor& expected, const Tensor& got, double atol, double rtol) {
  OutputReport r;
  r.name = got.name().empty() ? expected.name() : got.name();
  r.shape = expected.shape();
  r.dtype = expected.dtype();
  r.numel = expected.numel();
  r.atol = atol;
  r.rtol = rtol;
  const size_t nd = r.shape.size();
  std::vector<int64_t> lo(nd, INT64_MAX), hi(nd, -1);
  double worst_ratio = -1;
  const bool floating = IsFloating(r.dtype);
  if (r.dtype == DType::kFloat32 && got.dtype() == DType::kFloat32 && got.numel() == r.numel &&
      AllMatchF32(expected, got, atol, rtol, r)) {
    r.passed = true;
    return r;
  }

  auto note_mismatch = [&](int64_t i, double e, double g, double ratio) {
    ++r.mismatches;
    if (r.first_index < 0) r.first_index = i;
    if (ratio > worst_ratio) {
      worst_ratio = ratio;
      r.worst_index = i;
      r.worst_expected = e;
      r.worst_got = g;
    }
    int64_t rem = i;
    for (size_t d = nd; d-- > 0;) {
      int64_t s = r.shape[d] > 0 ? r.shape[d] : 1;
      int64_t k = rem % s;
      rem /= s;
      lo[d] = std::min(lo[d], k);
      hi[d] = std::max(hi[d], k);
    }
  };

  for (int64_t i = 0; i < r.numel; ++i) {
    if (IsPoison(got, i)) {
      ++r.unwritten;
      note_mismatch(i, expected.GetAsDouble(i), std::nan(""), INFINITY);
      continue;
    }
    double e = expected.GetAsDouble(i), g = got.GetAsDouble(i);
    const bool match = ElementMatches(r.dtype, e, g, atol, rtol);
    if (floating && (!std::isfinite(e) || !std::isfinite(g))) {
      if (!match) {
        ++r.nonfinite_mismatches;
        note_mismatch(i, e, g, INFINITY);
      }
      continue;
    }
    double d = std::fabs(g - e);
    double tol = floating ? atol + rtol * std::fabs(e) : 0;
    r.max_abs_err = std::max(r.max_abs_err, d);
    if (std::fabs(e) > (floating ? atol : 0)) r.max_rel_err = std::max(r.max_rel_err, d / std::fabs(e));
    if (!match) note_mismatch(i, e, g, floating ? d / (tol > 0 ? tol : 1e-300) : d + 1);
  }
  if (r.mismatches > 0)
    for (size_t d = 0; d < nd; ++d) r.span.emplace_back(lo[d], hi[d]);
  r.passed = r.mismatches == 0;
  return r;
}

nlohmann::json OutputReport::ToJson() const {
  nlohmann::json j = {{"name", name},
                      {"shape", shape},
                      {"dtype", std::string(DTypeName(dtype))},
                      {"numel", numel},
                      {"passed", passed},
                      {"mismatches", mismatches},
                      {"unwritten", unwritten},
                      {"nonfinite_mismatches", nonfinite_mismatches},
                      {"max_abs_err", max_abs_err},
                      {"max_rel_err", max_rel_err}};
  if (!passed) {
    j["worst_index"] = nlohmann::json::parse(IndexString(shape, worst_index));
    j["worst_expected"] = std::isfinite(worst_expected) ? nlohmann::json(worst_expected)
                                                        : nlohmann::json(std::to_string(worst_expected));
    j["worst_got"] = std::isfinite(worst_got) ? nlohmann::json(worst_got)
                                              : nlohmann::json(std::to_string(worst_got));
    j["first_index"] = nlohmann::json::parse(IndexString(shape, first_index));
    nlohmann::json s = nlohmann::json::array();
    for (auto [a, b] : span) s.push_back({a, b});
    j["mismatch_span"] = s;
  }
  return j;
}

namespace {
std::string Num(double v) {
  if (std::isnan(v)) return "nan";
  std::ostringstream ss;
  ss.precision(6);
  ss << v;
  return ss.str();
}
}  // namespace

std::string OutputReport::Describe() const {
  std::ostringstream s;
  s << "output '" << name << "' " << DTypeName(dtype) << ShapeString(shape) << ": ";
  if (passed) {
    s << "matches (max abs err " << Num(max_abs_err) << ", max rel err " << Num(max_rel_err)
      << " where |expected| > " << Num(atol) << ")";
    return s.str();
  }
  s << mismatches << " of " << numel << " elements wrong";
  if (IsFloating(dtype))
    s << " (tolerance |got - expected| <= " << Num(atol) << " + " << Num(rtol) << " * |expected|)";
  else
    s << " (integer output: must match exactly)";
  // The error maxima cover elements that were written and finite; say so when others exist.
  bool partial = unwritten > 0 || nonfinite_mismatches > 0;
  s << "; max abs err " << Num(max_abs_err) << (partial ? " (over written, finite elements)" : "")
    << ", max rel err " << Num(max_rel_err) << " (where |expected| > " << (IsFloating(dtype) ? Num(atol) : "0") << ")";
  s << "; worst at " << IndexString(shape, worst_index) << ": expected " << Num(worst_expected)
    << ", got " << (std::isnan(worst_got) && unwritten ? std::string("<unwritten>") : Num(worst_got));
  s << "; first at " << IndexString(shape, first_index);
  if (!span.empty() && mismatches < numel) {
    s << "; wrong elements lie in index ranges [";
    for (size_t d = 0; d < span.size(); ++d)
      s << (d ? ", " : "") << span[d].first << ".." << span[d].second;
    s << "]";
  }
  if (nonfinite_mismatches)
    s << "; " << nonfinite_mismatches << " NaN/Inf values differ from the reference's";
  if (unwritten) {
    s << "; " << unwritten << " elements were never written";
    if (unwritten == numel)
      s << " (the kernel wrote nothing to this output)";
    else
      s << " (is the kernel computing a smaller or differently shaped output than "
        << ShapeString(shape) << "?)";
  }
  return s.str();
}

}  // namespace evokernel
