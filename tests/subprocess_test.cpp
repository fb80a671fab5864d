#include "common/subprocess.h"

#include <filesystem>

#include <gtest/gtest.h>

namespace evokernel {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(RunCommand, CapturesOutputAndExitCode) {
  SpawnOptions so;
  so.argv = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3"};
  auto r = RunCommand(so, seconds(10));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_TRUE(r->exit.exited);
  EXPECT_EQ(r->exit.exit_code, 3);
  EXPECT_FALSE(r->timed_out);
}

TEST(RunCommand, FeedsStdin) {
  SpawnOptions so;
  so.argv = {"/bin/cat"};
  auto r = RunCommand(so, seconds(10), "hello");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "hello");
}

TEST(RunCommand, TimeoutKillsTheWholeProcessGroup) {
  SpawnOptions so;
  // The grandchild would keep the pipe open forever if only the shell were killed.
  so.argv = {"/bin/sh", "-c", "sleep 30 & sleep 30"};
  auto start = std::chrono::steady_clock::now();
  auto r = RunCommand(so, milliseconds(300));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_FALSE(r->exit.exited);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(5));
}

TEST(RunCommand, ReportsSignals) {
  SpawnOptions so;
  so.argv = {"/bin/sh", "-c", "kill -SEGV $$"};
  auto r = RunCommand(so, seconds(10));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->exit.exited);
  EXPECT_EQ(r->exit.term_signal, SIGSEGV);
  EXPECT_NE(r->exit.Describe().find("SIGSEGV"), std::string::npos);
}

TEST(RunCommand, ClearedEnvironmentIsExactlyWhatWasGiven) {
  SpawnOptions so;
  so.argv = {"/usr/bin/env"};
  so.env = std::map<std::string, std::string>{{"ONLY", "this"}};
  auto r = RunCommand(so, seconds(10));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "ONLY=this\n");
}

TEST(RunCommand, AppliesFileSizeLimit) {
  SpawnOptions so;
  so.argv = {"/bin/sh", "-c", "head -c 200000 /dev/zero > big; wc -c < big"};
  char tmpl[] = "/tmp/evk-sub-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  so.cwd = tmpl;
  so.limits.file_size_bytes = 4096;
  auto r = RunCommand(so, seconds(10));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "4096\n");
  std::filesystem::remove_all(tmpl);
}

TEST(RunCommand, TruncatesHugeOutput) {
  SpawnOptions so;
  so.argv = {"/bin/sh", "-c", "head -c 5000000 /dev/zero"};
  auto r = RunCommand(so, seconds(10), "", 1000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out.size(), 1000u);
  EXPECT_TRUE(r->exit.ok());
}

TEST(Spawn, MissingExecutableIsNotFound) {
  SpawnOptions so;
  so.argv = {"/nonexistent/evk-binary"};
  auto r = Subprocess::Spawn(so);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST(Spawn, ReadExactTimesOutOnSilentChild) {
  SpawnOptions so;
  so.argv = {"/bin/sleep", "5"};
  auto p = Subprocess::Spawn(so);
  ASSERT_TRUE(p.ok());
  char buf[4];
  Status st = ReadExact((*p)->stdout_fd(), buf, 4, std::chrono::steady_clock::now() + milliseconds(100));
  EXPECT_EQ(st.code(), StatusCode::kTimeout);
  ExitInfo e = (*p)->Kill();
  EXPECT_EQ(e.term_signal, SIGKILL);
}

}  // namespace
}  // namespace evokernel
