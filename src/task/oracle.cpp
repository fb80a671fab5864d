#include "task/oracle.h"

#include <signal.h>
#include <unistd.h>

#include "common/fs.h"

namespace evokernel {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string FindPython() {
  if (const char* p = std::getenv("EVOKERNEL_PYTHON"); p && *p) return p;
  if (access("/usr/bin/python3", X_OK) == 0) return "/usr/bin/python3";
  return "python3";
}

Result<std::unique_ptr<Oracle>> Oracle::Start(const TaskRef& task, const OracleOptions& opts) {
  auto o = std::unique_ptr<Oracle>(new Oracle());
  o->task_ = task;
  o->options_ = opts;
  fs::path dir = opts.work_dir;
  if (dir.empty()) {
    EVK_ASSIGN_OR_RETURN(dir, MakeOwnedTempDir(kOracleDirPrefix));
    o->owned_dir_ = std::make_unique<ScopedDir>(dir);
  }
  o->stderr_path_ = dir / "oracle.stderr";
  fs::path script = DataDir() / "python" / "evokernel_oracle.py";
  if (!fs::exists(script))
    return Unavailable("oracle script not found at " + script.string() +
                       " (set EVOKERNEL_DATA_DIR to the evokernel source or install tree)");

  SpawnOptions so;
  std::string python = opts.python.empty() ? FindPython() : opts.python;
  so.argv = {python, "-u", script.string(), "--task", task.file.string(), "--overrides",
             task.overrides.dump(), "--threads", std::to_string(opts.threads)};
  // The reference inherits the user's environment (Python needs it) with thread counts pinned.
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const char* k : {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"})
    env[k] = std::to_string(opts.threads);
  env["PYTHONDONTWRITEBYTECODE"] = "1";
  so.env = std::move(env);
  so.stderr_path = o->stderr_path_.string();
  signal(SIGPIPE, SIG_IGN);
  auto proc = Subprocess::Spawn(so);
  if (!proc.ok())
    return Unavailable("cannot start the PyTorch oracle with '" + python +
                       "': " + proc.status().message() +
                       " (run scripts/install-deps.sh, or set EVOKERNEL_PYTHON)");
  o->proc_ = std::move(proc).value();
  o->reader_ = std::make_unique<FrameReader>(o->proc_->stdout_fd());

  auto ready = o->reader_->Read(Clock::now() + opts.timeout);
  if (!ready.ok()) return o->Failure(ready.status());
  if (!ready->header.value("ok", false)) {
    std::string kind = ready->header.value("kind", "internal");
    std::string msg = ready->header.value("error", "unknown oracle error");
    return Status(kind == "invalid_task" ? StatusCode::kInvalidTask : StatusCode::kInternal, msg);
  }
  return o;
}

Oracle::~Oracle() {
  if (proc_) StopWorker(*proc_, std::chrono::milliseconds(2000));
}

Status Oracle::Failure(const Status& io_error) {
  // The worker died or hung: kill it and explain with the tail of its stderr.
  auto exit = proc_->Wait(std::chrono::milliseconds(200));
  if (!exit) exit = proc_->Kill();
  std::string log = ReadFileTail(stderr_path_, 3000);
  if (log.find("No module named 'torch'") != std::string::npos)
    return Unavailable("the Python interpreter cannot import torch (install python3-torch with "
                       "scripts/install-deps.sh, or point EVOKERNEL_PYTHON at an interpreter "
                       "that has it)");
  StatusCode code =
      io_error.code() == StatusCode::kTimeout ? StatusCode::kTimeout : StatusCode::kInternal;
  return Status(code, "PyTorch oracle for " + task_.id + " failed (" + io_error.message() +
                          "; worker " + exit->Describe() + ")" +
                          (log.empty() ? "" : ":\n" + log));
}

Result<Frame> Oracle::Request(nlohmann::json header) {
  if (!proc_ || proc_->finished()) return Internal("PyTorch oracle is not running");
  Frame req;
  req.header = std::move(header);
  Status w = WriteFrame(proc_->stdin_fd(), req);
  if (!w.ok()) return Failure(w);
  auto reply = reader_->Read(Clock::now() + options_.timeout);
  if (!reply.ok()) return Failure(reply.status());
  if (!reply->header.value("ok", false)) {
    std::string kind = reply->header.value("kind", "internal");
    std::string msg = reply->header.value("error", "unknown oracle error");
    return Status(kind == "invalid_task" ? StatusCode::kInvalidTask : StatusCode::kInternal, msg);
  }
  return reply;
}

Result<TaskSpec> Oracle::Describe(uint64_t seed) {
  EVK_ASSIGN_OR_RETURN(Frame f, Request({{"cmd", "describe"}, {"seed", seed}}));
  const auto& h = f.header;
  TaskSpec spec;
  spec.ref = task_;
  try {
    for (const auto& a : h.at("args")) {
      TaskArg arg;
      arg.name = a.at("name").get<std::string>();
      std::string role = a.at("role").get<std::string>();
      arg.role = role == "input" ? ArgRole::kInput
                 : role == "param" ? ArgRole::kParam
                                   : ArgRole::kOutput;
      auto dt = ParseDType(a.at("dtype").get<std::string>());
      if (!dt) return Internal("oracle reported an unknown dtype: " + a.dump());
      arg.dtype = *dt;
      arg.shape = a.at("shape").get<std::vector<int64_t>>();
      arg.source = a.value("source", "");
      spec.args.push_back(std::move(arg));
    }
    spec.scalar_args = h.value("scalar_args", nlohmann::json::array());
    spec.constants = h.value("constants", nlohmann::json::object());
    spec.init_inputs = h.value("init_inputs", nlohmann::json::array());
    spec.modules = h.value("modules", std::vector<std::string>{});
    spec.calls = h.value("calls", std::vector<std::string>{});
    spec.aten_ops = h.value("aten_ops", std::vector<std::string>{});
    if (h.contains("flops") && h["flops"].is_number()) spec.flops = h["flops"].get<double>();
    spec.flops_by_op = h.value("flops_by_op", nlohmann::json::object());
    spec.doc = h.value("doc", "");
    spec.env = h.value("env", nlohmann::json::object());
  } catch (const std::exception& e) {
    return Internal(std::string("malformed describe reply from the oracle: ") + e.what());
  }
  if (spec.num_outputs() == 0) return InvalidTask(task_.id + ": forward() returns no tensor");
  // An empty tensor makes every kernel trivially correct (an empty kernel "passes"): degenerate.
  for (const auto& a : spec.args) {
    if (NumElements(a.shape) > 0) continue;
    std::string shape;
    for (size_t d = 0; d < a.shape.size(); ++d) shape += (d ? ", " : "") + std::to_string(a.shape[d]);
    std::string ov = task_.overrides.empty() ? "" : " (with overrides " + task_.overrides.dump() + ")";
    return InvalidTask(task_.id + ": " + std::string(ArgRoleName(a.role)) + " '" + a.name + "' has shape [" + shape +
                       "] with no elements" + ov + ": every dimension must be at least 1");
  }
  auto src = ReadFile(task_.file);
  if (src.ok()) spec.source = *src;
  return spec;
}

Result<Trial> Oracle::MakeTrial(uint64_t seed, const std::string& distribution) {
  EVK_ASSIGN_OR_RETURN(Frame f, Request({{"cmd", "trial"}, {"seed", seed}, {"distribution", distribution}}));
  Trial t;
  t.seed = seed;
  t.distribution = f.header.value("distribution", distribution);
  // The oracle sends inputs, params, then outputs.
  size_t n_out = f.header.value("num_outputs", size_t{0});
  if (n_out == 0 || n_out > f.tensors.size())
    return Internal("malformed trial reply from the oracle: num_outputs=" + std::to_string(n_out));
  size_t split = f.tensors.size() - n_out;
  for (size_t i = 0; i < f.tensors.size(); ++i)
    (i < split ? t.inputs : t.outputs).push_back(std::move(f.tensors[i]));
  return t;
}

Result<BaselineTimes> Oracle::TimeBaseline(uint64_t seed, int warmup, int trials, size_t flush_bytes) {
  EVK_ASSIGN_OR_RETURN(Frame f, Request({{"cmd", "time"},
                                         {"seed", seed},
                                         {"warmup", warmup},
                                         {"trials", trials},
                                         {"flush_bytes", flush_bytes}}));
  try {
    BaselineTimes t;
    t.times_ns = f.header.at("times_ns").get<std::vector<double>>();
    t.overhead_ns = f.header.value("overhead_ns", 0.0);
    return t;
  } catch (const std::exception& e) {
    return Internal(std::string("malformed timing reply from the oracle: ") + e.what());
  }
}

}  // namespace evokernel
