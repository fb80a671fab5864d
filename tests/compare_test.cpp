#include "verifier/compare.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "common/poison.h"

namespace evokernel {
namespace {

Tensor Floats(std::vector<int64_t> shape, std::vector<float> v) {
  Tensor t("out", DType::kFloat32, std::move(shape));
  for (size_t i = 0; i < v.size(); ++i) t.as<float>()[i] = v[i];
  return t;
}

TEST(Compare, IdenticalPasses) {
  auto e = Floats({2, 2}, {1, 2, 3, 4});
  auto g = Floats({2, 2}, {1, 2, 3, 4});
  auto r = CompareOutput(e, g, 1e-4, 1e-4);
  EXPECT_TRUE(r.passed);
  EXPECT_EQ(r.mismatches, 0);
}

TEST(Compare, ToleranceIsAtolPlusRtolTimesExpected) {
  auto e = Floats({2}, {100, 0});
  // 100 * 1e-4 + 1e-4 = 0.0101 allowed at index 0; 1e-4 allowed at index 1.
  auto g = Floats({2}, {100.01f, 0.00009f});
  EXPECT_TRUE(CompareOutput(e, g, 1e-4, 1e-4).passed);
  auto g2 = Floats({2}, {100.02f, 0});
  auto r = CompareOutput(e, g2, 1e-4, 1e-4);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.mismatches, 1);
  EXPECT_NEAR(r.max_abs_err, 0.02, 1e-4);
}

TEST(Compare, LocalisesWorstAndFirstMismatch) {
  std::vector<float> v(2 * 3 * 4, 1.0f);
  auto e = Floats({2, 3, 4}, v);
  v[1 * 12 + 2 * 4 + 3] = 5.0f;  // [1, 2, 3], worst
  v[0 * 12 + 1 * 4 + 0] = 1.5f;  // [0, 1, 0], first
  auto g = Floats({2, 3, 4}, v);
  auto r = CompareOutput(e, g, 1e-4, 1e-4);
  EXPECT_EQ(r.mismatches, 2);
  std::string d = r.Describe();
  EXPECT_NE(d.find("worst at [1, 2, 3]: expected 1, got 5"), std::string::npos) << d;
  EXPECT_NE(d.find("first at [0, 1, 0]"), std::string::npos) << d;
  EXPECT_NE(d.find("index ranges [0..1, 1..2, 0..3]"), std::string::npos) << d;
}

TEST(Compare, NaNPositionsMustMatch) {
  float nan = std::numeric_limits<float>::quiet_NaN();
  auto e = Floats({3}, {nan, 1, 2});
  EXPECT_TRUE(CompareOutput(e, Floats({3}, {nan, 1, 2}), 1e-4, 1e-4).passed);
  auto r = CompareOutput(e, Floats({3}, {0, 1, nan}), 1e-4, 1e-4);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.nonfinite_mismatches, 2);
}

TEST(Compare, InfinityMustMatchExactly) {
  float inf = std::numeric_limits<float>::infinity();
  auto e = Floats({2}, {inf, -inf});
  EXPECT_TRUE(CompareOutput(e, Floats({2}, {inf, -inf}), 1e-4, 1e-4).passed);
  EXPECT_FALSE(CompareOutput(e, Floats({2}, {inf, inf}), 1e-4, 1e-4).passed);
  EXPECT_FALSE(CompareOutput(e, Floats({2}, {3e38f, -inf}), 1e-4, 1e-4).passed);
}

TEST(Compare, PoisonedElementsAreReportedUnwritten) {
  auto e = Floats({4}, {1, 2, 3, 4});
  Tensor g("out", DType::kFloat32, {4});
  Poison(g);
  g.as<float>()[0] = 1;
  g.as<float>()[1] = 2;
  auto r = CompareOutput(e, g, 1e-4, 1e-4);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.unwritten, 2);
  EXPECT_NE(r.Describe().find("2 elements were never written"), std::string::npos) << r.Describe();
  EXPECT_NE(r.Describe().find("smaller or differently shaped"), std::string::npos);
}

TEST(Compare, WhollyUnwrittenOutputSaysSo) {
  auto e = Floats({4}, {1, 2, 3, 4});
  Tensor g("out", DType::kFloat32, {4});
  Poison(g);
  auto r = CompareOutput(e, g, 1e-4, 1e-4);
  EXPECT_EQ(r.unwritten, 4);
  EXPECT_NE(r.Describe().find("wrote nothing"), std::string::npos);
}

TEST(Compare, IntegerOutputsMustBeExact) {
  Tensor e("idx", DType::kInt64, {3});
  Tensor g("idx", DType::kInt64, {3});
  for (int i = 0; i < 3; ++i) e.as<int64_t>()[i] = g.as<int64_t>()[i] = i;
  EXPECT_TRUE(CompareOutput(e, g, 1e-4, 1e-4).passed);
  g.as<int64_t>()[2] = 3;
  auto r = CompareOutput(e, g, 10, 10);  // tolerance does not apply to integers
  EXPECT_FALSE(r.passed);
  EXPECT_NE(r.Describe().find("must match exactly"), std::string::npos);
}

// Large float32 outputs take a blocked, vectorised path; its verdict and error maxima must be
// those of the element-by-element definition, including for a mismatch in the last block.
TEST(Compare, LargeOutputsAgreeWithTheElementwiseDefinition) {
  const int64_t n = 3 * 4096 + 123;
  Tensor e("out", DType::kFloat32, {n}), g("out", DType::kFloat32, {n});
  double want_abs = 0, want_rel = 0;
  const double atol = 1e-3, rtol = 1e-3;
  for (int64_t i = 0; i < n; ++i) {
    float x = static_cast<float>(std::sin(0.37 * double(i)) * (i % 7 == 0 ? 1e-4 : 10.0));
    float y = x + static_cast<float>(((i * 7919) % 1000) * 1e-6 * (i % 2 ? 1 : -1));
    e.as<float>()[i] = x;
    g.as<float>()[i] = y;
    double d = std::fabs(double(y) - double(x));
    want_abs = std::max(want_abs, d);
    if (std::fabs(double(x)) > atol) want_rel = std::max(want_rel, d / std::fabs(double(x)));
  }
  auto r = CompareOutput(e, g, atol, rtol);
  EXPECT_TRUE(r.passed);
  EXPECT_DOUBLE_EQ(r.max_abs_err, want_abs);
  EXPECT_DOUBLE_EQ(r.max_rel_err, want_rel);

  g.as<float>()[n - 1] = e.as<float>()[n - 1] + 1.0f;  // last element, partial last block
  r = CompareOutput(e, g, atol, rtol);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.mismatches, 1);
  EXPECT_EQ(r.first_index, n - 1);

  g.as<float>()[n - 1] = e.as<float>()[n - 1];
  e.as<float>()[5000] = INFINITY;  // an infinity only the reference has
  g.as<float>()[5000] = 3.0e38f;
  r = CompareOutput(e, g, atol, rtol);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.nonfinite_mismatches, 1);
  g.as<float>()[5000] = INFINITY;  // the same infinity on both sides passes
  EXPECT_TRUE(CompareOutput(e, g, atol, rtol).passed);
}

TEST(Poison, FillsEveryElementAndIsRecognised) {
  Tensor t("out", DType::kFloat32, {8});
  Poison(t);
  for (int64_t i = 0; i < 8; ++i) EXPECT_TRUE(IsPoison(t, i));
  t.as<float>()[3] = 1.0f;
  EXPECT_FALSE(IsPoison(t, 3));
}

TEST(Poison, PoisonIsNaNForFloats) {
  Tensor t("out", DType::kFloat32, {1});
  Poison(t);
  EXPECT_TRUE(std::isnan(t.as<float>()[0]));
  Tensor d("out", DType::kFloat64, {1});
  Poison(d);
  EXPECT_TRUE(std::isnan(d.as<double>()[0]));
}

}  // namespace
}  // namespace evokernel
