#include "verifier/kernel_session.h"

#include <signal.h>

#include <set>

#include "common/fs.h"
#include "common/runner_protocol.h"

namespace evokernel {
namespace rp = runner_protocol;
using Clock = std::chrono::steady_clock;

namespace {

// The categories a runner may name; anything else in a reply is malformed.
const std::set<std::string, std::less<>>& KnownKinds() {
  static const std::set<std::string, std::less<>> k = {
      std::string(rp::kLoadError),        std::string(rp::kRuntimeError),  std::string(rp::kTimeout),
      std::string(rp::kMemoryLimit),      std::string(rp::kOutOfBounds),   std::string(rp::kOutputOverflow),
      std::string(rp::kInputModified),    std::string(rp::kSandboxViolation), std::string(rp::kTooManyThreads),
      std::string(rp::kFpEnvironment),    std::string(rp::kForgedReport)};
  return k;
}

double NumberOrString(const nlohmann::json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) return std::strtod(v.get<std::string>().c_str(), nullptr);
  throw std::runtime_error("not a number");
}

CallObservations ParseObservations(const nlohmann::json& h) {
  CallObservations o;
  for (const auto& c : h.at("canary"))
    o.canary.push_back({c.at("name").get<std::string>(), c.at("side").get<std::string>(),
                        c.at("role").get<std::string>() != "input"});
  o.modified_inputs = h.at("modified_inputs").get<std::vector<std::string>>();
  o.threads = h.at("threads").get<int>();
  o.threads_granted = h.at("threads_granted").get<int>();
  o.fp_changed = h.at("fp_changed").get<uint32_t>();
  return o;
}

}  // namespace

Result<std::unique_ptr<KernelSession>> KernelSession::Start(const SessionOptions& o, const TaskSpec& spec,
                                                            std::string* failure_category) {
  auto s = std::unique_ptr<KernelSession>(new KernelSession());
  s->options_ = o;
  s->spec_ = &spec;
  s->stderr_path_ = o.work_dir / "runner.stderr";
  SpawnOptions so;
  so.argv = o.argv;
  // The runner applies the kernel's limits to the kernel's process; its own process makes the
  // shared argument memory (memfds count as files for RLIMIT_FSIZE).
  ResourceLimits runner_limits = o.limits;
  if (o.memory_limit > 0) {
    so.argv.push_back("--memory-limit");
    so.argv.push_back(std::to_string(o.memory_limit));
  }
  if (runner_limits.file_size_bytes > 0) {
    so.argv.push_back("--file-size-limit");
    so.argv.push_back(std::to_string(runner_limits.file_size_bytes));
    runner_limits.file_size_bytes = 0;
  }
  runner_limits.address_space_bytes = 0;
  // A cleared environment: the kernel sees nothing of the user's (no API keys, no paths).
  so.env = std::map<std::string, std::string>{
      {"OMP_NUM_THREADS", std::to_string(o.threads)},
      {"PATH", "/usr/bin:/bin"},
      {"TMPDIR", o.work_dir.string()},
      {"HOME", o.work_dir.string()}};
  so.cwd = o.work_dir.string();
  so.limits = runner_limits;
  so.stderr_path = s->stderr_path_.string();
  signal(SIGPIPE, SIG_IGN);
  auto proc = Subprocess::Spawn(so);
  if (!proc.ok()) return Internal("cannot start the kernel runner: " + proc.status().message());
  s->proc_ = std::move(proc).value();
  s->reader_ = std::make_unique<FrameReader>(s->proc_->stdout_fd(), size_t{16} << 20);

  Frame req;
  nlohmann::json args = nlohmann::json::array();
  for (const auto& a : spec.args)
    args.push_back({{"name", a.name},
                    {"role", std::string(ArgRoleName(a.role))},
                    {"dtype", std::string(DTypeName(a.dtype))},
                    {"shape", a.shape}});
  req.header = {{"cmd", "spec"},
                {"args", args},
                {"slots", o.slots},
                {"flush_bytes", o.flush_bytes},
                {"load_timeout_ms", o.load_timeout.count()}};
  auto ready = s->Exchange(std::move(req), o.load_timeout + std::chrono::seconds(5), "loading the kernel");
  if (!ready.ok()) {
    if (failure_category) *failure_category = s->failure_category_;
    return ready.status();
  }
  try {
    s->sandbox_ = ready->header.at("sandbox");
    s->slots_ = ready->header.at("layout").at("slots").get<int>();
    if (s->slots_ < 1) throw std::runtime_error("no slots");
  } catch (const std::exception& e) {
    Status st = s->Malformed(std::string("ready reply: ") + e.what());
    if (failure_category) *failure_category = s->failure_category_;
    return st;
  }
  return s;
}

KernelSession::~KernelSession() {
  if (proc_) StopWorker(*proc_, std::chrono::milliseconds(500));
}

std::string KernelSession::StderrTail() const { return ReadFileTail(stderr_path_, 2000); }

Status KernelSession::Malformed(const std::string& what) {
  failure_category_ = std::string(rp::kMalformedReply);
  if (proc_) proc_->Kill();
  return Status(StatusCode::kRuntimeError, "the kernel runner's reply was malformed (" + what + ")");
}

Status KernelSession::Failure(const Status& io, const char* what) {
  failure_category_ = std::string(io.code() == StatusCode::kTimeout ? rp::kTimeout : rp::kRuntimeError);
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
  return Status(StatusCode::kRuntimeError, std::string("the kernel runner died while ") + what + " (" +
                                               exit->Describe() + ")" + (tail.empty() ? "" : "\nkernel stderr:\n" + tail));
}

Result<Frame> KernelSession::Exchange(Frame request, std::chrono::milliseconds timeout, const char* what) {
  if (proc_->finished()) return Status(StatusCode::kRuntimeError, "the kernel runner is not running");
  Status w = WriteFrame(proc_->stdin_fd(), request);
  if (!w.ok()) return Failure(w, what);
  auto reply = reader_->Read(Clock::now() + timeout);
  if (!reply.ok()) {
    if (reply.status().code() == StatusCode::kIoError && !proc_->finished() && proc_->Wait(std::chrono::milliseconds(200)) == std::nullopt)
      return Malformed(reply.status().message());  // the runner is alive but sent garbage
    return Failure(reply.status(), what);
  }
  if (!reply->header.is_object()) return Malformed("not an object");
  auto ok = reply->header.find("ok");
  if (ok == reply->header.end() || !ok->is_boolean()) return Malformed("no 'ok'");
  if (!ok->get<bool>()) {
    std::string kind = reply->header.value("kind", std::string());
    std::string err = reply->header.contains("error") && reply->header["error"].is_string()
                          ? reply->header["error"].get<std::string>()
                          : std::string("runner error");
    if (!KnownKinds().count(kind)) return Malformed("unknown failure kind '" + kind + "'");
    failure_category_ = kind;
    std::string tail = StderrTail();
    bool detailed = kind != rp::kRuntimeError && kind != rp::kLoadError && kind != rp::kMemoryLimit;
    return Status(kind == rp::kTimeout ? StatusCode::kTimeout : StatusCode::kRuntimeError,
                  err + (tail.empty() || detailed ? "" : "\nkernel stderr:\n" + tail));
  }
  return reply;
}

Status KernelSession::Load(int slot, std::vector<Tensor> inputs) {
  Frame req;
  req.header = {{"cmd", "load"}, {"slot", slot}};
  req.tensors = std::move(inputs);
  EVK_ASSIGN_OR_RETURN(Frame f, Exchange(std::move(req), std::chrono::seconds(120), "receiving inputs"));
  if (!f.tensors.empty()) return Malformed("surplus tensors in a load reply");
  return Status::Ok();
}

Result<RunReply> KernelSession::Run(int slot, std::chrono::milliseconds timeout, bool same_addresses) {
  Frame req;
  req.header = {{"cmd", "run"}, {"slot", slot}, {"timeout_ms", timeout.count()}, {"same_addresses", same_addresses}};
  EVK_ASSIGN_OR_RETURN(Frame f, Exchange(std::move(req), timeout + std::chrono::seconds(10), "running"));
  RunReply r;
  const size_t n_in = spec_->num_inputs(), n_out = spec_->num_outputs();
  if (f.tensors.size() != n_out)
    return Malformed(std::to_string(f.tensors.size()) + " output tensors instead of " + std::to_string(n_out));
  for (size_t i = 0; i < n_out; ++i) {
    const TaskArg& a = spec_->args[n_in + i];
    if (f.tensors[i].dtype() != a.dtype || f.tensors[i].shape() != a.shape)
      return Malformed("output '" + a.name + "' has the wrong dtype or shape");
  }
  try {
    r.latency_ns = f.header.at("latency_ns").get<double>();
    r.late_writes = f.header.at("late_writes").get<std::vector<std::string>>();
    r.obs = ParseObservations(f.header);
  } catch (const std::exception& e) {
    return Malformed(std::string("run reply: ") + e.what());
  }
  r.outputs = std::move(f.tensors);
  return r;
}

Result<TimingReply> KernelSession::Time(const std::vector<TimingCallRequest>& calls, uint64_t seed, int samples,
                                        std::chrono::milliseconds timeout) {
  Frame req;
  nlohmann::json list = nlohmann::json::array();
  size_t full = 0;
  for (const auto& c : calls) {
    list.push_back({{"slot", c.slot}, {"full", c.full}});
    full += c.full;
  }
  req.header = {{"cmd", "time"}, {"calls", list}, {"seed", seed}, {"samples", samples}, {"timeout_ms", timeout.count()}};
  EVK_ASSIGN_OR_RETURN(Frame f, Exchange(std::move(req), timeout + std::chrono::seconds(10), "being timed"));
  TimingReply r;
  const size_t n_in = spec_->num_inputs(), n_out = spec_->num_outputs();
  try {
    const auto& cj = f.header.at("calls");
    if (!cj.is_array()) throw std::runtime_error("calls is not a list");
    r.obs = ParseObservations(f.header);
    // A run that stopped early (a violation) has fewer calls; never more.
    const bool stopped = !r.obs.canary.empty() || !r.obs.modified_inputs.empty() || r.obs.fp_changed;
    if (cj.size() > calls.size() || (cj.size() < calls.size() && !stopped))
      throw std::runtime_error(std::to_string(cj.size()) + " calls reported for " + std::to_string(calls.size()));
    size_t next_output = 0;
    for (size_t i = 0; i < cj.size(); ++i) {
      const auto& c = cj[i];
      TimedCall t;
      t.slot = c.at("slot").get<int>();
      t.full = c.at("full").get<bool>();
      if (t.slot != calls[i].slot || t.full != calls[i].full) throw std::runtime_error("call " + std::to_string(i) + " differs from the request");
      t.latency_ns = c.at("latency_ns").get<double>();
      t.inner_ns = c.at("inner_ns").get<double>();
      t.outer_ns = c.at("outer_ns").get<double>();
      if (!(t.latency_ns >= 0) || !(t.outer_ns >= 0)) throw std::runtime_error("negative time");
      const auto& so = c.at("samples");
      if (so.size() != n_out) throw std::runtime_error("samples of " + std::to_string(so.size()) + " outputs");
      for (size_t o = 0; o < n_out; ++o) {
        std::vector<Sample> pts;
        const int64_t numel = NumElements(spec_->args[n_in + o].shape);
        for (const auto& p : so[o]) {
          Sample s{p.at(0).get<int64_t>(), NumberOrString(p.at(1)), p.at(2).get<bool>()};
          if (s.index < 0 || s.index >= numel) throw std::runtime_error("sample index out of range");
          pts.push_back(s);
        }
        t.samples.push_back(std::move(pts));
      }
      if (t.full) {
        t.first_output = next_output;
        next_output += n_out;
      }
      r.calls.push_back(std::move(t));
    }
    if (f.tensors.size() != next_output)
      throw std::runtime_error(std::to_string(f.tensors.size()) + " output tensors for " + std::to_string(next_output));
    for (size_t k = 0; k < f.tensors.size(); ++k) {
      const TaskArg& a = spec_->args[n_in + k % std::max<size_t>(n_out, 1)];
      if (f.tensors[k].dtype() != a.dtype || f.tensors[k].shape() != a.shape)
        throw std::runtime_error("output '" + a.name + "' has the wrong dtype or shape");
    }
    r.round_trip_ns = f.header.at("round_trip_ns").get<double>();
    r.overhead_ns = f.header.at("overhead_ns").get<double>();
  } catch (const std::exception& e) {
    return Malformed(std::string("timing reply: ") + e.what());
  }
  (void)full;
  r.outputs = std::move(f.tensors);
  return r;
}

}  // namespace evokernel
