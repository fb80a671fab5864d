// End-to-end tests of `evokernel eval` through the CLI: exit codes, stages, failure categories
// and feedback, for the kernels under tests/kernels/ and the fixtures.
//
// tests/kernels/<suite>__<task>/<name>.cpp (CPU) or <name>.cl (OpenCL, evaluated with
// --backend opencl on PoCL): the file name says what must happen:
//   naive, fast (and anything starting with "ok_")  -> feasible, timed
//   wrong_answer                                    -> correctness / wrong_answer
//   compile_error, wrong_signature                  -> compile / compile_error
//   partial_output                                  -> correctness / wrong_answer, "never written"
//   overflow                                        -> correctness / output_overflow
//   crash                                           -> correctness / runtime_error, SIGSEGV
//                                                      (OpenCL: load / load_error, SIGSEGV: the device's
//                                                      first launch, on zeroed buffers, runs at load)
//   modifies_input                                  -> correctness / input_modified
#include <algorithm>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "test_util.h"

namespace evokernel {
namespace {
namespace fs = std::filesystem;
using testing::FixturesDir;
using testing::KernelsDir;
using testing::RunCli;

struct Expect {
  int exit_code;
  const char* stage;    // nullptr: feasible
  const char* failure;
  const char* feedback_has;
};

std::optional<Expect> ExpectationFor(const std::string& stem, bool opencl) {
  if (opencl && stem == "crash") return Expect{1, "load", "load_error", "SIGSEGV"};
  if (opencl && stem == "wrong_signature") return Expect{1, "compile", "compile_error", "arguments"};
  if (stem == "naive" || stem == "fast" || stem.rfind("ok_", 0) == 0) return Expect{0, nullptr, nullptr, ""};
  if (stem == "wrong_answer") return Expect{1, "correctness", "wrong_answer", "elements wrong"};
  if (stem == "compile_error") return Expect{1, "compile", "compile_error", "error"};
  if (stem == "wrong_signature") return Expect{1, "compile", "compile_error", "evokernel_forward"};
  if (stem == "partial_output") return Expect{1, "correctness", "wrong_answer", "never written"};
  if (stem == "overflow") return Expect{1, "correctness", "output_overflow", "past the end"};
  if (stem == "crash") return Expect{1, "correctness", "runtime_error", "SIGSEGV"};
  if (stem == "modifies_input") return Expect{1, "correctness", "input_modified", "read-only"};
  return std::nullopt;
}

std::vector<std::string> DiscoverKernels() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& d : fs::directory_iterator(KernelsDir(), ec)) {
    if (!d.is_directory()) continue;
    for (const auto& f : fs::directory_iterator(d.path(), ec))
      if (f.path().extension() == ".cpp" || f.path().extension() == ".cl")
        out.push_back(fs::relative(f.path(), KernelsDir()).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string TaskOf(const std::string& rel) {
  std::string dir = fs::path(rel).parent_path().string();
  size_t sep = dir.find("__");
  return dir.substr(0, sep) + "/" + dir.substr(sep + 2);
}

class KernelCase : public ::testing::TestWithParam<std::string> {};

TEST_P(KernelCase, IsJudgedAsItsNameSays) {
  const std::string rel = GetParam();
  const std::string stem = fs::path(rel).stem().string();
  auto expect = ExpectationFor(stem, fs::path(rel).extension() == ".cl");
  ASSERT_TRUE(expect) << "no expectation for kernel file name '" << stem << "' (" << rel << ")";
  std::vector<std::string> args = {"eval", "--task", TaskOf(rel), "--kernel", (KernelsDir() / rel).string(), "--json",
                                   "--timing-trials", "5", "--flush-bytes", "0", "--timeout", "60"};
  if (fs::path(rel).extension() == ".cl") {
    args.push_back("--backend");
    args.push_back("opencl");
  }
  auto r = RunCli(args);
  ASSERT_EQ(r.exit_code, expect->exit_code)
      << "stage " << (r.json.is_object() ? r.json["failed_stage"].dump() + ", failure " + r.json["failure"].dump() +
                                                ", feedback " + r.json["feedback"].dump() + ", timing " +
                                                r.json["settings"].dump()
                                          : r.out.substr(0, 3000))
      << "\n" << r.err;
  ASSERT_TRUE(r.json.is_object()) << r.out;
  const auto& j = r.json;
  EXPECT_EQ(j["task"], TaskOf(rel));
  if (!expect->stage) {
    EXPECT_TRUE(j["feasible"].get<bool>());
    EXPECT_TRUE(j["compiled"].get<bool>());
    EXPECT_TRUE(j["correctness"].get<bool>());
    EXPECT_TRUE(j["failed_stage"].is_null());
    EXPECT_GT(j["median_ms"].get<double>(), 0);
    EXPECT_GT(j["mean_ms"].get<double>(), 0);
    EXPECT_GT(j["baseline_mean_ms"].get<double>(), 0);
    EXPECT_EQ(j["baseline_device"], "cpu");  // the CPU, and OpenCL on PoCL (a CPU device)
    EXPECT_GT(j["speedup_vs_baseline"].get<double>(), 0);
    ASSERT_EQ(j["correctness_trials"].size(), 5u);
    EXPECT_EQ(j["correctness_trials"][0]["distribution"], "default");
    EXPECT_NE(j["correctness_trials"][4]["distribution"], "default");
    // No honest kernel beats the machine's roofline bound.
    ASSERT_TRUE(j["roofline"].is_object()) << j.value("roofline_note", "");
    EXPECT_GT(j["roofline"]["fraction"].get<double>(), 0);
    EXPECT_LE(j["roofline"]["fraction"].get<double>(), 1.5) << j["roofline"].dump() << "\n" << j["review"].dump();
    for (const auto& why : j["review"]) EXPECT_EQ(why.get<std::string>().find("roofline"), std::string::npos) << why;
  } else {
    EXPECT_FALSE(j["feasible"].get<bool>());
    EXPECT_EQ(j["failed_stage"], expect->stage) << j["feedback"];
    EXPECT_EQ(j["failure"], expect->failure) << j["feedback"];
    EXPECT_NE(j["feedback"].get<std::string>().find(expect->feedback_has), std::string::npos) << j["feedback"];
    EXPECT_TRUE(j["median_ms"].is_null());
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, KernelCase, ::testing::ValuesIn(DiscoverKernels()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           std::string n = i.param;
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

// Per backend (file extension): at least 10 level1 tasks with a naive and a fast kernel, and for
// OpenCL also 2 level2 tasks.
TEST(KernelCorpus, CoversTenLevel1AndTwoLevel2TasksWithNaiveAndFastKernelsPerBackend) {
  for (const char* ext : {".cpp", ".cl"}) {
    std::map<std::string, int> per_task;
    for (const auto& k : DiscoverKernels()) {
      if (fs::path(k).extension() != ext) continue;
      std::string stem = fs::path(k).stem().string();
      if (stem == "naive" || stem == "fast") per_task[TaskOf(k)] |= stem == "naive" ? 1 : 2;
    }
    int level1 = 0, level2 = 0;
    for (auto& [t, m] : per_task) {
      if (m != 3) continue;
      (t.rfind("level1/", 0) == 0 ? level1 : level2) += 1;
    }
    EXPECT_GE(level1, 10) << ext;
    if (std::string(ext) == ".cl") {
      EXPECT_GE(level2, 2) << ext;
    }
  }
}

// ---- fixtures on level1/12_relu --------------------------------------------------------------

testing::CliResult EvalFixture(const std::string& kernel, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"eval", "--task", "level1/12_relu", "--kernel", (FixturesDir() / kernel).string(),
                                   "--json", "--no-timing"};
  args.insert(args.end(), extra.begin(), extra.end());
  return RunCli(args);
}

TEST(EvalFixtures, HangingKernelTimesOut) {
  auto start = std::chrono::steady_clock::now();
  auto r = EvalFixture("relu_timeout.cpp", {"--timeout", "2"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.json["failure"], "timeout") << r.out;
  EXPECT_EQ(r.json["failed_stage"], "correctness");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
}

TEST(EvalFixtures, ThrowingKernelIsARuntimeError) {
  auto r = EvalFixture("relu_throws.cpp");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.json["failure"], "runtime_error");
  EXPECT_NE(r.json["feedback"].get<std::string>().find("boom from kernel"), std::string::npos) << r.json["feedback"];
}

TEST(EvalFixtures, PrintingToStdoutCannotForgeTheProtocol) {
  auto r = EvalFixture("relu_prints.cpp");
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_TRUE(r.json["feasible"].get<bool>());
}

TEST(EvalFixtures, ExitingKernelIsRefusedStaticallyAndCaughtAtRunTime) {
  auto s = EvalFixture("relu_exits.cpp");
  EXPECT_EQ(s.exit_code, 1) << s.err;
  EXPECT_EQ(s.json["failed_stage"], "check");
  EXPECT_EQ(s.json["failure"], "anti_cheat");
  EXPECT_NE(s.json["feedback"].get<std::string>().find("kernel.cpp:3: 'exit'"), std::string::npos) << s.json["feedback"];
  auto r = EvalFixture("relu_exits.cpp", {"--no-static-check"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.json["failure"], "runtime_error");
  EXPECT_FALSE(r.json["settings"]["static_check"].get<bool>());
  EXPECT_NE(r.json["feedback"].get<std::string>().find("exited the process"), std::string::npos) << r.json["feedback"];
}

TEST(EvalFixtures, AbortReportsSignalAndStderr) {
  auto r = EvalFixture("relu_aborts.cpp");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  std::string fb = r.json["feedback"].get<std::string>();
  EXPECT_NE(fb.find("SIGABRT"), std::string::npos) << fb;
  EXPECT_NE(fb.find("invariant violated"), std::string::npos) << fb;
}

// Regressions: writes just outside a buffer used to go unnoticed (only a canary after outputs).
struct OutOfBoundsCase {
  const char* kernel;
  const char* failure;
  const char* feedback_has;
};

class OutOfBounds : public ::testing::TestWithParam<OutOfBoundsCase> {};

TEST_P(OutOfBounds, IsCaughtAndLocalised) {
  auto r = EvalFixture(GetParam().kernel);
  EXPECT_EQ(r.exit_code, 1) << r.err << r.out;
  EXPECT_EQ(r.json["failed_stage"], "correctness");
  EXPECT_EQ(r.json["failure"], GetParam().failure) << r.json["feedback"];
  EXPECT_NE(r.json["feedback"].get<std::string>().find(GetParam().feedback_has), std::string::npos) << r.json["feedback"];
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, OutOfBounds,
    ::testing::Values(OutOfBoundsCase{"relu_write_before_output.cpp", "out_of_bounds", "before the start of output 'out'"},
                      OutOfBoundsCase{"relu_write_past_input.cpp", "out_of_bounds", "past the end of argument 'x'"},
                      OutOfBoundsCase{"relu_write_far_past_output.cpp", "output_overflow", "past the end of output 'out'"},
                      OutOfBoundsCase{"relu_write_far_before_output.cpp", "out_of_bounds", "before the start of output 'out'"}),
    [](const auto& i) { return std::string(i.param.kernel).substr(0, std::string(i.param.kernel).size() - 4); });

// A runner whose replies are broken (tests/support/fake_runner.py stands in for it): every
// malformed, short or surplus reply is an infeasible attempt of category malformed_reply at the
// stage it came in, never a crash of evokernel or an evaluation error.
struct BrokenReply {
  const char* mode;
  const char* stage;
};

class MalformedRunnerReply : public ::testing::TestWithParam<BrokenReply> {};

TEST_P(MalformedRunnerReply, IsAnInfeasibleAttemptNotACrash) {
  const BrokenReply& b = GetParam();
  auto dir = MakeTempDir("evokernel-fake-runner-");
  ASSERT_TRUE(dir.ok());
  ScopedDir cleanup(*dir);
  // The runner is started with a cleared environment: the mode travels in a wrapper script.
  fs::path wrapper = *dir / "runner.sh";
  {
    std::ofstream w(wrapper);
    w << "#!/bin/sh\nexec /usr/bin/python3 " << (testing::TestDir() / "support" / "fake_runner.py").string() << " "
      << b.mode << " \"$@\"\n";
  }
  fs::permissions(wrapper, fs::perms::owner_all);
  auto r = RunCli({"eval", "--task", "level1/12_relu", "--kernel", (KernelsDir() / "level1__12_relu" / "naive.cpp").string(),
                   "--json", "--set", "batch_size=4", "--set", "dim=256"},
                  120, {{"EVOKERNEL_RUNNER", wrapper.string()}});
  EXPECT_EQ(r.exit_code, 1) << r.err << r.out.substr(0, 2000);
  EXPECT_EQ(r.json.value("failure", ""), "malformed_reply") << r.out.substr(0, 2000);
  EXPECT_EQ(r.json.value("failed_stage", ""), b.stage) << r.out.substr(0, 2000);
  EXPECT_FALSE(r.json.value("feasible", true));
  EXPECT_NE(r.json.value("feedback", "").find("malformed"), std::string::npos) << r.json.value("feedback", "");
}

INSTANTIATE_TEST_SUITE_P(
    Replies, MalformedRunnerReply,
    ::testing::Values(BrokenReply{"garbage", "load"}, BrokenReply{"no_sandbox", "load"},
                      BrokenReply{"unknown_kind", "load"}, BrokenReply{"surplus_load", "correctness"},
                      BrokenReply{"no_outputs", "correctness"}, BrokenReply{"wrong_shape", "correctness"},
                      BrokenReply{"surplus_outputs", "correctness"}, BrokenReply{"short_frame", "correctness"},
                      BrokenReply{"missing_field", "correctness"}, BrokenReply{"extra_calls", "timing"},
                      BrokenReply{"negative_time", "timing"}, BrokenReply{"sample_out_of_range", "timing"}),
    [](const auto& info) { return std::string(info.param.mode); });

// A speedup above the review threshold is not excluded outright: it gets extra checks (more
// fresh inputs, the roofline bound) and is trusted when they pass. The threshold is lowered so
// that an honest fast ReLU crosses it on any machine.
TEST(EvalHighSpeedup, IsCheckedFurtherAndTrustedWhenTheChecksPass) {
  const std::string kernel = (KernelsDir() / "level1__12_relu" / "fast.cpp").string();
  auto r = RunCli({"eval", "--task", "level1/12_relu", "--kernel", kernel, "--json", "--review-speedup", "0.01"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out.substr(0, 2000);
  const auto& j = r.json;
  ASSERT_TRUE(j["settings"].contains("high_speedup_checks")) << j["settings"].dump();
  const auto& c = j["settings"]["high_speedup_checks"];
  EXPECT_EQ(c["extra_fresh_trials"], 4);
  EXPECT_TRUE(c["roofline_fraction"].is_number()) << c.dump();
  EXPECT_TRUE(c["passed"].get<bool>()) << j["review"].dump();
  EXPECT_TRUE(j["review"].empty()) << j["review"].dump();
  // Whether the machine was busy is part of every timed result.
  ASSERT_TRUE(j["machine_load"].is_object());
  EXPECT_GE(j["machine_load"]["busy_cores"].get<double>(), 0);
  EXPECT_EQ(j["machine_loaded"].get<bool>(), j["machine_load"]["loaded"].get<bool>());

  // Without the roofline bound the speedup cannot be confirmed: flagged for review.
  auto n = RunCli({"eval", "--task", "level1/12_relu", "--kernel", kernel, "--json", "--review-speedup", "0.01",
                   "--no-roofline"});
  ASSERT_EQ(n.exit_code, 0) << n.err;
  ASSERT_FALSE(n.json["review"].empty());
  EXPECT_NE(n.json["review"][0].get<std::string>().find("could not confirm"), std::string::npos) << n.json["review"];
  EXPECT_FALSE(n.json["speedup_trusted"].get<bool>());
  EXPECT_FALSE(n.json["settings"]["high_speedup_checks"]["passed"].get<bool>());

  // Under the threshold no extra check runs.
  auto d = RunCli({"eval", "--task", "level1/12_relu", "--kernel", kernel, "--json", "--review-speedup", "1000"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_FALSE(d.json["settings"].contains("high_speedup_checks"));
}

// `--against`: the kernel is also timed alternately with another one, on the same inputs, in
// the same evaluation (what a refining step gets against the current best). The fast softmax
// is several times faster than the naive one on any machine: its whole 95% interval of the
// time ratio is below 1; the other way round it is "slower". A kernel that is the same source,
// or one that does not build, is not compared, and the result says why.
TEST(EvalAgainst, PairedComparisonSaysWhichIsFasterWithAnInterval) {
  const fs::path dir = KernelsDir() / "level1__17_softmax";
  const std::string fast = (dir / "fast.cpp").string(), naive = (dir / "naive.cpp").string();
  auto f = RunCli({"eval", "--task", "level1/17_softmax", "--kernel", fast, "--against", naive, "--json"});
  ASSERT_EQ(f.exit_code, 0) << f.err << f.out.substr(0, 2000);
  ASSERT_TRUE(f.json.contains("vs_incumbent")) << f.json.value("vs_incumbent_note", "");
  const auto& v = f.json["vs_incumbent"];
  EXPECT_EQ(v["verdict"], "faster") << v.dump();
  EXPECT_LT(v["ratio_hi"].get<double>(), 1.0) << v.dump();
  EXPECT_LE(v["ratio_lo"].get<double>(), v["ratio"].get<double>());
  EXPECT_LT(v["ratio"].get<double>(), 0.6) << v.dump();
  EXPECT_GE(v["rounds"].get<int>(), 6);
  EXPECT_GE(v["confidence"].get<double>(), 0.95);
  const auto& detail = f.json["settings"]["paired_timing"];
  EXPECT_EQ(detail["incumbent"], naive);
  EXPECT_EQ(detail["candidate_ms"]["n"].get<int>(), v["rounds"].get<int>() * detail["calls_per_block"].get<int>());
  EXPECT_GT(detail["incumbent_ms"]["median"].get<double>(), detail["candidate_ms"]["median"].get<double>());

  auto s = RunCli({"eval", "--task", "level1/17_softmax", "--kernel", naive, "--against", fast});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_NE(s.out.find("SLOWER"), std::string::npos) << s.out;

  auto same = RunCli({"eval", "--task", "level1/17_softmax", "--kernel", fast, "--against", fast, "--json"});
  ASSERT_EQ(same.exit_code, 0) << same.err;
  EXPECT_FALSE(same.json.contains("vs_incumbent"));
  EXPECT_NE(same.json.value("vs_incumbent_note", "").find("same source"), std::string::npos) << same.json.dump();

  auto broken = RunCli({"eval", "--task", "level1/17_softmax", "--kernel", fast, "--against",
                        (KernelsDir() / "level1__12_relu" / "compile_error.cpp").string(), "--json"});
  ASSERT_EQ(broken.exit_code, 0) << broken.err;
  EXPECT_TRUE(broken.json["feasible"].get<bool>());
  EXPECT_FALSE(broken.json.contains("vs_incumbent"));
  EXPECT_NE(broken.json.value("vs_incumbent_note", "").find("does not build"), std::string::npos) << broken.json.dump();
}

TEST(EvalFixtures, HumanOutputSummarisesResult) {
  auto r = RunCli({"eval", "--task", "level1/12_relu", "--kernel", (FixturesDir() / "relu_throws.cpp").string(),
                   "--no-timing"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("INFEASIBLE at correctness (runtime_error)"), std::string::npos) << r.out;
}

// Without the precompiled header (EVOKERNEL_NO_PCH, or a compiler other than g++) kernels
// build and pass the same way, and the result says why there was none.
TEST(EvalFixtures, WorksWithoutThePrecompiledHeader) {
  auto r = RunCli({"eval", "--task", "level1/17_softmax", "--kernel",
                   (KernelsDir() / "level1__17_softmax" / "fast.cpp").string(), "--no-timing", "--json"},
                  300, {{"EVOKERNEL_NO_PCH", "1"}});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(r.json.value("feasible", false));
  EXPECT_EQ(r.json["env"]["toolchain"].value("precompiled_header", ""), "disabled by EVOKERNEL_NO_PCH");
  EXPECT_EQ(r.json["build"].value("command", "").find("evokernel_pch.h"), std::string::npos);
}

// ---- evokernel errors are exit code 2 with a clear message --------------------------------

TEST(EvalErrors, BadTaskFileNamesFileAndLine) {
  auto r = RunCli({"eval", "--task", (FixturesDir() / "bad_syntax.py").string(), "--kernel",
                   (FixturesDir() / "relu_throws.cpp").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad_syntax.py:5"), std::string::npos) << r.err;
}

TEST(EvalErrors, BadOverrideIsNamed) {
  auto r = RunCli({"eval", "--task", "level1/12_relu", "--set", "no_such_constant=3", "--kernel",
                   (FixturesDir() / "relu_prints.cpp").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no_such_constant"), std::string::npos) << r.err;
}

TEST(EvalErrors, MalformedOverrideIsNamed) {
  auto r = RunCli({"eval", "--task", "level1/12_relu", "--set", "dim", "--kernel",
                   (FixturesDir() / "relu_prints.cpp").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("NAME=VALUE"), std::string::npos) << r.err;
}

TEST(EvalErrors, UnknownTaskAndBackendAndMissingKernel) {
  auto a = RunCli({"eval", "--task", "level9/nothing", "--kernel", (FixturesDir() / "relu_prints.cpp").string()});
  EXPECT_EQ(a.exit_code, 2);
  EXPECT_NE(a.err.find("no task 'level9/nothing'"), std::string::npos) << a.err;
  auto b = RunCli({"eval", "--task", "level1/12_relu", "--backend", "fpga", "--kernel", (FixturesDir() / "relu_prints.cpp").string()});
  EXPECT_EQ(b.exit_code, 2);
  EXPECT_NE(b.err.find("unknown backend 'fpga'"), std::string::npos) << b.err;
  auto c = RunCli({"eval", "--task", "level1/12_relu", "--kernel", "/nonexistent/k.cpp"});
  EXPECT_EQ(c.exit_code, 2);
}

// A kernel file must be a regular file of at most 1 MiB: a device such as /dev/zero (which
// would be read until memory runs out), a FIFO or a huge file is refused before anything runs.
TEST(EvalErrors, KernelFileMustBeARegularFileUnderTheCap) {
  auto z = RunCli({"eval", "--task", "level1/12_relu", "--kernel", "/dev/zero"}, 60);
  EXPECT_EQ(z.exit_code, 2);
  EXPECT_NE(z.err.find("/dev/zero is not a regular file"), std::string::npos) << z.err;
  auto dir = MakeTempDir("evokernel-bigkernel-");
  ASSERT_TRUE(dir.ok());
  ScopedDir cleanup(*dir);
  fs::path big = *dir / "big.cpp";
  ASSERT_TRUE(WriteFileAtomic(big, std::string((size_t{1} << 20) + 1, '/')).ok());
  auto b = RunCli({"eval", "--task", "level1/12_relu", "--kernel", big.string()}, 60);
  EXPECT_EQ(b.exit_code, 2);
  EXPECT_NE(b.err.find("at most 1048576"), std::string::npos) << b.err;
}

// A shape override that empties a tensor makes the task degenerate (an empty kernel would pass
// every trial): refused when the task is loaded, naming the argument and the override.
TEST(EvalErrors, OverrideThatEmptiesATensorIsRefused) {
  auto r = RunCli({"eval", "--task", "level1/12_relu", "--set", "batch_size=0", "--kernel",
                   (KernelsDir() / "level1__12_relu" / "naive.cpp").string()},
                  120);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.err.find("'x' has shape [0,"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("batch_size"), std::string::npos) << r.err;
}

TEST(EvalErrors, ShapeOverrideChangesTheContract) {
  auto r = RunCli({"tasks", "show", "level1/12_relu", "--set", "batch_size=3", "--set", "dim=5", "--contract"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("x_shape[] = {3, 5}"), std::string::npos) << r.out;
}

TEST(TasksCli, ListAndShow) {
  auto l = RunCli({"tasks", "list", "--json"});
  ASSERT_EQ(l.exit_code, 0) << l.err;
  EXPECT_GE(l.json.size(), 70u);
  auto s = RunCli({"tasks", "show", "level1/12_relu", "--json"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(s.json["category"], "activation");
  EXPECT_NE(s.json["contract"].get<std::string>().find("evokernel_forward"), std::string::npos);
  auto bad = RunCli({"tasks", "list", "--suite", "level7"});
  EXPECT_EQ(bad.exit_code, 2);
}

}  // namespace
}  // namespace evokernel
