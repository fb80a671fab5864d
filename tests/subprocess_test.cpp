#include "common/subprocess.h"
#include "common/fs.h"

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace evokernel {
namespace {

namespace fs = std::filesystem;
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

// Temporary directories carry their owner (host and pid): the sweep removes those of dead
// processes of this host only, never a live process's or another host's.
TEST(TempDirs, SweepRemovesOnlyDeadProcessesDirectoriesOfThisHost) {
  auto root = MakeTempDir("evokernel-sweep-test-");
  ASSERT_TRUE(root.ok());
  ScopedDir cleanup(*root);
  auto mine = MakeOwnedTempDir("evokernel-run-", *root);
  ASSERT_TRUE(mine.ok());
  const std::string name = mine->filename().string();
  const std::string me = "." + std::to_string(getpid()) + "-";
  ASSERT_NE(name.find(me), std::string::npos) << name;
  pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_GT(child, 0);
  waitpid(child, nullptr, 0);  // now a pid with no process
  auto renamed = [&](const std::string& from, const std::string& to) {
    std::string n = name;
    n.replace(n.find(from), from.size(), to);
    return *root / n;
  };
  fs::path dead = renamed(me, "." + std::to_string(child) + "-");
  fs::create_directories(dead / "sub");
  std::ofstream(dead / "sub" / "file") << "left behind";
  const std::string host_part = name.substr(std::string("evokernel-run-").size(), name.find(me) - std::string("evokernel-run-").size());
  fs::path other_host = renamed(host_part + "." + std::to_string(getpid()), "elsewhere." + std::to_string(child));
  fs::create_directories(other_host);
  fs::path other_prefix = *root / ("evokernel-other-" + name.substr(std::string("evokernel-run-").size()));
  fs::create_directories(other_prefix);
  fs::path malformed = *root / "evokernel-run-garbage";
  fs::create_directories(malformed);

  EXPECT_EQ(SweepDeadTempDirs(*root, {"evokernel-run-"}), 1);
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(*mine)) << "a live process's directory";
  EXPECT_TRUE(fs::exists(other_host)) << "another host's directory (a shared cache)";
  EXPECT_TRUE(fs::exists(other_prefix));
  EXPECT_TRUE(fs::exists(malformed));
  EXPECT_EQ(SweepDeadTempDirs(*root, {"evokernel-run-"}), 0);
}

}  // namespace
}  // namespace evokernel
