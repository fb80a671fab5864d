// Child processes: spawn with resource limits, talk over pipes, wait with deadlines, kill whole
// process groups.
//
// Every child is started in a new session (its own process group) and gets SIGKILL if the
// thread that spawned it dies, so a crash of evokernel leaves no orphans behind. Destroying a
// Subprocess kills its process group and reaps it. Not thread-safe: one owner per Subprocess.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace evokernel {

// setrlimit values applied in the child before exec. Zero means "leave as inherited".
struct ResourceLimits {
  uint64_t cpu_seconds = 0;          // RLIMIT_CPU
  uint64_t address_space_bytes = 0;  // RLIMIT_AS
  uint64_t file_size_bytes = 0;      // RLIMIT_FSIZE
  uint64_t max_processes = 0;        // RLIMIT_NPROC (per real user id!)
  uint64_t open_files = 0;           // RLIMIT_NOFILE
  bool disable_core_dumps = true;    // RLIMIT_CORE = 0
};

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] is the executable path (searched in PATH if no '/')
  // Environment of the child. nullopt inherits evokernel's environment; a map (even an empty
  // one) is the child's complete environment.
  std::optional<std::map<std::string, std::string>> env;
  std::string cwd;  // empty: inherit
  ResourceLimits limits;
  bool pipe_stdin = true;
  bool pipe_stdout = true;
  // stderr goes to this file (created/truncated) when set, else to a pipe (stderr_fd()).
  std::string stderr_path;
};

// How a child ended.
struct ExitInfo {
  bool exited = false;  // true: normal exit with exit_code; false: killed by term_signal
  int exit_code = 0;
  int term_signal = 0;
  bool ok() const { return exited && exit_code == 0; }
  // "exit code 3" or "killed by SIGSEGV (segmentation fault)".
  std::string Describe() const;
};

class Subprocess {
 public:
  static Result<std::unique_ptr<Subprocess>> Spawn(const SpawnOptions& options);
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  int stdin_fd() const { return stdin_fd_; }    // -1 when not piped or closed
  int stdout_fd() const { return stdout_fd_; }  // -1 when not piped
  int stderr_fd() const { return stderr_fd_; }  // -1 when redirected to a file
  void CloseStdin();

  // Waits up to `timeout` for the child to end. nullopt: still running.
  std::optional<ExitInfo> Wait(std::chrono::milliseconds timeout);
  // SIGKILL to the whole process group, then reaps the child. Idempotent.
  ExitInfo Kill();
  bool finished() const { return exit_.has_value(); }

 private:
  Subprocess() = default;
  pid_t pid_ = -1;
  int stdin_fd_ = -1, stdout_fd_ = -1, stderr_fd_ = -1;
  std::optional<ExitInfo> exit_;
};

struct CommandResult {
  ExitInfo exit;
  bool timed_out = false;
  std::string out;  // stdout, truncated to max_output bytes
  std::string err;  // stderr, truncated to max_output bytes
  double seconds = 0;
};

// Runs a command to completion, feeding `input` on stdin and capturing stdout and stderr (at
// most `max_output` bytes each; the rest is drained and dropped). On timeout the process group
// is killed and timed_out is set. Fails only if the command cannot be started.
Result<CommandResult> RunCommand(SpawnOptions options, std::chrono::milliseconds timeout,
                                 const std::string& input = "", size_t max_output = 1 << 20);

// Reads exactly n bytes from fd before the deadline. Errors: kIoError on EOF or failure,
// kTimeout when the deadline passes.
Status ReadExact(int fd, void* buf, size_t n, std::chrono::steady_clock::time_point deadline);
// Writes all n bytes (blocking). kIoError if the reader went away.
Status WriteAll(int fd, const void* buf, size_t n);

// Looks up an executable in PATH; empty when not found.
std::string FindInPath(const std::string& name);

}  // namespace evokernel
