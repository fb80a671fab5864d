#include "runner/sandbox.h"

#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "runner/control.h"
#include "runner/signal_safe.h"

namespace evokernel::runner {
namespace {

// Names of system calls, resolved before any filter so the SIGSYS handler does not allocate.
constexpr int kMaxNr = 1024;
const char* g_names[kMaxNr] = {nullptr};
Control* g_control = nullptr;

void ResolveNames() {
  static bool done = false;
  if (done) return;
  done = true;
  for (int nr = 0; nr < kMaxNr; ++nr) g_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
}

void OnSigsys(int, siginfo_t* info, void* uctx) {
  const long nr = info->si_syscall;
  uint64_t arg0 = 0;
#if defined(__x86_64__)
  if (uctx) arg0 = static_cast<uint64_t>(static_cast<ucontext_t*>(uctx)->uc_mcontext.gregs[REG_RDI]);
#endif
  if (g_control) {
    g_control->fault = kFaultSyscall;
    g_control->fault_syscall = nr;
    g_control->fault_flags = arg0;
  }
  SignalSafeWrite("evokernel-runner: sandbox_violation: forbidden system call ");
  if (nr >= 0 && nr < kMaxNr && g_names[nr]) {
    SignalSafeWrite(g_names[nr]);
  } else {
    SignalSafeWrite("#");
    SignalSafeWriteNumber(static_cast<uint64_t>(nr));
  }
  SignalSafeWrite("\n");
  _exit(kSandboxExit);
}

// A filter context that traps whatever it does not allow.
struct Filter {
  scmp_filter_ctx ctx = nullptr;
  bool ok = true;
  std::string error;
  Filter() {
    ctx = seccomp_init(SCMP_ACT_TRAP);
    if (!ctx) {
      ok = false;
      error = "seccomp_init failed";
      return;
    }
    // Foreign-architecture calls (int 0x80, x32) trap as well.
    seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP);
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
  }
  ~Filter() {
    if (ctx) seccomp_release(ctx);
  }
  void Rule(uint32_t action, const char* name, std::initializer_list<scmp_arg_cmp> args = {}) {
    if (!ok) return;
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return;  // not on this architecture
    int rc = seccomp_rule_add_array(ctx, action, nr, static_cast<unsigned>(args.size()),
                                    args.size() ? args.begin() : nullptr);
    if (rc != 0) {
      ok = false;
      error = std::string("seccomp_rule_add(") + name + "): " + std::strerror(-rc);
    }
  }
  void Allow(const char* name, std::initializer_list<scmp_arg_cmp> args = {}) { Rule(SCMP_ACT_ALLOW, name, args); }
};

// What every phase allows: computing.
void AddCallRules(Filter& f) {
  for (const char* name :
       {"futex", "futex_waitv", "set_robust_list", "get_robust_list", "rseq", "sched_yield", "sched_getaffinity",
        "getpid", "getppid", "gettid", "getcpu", "getrandom", "clock_gettime", "clock_getres", "gettimeofday", "time",
        "clock_nanosleep", "nanosleep", "rt_sigprocmask", "rt_sigreturn", "exit", "exit_group", "restart_syscall",
        "munmap", "mremap", "madvise", "brk"})
    f.Allow(name);
  // Printing: stdout (which is the log) and stderr only.
  for (const char* name : {"write", "writev", "fstat"})
    for (scmp_datum_t fd : {1, 2}) f.Allow(name, {SCMP_A0(SCMP_CMP_EQ, fd)});
  for (scmp_datum_t fd : {1, 2}) f.Allow("newfstatat", {SCMP_A0(SCMP_CMP_EQ, fd)});
  // Memory, never executable.
  f.Allow("mmap", {SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)});
  f.Allow("mprotect", {SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)});
  // Signal handlers (abort() resets SIGABRT's; glibc's thread code sets up its own), except
  // those the runner reports faults and forbidden calls with.
  f.Allow("rt_sigaction", {SCMP_A0(SCMP_CMP_LT, SIGBUS)});
  for (scmp_datum_t sig = SIGBUS + 1; sig < SIGSYS; ++sig)
    if (sig != SIGSEGV) f.Allow("rt_sigaction", {SCMP_A0(SCMP_CMP_EQ, sig)});
  f.Allow("rt_sigaction", {SCMP_A0(SCMP_CMP_GT, SIGSYS)});
  const scmp_datum_t self = static_cast<scmp_datum_t>(getpid());
  f.Allow("tgkill", {SCMP_A0(SCMP_CMP_EQ, self)});
  f.Allow("kill", {SCMP_A0(SCMP_CMP_EQ, self)});
  // glibc falls back to clone, whose flags a filter can inspect.
  f.Rule(SCMP_ACT_ERRNO(ENOSYS), "clone3");
}

}  // namespace

bool EnterNetworkNamespace() { return unshare(CLONE_NEWNET) == 0; }

std::string SyscallName(long nr) {
  char* n = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, static_cast<int>(nr));
  std::string s = n ? n : "#" + std::to_string(nr);
  std::free(n);
  return s;
}

void InstallSigsysReporter(std::byte* control) {
  ResolveNames();
  g_control = reinterpret_cast<Control*>(control);
  struct sigaction sa{};
  sa.sa_sigaction = OnSigsys;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSYS, &sa, nullptr);
}

Result<int> InstallLoadFilter(const std::vector<std::pair<std::string, int>>& answered) {
  if (seccomp_api_get() < 6)
    return Unavailable("libseccomp/kernel lack notifications with thread synchronisation (API level " +
                       std::to_string(seccomp_api_get()) + " < 6)");
  Filter f;
  AddCallRules(f);
  // The dynamic loader: descriptors it got from the broker, executable mappings of them.
  for (const char* name : {"read", "pread64", "lseek", "close", "fstat"}) f.Allow(name);
  f.Allow("newfstatat", {SCMP_A0(SCMP_CMP_MASKED_EQ, 0x80000000u, 0)});  // a descriptor, not AT_FDCWD
  // Looking files up by path (a loader searching for a library) finds nothing; what is then
  // opened goes to the broker, which names it when it refuses.
  f.Rule(SCMP_ACT_ERRNO(ENOENT), "newfstatat", {SCMP_A0(SCMP_CMP_MASKED_EQ, 0x80000000u, 0x80000000u)});
  for (const char* name : {"stat", "lstat", "statx", "readlink", "readlinkat"}) f.Rule(SCMP_ACT_ERRNO(ENOENT), name);
  // Existence checks are the broker's: true for the files a device may open, false otherwise.
  for (const char* name : {"access", "faccessat", "faccessat2"}) f.Rule(SCMP_ACT_NOTIFY, name);
  for (const auto& [name, err] : answered) f.Rule(SCMP_ACT_ERRNO(static_cast<uint32_t>(err)), name.c_str());
  f.Allow("mmap", {SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC | PROT_WRITE, PROT_EXEC),
                   SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_ANONYMOUS, 0)});
  // Opens are performed by the supervisor (broker.h).
  f.Rule(SCMP_ACT_NOTIFY, "open");
  f.Rule(SCMP_ACT_NOTIFY, "openat");
  // New threads are the supervisor's decision (broker.h): allowed while loading (a runtime's
  // pool), refused and reported during calls. A new process traps.
  f.Rule(SCMP_ACT_NOTIFY, "clone", {SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)});
  f.Allow("prlimit64", {SCMP_A0(SCMP_CMP_EQ, 0), SCMP_A2(SCMP_CMP_EQ, 0)});
  f.Allow("rt_sigaction");
  f.Allow("sigaltstack");
  // Handing the notification descriptor to the supervisor; stacking the run filter (a filter
  // only ever restricts further).
  f.Allow("sendmsg");
  f.Allow("seccomp", {SCMP_A0(SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER)});
  if (!f.ok) return Internal(f.error);
  int rc = seccomp_load(f.ctx);
  if (rc != 0) return Internal(std::string("seccomp_load (load filter): ") + std::strerror(-rc));
  // (Nothing but the allowed calls from here on: the filter is in force.)
  int fd = seccomp_notify_fd(f.ctx);
  if (fd < 0) return Internal("seccomp_notify_fd failed");
  return fd;
}

Status InstallRunFilter() {
  Filter f;
  // no_new_privs is already set (by the load filter); setting it again would be a prctl,
  // which the load filter traps.
  seccomp_attr_set(f.ctx, SCMP_FLTATR_CTL_NNP, 0);
  AddCallRules(f);
  // Thread creation is left to the load filter's notification: the supervisor refuses it and
  // knows why the kernel then failed (a trap inside pthread_create, where signals are
  // blocked, would kill the process without saying what it tried).
  f.Allow("clone", {SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)});
  if (!f.ok) return Internal(f.error);
  int rc = seccomp_load(f.ctx);
  if (rc != 0) return Internal(std::string("seccomp_load (run filter): ") + std::strerror(-rc));
  return Status::Ok();
}

}  // namespace evokernel::runner
