#include "runner/kernel_host.h"

#include <fcntl.h>
#include <immintrin.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "runner/control.h"
#include "runner/fp_env.h"
#include "runner/sandbox.h"

namespace evokernel::runner {
namespace {

using Clock = std::chrono::steady_clock;

void SetError(Control* c, const std::string& msg) {
  std::snprintf(c->error, sizeof c->error, "%s", msg.c_str());
}

// Reports the end of a command: result fields first, then the acknowledgement.
void Ack(Control* c, uint32_t seq, uint32_t state) {
  c->state = state;
  c->ack.store(seq, std::memory_order_release);
  FutexWake(&c->ack);
}

[[noreturn]] void FailStartup(Control* c, const std::string& msg) {
  SetError(c, msg);
  Ack(c, 0, kStateFailed);
  _exit(3);
}

// Waits for the next command: spins briefly (the GO of a call follows its PREPARE within
// microseconds, and a futex wake-up would add its latency to the launch), then sleeps.
uint32_t WaitCommand(Control* c, uint32_t last) {
  const auto start = Clock::now();
  int spins = 0;
  while (true) {
    uint32_t s = c->seq.load(std::memory_order_acquire);
    if (s != last) return s;
    if (++spins < 64 || Clock::now() - start < std::chrono::microseconds(200)) {
      _mm_pause();
      continue;
    }
    FutexWait(&c->seq, last, nullptr);
  }
}

bool SendFd(int sock, int fd) {
  char dummy = 'x';
  iovec iov{&dummy, 1};
  alignas(cmsghdr) char buf[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = buf;
  msg.msg_controllen = sizeof buf;
  cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cm), &fd, sizeof fd);
  return sendmsg(sock, &msg, MSG_NOSIGNAL) == 1;
}

}  // namespace

void RunKernelHost(const HostConfig& cfg) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != cfg.supervisor) _exit(1);
  Control* boot = reinterpret_cast<Control*>(cfg.shared->control());

  // Descriptors: stdin from /dev/null (not the verifier's pipe), stdout and stderr the log,
  // 3 the socket to the supervisor; nothing else (not the protocol's write end, not the memfds
  // once mapped).
  auto args_or = HostArgs::Map(*cfg.shared);
  if (!args_or.ok()) FailStartup(boot, args_or.status().message());
  const HostArgs host_args = std::move(args_or).value();
  Control* ctl = reinterpret_cast<Control*>(host_args.control());
  cfg.shared->UnmapInherited();  // the supervisor's writable view of the inputs is not the kernel's
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull >= 0) dup2(devnull, 0);
  if (dup2(cfg.socket_fd, 3) != 3) FailStartup(ctl, "cannot set up the host's descriptors");
  syscall(SYS_close_range, 4u, ~0u, 0u);

  InstallFaultHandler(host_args.control());
  InstallSigsysReporter(host_args.control());
  ctl->network_namespace = EnterNetworkNamespace() ? 1 : 0;
  const SandboxPolicy policy = cfg.device->Policy(cfg.device_config);
  for (const auto& [k, v] : policy.env) setenv(k.c_str(), v.c_str(), 1);
  if (chdir(cfg.device_config.work_dir.c_str()) != 0) FailStartup(ctl, "cannot enter the work directory");

  Device& dev = *cfg.device;
  if (Status st = dev.Init(cfg.device_config); !st.ok()) FailStartup(ctl, "device: " + st.message());
  const FpEnv base = ReadFpEnv();

  // From here on, the load filter: opens go through the supervisor.
  auto listener = InstallLoadFilter(policy.load_errno);
  if (listener.ok()) {
    bool sent = SendFd(3, *listener);
    close(*listener);
    close(3);
    if (!sent) FailStartup(ctl, "cannot hand the notification descriptor to the supervisor");
  } else {
    // Without the broker, the supervisor sees the socket close and reports the sandbox as off.
    SetError(ctl, "sandbox: " + listener.status().message());
    close(3);
  }
  if (Status st = dev.Load(cfg.device_config); !st.ok()) FailStartup(ctl, st.message());
  // Load-time code may have installed handlers of its own: ours again.
  InstallFaultHandler(host_args.control());
  InstallSigsysReporter(host_args.control());
  if (CheckAndRestoreFpEnv(base) != 0) {
    ctl->fault = kFaultFpEnvironment;
    FailStartup(ctl, "the kernel's load-time code changed the floating-point environment (flush-to-zero, "
                     "denormals-are-zero or rounding) and left it changed");
  }
  if (Status st = dev.Prepare(); !st.ok()) FailStartup(ctl, st.message());
  if (listener.ok()) {
    if (Status st = InstallRunFilter(); !st.ok()) FailStartup(ctl, "sandbox: " + st.message());
  }
  host_args.PopulateOutputs();
  Ack(ctl, 0, kStateReady);

  std::vector<void*> ptrs;
  uint32_t last = 0;
  const int slots = cfg.shared->layout().slots;
  const int in_aliases = cfg.shared->layout().in_aliases, out_aliases = cfg.shared->layout().out_aliases;
  bool null_call = false;
  while (true) {
    const uint32_t seq = WaitCommand(ctl, last);
    last = seq;
    const uint32_t cmd = ctl->cmd;
    if (cmd == kCmdQuit) _exit(0);
    if (cmd == kCmdPopulate) {
      host_args.PopulateSlot(static_cast<int>(ctl->slot));
      Ack(ctl, seq, kStateReady);
      continue;
    }
    if (cmd == kCmdPrepare) {
      const uint32_t slot = ctl->slot, ia = ctl->in_alias, oa = ctl->out_alias;
      if (slot >= static_cast<uint32_t>(slots) || ia >= static_cast<uint32_t>(in_aliases) ||
          oa >= static_cast<uint32_t>(out_aliases)) {
        SetError(ctl, "bad slot or alias");
        Ack(ctl, seq, kStateFailed);
        continue;
      }
      host_args.Pointers(static_cast<int>(slot), static_cast<int>(ia), static_cast<int>(oa), ptrs);
      null_call = ctl->flags & kFlagNull;
      if (!null_call) {
        if (Status st = dev.Upload(ptrs.data(), static_cast<int>(ia), static_cast<int>(oa)); !st.ok()) {
          SetError(ctl, st.message());
          Ack(ctl, seq, kStateFailed);
          continue;
        }
        // The cache flush: every call starts with the kernel's data out of the caches. The
        // supervisor samples the buffer afterwards for the token.
        if (host_args.flush_bytes() > 0) {
          std::memset(host_args.flush(), static_cast<int>(ctl->flush_token & 0xff), host_args.flush_bytes());
          __asm__ volatile("" : : "r"(host_args.flush()) : "memory");
        }
      }
      Ack(ctl, seq, kStateReady);
    } else if (cmd == kCmdGo) {
      double device_ns = -1;
      const auto t0 = Clock::now();
      Status st;
      if (!null_call) {
        st = dev.Launch(ptrs.data());
        if (st.ok()) st = dev.Synchronize(&device_ns);
      }
      const auto t1 = Clock::now();
      const double host_ns = std::chrono::duration<double, std::nano>(t1 - t0).count();
      ctl->host_ns = host_ns;
      ctl->inner_ns = device_ns >= 0 ? device_ns : host_ns;
      if (!st.ok()) {
        SetError(ctl, st.message());
        Ack(ctl, seq, kStateFailed);
        continue;
      }
      Ack(ctl, seq, kStateReady);
    } else if (cmd == kCmdFinish) {
      DeviceObservation obs;
      Status st = null_call ? Status::Ok() : dev.Download(ptrs.data(), ctl->flags & kFlagDownloadInputs, obs);
      uint32_t fp = CheckAndRestoreFpEnv(base) | (obs.fp_workers_changed ? 4u : 0u);
      ctl->fp_changed = fp;
      std::string err;
      for (const auto& [arg, side] : obs.canary) err += "canary " + side + " " + arg + "\n";
      for (const auto& arg : obs.modified_inputs) err += "modified " + arg + "\n";
      if (!st.ok()) err = st.message();
      SetError(ctl, err);
      Ack(ctl, seq, st.ok() ? kStateReady : kStateFailed);
    } else {
      SetError(ctl, "unknown command");
      Ack(ctl, seq, kStateFailed);
    }
  }
}

}  // namespace evokernel::runner
