// One kernel per known cheat and sandbox escape (tests/cheats/*.cpp), each caught at the right
// stage with the right category. The first line of each file says what must happen:
//   // expect: <stage>/<failure>[|[<stage>/]<failure>...] task=<task id> [args=<a>,<b>] [feedback=<word>]
//                                                                  [timing=default]
//   // expect: feasible task=<task id> ...
// Alternatives are separated by '|'; one without a stage has the stage before it. A cheat
// whose effect is random (a data race) may be caught at one of several stages. `feasible` is for
// an attempt that the design makes harmless rather than detects (state kept in memory that is
// poisoned or fresh on every call): the kernel is written to return garbage if the attempt ever
// worked, so it must come out feasible, and any state that survives a call makes it fail.
// Files ending in .cl are OpenCL kernels, evaluated with --backend opencl (on PoCL).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "test_util.h"

namespace evokernel {
namespace {
namespace fs = std::filesystem;
using testing::RunCli;

struct Expectation {
  std::string file, task, feedback;
  bool default_timing = false;  // timing=default: the verifier sizes the timing as it does for users
  std::vector<std::pair<std::string, std::string>> outcomes;  // (stage, failure) alternatives
  std::vector<std::string> args;
};

Expectation Parse(const fs::path& f) {
  Expectation e;
  e.file = f.filename().string();
  std::ifstream in(f);
  std::string line;
  std::getline(in, line);
  std::istringstream ss(line);
  std::string tok;
  ss >> tok >> tok;  // "//" "expect:"
  ss >> tok;
  std::string stage;
  for (size_t p = 0; p != std::string::npos;) {
    size_t q = tok.find('|', p);
    std::string alt = tok.substr(p, q == std::string::npos ? q : q - p);
    if (size_t slash = alt.find('/'); slash != std::string::npos) {
      stage = alt.substr(0, slash);
      alt = alt.substr(slash + 1);
    }
    e.outcomes.emplace_back(stage, alt);
    p = q == std::string::npos ? q : q + 1;
  }
  while (ss >> tok) {
    if (tok.rfind("task=", 0) == 0) e.task = tok.substr(5);
    if (tok.rfind("feedback=", 0) == 0) e.feedback = tok.substr(9);
    if (tok == "timing=default") e.default_timing = true;
    if (tok.rfind("args=", 0) == 0) {
      std::string a = tok.substr(5);
      for (size_t p = 0; p != std::string::npos;) {
        size_t q = a.find(',', p);
        e.args.push_back(a.substr(p, q == std::string::npos ? q : q - p));
        p = q == std::string::npos ? q : q + 1;
      }
    }
  }
  return e;
}

std::vector<std::string> Cheats() {
  std::vector<std::string> out;
  for (const auto& f : fs::directory_iterator(testing::TestDir() / "cheats"))
    if (f.path().extension() == ".cpp" || f.path().extension() == ".cl") out.push_back(f.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

class Cheat : public ::testing::TestWithParam<std::string> {};

constexpr const char* kSecret = "sk-evokernel-sentinel-4f1d9a";

TEST_P(Cheat, IsCaughtAtTheRightStage) {
  fs::path file = testing::TestDir() / "cheats" / GetParam();
  Expectation e = Parse(file);
  ASSERT_FALSE(e.task.empty()) << "no task= in the expect line of " << file;
  std::vector<std::string> args = {"eval", "--task", e.task, "--kernel", file.string(), "--json"};
  if (std::find(e.args.begin(), e.args.end(), "--timeout") == e.args.end())
    for (const char* a : {"--timeout", "60"}) args.push_back(a);
  if (file.extension() == ".cl")
    for (const char* a : {"--backend", "opencl"}) args.push_back(a);
  if (!e.default_timing)
    for (const char* a : {"--timing-trials", "24", "--flush-bytes", "0"}) args.push_back(a);
  args.insert(args.end(), e.args.begin(), e.args.end());
  // A cheat whose effect is random (several outcomes allowed: a data race) shows only when its
  // threads overlap, which a loaded test machine can prevent for a whole evaluation: it gets
  // up to 3 evaluations, each of which must either pass it or catch it as expected.
  // A secret in evokernel's environment (where API keys live) must never reach the result.
  const std::map<std::string, std::string> env = {{"EVOKERNEL_TEST_SECRET", kSecret}};
  auto r = RunCli(args, 300, env);
  for (int attempt = 1; attempt < 3 && e.outcomes.size() > 1 && r.exit_code == 0; ++attempt) r = RunCli(args, 300, env);
  EXPECT_EQ(r.out.find(kSecret), std::string::npos) << "the secret leaked into the result";
  EXPECT_EQ(r.err.find(kSecret), std::string::npos) << "the secret leaked into the messages";
  if (e.outcomes.size() == 1 && e.outcomes[0].second == "feasible") {
    EXPECT_EQ(r.exit_code, 0) << "state survived a call: " << r.json["failed_stage"] << "/" << r.json["failure"] << " "
                              << r.json["feedback"] << r.err;
    EXPECT_TRUE(r.json.is_object() && r.json["feasible"] == true) << r.out.substr(0, 2000);
    return;
  }
  ASSERT_EQ(r.exit_code, 1) << "a cheat must be infeasible: " << r.err << r.out.substr(0, 2000);
  std::string stage = r.json["failed_stage"].is_string() ? r.json["failed_stage"].get<std::string>() : "";
  std::string failure = r.json["failure"].is_string() ? r.json["failure"].get<std::string>() : "";
  EXPECT_NE(std::find(e.outcomes.begin(), e.outcomes.end(), std::make_pair(stage, failure)), e.outcomes.end())
      << "caught as " << stage << "/" << failure << "; feedback: " << r.json["feedback"];
  if (!e.feedback.empty()) {
    EXPECT_NE(r.json["feedback"].get<std::string>().find(e.feedback), std::string::npos) << r.json["feedback"];
  }
}

INSTANTIATE_TEST_SUITE_P(Cheats, Cheat, ::testing::ValuesIn(Cheats()), [](const auto& i) {
  return i.param.substr(0, i.param.rfind('.'));
});

// The sandbox leaves nothing behind: no runner process, no temporary directory, no file the
// kernels tried to write.
TEST(Sandbox, LeavesNoProcessOrFileBehind) {
  for (const char* k : {"fork_bomb.cpp", "write_file.cpp", "exec_shell.cpp", "load_time_write.cpp", "kill_parent.cpp",
                        "renice_baseline.cpp"}) {
    auto r = RunCli({"eval", "--task", "level1/12_relu", "--kernel", (testing::TestDir() / "cheats" / k).string(),
                     "--json", "--no-timing", "--no-static-check"});
    EXPECT_EQ(r.exit_code, 1) << k;
  }
  EXPECT_FALSE(fs::exists("/tmp/evokernel-cheat-was-here"));
  EXPECT_FALSE(fs::exists("/tmp/evokernel-cheat-exec"));
  EXPECT_FALSE(fs::exists("/tmp/evokernel-cheat-at-load"));
  // Only runners of this test count (other tests may run in parallel): their artifact lives in
  // this test binary's private build cache.
  SpawnOptions ps;
  ps.argv = {"pgrep", "-f", std::string("evokernel-runner.*") + std::getenv("EVOKERNEL_CACHE_DIR")};
  auto p = RunCommand(ps, std::chrono::seconds(10));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->out, "") << "runner processes left behind";
}

}  // namespace
}  // namespace evokernel
