#include "verifier/kernel_session.h"

#include <signal.h>

#include "common/fs.h"

namespace evokernel {
using Clock = std::chrono::steady_clock;

Result<std::unique_ptr<KernelSession>> KernelSession::Start(const SessionOptions& o,
                                                            const TaskSpec& spec,
                                                            std::string* failure_category) {
  auto s = std::unique_ptr<KernelSession>(new KernelSession());
  s->options_ = o;
  s->stderr_path_ = o.work_dir / "runner.stderr";
  SpawnOptions so;
  so.argv = o.argv;
  // A cleared environment: the kernel sees nothing of the user's.
  so.env = std::map<std::string, std::string>{
      {"OMP_NUM_THREADS", std::to_string(o.threads)},
      {"PATH", "/usr/bin:/bin"},
      {"TMPDIR", o.work_dir.string()},
      {"HOME", o.work_dir.string()}};
  so.cwd = o.work_dir.string();
  so.limits = o.limits;
  so.stderr_path = s->stderr_path_.string();
  signal(SIGPIPE, SIG_IGN);
  auto proc = Subprocess::Spawn(so);
  if (!proc.ok()) return Internal("cannot start the kernel runner: " + proc.status().message());
  s->proc_ = std::move(proc).value();
  s->reader_ = std::make_unique<FrameReader>(s->proc_->stdout_fd());

  auto ready = s->reader_->Read(Clock::now() + o.load_timeout);
  if (!ready.ok()) {
    Status st = s->Failure(ready.status(), "loading the kernel");
    if (failure_category) *failure_category = s->failure_category_;
    return st;
  }
  if (!ready->header.value("ok", false))
    return Status(StatusCode::kRuntimeError, ready->header.value("error", "the kernel failed to load"));
  s->sandbox_ = ready->header.value("sandbox", nlohmann::json::object());

  Frame req;
  nlohmann::json args = nlohmann::json::array();
  for (const auto& a : spec.args)
    args.push_back({{"name", a.name},
                    {"role", std::string(ArgRoleName(a.role))},
                    {"dtype", std::string(DTypeName(a.dtype))},
                    {"shape", a.shape}});
  req.header = {{"cmd", "spec"}, {"args", args}};
  EVK_ASSIGN_OR_RETURN(auto reply, s->Exchange(std::move(req), o.load_timeout, "sending the contract"));
  (void)reply;
  return s;
}

KernelSession::~KernelSession() {
  if (proc_) StopWorker(*proc_, std::chrono::milliseconds(500));
}

std::string KernelSession::StderrTail() const { return ReadFileTail(stderr_path_, 2000); }

Status KernelSession::Failure(const Status& io, const char* what) {
  failure_category_ = io.code() == StatusCode::kTimeout ? "timeout" : "runtime_error";
  if (io.code() == StatusCode::kTimeout) {
    proc_->Kill();
    std::string tail = StderrTail();
    return Status(StatusCode::kTimeout, std::string("the kernel did not finish ") + what +
                                            " in time; the runner was killed" +
                                            (tail.empty() ? "" : "\nkernel stderr:\n" + tail));
  }
  auto exit = proc_->Wait(std::chrono::milliseconds(2000));
  if (!exit) exit = proc_->Kill();
  std::string tail = StderrTail();
  std::string msg = std::string("the kernel process died while ") + what + " (" + exit->Describe() + ")";
  if (exit->exited && exit->exit_code == 0) msg = std::string("the kernel exited the process while ") + what;
  if (exit->exited && (exit->exit_code == kRunnerOutOfBoundsExit || exit->exit_code == kRunnerOutputOverflowExit)) {
    // The runner's fault handler printed which argument's guard page was hit.
    size_t p = tail.find("out_of_bounds: ");
    failure_category_ = exit->exit_code == kRunnerOutputOverflowExit ? "output_overflow" : "out_of_bounds";
    msg = p == std::string::npos ? "the kernel accessed memory outside its arguments"
                                 : tail.substr(p + 15, tail.find('\n', p) - p - 15);
    msg += std::string(" while ") + what;
  }
  if (exit->exited && exit->exit_code == kRunnerSandboxViolationExit) {
    failure_category_ = "sandbox_violation";
    size_t p = tail.find("sandbox_violation: ");
    msg = (p == std::string::npos ? std::string("the kernel made a forbidden system call")
                                   : "the kernel made a " + tail.substr(p + 19, tail.find('\n', p) - p - 19)) +
          std::string(" while ") + what + " (kernels may not create processes, use the network or touch files)";
  }
  if (!exit->exited && exit->term_signal == SIGSYS) {
    // SIGSYS delivered while the kernel had signals blocked (e.g. inside posix_spawn): the
    // handler could not run, but the filter still stopped the call.
    failure_category_ = "sandbox_violation";
    msg = std::string("the kernel made a forbidden system call (SIGSYS) while ") + what +
          " (kernels may not create processes, use the network or touch files)";
  }
  if (!exit->exited && exit->term_signal == SIGXCPU) failure_category_ = "timeout";
  return Status(StatusCode::kRuntimeError, msg + (tail.empty() ? "" : "\nkernel stderr:\n" + tail));
}

Result<Frame> KernelSession::Exchange(Frame request, std::chrono::milliseconds timeout,
                                      const char* what) {
  if (proc_->finished()) return Status(StatusCode::kRuntimeError, "the kernel runner is not running");
  Status w = WriteFrame(proc_->stdin_fd(), request);
  if (!w.ok()) return Failure(w, what);
  auto reply = reader_->Read(Clock::now() + timeout);
  if (!reply.ok()) return Failure(reply.status(), what);
  if (!reply->header.value("ok", false)) {
    std::string err = reply->header.value("error", std::string("runner error"));
    failure_category_ = err.rfind("memory_limit:", 0) == 0 ? "memory_limit" : "runtime_error";
    std::string tail = StderrTail();
    return Status(StatusCode::kRuntimeError, reply->header.value("error", std::string("runner error")) +
                                                 (tail.empty() ? "" : "\nkernel stderr:\n" + tail));
  }
  return reply;
}

Result<RunReply> KernelSession::Run(std::vector<Tensor> inputs, std::chrono::milliseconds timeout,
                                    bool stash) {
  Frame req;
  req.header = {{"cmd", "run"}, {"stash", stash}};
  req.tensors = std::move(inputs);
  EVK_ASSIGN_OR_RETURN(Frame f, Exchange(std::move(req), timeout, "running"));
  RunReply r;
  r.outputs = std::move(f.tensors);
  r.elapsed_ns = f.header.value("elapsed_ns", 0.0);
  for (const auto& c : f.header.value("canary", nlohmann::json::array()))
    r.canary.push_back({c.value("name", ""), c.value("side", ""), c.value("role", "") == "output"});
  r.modified_inputs = f.header.value("modified_inputs", std::vector<std::string>{});
  r.late_writes = f.header.value("late_writes", std::vector<std::string>{});
  r.threads_after = f.header.value("threads_after", -1);
  return r;
}

Result<TimingReply> KernelSession::Time(int warmup, int trials, size_t flush_bytes, uint64_t seed,
                                        std::chrono::milliseconds timeout, uint64_t offset) {
  Frame req;
  req.header = {{"cmd", "time"}, {"warmup", warmup}, {"trials", trials}, {"flush_bytes", flush_bytes},
                {"seed", seed}, {"offset", offset}};
  EVK_ASSIGN_OR_RETURN(Frame f, Exchange(std::move(req), timeout, "being timed"));
  TimingReply r;
  r.times_ns = f.header.value("times_ns", std::vector<double>{});
  for (const auto& c : f.header.value("calls", nlohmann::json::array())) {
    TimedCall tc;
    tc.set = c.value("set", size_t{0});
    tc.fresh = c.value("fresh", false);
    for (const auto& out : c.value("fp", nlohmann::json::array())) {
      std::vector<std::pair<int64_t, double>> pts;
      for (const auto& p : out) {
        double v = p[1].is_number() ? p[1].get<double>() : std::strtod(p[1].get<std::string>().c_str(), nullptr);
        pts.emplace_back(p[0].get<int64_t>(), v);
      }
      tc.fingerprint.push_back(std::move(pts));
    }
    r.calls.push_back(std::move(tc));
  }
  return r;
}

}  // namespace evokernel
