// The runner's system-call sandbox: two stacked seccomp filters. The load-phase filter goes on
// before the kernel library is loaded (so its static initialisers are confined too) and allows
// only read-only opens, which the dynamic loader needs; the run-phase filter goes on after
// loading and traps every open.
//
// What a kernel may still do: compute, allocate memory (mmap/brk), create threads (OpenMP),
// read and write the file descriptors the runner already holds (the protocol pipes and its
// stderr log), raise signals against itself (abort). What traps: creating processes (fork,
// vfork, non-thread clone, exec), any socket, opening, creating, renaming, linking or deleting
// files, changing permissions, ptrace and process_vm_*, signals to other processes, namespace
// and mount calls. A trapped call is reported by the SIGSYS handler with the syscall's name, and
// the runner exits with kSandboxViolationExit.
//
// Not covered (documented in docs/eval.md): reading the protocol pipe or forging frames on it
// through the descriptors the runner holds, reading memory of the runner itself, and anything
// that does not go through a system call (e.g. spinning). The static anti-cheat rules forbid
// the names involved; the wall-clock timeout and rlimits bound the rest.
#pragma once

#include <string>

namespace evokernel::runner {

constexpr int kSandboxViolationExit = 87;

struct SandboxInfo {
  bool seccomp = false;
  bool network_namespace = false;
  std::string error;  // why seccomp could not be installed, if it could not
};

// Moves the process into a fresh network namespace when permitted (loopback only, down).
bool EnterNetworkNamespace();

enum class SandboxPhase { kLoad, kRun };

// Installs the phase's seccomp filter and the SIGSYS reporter for the calling process (threads
// created afterwards inherit it). Filters stack: the run phase adds to the load phase.
SandboxInfo InstallSandbox(SandboxPhase phase);

}  // namespace evokernel::runner
