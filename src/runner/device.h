// The runner's view of a backend: a device that loads an artifact and executes it on argument
// memory the runner owns.
//
// A call is split so that only the kernel's own work is timed:
//
//   Upload(args, ...)  host argument memory -> device (inputs and the poisoned outputs)   untimed
//   Launch(args)       start the kernel (CPU: run it)                                      timed
//   Synchronize()      wait until all work the kernel started has finished                 timed
//   Download(args)     device -> host argument memory (outputs; inputs when asked)         untimed
//
// `args` are host pointers into the shared argument memory (runner/shared_args.h), in contract
// order; they change from call to call. A device without memory of its own (cpu) passes them to
// the kernel and has nothing to upload or download. A device with its own memory keeps a device
// buffer per argument, fenced by canaries it checks in Download.
//
// A device runs in the kernel host process, under the sandbox policy it declares (Policy): what
// its runtime may open while the artifact is loaded and prepared, and the environment it needs.
// During calls every device runs under the same strict filter (runner/sandbox.h). Devices are
// made by name through the registry (MakeDevice); adding one is a file in runner/devices and a
// line in device_registry.cpp.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/tensor.h"

namespace evokernel::runner {

struct DeviceArg {
  std::string name;
  bool output = false;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  size_t nbytes = 0;
};

struct DeviceConfig {
  std::string artifact;               // absolute path of the built artifact
  std::vector<DeviceArg> args;         // contract order
  int threads = 1;                     // worker threads granted to the kernel
  std::string work_dir;                // private directory of this evaluation (cwd of the host)
  // Places each argument moves between (runner/shared_args.h): a device with memory of its own
  // keeps this many buffers per input and per output, and Upload names the ones of each call.
  int in_aliases = 1, out_aliases = 1;
};

// What a device's runtime may do beyond the strict call-time filter, while loading and
// preparing (see docs/backends.md for each device's policy).
struct SandboxPolicy {
  // Files the runtime may open read-only while the artifact is loaded and prepared (exact paths
  // and directory prefixes ending in '/'). Everything else is refused. The artifact itself is
  // always allowed.
  std::vector<std::string> read_paths;
  // Extra environment variables of the host process (its environment is otherwise scrubbed).
  std::vector<std::pair<std::string, std::string>> env;
  // Threads the device runtime itself starts before the kernel runs (beyond the kernel's own
  // `threads`), for the thread-count checks.
  int runtime_threads = 0;
  // System calls the runtime makes while loading that are answered with an error instead of
  // trapping ({"mkdir", EEXIST}: a driver making sure its cache directory exists). Nothing
  // happens; the call only fails.
  std::vector<std::pair<std::string, int>> load_errno;
};

// Reported by Download.
struct DeviceObservation {
  std::vector<std::pair<std::string, std::string>> canary;  // (argument, "before"/"after") damaged on the device
  std::vector<std::string> modified_inputs;  // inputs whose device copy the call changed (when asked)
  bool fp_workers_changed = false;  // a worker thread of the device left its FP environment changed
};

class Device {
 public:
  virtual ~Device() = default;
  virtual SandboxPolicy Policy(const DeviceConfig& config) const = 0;
  // Before any filter: start the runtime (thread pools, device contexts). No kernel code runs.
  virtual Status Init(const DeviceConfig& config) = 0;
  // Under the load filter: load the artifact (its load-time code runs here) and allocate.
  virtual Status Load(const DeviceConfig& config) = 0;
  // Under the load filter, after Load: anything that must happen once before calls and may
  // still open files (a JIT's first launch on zeroed buffers). Kernel code may run.
  virtual Status Prepare() { return Status::Ok(); }
  // `in_alias` < in_aliases and `out_alias` < out_aliases: which of its places each input and
  // output takes in this call (a device without memory of its own gets its places in `args`).
  virtual Status Upload(void* const* args, int in_alias, int out_alias) = 0;
  virtual Status Launch(void* const* args) = 0;
  // Waits for completion. *device_ns: the span the device itself measured (profiling events),
  // or a negative value when it has none (the host clock is used).
  virtual Status Synchronize(double* device_ns) = 0;
  // Outputs back into host memory; with `inputs_too`, also compares the device's copy of every
  // input with what was uploaded (obs.modified_inputs).
  virtual Status Download(void* const* args, bool inputs_too, DeviceObservation& obs) = 0;
};

// The registered devices ("cpu", ...). Unknown names give kInvalidArgument naming the known ones.
Result<std::unique_ptr<Device>> MakeDevice(std::string_view name);
std::vector<std::string> DeviceNames();

}  // namespace evokernel::runner
