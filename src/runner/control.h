// The control block shared by the supervisor and the kernel host (one page of a memfd), and the
// futex calls both sides wait on.
//
// The supervisor posts one command at a time: it fills the command fields, then increments
// `seq` and wakes it. The host performs the command, fills the result fields, then stores
// `ack = seq` and wakes `ack`. Everything in this page is writable by the kernel's code (it
// shares the host's address space), so the supervisor treats every field the host writes as
// untrusted input: it copies a field once, then validates it. Nothing the supervisor relies on
// for a verdict comes only from here: times are bounded by the span the supervisor itself
// measures, outputs are read from the argument memory, threads are counted in /proc.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

namespace evokernel::runner {

enum Command : uint32_t {
  kCmdNone = 0,
  kCmdPrepare = 1,  // upload the slot's inputs and the poisoned outputs, flush the cache
  kCmdGo = 2,       // launch and wait for completion (the timed part)
  kCmdFinish = 3,   // download outputs, check the FP environment
  kCmdQuit = 4,
  kCmdPopulate = 5,  // map the pages of a newly loaded slot (no kernel code runs)
};

enum State : uint32_t {
  kStateStarting = 0,
  kStateReady = 1,     // initial load done, or a command done
  kStateFailed = 2,    // the command failed; error holds why
};

// Flags of kCmdPrepare.
constexpr uint32_t kFlagNull = 1;              // a null call: no upload, flush or launch (calibration)
constexpr uint32_t kFlagDownloadInputs = 2;    // also download the inputs (device backends)

// Why the host stopped, for the supervisor (written before the host exits).
enum Fault : uint32_t {
  kFaultNone = 0,
  kFaultGuard = 1,          // touched a guard page: fault_arg, fault_after, fault_distance
  kFaultInputWrite = 2,     // wrote to a read-only input: fault_arg
  kFaultSyscall = 3,        // a forbidden system call: fault_syscall, fault_flags (arg 0)
  kFaultFpEnvironment = 4,  // load-time code changed the FP environment
};

struct alignas(64) Control {
  // supervisor -> host
  std::atomic<uint32_t> seq{0};
  uint32_t cmd = kCmdNone;
  uint32_t slot = 0;
  uint32_t in_alias = 0;
  uint32_t out_alias = 0;
  uint32_t flags = 0;
  uint32_t flush_token = 0;
  char pad0[64 - 7 * 4];
  // host -> supervisor
  std::atomic<uint32_t> ack{0};
  uint32_t state = kStateStarting;
  double inner_ns = 0;    // the launch as measured inside the host (device events or host clock)
  double host_ns = 0;     // launch + synchronise on the host clock
  uint32_t fp_changed = 0;  // bit 0: the calling thread's SSE control, 1: x87, 2: a worker thread's
  uint32_t fault = kFaultNone;
  int32_t fault_arg = -1;
  uint32_t fault_after = 0;
  uint64_t fault_distance = 0;
  int64_t fault_syscall = -1;
  uint64_t fault_flags = 0;
  uint32_t network_namespace = 0;  // 1: the host entered a fresh network namespace at startup
  char error[2048] = {0};
};
static_assert(sizeof(Control) <= 4096, "the control block must fit in one page");

inline long FutexWait(std::atomic<uint32_t>* word, uint32_t expected, const timespec* timeout) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT, expected, timeout, nullptr, 0);
}

inline void FutexWake(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, 1, nullptr, nullptr, 0);
}

}  // namespace evokernel::runner
