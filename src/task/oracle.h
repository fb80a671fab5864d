// Client of the PyTorch oracle (python/evokernel_oracle.py): the trusted reference and the
// eager baseline.
//
// One Oracle owns one long-lived Python worker for one task. It is the only component that runs
// the task's Python code; kernels never share its address space. Not thread-safe.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/fs.h"
#include "common/subprocess.h"
#include "common/tensor.h"
#include "common/wire.h"
#include "task/task.h"

namespace evokernel {

struct OracleOptions {
  int threads = 1;     // torch.set_num_threads and OMP/BLAS thread counts
  std::string python;  // interpreter; empty: FindPython()
  std::chrono::seconds timeout{300};  // per request (task load, one trial, one timing batch)
  std::filesystem::path work_dir;     // where the worker's stderr log goes; empty: a temp dir
};

// One reference trial: what the kernel reads (inputs then params, in contract order) and what
// it must produce.
struct Trial {
  uint64_t seed = 0;
  std::string distribution = "default";  // as used (hidden ones may have been softened)
  std::vector<Tensor> inputs;   // inputs + params
  std::vector<Tensor> outputs;  // expected
};

struct BaselineTimes {
  std::vector<double> times_ns;  // one per timed call
  double overhead_ns = 0;        // per call, outside the timed interval (cache flush, loop)
};

// The interpreter to run the oracle with: $EVOKERNEL_PYTHON, else /usr/bin/python3 when it
// exists (Debian's python3-torch installs there; a python3 earlier on PATH may lack torch),
// else python3 from PATH.
std::string FindPython();

class Oracle {
 public:
  // Starts the worker and loads the task (executes the file with its overrides). Errors:
  // kInvalidTask with file:line for problems in the task, kUnavailable if Python or torch is
  // missing.
  static Result<std::unique_ptr<Oracle>> Start(const TaskRef& task, const OracleOptions& options);
  ~Oracle();

  // Runs the reference once (seed) to derive the kernel contract.
  Result<TaskSpec> Describe(uint64_t seed = 0);
  // Fresh model weights and inputs from `seed`, and the reference outputs. `distribution` is
  // "default" (the task's get_inputs) or a hidden one: "outliers" or "scaled".
  Result<Trial> MakeTrial(uint64_t seed, const std::string& distribution = "default");
  // Eager baseline latencies in nanoseconds on the inputs of `seed`.
  Result<BaselineTimes> TimeBaseline(uint64_t seed, int warmup, int trials, size_t flush_bytes);

  const TaskRef& task() const { return task_; }

 private:
  Oracle() = default;
  Result<Frame> Request(nlohmann::json header);
  Status Failure(const Status& io_error);

  TaskRef task_;
  OracleOptions options_;
  std::filesystem::path stderr_path_;
  std::unique_ptr<ScopedDir> owned_dir_;
  std::unique_ptr<Subprocess> proc_;
  std::unique_ptr<FrameReader> reader_;
};

}  // namespace evokernel
