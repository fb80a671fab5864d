// The kernel host's system-call sandbox: two stacked seccomp allowlists (everything not listed
// traps), both synchronised onto every thread of the process (TSYNC), so threads a runtime
// started earlier are confined too.
//
//  * Load filter, installed before the artifact is loaded, so load-time code (constructors,
//    init arrays, static initialisers) is confined from its first instruction: the call-time
//    allowlist, plus what a dynamic loader needs (read/lseek/close on descriptors it holds,
//    executable mappings of files it opened, read-only), plus new threads (a device runtime's
//    pool). Opens are not performed by the host at all: they go to the supervisor as seccomp
//    notifications, and the supervisor opens the file itself, only if it is the artifact or on
//    the device's read list, and hands the descriptor over (runner/broker.h). Every refused
//    open is reported.
//  * Run filter, installed after loading and before the first call: compute only. Memory
//    (mmap/mprotect/munmap/mremap/madvise/brk, never with PROT_EXEC), futexes, writes to
//    stdout/stderr, clocks, yielding, signals to itself (abort). Trapped, among everything
//    else: any open, any new thread or process, executable memory, signals to other
//    processes, prctl, setpriority and scheduling calls, setrlimit/prlimit, ptrace, sockets.
//
// A trapped call ends the host: the SIGSYS reporter records the call (and, for clone, its
// flags) in the control block and on stderr, and the supervisor reports sandbox_violation (or
// too_many_threads for a thread).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace evokernel::runner {

struct SandboxInfo {
  bool seccomp = false;
  bool network_namespace = false;
  std::string error;  // why seccomp could not be installed, if it could not
};

// Moves the process into a fresh network namespace when permitted (loopback only, down).
bool EnterNetworkNamespace();

// Records forbidden calls in `control` (Control::fault*) and on stderr, then exits with
// kSandboxExit. Installed before the first filter; reinstalled after loading (load-time code
// may not keep a handler of its own).
void InstallSigsysReporter(std::byte* control);

constexpr int kSandboxExit = 87;

// Installs the load filter on all threads. Returns the notification descriptor of brokered
// opens (the caller hands it to the supervisor and closes its own copy).
// `answered`: further system calls that fail with the given errno instead of trapping (a
// device's SandboxPolicy::load_errno).
Result<int> InstallLoadFilter(const std::vector<std::pair<std::string, int>>& answered = {});

// Stacks the run filter on all threads.
Status InstallRunFilter();

// Name of a system call number ("openat"), or "#<nr>".
std::string SyscallName(long nr);

}  // namespace evokernel::runner
