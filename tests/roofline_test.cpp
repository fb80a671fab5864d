// The roofline check: the bound's arithmetic, the peaks file, and end to end that a latency
// below the bound is flagged for review while honest kernels on real peaks are not.
#include "roofline/roofline.h"

#include <sys/stat.h>

#include <fstream>

#include <gtest/gtest.h>

#include "test_util.h"

namespace evokernel {
namespace {
namespace fs = std::filesystem;
using testing::KernelsDir;
using testing::RunCli;

MachinePeaks Peaks() {
  MachinePeaks p;
  p.threads = 1;
  p.flops_per_s = 100e9;
  p.read_bandwidth = {{16e3, 200e9}, {1e6, 100e9}, {64e6, 20e9}};
  return p;
}

TaskSpec Spec(double flops, std::vector<int64_t> in_shape, std::vector<int64_t> out_shape) {
  TaskSpec s;
  s.flops = flops;
  TaskArg in{"x", ArgRole::kInput, DType::kFloat32, in_shape, ""};
  TaskArg out{"out", ArgRole::kOutput, DType::kFloat32, out_shape, ""};
  s.args = {in, out};
  return s;
}

TEST(Roofline, BandwidthComesFromTheLargestMeasuredSizeNotAboveTheWorkingSet) {
  MachinePeaks p = Peaks();
  EXPECT_DOUBLE_EQ(p.BandwidthFor(1e3), 200e9);   // below every size: the smallest size's figure
  EXPECT_DOUBLE_EQ(p.BandwidthFor(16e3), 200e9);
  EXPECT_DOUBLE_EQ(p.BandwidthFor(5e6), 100e9);   // between 1 MB and 64 MB: the faster 1 MB cache
  EXPECT_DOUBLE_EQ(p.BandwidthFor(1e9), 20e9);
}

TEST(Roofline, BoundIsTheSlowerOfComputeAndMemory) {
  // 1e9 FLOPs at 100 GFLOP/s = 10 ms; 8 MB at 100 GB/s = 0.08 ms: compute-bound.
  auto b = ComputeRoofline(Spec(1e9, {1000, 1000}, {1000, 1000}), Peaks(), 20e6);
  EXPECT_DOUBLE_EQ(b.bytes, 8e6);
  EXPECT_NEAR(b.compute_ns, 10e6, 1);
  EXPECT_NEAR(b.memory_ns, 8e6 / 100e9 * 1e9, 1);
  EXPECT_NEAR(b.bound_ns, 10e6, 1);
  EXPECT_NEAR(b.fraction, 0.5, 1e-9);
  // No FLOP count (-1): memory alone. 128 MB at 20 GB/s = 6.4 ms; measured 3.2 ms is twice as
  // fast as possible.
  auto m = ComputeRoofline(Spec(-1, {4000, 4000}, {4000, 4000}), Peaks(), 3.2e6);
  EXPECT_EQ(m.compute_ns, 0);
  EXPECT_NEAR(m.bound_ns, 6.4e6, 1);
  EXPECT_NEAR(m.fraction, 2.0, 1e-9);
  EXPECT_GT(m.fraction, kRooflineReviewFraction);
  auto j = m.ToJson();
  EXPECT_TRUE(j["flops"].is_null());
  EXPECT_NEAR(j["bound_ms"].get<double>(), 6.4, 1e-9);
}

TEST(Roofline, PeaksJsonIsValidated) {
  auto ok = MachinePeaks::FromJson(Peaks().ToJson());
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->read_bandwidth.size(), 3u);
  EXPECT_FALSE(MachinePeaks::FromJson(nlohmann::json::object()).ok());
  auto zero = Peaks().ToJson();
  zero["flops_per_s"] = 0;
  EXPECT_FALSE(MachinePeaks::FromJson(zero).ok());
  auto empty = Peaks().ToJson();
  empty["read_bandwidth"] = nlohmann::json::array();
  EXPECT_FALSE(MachinePeaks::FromJson(empty).ok());
}

TEST(Roofline, MachineCommandMeasuresPlausiblePeaksAndCachesThem) {
  auto r = RunCli({"machine", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(r.json.is_object()) << r.out;
  double flops = r.json["flops_per_s"].get<double>();
  EXPECT_GT(flops, 1e9);    // any x86 core since 2010
  EXPECT_LT(flops, 1e13);   // one thread
  ASSERT_GE(r.json["read_bandwidth"].size(), 4u);
  for (const auto& e : r.json["read_bandwidth"]) {
    EXPECT_GT(e["bytes_per_s"].get<double>(), 1e9);
    EXPECT_LT(e["bytes_per_s"].get<double>(), 2e12) << "a read loop the optimiser removed?";
  }
  std::string file = r.json["cache_file"].get<std::string>();
  EXPECT_TRUE(fs::exists(file)) << file;
  auto again = RunCli({"machine", "--json"});
  ASSERT_EQ(again.exit_code, 0);
  EXPECT_EQ(again.json["flops_per_s"], r.json["flops_per_s"]) << "second call should read the cache";
}

// A peaks program reporting a machine 1000x slower than this one: every honest kernel then
// looks faster than possible, which is exactly what the check must flag.
fs::path FakePeaksProgram(const fs::path& dir) {
  fs::path p = dir / "fake-peaks.sh";
  std::ofstream(p) << "#!/bin/sh\n"
                      "echo '{\"threads\": 1, \"flops_per_s\": 1e8, \"read_bandwidth\": "
                      "[{\"bytes\": 16384, \"bytes_per_s\": 2e7}, {\"bytes\": 268435456, \"bytes_per_s\": 1e7}]}'\n";
  chmod(p.c_str(), 0755);
  return p;
}

TEST(Roofline, LatencyBelowTheBoundIsFlaggedForReviewNotTrusted) {
  auto dir = MakeTempDir("evokernel-roofline-test-");
  ASSERT_TRUE(dir.ok());
  ScopedDir cleanup(*dir);
  fs::path fake = FakePeaksProgram(*dir);
  auto r = RunCli({"eval", "--task", "level1/01_square_matmul", "--kernel",
                   (KernelsDir() / "level1__01_square_matmul" / "fast.cpp").string(), "--json", "--timing-trials", "5",
                   "--trials", "1", "--hidden-trials", "0"},
                  300, {{"EVOKERNEL_PEAKS", fake.string()}, {"EVOKERNEL_CACHE_DIR", (*dir / "cache").string()}});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out.substr(0, 2000);
  const auto& j = r.json;
  ASSERT_TRUE(j["roofline"].is_object()) << j.value("roofline_note", "");
  EXPECT_GT(j["roofline"]["fraction"].get<double>(), 100);
  EXPECT_NEAR(j["roofline"]["peak_gflops"].get<double>(), 0.1, 1e-9);
  EXPECT_FALSE(j["speedup_trusted"].get<bool>());
  bool flagged = false;
  for (const auto& why : j["review"]) flagged |= why.get<std::string>().find("roofline bound") != std::string::npos;
  EXPECT_TRUE(flagged) << j["review"].dump();
  EXPECT_TRUE(j["feasible"].get<bool>()) << "a review flag is not a verdict on correctness";
}

// Peaks measured while the machine was busy come out low. A kernel that beats them makes the
// verifier measure again; the cache keeps the higher figures (never the lower), and the kernel
// is judged against them: not flagged.
TEST(Roofline, PeaksBeatenByAKernelAreMeasuredAgainAndNeverLowered) {
  auto dir = MakeTempDir("evokernel-roofline-test-");
  ASSERT_TRUE(dir.ok());
  ScopedDir cleanup(*dir);
  fs::path p = *dir / "busy-then-idle-peaks.sh";
  // First run: a busy machine (1000x too low); later runs: generous figures.
  std::ofstream(p) << "#!/bin/sh\n"
                      "if [ -f " << (*dir / "measured-once").string() << " ]; then\n"
                      "  echo '{\"threads\": 1, \"flops_per_s\": 1e13, \"read_bandwidth\": "
                      "[{\"bytes\": 16384, \"bytes_per_s\": 1e12}, {\"bytes\": 268435456, \"bytes_per_s\": 1e12}]}'\n"
                      "else\n"
                      "  touch " << (*dir / "measured-once").string() << "\n"
                      "  echo '{\"threads\": 1, \"flops_per_s\": 1e8, \"read_bandwidth\": "
                      "[{\"bytes\": 16384, \"bytes_per_s\": 2e7}, {\"bytes\": 268435456, \"bytes_per_s\": 1e7}]}'\n"
                      "fi\n";
  chmod(p.c_str(), 0755);
  const std::map<std::string, std::string> env = {{"EVOKERNEL_PEAKS", p.string()},
                                                  {"EVOKERNEL_CACHE_DIR", (*dir / "cache").string()}};
  auto r = RunCli({"eval", "--task", "level1/01_square_matmul", "--kernel",
                   (KernelsDir() / "level1__01_square_matmul" / "fast.cpp").string(), "--json", "--timing-trials", "5",
                   "--trials", "1", "--hidden-trials", "0"},
                  300, env);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out.substr(0, 2000);
  const auto& j = r.json;
  ASSERT_TRUE(j["roofline"].is_object()) << j.value("roofline_note", "");
  EXPECT_LT(j["roofline"]["fraction"].get<double>(), 1.0);
  EXPECT_NEAR(j["roofline"]["peak_gflops"].get<double>(), 1e4, 1e-6);
  EXPECT_NE(j.value("roofline_note", "").find("measured again"), std::string::npos) << j.dump();
  for (const auto& why : j["review"]) EXPECT_EQ(why.get<std::string>().find("roofline"), std::string::npos) << why;
  // The cache now holds the higher figures; measuring again with lower ones keeps them.
  fs::remove(*dir / "measured-once");
  auto m = RunCli({"machine", "--remeasure", "--json"}, 60, env);
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_EQ(m.json["flops_per_s"].get<double>(), 1e13) << "a lower measurement never replaces a higher one";
}

TEST(Roofline, MissingPeaksProgramIsReportedNotSilent) {
  auto dir = MakeTempDir("evokernel-roofline-test-");
  ASSERT_TRUE(dir.ok());
  ScopedDir cleanup(*dir);
  auto r = RunCli({"eval", "--task", "level1/01_square_matmul", "--kernel",
                   (KernelsDir() / "level1__01_square_matmul" / "fast.cpp").string(), "--json", "--timing-trials", "5",
                   "--trials", "1", "--hidden-trials", "0"},
                  300,
                  {{"EVOKERNEL_PEAKS", (*dir / "no-such-program").string()},
                   {"EVOKERNEL_CACHE_DIR", (*dir / "cache").string()}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.json["roofline"].is_null());
  EXPECT_NE(r.json.value("roofline_note", "").find("roofline check not done"), std::string::npos) << r.json.dump();
  auto off = RunCli({"eval", "--task", "level1/01_square_matmul", "--kernel",
                     (KernelsDir() / "level1__01_square_matmul" / "fast.cpp").string(), "--json", "--timing-trials",
                     "5", "--trials", "1", "--hidden-trials", "0", "--no-roofline"});
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_EQ(off.json.value("roofline_note", ""), "roofline check disabled");
}

TEST(Roofline, TaskDescriptionCarriesTheFlopCount) {
  auto r = RunCli({"tasks", "show", "level1/01_square_matmul", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int64_t n = r.json["constants"]["N"].get<int64_t>();
  // torch.profiler counts 2 N^3 for an N x N matmul.
  EXPECT_DOUBLE_EQ(r.json["flops"].get<double>(), 2.0 * n * n * n);
  EXPECT_DOUBLE_EQ(r.json["compulsory_bytes"].get<double>(), 3.0 * n * n * 4);
}

}  // namespace
}  // namespace evokernel
