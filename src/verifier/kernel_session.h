// Client side of one evokernel-runner: a built kernel, loaded in its sandbox and ready to be
// called (protocol: common/runner_protocol.h).
//
// Input sets are loaded into numbered slots once and called on by number. Every reply is
// validated before use: a reply that is malformed, short or has more than it should is a
// failure of category malformed_reply, never a crash. Failures carry a category the verifier
// reports (failure_category()): kRuntimeError statuses for what the kernel did, kTimeout when a
// call did not finish in time. The runner's stderr (what the kernel printed, abort messages) is
// attached to messages. Not thread-safe.
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

struct CanaryHit {
  std::string name;
  std::string side;  // "before" or "after" the argument's data
  bool output = false;
};

// What the runner observed around calls.
struct CallObservations {
  std::vector<CanaryHit> canary;             // bytes written just outside an argument
  std::vector<std::string> modified_inputs;  // inputs/params changed by a call
  int threads = -1;                          // threads of the kernel's process (-1: unknown)
  int threads_granted = 1;
  uint32_t fp_changed = 0;                   // FP environment left changed (bits: SSE, x87, worker)
};

struct RunReply {
  std::vector<Tensor> outputs;
  double latency_ns = 0;
  std::vector<std::string> late_writes;  // outputs that changed after the call returned
  CallObservations obs;
};

// One sampled output element of a timed call.
struct Sample {
  int64_t index = 0;
  double value = 0;
  bool poison = false;  // still the poison pattern: never written
};

struct TimedCall {
  int slot = 0;
  bool full = false;                          // full outputs are in TimingReply::outputs
  double latency_ns = 0;                      // what the kernel is credited with
  double inner_ns = 0, outer_ns = 0;          // the host's figure; the span the runner saw
  std::vector<std::vector<Sample>> samples;   // per output
  size_t first_output = 0;                    // index into TimingReply::outputs when full
};

struct TimingReply {
  std::vector<TimedCall> calls;
  std::vector<Tensor> outputs;  // of the full calls, in call order, outputs in contract order
  double round_trip_ns = 0;     // calibrated cost of posting a launch and seeing it finish
  double overhead_ns = 0;       // per call, outside the credited latency
  CallObservations obs;
};

struct TimingCallRequest {
  int slot = 0;
  bool full = false;   // return the whole outputs of this call
};

struct SessionOptions {
  std::vector<std::string> argv;  // from RunnerCommand (backend/backend.h)
  int threads = 1;
  std::filesystem::path work_dir;  // private directory: cwd and stderr log of the runner
  ResourceLimits limits;           // of the runner; the kernel's address space is memory_limit
  uint64_t memory_limit = 0;
  std::chrono::milliseconds load_timeout{30000};
  int slots = 8;                   // input sets the runner holds at once
  size_t flush_bytes = 0;          // cache flush before every call
};

class KernelSession {
 public:
  // On failure, *failure_category (when given) receives the category (see failure_category()).
  static Result<std::unique_ptr<KernelSession>> Start(const SessionOptions& options,
                                                      const TaskSpec& spec,
                                                      std::string* failure_category = nullptr);
  ~KernelSession();

  // Writes an input set (inputs + params in contract order) into `slot`.
  Status Load(int slot, std::vector<Tensor> inputs);
  // One call on the set in `slot`, outputs in full. Arguments sit at new addresses, or with
  // `same_addresses` where the previous call had them.
  Result<RunReply> Run(int slot, std::chrono::milliseconds timeout, bool same_addresses = false);
  // Calls in the given order; every call's outputs are poisoned before it and sampled after.
  Result<TimingReply> Time(const std::vector<TimingCallRequest>& calls, uint64_t seed, int samples,
                           std::chrono::milliseconds timeout);

  // What the runner reported about its sandbox: {"seccomp": bool, "network_namespace": bool, ...}.
  const nlohmann::json& sandbox() const { return sandbox_; }
  int slots() const { return slots_; }

  // Category of the last failure (runner_protocol.h): "out_of_bounds", "sandbox_violation",
  // "timeout", "malformed_reply", ...
  const std::string& failure_category() const { return failure_category_; }

 private:
  KernelSession() = default;
  Result<Frame> Exchange(Frame request, std::chrono::milliseconds timeout, const char* what);
  Status Failure(const Status& io, const char* what);
  Status Malformed(const std::string& what);
  std::string StderrTail() const;

  SessionOptions options_;
  const TaskSpec* spec_ = nullptr;
  std::filesystem::path stderr_path_;
  std::unique_ptr<Subprocess> proc_;
  std::unique_ptr<FrameReader> reader_;
  std::string failure_category_;
  nlohmann::json sandbox_ = nlohmann::json::object();
  int slots_ = 0;
};

}  // namespace evokernel
