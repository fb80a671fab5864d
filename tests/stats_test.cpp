#include "verifier/stats.h"

#include <atomic>
#include <cmath>
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "verifier/machine_load.h"
#include "verifier/verifier.h"

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

// Threads spinning on every core make the window see every core busy; beyond the one core the
// measurement claims as its own, that is other work: the machine was loaded.
// Sign-test interval of the median log ratio: with 10 rounds it is [d_(2), d_(9)] (coverage
// 1 - 2 * 11/1024 = 97.9%; [d_(3), d_(8)] would cover only 89%).
TEST(PairedRatio, IntervalIsFromOrderStatisticsOfTheRounds) {
  std::vector<double> d;
  for (int i = 1; i <= 10; ++i) d.push_back(std::log(1.0 + 0.01 * i));  // A 1-10% slower
  PairedRatio p = EstimatePairedRatio(d);
  EXPECT_EQ(p.rounds, 10);
  EXPECT_NEAR(p.ratio, std::exp((std::log(1.05) + std::log(1.06)) / 2), 1e-12);
  EXPECT_NEAR(p.ratio_lo, 1.02, 1e-12);
  EXPECT_NEAR(p.ratio_hi, 1.09, 1e-12);
  EXPECT_NEAR(p.confidence, 1 - 2 * 11.0 / 1024, 1e-12);
  EXPECT_EQ(p.a_faster_rounds, 0);
  EXPECT_EQ(p.verdict, "slower");
  for (double& x : d) x = -x;
  EXPECT_EQ(EstimatePairedRatio(d).verdict, "faster");
}

// One round in five going the other way (a burst of load on one side) leaves the verdict of
// 30 rounds alone; a difference the rounds disagree on is "same".
TEST(PairedRatio, BurstsWidenTheIntervalAndTiesAreSame) {
  std::vector<double> d;
  for (int i = 0; i < 30; ++i) d.push_back(i % 5 == 0 ? std::log(0.7) : std::log(1.05));
  PairedRatio p = EstimatePairedRatio(d);
  EXPECT_EQ(p.verdict, "slower") << p.ToJson().dump();
  EXPECT_NEAR(p.ratio, 1.05, 1e-12);
  std::vector<double> tie;
  for (int i = 0; i < 30; ++i) tie.push_back(i % 2 ? std::log(1.03) : std::log(0.97));
  EXPECT_EQ(EstimatePairedRatio(tie).verdict, "same");
  // Five rounds cannot reach 95%: the full range, whatever it says.
  PairedRatio few = EstimatePairedRatio({0.1, 0.1, 0.1, 0.1, 0.1});
  EXPECT_EQ(few.verdict, "same");
  EXPECT_LT(few.confidence, 0.95);
  EXPECT_EQ(EstimatePairedRatio({}).rounds, 0);
}

TEST(MachineLoad, SpinningThreadsAreSeenAsLoad) {
  const int cpus = static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
  CpuLoadWindow window;
  std::atomic<bool> stop{false};
  std::vector<std::thread> spinners;
  for (int i = 0; i < cpus; ++i)
    spinners.emplace_back([&] {
      volatile uint64_t x = 0;
      while (!stop.load(std::memory_order_relaxed)) x = x + 1;
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  auto load = window.Close(1);
  stop = true;
  for (auto& t : spinners) t.join();
  ASSERT_TRUE(load.has_value()) << "/proc/stat unreadable";
  EXPECT_GE(load->cpus, 1);
  EXPECT_GT(load->seconds, 0.5);
  EXPECT_GE(load->busy_cores, 0.8 * load->cpus) << load->ToJson().dump();
  EXPECT_NEAR(load->other_busy_cores, std::max(0.0, load->busy_cores - 1), 1e-9);
  EXPECT_EQ(load->loaded, load->other_busy_cores >= MachineLoad::kLoadedCores);
  if (load->cpus >= 2) {
    EXPECT_TRUE(load->loaded) << load->ToJson().dump();
  }
  EXPECT_EQ(load->ToJson()["loaded"], load->loaded);
}

// Missing the 1% precision target (noisy) does not make a speedup untrusted; an error above
// trust_noise (too_noisy) or a review entry does.
TEST(SpeedupTrust, NoisyIsTrustedTooNoisyAndReviewAreNot) {
  EvalResult r;
  EXPECT_FALSE(r.speedup_trusted()) << "untimed";
  r.timed = true;
  EXPECT_TRUE(r.speedup_trusted());
  r.noisy = true;
  EXPECT_TRUE(r.speedup_trusted());
  EXPECT_TRUE(r.ToJson()["speedup_trusted"].get<bool>());
  r.too_noisy = true;
  EXPECT_FALSE(r.speedup_trusted());
  EXPECT_FALSE(r.ToJson()["speedup_trusted"].get<bool>());
  EXPECT_TRUE(r.ToJson()["timing"]["too_noisy"].get<bool>());
  r.too_noisy = false;
  r.review.push_back("faster than the roofline bound");
  EXPECT_FALSE(r.speedup_trusted());
}

}  // namespace
}  // namespace evokernel
