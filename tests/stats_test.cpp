#include "verifier/stats.h"

#include <gtest/gtest.h>

namespace evokernel {
namespace {

TEST(Stats, QuantilesInterpolate) {
  Summary s = Summarise({4, 1, 3, 2, 5});
  EXPECT_EQ(s.n, 5u);
  EXPECT_DOUBLE_EQ(s.median, 3);
  EXPECT_DOUBLE_EQ(s.p25, 2);
  EXPECT_DOUBLE_EQ(s.p75, 4);
  EXPECT_DOUBLE_EQ(s.iqr(), 2);
  EXPECT_DOUBLE_EQ(s.mean, 3);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 5);
  EXPECT_NEAR(s.stdev, 1.5811388, 1e-6);
}

TEST(Stats, EvenCountMedianIsMidpoint) {
  EXPECT_DOUBLE_EQ(Summarise({1, 2, 3, 10}).median, 2.5);
}

TEST(Stats, EmptyIsZero) {
  Summary s = Summarise({});
  EXPECT_EQ(s.n, 0u);
  EXPECT_EQ(s.median, 0);
  EXPECT_EQ(s.cv(), 0);
}

TEST(Stats, JsonScales) {
  auto j = Summarise({1e6, 3e6}).ToJson(1e-6);
  EXPECT_DOUBLE_EQ(j["median"].get<double>(), 2.0);
}

}  // namespace
}  // namespace evokernel
