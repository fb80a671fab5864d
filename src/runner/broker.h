// The supervisor's broker: serves the seccomp notifications of the kernel host's load filter
// (runner/sandbox.h) on its own thread: opens, and new threads (allowed while the artifact is
// loaded, refused and counted once calls begin).
//
// Existence checks (access/faccessat) are answered from the same allowlist: yes for a readable
// allowed file, "no such file" for everything else.
//
// For each open/openat the host attempts while its artifact is loaded, the broker reads the
// path from the host's memory, resolves it (relative to the host's working directory or the
// directory descriptor given), and if the real path is allowed and the open is read-only, opens
// the file itself and installs the descriptor in the host (SECCOMP_IOCTL_NOTIF_ADDFD with
// SECCOMP_ADDFD_FLAG_SEND: the host never re-reads the path, so it cannot be swapped after the
// check). Everything else fails with EACCES and is recorded, so the supervisor can report load-
// time code that tried to read the environment of another process, a system file, or a library
// outside the allowlist. Thread-safe accessors; the thread ends when the host exits.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

struct seccomp_notif;
struct seccomp_notif_resp;

namespace evokernel::runner {

class OpenBroker {
 public:
  // `allowed`: exact real paths, and directory prefixes ending in '/'.
  OpenBroker(int listener_fd, pid_t host, std::vector<std::string> allowed);
  ~OpenBroker();
  OpenBroker(const OpenBroker&) = delete;
  OpenBroker& operator=(const OpenBroker&) = delete;

  // From now on, new threads are refused (EAGAIN) and counted: the kernel is being called.
  void StartCalls() { calls_.store(true); }
  // Threads the host tried to start during calls.
  int ThreadsRefused() const { return threads_refused_.load(); }
  // Paths (as the host asked for them) that were refused, in order.
  std::vector<std::string> Refused() const;
  // Number of opens served.
  int Served() const { return served_.load(); }

 private:
  void Loop();
  void Handle(::seccomp_notif* req, ::seccomp_notif_resp* resp);
  bool Allowed(const std::string& real) const;
  // The real path `path` names for the host (relative to its cwd or `dirfd`); "" when none.
  static std::string Resolve(pid_t pid, int dirfd, const std::string& path);

  int fd_;
  pid_t host_;
  std::vector<std::string> allowed_;
  std::thread thread_;
  std::atomic<int> served_{0};
  std::atomic<bool> calls_{false};
  std::atomic<int> threads_refused_{0};
  mutable std::mutex mu_;
  std::vector<std::string> refused_;
};

}  // namespace evokernel::runner
