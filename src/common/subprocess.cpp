#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace evokernel {

namespace {
constexpr int kPipeBytes = 1 << 20;  // Linux's default /proc/sys/fs/pipe-max-size
}  // namespace
namespace {

using Clock = std::chrono::steady_clock;

std::string ErrnoText(int err) { return std::strerror(err); }

ExitInfo FromWaitStatus(int ws) {
  ExitInfo e;
  if (WIFEXITED(ws)) {
    e.exited = true;
    e.exit_code = WEXITSTATUS(ws);
  } else if (WIFSIGNALED(ws)) {
    e.term_signal = WTERMSIG(ws);
  }
  return e;
}

void SetLimit(int resource, uint64_t value) {
  struct rlimit rl;
  rl.rlim_cur = rl.rlim_max = static_cast<rlim_t>(value);
  setrlimit(resource, &rl);
}

}  // namespace

std::string ExitInfo::Describe() const {
  if (exited) return "exit code " + std::to_string(exit_code);
  const char* abbrev = sigabbrev_np(term_signal);
  const char* desc = sigdescr_np(term_signal);
  std::string s = "killed by SIG" + std::string(abbrev ? abbrev : std::to_string(term_signal));
  if (desc) s += std::string(" (") + desc + ")";
  return s;
}

std::string FindInPath(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string dir = p.substr(start, end - start);
    if (!dir.empty()) {
      std::string cand = dir + "/" + name;
      if (access(cand.c_str(), X_OK) == 0) return cand;
    }
    start = end + 1;
  }
  return "";
}

Result<std::unique_ptr<Subprocess>> Subprocess::Spawn(const SpawnOptions& o) {
  if (o.argv.empty()) return InvalidArgument("Spawn: empty argv");
  std::string exe = FindInPath(o.argv[0]);
  if (exe.empty()) return NotFound("executable not found: " + o.argv[0]);

  // Everything the child needs is prepared before fork: only async-signal-safe calls after it.
  std::vector<char*> argv;
  for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  std::vector<char*> envp;
  if (o.env) {
    for (const auto& [k, v] : *o.env) env_storage.push_back(k + "=" + v);
    for (auto& s : env_storage) envp.push_back(s.data());
    envp.push_back(nullptr);
  }

  int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  auto close_all = [&] {
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]})
      if (fd >= 0) close(fd);
  };
  if ((o.pipe_stdin && pipe2(in_pipe, O_CLOEXEC) != 0) ||
      (o.pipe_stdout && pipe2(out_pipe, O_CLOEXEC) != 0) ||
      (o.stderr_path.empty() && pipe2(err_pipe, O_CLOEXEC) != 0)) {
    int err = errno;
    close_all();
    return IoError("pipe: " + ErrnoText(err));
  }
  // Tensors of tens of MB cross these pipes: with the default 64 KiB, every 64 KiB costs a
  // wake-up of the other side. A larger pipe (best effort: the system maximum may be lower)
  // moves them several times faster.
  for (int fd : {in_pipe[1], out_pipe[1]})
    if (fd >= 0) (void)fcntl(fd, F_SETPIPE_SZ, kPipeBytes);
  int err_file = -1;
  if (!o.stderr_path.empty()) {
    err_file = open(o.stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (err_file < 0) {
      int err = errno;
      close_all();
      return IoError("cannot open " + o.stderr_path + ": " + ErrnoText(err));
    }
  }
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  pid_t parent = getpid();

  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close_all();
    if (err_file >= 0) close(err_file);
    if (devnull >= 0) close(devnull);
    return IoError("fork: " + ErrnoText(err));
  }
  if (pid == 0) {
    // Child.
    setsid();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // parent already gone
    dup2(o.pipe_stdin ? in_pipe[0] : devnull, 0);
    dup2(o.pipe_stdout ? out_pipe[1] : devnull, 1);
    dup2(err_file >= 0 ? err_file : err_pipe[1], 2);
    close_range(3, ~0U, 0);
    // Signals ignored or blocked by the parent must not leak into the child.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    const ResourceLimits& l = o.limits;
    if (l.disable_core_dumps) SetLimit(RLIMIT_CORE, 0);
    if (l.cpu_seconds) SetLimit(RLIMIT_CPU, l.cpu_seconds);
    if (l.address_space_bytes) SetLimit(RLIMIT_AS, l.address_space_bytes);
    if (l.file_size_bytes) SetLimit(RLIMIT_FSIZE, l.file_size_bytes);
    if (l.max_processes) SetLimit(RLIMIT_NPROC, l.max_processes);
    if (l.open_files) SetLimit(RLIMIT_NOFILE, l.open_files);
    if (!o.cwd.empty() && chdir(o.cwd.c_str()) != 0) _exit(126);
    if (o.env) {
      execve(exe.c_str(), argv.data(), envp.data());
    } else {
      execv(exe.c_str(), argv.data());
    }
    _exit(127);
  }

  // Parent.
  auto sp = std::unique_ptr<Subprocess>(new Subprocess());
  sp->pid_ = pid;
  if (o.pipe_stdin) {
    close(in_pipe[0]);
    sp->stdin_fd_ = in_pipe[1];
  }
  if (o.pipe_stdout) {
    close(out_pipe[1]);
    sp->stdout_fd_ = out_pipe[0];
  }
  if (err_file >= 0) {
    close(err_file);
  } else {
    close(err_pipe[1]);
    sp->stderr_fd_ = err_pipe[0];
  }
  if (devnull >= 0) close(devnull);
  return sp;
}

Subprocess::~Subprocess() {
  if (!exit_) Kill();
  for (int fd : {stdin_fd_, stdout_fd_, stderr_fd_})
    if (fd >= 0) close(fd);
}

void Subprocess::CloseStdin() {
  if (stdin_fd_ >= 0) close(stdin_fd_);
  stdin_fd_ = -1;
}

std::optional<ExitInfo> Subprocess::Wait(std::chrono::milliseconds timeout) {
  if (exit_) return exit_;
  auto deadline = Clock::now() + timeout;
  auto sleep = std::chrono::microseconds(50);
  while (true) {
    int ws = 0;
    pid_t r = waitpid(pid_, &ws, WNOHANG);
    if (r == pid_) {
      exit_ = FromWaitStatus(ws);
      // Whatever the child left running in its group goes with it.
      kill(-pid_, SIGKILL);
      return exit_;
    }
    if (r < 0 && errno != EINTR) {
      exit_ = ExitInfo{};
      return exit_;
    }
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(sleep);
    sleep = std::min(sleep * 2, std::chrono::microseconds(5000));
  }
}

ExitInfo Subprocess::Kill() {
  if (exit_) return *exit_;
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  int ws = 0;
  while (waitpid(pid_, &ws, 0) < 0 && errno == EINTR) {
  }
  exit_ = FromWaitStatus(ws);
  return *exit_;
}

Status ReadExact(int fd, void* buf, size_t n, Clock::time_point deadline) {
  char* p = static_cast<char*>(buf);
  while (n > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return TimeoutError("timed out waiting for data");
    struct pollfd pfd = {fd, POLLIN, 0};
    int pr = poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left.count(), 1 << 30)));
    if (pr < 0) {
      if (errno == EINTR) continue;
      return IoError("poll: " + ErrnoText(errno));
    }
    if (pr == 0) continue;
    ssize_t r = read(fd, p, n);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return IoError("read: " + ErrnoText(errno));
    }
    if (r == 0) return IoError("peer closed the pipe");
    p += r;
    n -= static_cast<size_t>(r);
  }
  return Status::Ok();
}

Status WriteAll(int fd, const void* buf, size_t n) {
  const char* p = static_cast<const char*>(buf);
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return IoError("write: " + ErrnoText(errno));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

Result<CommandResult> RunCommand(SpawnOptions options, std::chrono::milliseconds timeout,
                                 const std::string& input, size_t max_output) {
  options.pipe_stdin = true;
  options.pipe_stdout = true;
  options.stderr_path.clear();
  auto start = Clock::now();
  EVK_ASSIGN_OR_RETURN(auto proc, Subprocess::Spawn(options));
  // A write to a child that exited early must not kill us.
  signal(SIGPIPE, SIG_IGN);
  if (!input.empty()) (void)WriteAll(proc->stdin_fd(), input.data(), input.size());
  proc->CloseStdin();

  CommandResult res;
  auto deadline = start + timeout;
  int fds[2] = {proc->stdout_fd(), proc->stderr_fd()};
  std::string* sinks[2] = {&res.out, &res.err};
  bool open[2] = {true, true};
  char buf[65536];
  while (open[0] || open[1]) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      res.timed_out = true;
      break;
    }
    struct pollfd pfds[2];
    int n = 0;
    int which[2];
    for (int i = 0; i < 2; ++i) {
      if (open[i]) {
        pfds[n] = {fds[i], POLLIN, 0};
        which[n++] = i;
      }
    }
    int pr = poll(pfds, n, static_cast<int>(left.count()));
    if (pr < 0 && errno != EINTR) break;
    for (int k = 0; k < n && pr > 0; ++k) {
      if (!(pfds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t r = read(pfds[k].fd, buf, sizeof buf);
      if (r <= 0) {
        open[which[k]] = false;
        continue;
      }
      std::string* sink = sinks[which[k]];
      if (sink->size() < max_output)
        sink->append(buf, std::min(static_cast<size_t>(r), max_output - sink->size()));
    }
  }
  if (res.timed_out) {
    res.exit = proc->Kill();
  } else {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto e = proc->Wait(std::max(left, std::chrono::milliseconds(1)));
    if (!e) {
      res.timed_out = true;
      res.exit = proc->Kill();
    } else {
      res.exit = *e;
    }
  }
  res.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return res;
}

}  // namespace evokernel
