#include "runner/sandbox.h"

#include "runner/signal_safe.h"

#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace evokernel::runner {
namespace {

// Names of trapped syscalls, resolved before the filter is installed so the SIGSYS handler does
// not allocate.
constexpr int kMaxNr = 1024;
const char* g_names[kMaxNr] = {nullptr};

void OnSigsys(int, siginfo_t* info, void*) {
  int nr = info->si_syscall;
  SignalSafeWrite("evokernel-runner: sandbox_violation: forbidden system call ");
  if (nr >= 0 && nr < kMaxNr && g_names[nr]) {
    SignalSafeWrite(g_names[nr]);
  } else {
    SignalSafeWrite("#");
    SignalSafeWriteNumber(static_cast<uint64_t>(nr));
  }
  SignalSafeWrite("\n");
  _exit(kSandboxViolationExit);
}

const char* const kTrapped[] = {
    // processes
    "fork", "vfork", "execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev",
    "setsid", "setpgid", "kcmp", "pidfd_open", "pidfd_send_signal", "pidfd_getfd",
    // network
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    // files (open and openat are handled per phase below)
    "openat2", "creat", "open_by_handle_at", "name_to_handle_at", "unlink",
    "unlinkat", "rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir", "link", "linkat",
    "symlink", "symlinkat", "chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown",
    "fchownat", "truncate", "mknod", "mknodat", "chroot", "memfd_create", "inotify_init",
    "inotify_init1", "fanotify_init",
    // system
    "mount", "umount2", "pivot_root", "unshare", "setns", "reboot", "kexec_load", "init_module",
    "finit_module", "delete_module", "swapon", "swapoff", "sethostname", "setdomainname",
    "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key", "io_uring_setup",
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
    "capset", "personality", "acct", "quotactl", "settimeofday", "clock_settime", "adjtimex",
};

}  // namespace

bool EnterNetworkNamespace() { return unshare(CLONE_NEWNET) == 0; }

SandboxInfo InstallSandbox(SandboxPhase phase) {
  SandboxInfo info;
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) {
    info.error = "seccomp_init failed";
    return info;
  }
  bool ok = true;
  for (const char* name : kTrapped) {
    if (phase == SandboxPhase::kRun) break;
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
    if (nr >= 0 && nr < kMaxNr) g_names[nr] = name;
    ok = ok && seccomp_rule_add(ctx, SCMP_ACT_TRAP, nr, 0) == 0;
  }
  // Opens: read-only while the loader maps the kernel library; none afterwards.
  for (const char* name : {"open", "openat"}) {
    int nr = seccomp_syscall_resolve_name(name);
    g_names[nr] = phase == SandboxPhase::kLoad ? (std::strcmp(name, "open") == 0 ? "open (for writing)" : "openat (for writing)") : name;
    unsigned arg = std::strcmp(name, "open") == 0 ? 1 : 2;  // position of the flags argument
    if (phase == SandboxPhase::kRun) {
      ok = ok && seccomp_rule_add(ctx, SCMP_ACT_TRAP, nr, 0) == 0;
      continue;
    }
    const scmp_datum_t masks[][2] = {{O_ACCMODE, O_WRONLY}, {O_ACCMODE, O_RDWR}, {O_CREAT, O_CREAT},
                                     {O_TRUNC, O_TRUNC}, {O_APPEND, O_APPEND}};
    for (const auto& m : masks)
      ok = ok && seccomp_rule_add(ctx, SCMP_ACT_TRAP, nr, 1,
                                  scmp_arg_cmp{arg, SCMP_CMP_MASKED_EQ, m[0], m[1]}) == 0;
  }
  if (phase == SandboxPhase::kRun) {
    // The load-phase filter already holds every other rule.
    ok = ok && seccomp_load(ctx) == 0;
    seccomp_release(ctx);
    info.seccomp = ok;
    if (!ok) info.error = "seccomp_load (run phase) failed";
    return info;
  }
  // clone: threads only (CLONE_THREAD set); clone3 is refused with ENOSYS so that glibc falls
  // back to clone, whose flags the filter can inspect.
  int clone_nr = seccomp_syscall_resolve_name("clone");
  g_names[clone_nr] = "clone (new process)";
  ok = ok && seccomp_rule_add(ctx, SCMP_ACT_TRAP, clone_nr, 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0)) == 0;
  ok = ok && seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) == 0;
  // Signals only to this process.
  pid_t self = getpid();
  int kill_nr = seccomp_syscall_resolve_name("kill");
  g_names[kill_nr] = "kill (another process)";
  ok = ok && seccomp_rule_add(ctx, SCMP_ACT_TRAP, kill_nr, 1, SCMP_A0(SCMP_CMP_NE, static_cast<scmp_datum_t>(self))) == 0;
  int tgkill_nr = seccomp_syscall_resolve_name("tgkill");
  g_names[tgkill_nr] = "tgkill (another process)";
  ok = ok && seccomp_rule_add(ctx, SCMP_ACT_TRAP, tgkill_nr, 1, SCMP_A0(SCMP_CMP_NE, static_cast<scmp_datum_t>(self))) == 0;
  if (!ok) {
    info.error = "seccomp_rule_add failed";
    seccomp_release(ctx);
    return info;
  }
  struct sigaction sa{};
  sa.sa_sigaction = OnSigsys;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSYS, &sa, nullptr);
  int rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc != 0) {
    info.error = std::string("seccomp_load failed: ") + std::strerror(-rc);
    return info;
  }
  info.seccomp = true;
  return info;
}

}  // namespace evokernel::runner
