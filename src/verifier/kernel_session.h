// Client side of one evokernel-runner process: a built kernel, loaded and ready to be called.
//
// Failures carry a category the verifier reports: kRuntimeError when the kernel crashed, threw
// or could not be loaded, kTimeout when a call did not return in time (the process group is
// killed). The runner's stderr (what the kernel printed, abort messages) is attached to the
// message. Not thread-safe.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/subprocess.h"
#include "common/tensor.h"
#include "common/wire.h"
#include "task/task.h"

namespace evokernel {

// Exit code of evokernel-runner when the kernel touched a guard page (runner/guarded_buffer.h).
constexpr int kRunnerOutOfBoundsExit = 86;
constexpr int kRunnerOutputOverflowExit = 88;
// Exit code of evokernel-runner when the kernel made a forbidden system call (runner/sandbox.h).
constexpr int kRunnerSandboxViolationExit = 87;

struct CanaryHit {
  std::string name;
  std::string side;  // "before" or "after" the argument's data
  bool output = false;
};

struct RunReply {
  std::vector<Tensor> outputs;
  double elapsed_ns = 0;
  std::vector<CanaryHit> canary;             // bytes written just outside an argument
  std::vector<std::string> modified_inputs;  // inputs/params changed by the call
  std::vector<std::string> late_writes;      // outputs that changed after the call returned
  int threads_after = -1;                    // threads alive right after return (-1: unknown)
};

// One timed call: which stashed input set it ran on, whether that set was perturbed into new
// content, and (for unperturbed calls) sampled output values: per output, (index, value).
struct TimedCall {
  size_t set = 0;
  bool fresh = false;
  std::vector<std::vector<std::pair<int64_t, double>>> fingerprint;
};

struct TimingReply {
  std::vector<double> times_ns;
  std::vector<TimedCall> calls;
};

struct SessionOptions {
  std::vector<std::string> argv;  // from RunnerCommand (backend/backend.h)
  int threads = 1;
  std::filesystem::path work_dir;  // private directory: cwd and stderr log of the runner
  ResourceLimits limits;
  std::chrono::milliseconds load_timeout{30000};
};

class KernelSession {
 public:
  // On failure, *failure_category (when given) receives the category (see failure_category()).
  static Result<std::unique_ptr<KernelSession>> Start(const SessionOptions& options,
                                                      const TaskSpec& spec,
                                                      std::string* failure_category = nullptr);
  ~KernelSession();

  // One call on fresh inputs (inputs + params in contract order). `stash` keeps them in the
  // runner as a timing set (the runner keeps the last 4).
  Result<RunReply> Run(std::vector<Tensor> inputs, std::chrono::milliseconds timeout, bool stash = false);
  // What the runner reported about its sandbox: {"seccomp": bool, "network_namespace": bool}.
  const nlohmann::json& sandbox() const { return sandbox_; }

  // Category of the last failure: "out_of_bounds" (guard page), "output_overflow",
  // "sandbox_violation" (forbidden system call), "memory_limit", "timeout" or "runtime_error".
  const std::string& failure_category() const { return failure_category_; }

  // Repeated timed calls rotating over the stashed sets (or the last inputs if none).
  // `offset`: timed calls made before this request, so seen and fresh calls keep alternating
  // across requests.
  Result<TimingReply> Time(int warmup, int trials, size_t flush_bytes, uint64_t seed,
                           std::chrono::milliseconds timeout, uint64_t offset = 0);

 private:
  KernelSession() = default;
  Result<Frame> Exchange(Frame request, std::chrono::milliseconds timeout, const char* what);
  Status Failure(const Status& io, const char* what);
  std::string StderrTail() const;

  SessionOptions options_;
  std::filesystem::path stderr_path_;
  std::unique_ptr<Subprocess> proc_;
  std::unique_ptr<FrameReader> reader_;
  std::string failure_category_;
  nlohmann::json sandbox_ = nlohmann::json::object();
};

}  // namespace evokernel
