// Every shipped task loads, runs and is not degenerate; the degeneracy check itself can fail.
#include <gtest/gtest.h>

#include "test_util.h"

namespace evokernel {
namespace {
using testing::FixturesDir;
using testing::RunCli;

void CheckSuite(const std::string& suite) {
  auto r = RunCli({"tasks", "check", "--suite", suite, "--json"}, 1500);
  ASSERT_TRUE(r.json.is_array()) << r.err << r.out;
  for (const auto& t : r.json) {
    EXPECT_FALSE(t.contains("error")) << t.dump();
    EXPECT_FALSE(t.value("degenerate", true)) << t.dump();
  }
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(ShippedSuites, Level1IsNotDegenerate) { CheckSuite("level1"); }
TEST(ShippedSuites, Level2IsNotDegenerate) { CheckSuite("level2"); }
TEST(ShippedSuites, Level3IsNotDegenerate) { CheckSuite("level3"); }

TEST(DegeneracyCheck, FlagsInputIndependentOutput) {
  auto r = RunCli({"tasks", "check", (FixturesDir() / "degenerate_constant.py").string(), "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  ASSERT_EQ(r.json.size(), 1u) << r.out;
  EXPECT_TRUE(r.json[0]["degenerate"].get<bool>());
  EXPECT_NE(r.json[0]["reasons"].dump().find("does not change between seeds"), std::string::npos) << r.out;
}

TEST(DegeneracyCheck, FlagsNearConstantOutput) {
  auto r = RunCli({"tasks", "check", (FixturesDir() / "degenerate_flat.py").string(), "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.json[0]["reasons"].dump().find("near-constant"), std::string::npos) << r.out;
}

TEST(DegeneracyCheck, AcceptsAGoodTask) {
  auto r = RunCli({"tasks", "check", (FixturesDir() / "scaled.py").string(), "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_FALSE(r.json[0]["degenerate"].get<bool>());
}

}  // namespace
}  // namespace evokernel
