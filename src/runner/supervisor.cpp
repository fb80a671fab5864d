// evokernel-runner: runs one built kernel for the verifier, in two processes.
//
//   evokernel-runner --device cpu --artifact kernel.so --threads N [--memory-limit BYTES]
//
// This process, the supervisor, speaks the framed protocol with the verifier on stdin/stdout
// (common/runner_protocol.h) and never runs kernel code. It owns the argument memory (memfds:
// runner/shared_args.h), writes inputs and poisons outputs, and forks the kernel host
// (runner/kernel_host.h), which loads the kernel in its sandbox and calls it when told to
// through the control block (runner/control.h). Everything the verifier trusts is measured or
// read here, outside the kernel's address space:
//
//  * times: the span from posting a launch to seeing it acknowledged, on this process's clock;
//    the host's own (finer) figure is used only when it is consistent with that span, and a
//    kernel can never appear faster than the span minus the calibrated round trip;
//  * outputs: read from the shared memory after the call (sampled on every timed call, in
//    full on the calls the verifier chose, which the kernel cannot know);
//  * inputs: hashed when written, re-hashed after calls; threads: counted in /proc;
//  * failures: from the host's exit status; what the host wrote about them only names details.
//
// The kernel cannot write anything the verifier reads as this process's reply: the host holds
// no descriptor of the protocol.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/poison.h"
#include "common/runner_protocol.h"
#include "common/wire.h"
#include "runner/broker.h"
#include "runner/control.h"
#include "runner/device.h"
#include "runner/kernel_host.h"
#include "runner/sandbox.h"
#include "runner/shared_args.h"

namespace evokernel::runner {
namespace {

namespace rp = runner_protocol;
using Clock = std::chrono::steady_clock;
constexpr auto kForever = std::chrono::hours(24 * 365);

// Address space the shared argument memory may take in the host (aliases included), beyond
// the kernel's own --memory-limit.
constexpr size_t kMappedBudget = size_t{6} << 30;

void OnSigchld(int) {}  // only to interrupt futex waits when the host dies

// 64-bit hash of a byte range (four independent lanes; ~10 GB/s).
uint64_t HashBytes(const std::byte* p, size_t n) {
  uint64_t h[4] = {0x9E3779B97F4A7C15ull, 0xC2B2AE3D27D4EB4Full, 0x165667B19E3779F9ull, 0x27D4EB2F165667C5ull};
  size_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int k = 0; k < 4; ++k) {
      uint64_t w;
      std::memcpy(&w, p + i + 8 * k, 8);
      h[k] = (h[k] ^ w) * 0x100000001B3ull;
      h[k] ^= h[k] >> 29;
    }
  uint64_t t = 0;
  for (; i < n; ++i) t = (t ^ static_cast<uint8_t>(p[i])) * 0x100000001B3ull;
  return h[0] ^ (h[1] * 3) ^ (h[2] * 5) ^ (h[3] * 7) ^ t ^ n;
}

bool IsPoisonAt(DType dt, const std::byte* p) {
  switch (dt) {
    case DType::kFloat32: { uint32_t v; std::memcpy(&v, p, 4); return v == kPoisonF32; }
    case DType::kFloat64: { uint64_t v; std::memcpy(&v, p, 8); return v == kPoisonF64; }
    case DType::kInt64: { uint64_t v; std::memcpy(&v, p, 8); return v == kPoisonI64; }
    case DType::kInt32: { uint32_t v; std::memcpy(&v, p, 4); return v == kPoisonI32; }
    case DType::kBool:
    case DType::kUInt8: return static_cast<uint8_t>(*p) == kPoisonByte;
  }
  return false;
}

double ValueAt(DType dt, const std::byte* p) {
  switch (dt) {
    case DType::kFloat32: { float f; std::memcpy(&f, p, 4); return f; }
    case DType::kFloat64: { double d; std::memcpy(&d, p, 8); return d; }
    case DType::kInt64: { int64_t x; std::memcpy(&x, p, 8); return static_cast<double>(x); }
    case DType::kInt32: { int32_t x; std::memcpy(&x, p, 4); return x; }
    case DType::kBool:
    case DType::kUInt8: return static_cast<uint8_t>(*p);
  }
  return 0;
}

nlohmann::json JsonNumber(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(std::to_string(v)); }

// A failure to report to the verifier: a category and a message.
struct Failure {
  std::string kind;
  std::string message;
};

struct CallTimes {
  double inner_ns = 0, outer_ns = 0, host_ns = 0;
  uint32_t fp_changed = 0;
  std::string device_canary;  // "canary:<side>:<arg>" lines from a device with its own memory
};

class Supervisor {
 public:
  Supervisor(int in_fd, int out_fd, std::string device, std::string artifact, int threads, uint64_t memory_limit,
             uint64_t file_size_limit)
      : reader_(in_fd), out_fd_(out_fd), device_name_(std::move(device)), artifact_(std::move(artifact)),
        threads_(std::max(1, threads)), memory_limit_(memory_limit), file_size_limit_(file_size_limit) {}

  ~Supervisor() { StopHost(); }

  int Loop() {
    while (true) {
      auto f = reader_.Read(Clock::now() + kForever);
      if (!f.ok()) return 0;  // the verifier went away
      std::string cmd = f->header.value("cmd", "");
      if (cmd == "quit") return 0;
      if (failed_) {
        Reply({{"ok", false}, {"kind", failed_->kind}, {"error", failed_->message}});
        continue;
      }
      std::optional<Failure> fail;
      try {
        if (cmd == "spec") fail = OnSpec(f->header);
        else if (cmd == "load") fail = OnLoad(f->header, std::move(f->tensors));
        else if (cmd == "run") fail = OnRun(f->header);
        else if (cmd == "time") fail = OnTime(f->header);
        else fail = Failure{std::string(rp::kRuntimeError), "runner: unknown command '" + cmd + "'"};
      } catch (const std::exception& e) {
        fail = Failure{std::string(rp::kRuntimeError), std::string("runner: bad request: ") + e.what()};
      }
      if (fail) {
        Reply({{"ok", false}, {"kind", fail->kind}, {"error", fail->message}});
        // A failure that ended the kernel's process ends the session: later requests get the
        // same answer. A malformed request leaves the session as it was.
        if (host_dead_) failed_ = fail;
      }
    }
  }

 private:
  void Reply(nlohmann::json header, std::vector<Tensor> tensors = {}) {
    Frame f;
    f.header = std::move(header);
    f.tensors = std::move(tensors);
    if (!WriteFrame(out_fd_, f).ok()) std::_Exit(0);
  }

  Control* ctl() { return reinterpret_cast<Control*>(shared_.control()); }

  // ---- start-up ----

  std::optional<Failure> OnSpec(const nlohmann::json& h) {
    if (host_ >= 0) return Failure{std::string(rp::kRuntimeError), "runner: spec sent twice"};
    std::vector<ArgLayout> args;
    for (const auto& a : h.at("args")) {
      ArgLayout l;
      l.name = a.at("name").get<std::string>();
      l.output = a.at("role").get<std::string>() == "output";
      auto dt = ParseDType(a.at("dtype").get<std::string>());
      if (!dt) return Failure{std::string(rp::kRuntimeError), "runner: bad dtype in spec"};
      l.dtype = *dt;
      l.shape = a.at("shape").get<std::vector<int64_t>>();
      for (int64_t d : l.shape)
        if (d < 0) return Failure{std::string(rp::kRuntimeError), "runner: negative dimension in spec"};
      args.push_back(std::move(l));
    }
    int slots = std::clamp(h.value("slots", 4), 1, 64);
    const size_t flush_bytes = h.value("flush_bytes", size_t{0});
    // Aliases (the addresses arguments move between): as many as the budget allows.
    int in_aliases = 2, out_aliases = 3;
    auto first = Layout::Make(args, slots, in_aliases, out_aliases);
    if (!first.ok()) return Failure{std::string(rp::kRuntimeError), "runner: " + first.status().message()};
    Layout layout = std::move(first).value();
    load_timeout_ = std::chrono::milliseconds(h.value("load_timeout_ms", int64_t{60000}));
    // Never fewer than 4 slots: the verifier keeps 3 seen input sets and runs the other trials
    // in a fourth (with 3, correctness asked for slot 3 and the kernel was blamed for a
    // "runtime_error"); only fresh sets for the timing loop give way.
    while (layout.HostMappedBytes() > kMappedBudget && (layout.in_aliases > 1 || layout.out_aliases > 1 || layout.slots > 4)) {
      if (layout.in_aliases > 1) --in_aliases;
      else if (layout.out_aliases > 1) --out_aliases;
      else --slots;
      auto l = Layout::Make(args, slots, in_aliases, out_aliases);
      if (!l.ok()) return Failure{std::string(rp::kRuntimeError), l.status().message()};
      layout = std::move(l).value();
    }
    auto shared = SharedArgs::Create(layout, flush_bytes);
    if (!shared.ok()) return Failure{std::string(rp::kRuntimeError), "runner: " + shared.status().message()};
    shared_ = std::move(shared).value();
    hashes_.assign(static_cast<size_t>(layout.slots), std::vector<uint64_t>(layout.n_in, 0));
    loaded_.assign(static_cast<size_t>(layout.slots), false);
    return StartHost();
  }

  std::optional<Failure> StartHost() {
    auto dev = MakeDevice(device_name_);
    if (!dev.ok()) return Failure{std::string(rp::kLoadError), dev.status().message()};
    device_ = std::move(dev).value();
    DeviceConfig dc;
    char real[PATH_MAX];
    if (!realpath(artifact_.c_str(), real)) return Failure{std::string(rp::kLoadError), "runner: no artifact at " + artifact_};
    dc.artifact = real;
    dc.threads = threads_;
    char cwd[PATH_MAX];
    dc.work_dir = getcwd(cwd, sizeof cwd) ? cwd : "/";
    for (const auto& a : shared_.layout().args) dc.args.push_back({a.name, a.output, a.dtype, a.shape, a.nbytes});
    dc.in_aliases = shared_.layout().in_aliases;
    dc.out_aliases = shared_.layout().out_aliases;
    const SandboxPolicy policy = device_->Policy(dc);
    std::vector<std::string> allowed = policy.read_paths;
    allowed.push_back(dc.artifact);
    expected_threads_ = threads_ + policy.runtime_threads;

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
      return Failure{std::string(rp::kRuntimeError), "runner: socketpair failed"};
    struct sigaction sa{};
    sa.sa_handler = OnSigchld;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, nullptr);
    const pid_t me = getpid();
    pid_t pid = fork();
    if (pid < 0) return Failure{std::string(rp::kRuntimeError), "runner: fork failed"};
    if (pid == 0) {
      close(sv[0]);
      // The host's address space: the kernel's allowance plus the shared argument mappings.
      if (memory_limit_ > 0) {
        rlimit rl;
        rl.rlim_cur = rl.rlim_max = memory_limit_ + shared_.layout().HostMappedBytes() + (size_t{1} << 30);
        setrlimit(RLIMIT_AS, &rl);
      }
      if (file_size_limit_ > 0) {
        rlimit rl;
        rl.rlim_cur = rl.rlim_max = file_size_limit_;
        setrlimit(RLIMIT_FSIZE, &rl);
      }
      HostConfig hc;
      hc.device = device_.get();
      hc.device_config = dc;
      hc.shared = &shared_;
      hc.socket_fd = sv[1];
      hc.supervisor = me;
      RunKernelHost(hc);
    }
    host_ = pid;
    close(sv[1]);
    // The load filter's notification descriptor, unless the host could not install it.
    int listener = ReceiveFd(sv[0], Clock::now() + std::chrono::seconds(30));
    close(sv[0]);
    if (listener >= 0) broker_ = std::make_unique<OpenBroker>(listener, host_, allowed);
    auto ready = WaitStartup(Clock::now() + load_timeout_);
    std::vector<std::string> refused = broker_ ? broker_->Refused() : std::vector<std::string>{};
    if (broker_) broker_->StartCalls();  // opens now trap in the run filter; threads are refused here
    if (ready) return ready;
    if (!refused.empty()) {
      std::string list;
      for (const auto& r : refused) list += (list.empty() ? "" : ", ") + r;
      return KillHostWith(std::string(rp::kSandboxViolation),
                         "while loading the kernel, its load-time code tried to open " + list +
                             " (a kernel may not read files or load libraries; only the loader opens the kernel)");
    }
    int n = CountThreads();
    if (n > expected_threads_)
      return KillHostWith(std::string(rp::kTooManyThreads),
                         std::to_string(n) + " threads were running after the kernel was loaded, but " +
                             std::to_string(expected_threads_) + " are granted: load-time code may not start threads");
    Reply({{"ok", true},
           {"ready", true},
           {"sandbox", {{"seccomp", listener >= 0},
                        {"network_namespace", ctl()->network_namespace != 0},
                        {"separate_process", true},
                        {"error", listener >= 0 ? std::string() : std::string(ctl()->error, strnlen(ctl()->error, sizeof ctl()->error))}}},
           {"layout", {{"slots", shared_.layout().slots},
                       {"input_aliases", shared_.layout().in_aliases},
                       {"output_aliases", shared_.layout().out_aliases}}}});
    return std::nullopt;
  }

  static int ReceiveFd(int sock, Clock::time_point deadline) {
    pollfd p{sock, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (poll(&p, 1, static_cast<int>(std::max<int64_t>(left, 0))) <= 0) return -1;
    char dummy;
    iovec iov{&dummy, 1};
    alignas(cmsghdr) char buf[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = buf;
    msg.msg_controllen = sizeof buf;
    if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1) return -1;
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    if (!cm || cm->cmsg_type != SCM_RIGHTS) return -1;
    int fd;
    std::memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    return fd;
  }

  std::optional<Failure> WaitStartup(Clock::time_point deadline) {
    while (true) {
      std::atomic_thread_fence(std::memory_order_acquire);
      uint32_t state = ctl()->state;
      if (state == kStateReady) return std::nullopt;
      if (state == kStateFailed) return HostFailed(rp::kLoadError, true);
      if (auto died = Reap()) return died;
      if (Clock::now() > deadline) return KillHostWith(std::string(rp::kTimeout), "the kernel did not finish loading in time");
      timespec ts{0, 20 * 1000 * 1000};
      FutexWait(&ctl()->ack, ctl()->ack.load(), &ts);
    }
  }

  // ---- the host's end ----

  // The host exited (or was killed): why, as a failure. nullopt while it runs.
  std::optional<Failure> Reap() {
    if (host_ < 0) return Failure{std::string(rp::kRuntimeError), "the kernel process is not running"};
    int st = 0;
    pid_t r = waitpid(host_, &st, WNOHANG);
    if (r == 0) return std::nullopt;
    host_dead_ = true;
    host_ = -1;
    return Classify(st);
  }

  Failure KillHostWith(std::string kind, std::string message) {
    StopHost();
    return {std::move(kind), std::move(message)};
  }

  void StopHost() {
    if (host_ > 0) {
      kill(host_, SIGKILL);
      waitpid(host_, nullptr, 0);
      host_ = -1;
      host_dead_ = true;
    }
  }

  std::string HostError() {
    const Control* c = ctl();
    return std::string(c->error, strnlen(c->error, sizeof c->error));
  }

  std::string ArgName(int32_t i) const {
    const auto& args = shared_.layout().args;
    return i >= 0 && static_cast<size_t>(i) < args.size() ? args[static_cast<size_t>(i)].name : "?";
  }

  Failure ThreadFailure() const {
    return {std::string(rp::kTooManyThreads),
            "the kernel tried to start a thread, but all " + std::to_string(threads_) +
                " granted threads already exist: use at most omp_get_max_threads() threads (no num_threads "
                "beyond it, no nested parallel regions, no other threads)"};
  }

  Failure Classify(int st) {
    // A refused thread explains whatever followed (libgomp aborts, std::thread throws).
    if (broker_ && broker_->ThreadsRefused() > 0) return ThreadFailure();
    // Fields of the control block are the host's word: used for details only.
    const Control& c = *ctl();
    const auto& args = shared_.layout().args;
    if (WIFEXITED(st)) {
      const int code = WEXITSTATUS(st);
      if (code == 86 || code == 88) {
        bool output = c.fault_arg >= 0 && static_cast<size_t>(c.fault_arg) < args.size() &&
                      args[static_cast<size_t>(c.fault_arg)].output;
        std::string msg = c.fault == kFaultGuard
                              ? "the kernel accessed memory " + std::to_string(c.fault_distance) + " bytes " +
                                    (c.fault_after ? "past the end of " : "before the start of ") +
                                    (output ? "output '" : "argument '") + ArgName(c.fault_arg) + "'"
                              : "the kernel accessed memory outside its arguments";
        return {std::string(code == 88 ? rp::kOutputOverflow : rp::kOutOfBounds), msg};
      }
      if (code == 89)
        return {std::string(rp::kInputModified),
                "the kernel wrote to its read-only argument '" + ArgName(c.fault_arg) +
                    "'; inputs and parameters must not be written"};
      if (code == kSandboxExit) {
        const std::string name = SyscallName(c.fault_syscall);
        if (name == "clone" && (c.fault_flags & CLONE_THREAD)) return ThreadFailure();
        return {std::string(rp::kSandboxViolation),
                "the kernel made a forbidden system call (" + name + ")" +
                    " (kernels may not create processes or threads, use the network, touch files, map executable "
                    "memory or change the process)"};
      }
      if (code == 3 && c.state == kStateFailed) {
        std::string e = HostError();
        if (c.fault == kFaultFpEnvironment) return {std::string(rp::kFpEnvironment), e};
        return {std::string(e.rfind("memory_limit:", 0) == 0 ? rp::kMemoryLimit : rp::kLoadError), e};
      }
      if (code == 0) return {std::string(rp::kRuntimeError), "the kernel exited the process"};
      return {std::string(rp::kRuntimeError), "the kernel process died (exit code " + std::to_string(code) + ")"};
    }
    const int sig = WTERMSIG(st);
    if (sig == SIGSYS)
      return {std::string(rp::kSandboxViolation), "the kernel made a forbidden system call (SIGSYS)"};
    if (sig == SIGXCPU) return {std::string(rp::kTimeout), "the kernel used up its CPU time"};
    const char* abbrev = sigabbrev_np(sig);
    const char* desc = sigdescr_np(sig);
    return {std::string(rp::kRuntimeError), std::string("the kernel process died (killed by SIG") +
                                                (abbrev ? abbrev : std::to_string(sig).c_str()) +
                                                (desc ? std::string(" (") + desc + ")" : std::string()) + ")"};
  }

  // The host reported a failed command (it is still alive, or just exited).
  Failure HostFailed(std::string_view fallback, bool startup) {
    // Give it a moment to exit, so the exit status can tell more.
    for (int i = 0; i < 50 && host_ > 0; ++i) {
      if (auto died = Reap()) {
        if (died->kind != rp::kRuntimeError || HostError().empty()) return *died;
        break;
      }
      if (!startup) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (broker_ && broker_->ThreadsRefused() > 0) {
      StopHost();
      return ThreadFailure();
    }
    std::string e = HostError();
    std::string kind = e.rfind("memory_limit:", 0) == 0 ? std::string(rp::kMemoryLimit) : std::string(fallback);
    StopHost();
    return {kind, e.empty() ? "the kernel failed" : e};
  }

  int CountThreads() const {
    if (host_ < 0) return -1;
    std::string dir = "/proc/" + std::to_string(host_) + "/task";
    DIR* d = opendir(dir.c_str());
    if (!d) return -1;
    int n = 0;
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++n;
    closedir(d);
    return n;
  }

  // ---- one command, one call ----

  // Posts a command and waits for its acknowledgement.
  std::optional<Failure> Command(uint32_t cmd, Clock::time_point deadline) {
    Control* c = ctl();
    c->cmd = cmd;
    const uint32_t seq = ++seq_;
    c->seq.store(seq, std::memory_order_release);
    FutexWake(&c->seq);
    while (true) {
      const uint32_t ack = c->ack.load(std::memory_order_acquire);
      if (ack == seq) {
        if (c->state == kStateFailed) return HostFailed(rp::kRuntimeError, false);
        return std::nullopt;
      }
      if (auto died = Reap()) return died;
      auto now = Clock::now();
      if (now > deadline) return KillHostWith(std::string(rp::kTimeout), "the kernel did not finish in time; it was killed");
      auto left = std::min<Clock::duration>(deadline - now, std::chrono::milliseconds(50));
      timespec ts{static_cast<time_t>(std::chrono::duration_cast<std::chrono::seconds>(left).count()),
                  static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(left).count() % 1000000000)};
      FutexWait(&c->ack, ack, &ts);
    }
  }

  // One call on `slot`: inputs are in place; outputs are poisoned here.
  // With `check_inputs`, a device with memory of its own also compares its copy of the inputs.
  std::optional<Failure> Call(int slot, bool null_call, Clock::time_point deadline, CallTimes& out,
                              bool same_addresses = false, bool check_inputs = false) {
    const Layout& l = shared_.layout();
    if (!null_call) {
      for (size_t a = l.n_in; a < l.args.size(); ++a) {
        PoisonElements(l.args[a].dtype, shared_.Data(0, a), NumElements(l.args[a].shape));
        shared_.FillCanaries(0, a);
      }
    }
    Control* c = ctl();
    c->slot = static_cast<uint32_t>(slot);
    // Arguments move from call to call; on request they stay where the previous call had them
    // (with new content, a cache keyed on addresses then returns stale results).
    if (!same_addresses) {
      c->in_alias = static_cast<uint32_t>(rng_() % static_cast<uint64_t>(l.in_aliases));
      c->out_alias = static_cast<uint32_t>(rng_() % static_cast<uint64_t>(l.out_aliases));
    }
    c->flags = null_call ? kFlagNull : (check_inputs ? kFlagDownloadInputs : 0);
    c->flush_token = static_cast<uint32_t>(1 + rng_() % 250);
    const uint8_t token = static_cast<uint8_t>(c->flush_token);
    if (auto f = Command(kCmdPrepare, deadline)) return f;
    if (!null_call && shared_.flush_bytes() > 0) {
      // The flush happened in the host, before the launch: the buffer holds the token.
      for (int i = 0; i < 16; ++i) {
        size_t pos = rng_() % shared_.flush_bytes();
        if (static_cast<uint8_t>(shared_.flush()[pos]) != token)
          return KillHostWith(std::string(rp::kForgedReport), "the cache flush before a call did not happen");
      }
    }
    const auto t0 = Clock::now();
    if (auto f = Command(kCmdGo, deadline)) return f;
    const auto t1 = Clock::now();
    const double inner = c->inner_ns, host = c->host_ns;
    if (auto f = Command(kCmdFinish, deadline)) return f;
    // A thread the kernel tried to start was refused: even if it carried on without it, it
    // asked for more than it was granted.
    if (broker_ && broker_->ThreadsRefused() > 0) {
      Failure f = ThreadFailure();
      StopHost();
      return f;
    }
    out.outer_ns = std::chrono::duration<double, std::nano>(t1 - t0).count();
    out.inner_ns = inner;
    out.host_ns = host;
    out.fp_changed = c->fp_changed;
    out.device_canary = HostError();
    // The launch happened inside the span seen here: anything else was written by kernel code.
    if (!(inner >= 0) || !(host >= 0) || inner > out.outer_ns + 1000 || host > out.outer_ns + 1000)
      return KillHostWith(std::string(rp::kForgedReport),
                         "the kernel process reported a launch of " + std::to_string(inner / 1e6) + " ms inside a span of " +
                             std::to_string(out.outer_ns / 1e6) + " ms: reports are checked against the runner's own clock");
    return std::nullopt;
  }

  // Verdict-ready observations of a call, shared by run and time replies.
  void Observe(int slot, bool check_inputs, nlohmann::json& canary, nlohmann::json& modified) {
    const Layout& l = shared_.layout();
    for (size_t a = l.n_in; a < l.args.size(); ++a) {
      std::string side = shared_.CanaryViolation(0, a);
      if (!side.empty()) canary.push_back({{"name", l.args[a].name}, {"side", side}, {"role", "output"}});
    }
    if (check_inputs)
      for (size_t a = 0; a < l.n_in; ++a)
        if (HashBytes(shared_.Data(slot, a), l.args[a].nbytes) != hashes_[static_cast<size_t>(slot)][a])
          modified.push_back(l.args[a].name);
  }

  // What a device with memory of its own reported: "canary <side> <arg>" and "modified <arg>"
  // lines. Argument names are checked against the layout (the lines are the host's word).
  void AddDeviceCanary(const std::string& lines, nlohmann::json& canary, nlohmann::json& modified) {
    size_t p = 0;
    while (p < lines.size()) {
      size_t e = lines.find('\n', p);
      std::string line = lines.substr(p, e == std::string::npos ? std::string::npos : e - p);
      p = e == std::string::npos ? lines.size() : e + 1;
      if (line.rfind("modified ", 0) == 0) {
        const std::string name = line.substr(9);
        for (size_t a = 0; a < shared_.layout().n_in; ++a)
          if (shared_.layout().args[a].name == name && std::find(modified.begin(), modified.end(), name) == modified.end())
            modified.push_back(name);
        continue;
      }
      if (line.rfind("canary ", 0) != 0) continue;
      std::string rest = line.substr(7);
      size_t sp = rest.find(' ');
      if (sp == std::string::npos) continue;
      canary.push_back({{"name", rest.substr(sp + 1)}, {"side", rest.substr(0, sp)}, {"role", "device"}});
    }
  }

  // ---- requests ----

  std::optional<Failure> OnLoad(const nlohmann::json& h, std::vector<Tensor> tensors) {
    const Layout& l = shared_.layout();
    int slot = h.at("slot").get<int>();
    if (slot < 0 || slot >= l.slots) return Failure{std::string(rp::kRuntimeError), "runner: slot out of range"};
    if (tensors.size() != l.n_in)
      return Failure{std::string(rp::kRuntimeError), "runner: load: got " + std::to_string(tensors.size()) +
                                                         " tensors, expected " + std::to_string(l.n_in)};
    for (size_t i = 0; i < l.n_in; ++i) {
      if (tensors[i].dtype() != l.args[i].dtype || tensors[i].shape() != l.args[i].shape)
        return Failure{std::string(rp::kRuntimeError), "runner: load: tensor " + std::to_string(i) + " does not match the spec"};
      std::memcpy(shared_.Data(slot, i), tensors[i].data(), tensors[i].nbytes());
      shared_.FillCanaries(slot, i);
      hashes_[static_cast<size_t>(slot)][i] = HashBytes(shared_.Data(slot, i), l.args[i].nbytes);
    }
    loaded_[static_cast<size_t>(slot)] = true;
    ctl()->slot = static_cast<uint32_t>(slot);
    if (auto f = Command(kCmdPopulate, Clock::now() + std::chrono::seconds(60))) return f;
    Reply({{"ok", true}});
    return std::nullopt;
  }

  std::optional<Failure> OnRun(const nlohmann::json& h) {
    const Layout& l = shared_.layout();
    int slot = h.at("slot").get<int>();
    if (slot < 0 || slot >= l.slots || !loaded_[static_cast<size_t>(slot)])
      return Failure{std::string(rp::kRuntimeError), "runner: run: slot not loaded"};
    auto deadline = Clock::now() + std::chrono::milliseconds(h.value("timeout_ms", int64_t{30000}));
    CallTimes t;
    if (auto f = Call(slot, false, deadline, t, h.value("same_addresses", false), true)) return f;
    std::vector<Tensor> outs;
    for (size_t a = l.n_in; a < l.args.size(); ++a) {
      Tensor t_out(l.args[a].name, l.args[a].dtype, l.args[a].shape);
      std::memcpy(t_out.data(), shared_.Data(0, a), t_out.nbytes());
      outs.push_back(std::move(t_out));
    }
    // Nothing may keep running after the call: look at the outputs again after a pause.
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    nlohmann::json late = nlohmann::json::array(), canary = nlohmann::json::array(), modified = nlohmann::json::array();
    for (size_t a = l.n_in; a < l.args.size(); ++a)
      if (std::memcmp(outs[a - l.n_in].data(), shared_.Data(0, a), outs[a - l.n_in].nbytes()) != 0)
        late.push_back(l.args[a].name);
    Observe(slot, true, canary, modified);
    AddDeviceCanary(t.device_canary, canary, modified);
    if (auto died = Reap()) return died;
    Reply({{"ok", true},
           {"latency_ns", t.inner_ns},
           {"inner_ns", t.inner_ns},
           {"outer_ns", t.outer_ns},
           {"canary", canary},
           {"modified_inputs", modified},
           {"late_writes", late},
           {"threads", CountThreads()},
           {"threads_granted", expected_threads_},
           {"fp_changed", t.fp_changed}},
          std::move(outs));
    return std::nullopt;
  }

  std::optional<Failure> OnTime(const nlohmann::json& h) {
    const Layout& l = shared_.layout();
    auto deadline = Clock::now() + std::chrono::milliseconds(h.value("timeout_ms", int64_t{60000}));
    std::mt19937_64 pick(h.value("seed", uint64_t{1}));
    const int samples = std::clamp(h.value("samples", 16), 1, 256);
    // Calibration: null calls measure the round trip of posting a launch and seeing it done.
    std::vector<double> rt;
    for (int i = 0; i < 9; ++i) {
      CallTimes t;
      if (auto f = Call(0, true, deadline, t)) return f;
      rt.push_back(t.outer_ns);
    }
    std::sort(rt.begin(), rt.end());
    const double round_trip = rt[rt.size() / 2];
    nlohmann::json calls = nlohmann::json::array(), canary = nlohmann::json::array(), modified = nlohmann::json::array();
    std::vector<Tensor> full_outputs;
    std::vector<bool> used(static_cast<size_t>(l.slots), false);
    uint32_t fp = 0;
    double overhead_total = 0;
    int timed = 0;
    for (const auto& req : h.at("calls")) {
      const int slot = req.at("slot").get<int>();
      if (slot < 0 || slot >= l.slots || !loaded_[static_cast<size_t>(slot)])
        return Failure{std::string(rp::kRuntimeError), "runner: time: slot not loaded"};
      used[static_cast<size_t>(slot)] = true;
      const bool full = req.value("full", false);
      const auto c0 = Clock::now();
      CallTimes t;
      if (auto f = Call(slot, false, deadline, t, false, full)) return f;
      // The kernel's latency: its own figure, but never less than the span seen here minus
      // the calibrated round trip.
      const double latency = std::max(t.inner_ns, t.outer_ns - round_trip);
      nlohmann::json per_out = nlohmann::json::array();
      for (size_t a = l.n_in; a < l.args.size(); ++a) {
        const int64_t n = NumElements(l.args[a].shape);
        const size_t es = DTypeSize(l.args[a].dtype);
        nlohmann::json pts = nlohmann::json::array();
        for (int j = 0; j < samples && n > 0; ++j) {
          const int64_t e = static_cast<int64_t>(pick() % static_cast<uint64_t>(n));
          const std::byte* p = shared_.Data(0, a) + static_cast<size_t>(e) * es;
          pts.push_back({e, JsonNumber(ValueAt(l.args[a].dtype, p)), IsPoisonAt(l.args[a].dtype, p)});
        }
        per_out.push_back(std::move(pts));
        if (full) {
          Tensor t_out(l.args[a].name, l.args[a].dtype, l.args[a].shape);
          std::memcpy(t_out.data(), shared_.Data(0, a), t_out.nbytes());
          full_outputs.push_back(std::move(t_out));
        }
      }
      Observe(slot, full, canary, modified);
      AddDeviceCanary(t.device_canary, canary, modified);
      fp |= t.fp_changed;
      calls.push_back({{"slot", slot},
                       {"full", full},
                       {"latency_ns", latency},
                       {"inner_ns", t.inner_ns},
                       {"outer_ns", t.outer_ns},
                       {"samples", per_out}});
      overhead_total += std::chrono::duration<double, std::nano>(Clock::now() - c0).count() - latency;
      ++timed;
      if (!canary.empty() || !modified.empty() || fp) break;  // the verifier fails the kernel on it
    }
    // Inputs of every set used must be as they were written.
    for (int s = 0; s < l.slots; ++s) {
      if (!used[static_cast<size_t>(s)]) continue;
      nlohmann::json unused = nlohmann::json::array();
      Observe(s, true, unused, modified);
    }
    if (auto died = Reap()) return died;
    Reply({{"ok", true},
           {"calls", calls},
           {"round_trip_ns", round_trip},
           {"overhead_ns", timed ? overhead_total / timed : 0.0},
           {"canary", canary},
           {"modified_inputs", modified},
           {"threads", CountThreads()},
           {"threads_granted", expected_threads_},
           {"fp_changed", fp}},
          std::move(full_outputs));
    return std::nullopt;
  }

  FrameReader reader_;
  int out_fd_;
  std::string device_name_, artifact_;
  int threads_;
  uint64_t memory_limit_;
  uint64_t file_size_limit_;
  std::chrono::milliseconds load_timeout_{60000};
  std::unique_ptr<Device> device_;
  SharedArgs shared_;
  std::vector<std::vector<uint64_t>> hashes_;
  std::vector<bool> loaded_;
  std::unique_ptr<OpenBroker> broker_;
  pid_t host_ = -1;
  bool host_dead_ = false;
  int expected_threads_ = 1;
  uint32_t seq_ = 0;
  std::mt19937_64 rng_{std::random_device{}()};
  std::optional<Failure> failed_;
};

int Main(int argc, char** argv) {
  std::string device = "cpu", artifact;
  int threads = 1;
  uint64_t memory_limit = 0, file_size_limit = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--device") device = v;
    else if (k == "--artifact") artifact = v;
    else if (k == "--threads") threads = std::atoi(v.c_str());
    else if (k == "--memory-limit") memory_limit = std::strtoull(v.c_str(), nullptr, 10);
    else if (k == "--file-size-limit") file_size_limit = std::strtoull(v.c_str(), nullptr, 10);
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The protocol keeps private copies of stdin/stdout; fd 1 then points at stderr, so nothing
  // printed by anyone can reach the stream (the host closes the private copies anyway).
  int out_fd = fcntl(1, F_DUPFD_CLOEXEC, 10);
  int in_fd = fcntl(0, F_DUPFD_CLOEXEC, 10);
  dup2(2, 1);
  setenv("OMP_NUM_THREADS", std::to_string(threads < 1 ? 1 : threads).c_str(), 1);
  Supervisor s(in_fd, out_fd, device, artifact, threads, memory_limit, file_size_limit);
  return s.Loop();
}

}  // namespace
}  // namespace evokernel::runner

int main(int argc, char** argv) { return evokernel::runner::Main(argc, argv); }
