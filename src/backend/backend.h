// Backends turn kernel source into something the runner can execute.
//
// The verifier knows backends only through this interface: a backend renders the contract
// (the header an LLM is shown and the kernel is compiled against), builds source into an
// artifact (cached by content hash) and says how to launch the runner process that loads the
// artifact and speaks the framed protocol (src/runner). CPU C++ is implemented; OpenCL, CUDA and
// NPU toolchains fit the same three operations: their runner side allocates device memory,
// copies inputs in, launches, synchronises and copies outputs back.
//
// Build failures are data (BuildResult.ok == false with feedback), not errors: a Status is
// returned only when the backend itself cannot work (compiler missing, cache unwritable).
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "anticheat/anticheat.h"
#include "common/status.h"
#include "task/task.h"

namespace evokernel {

struct BuildOptions {
  std::filesystem::path cache_dir;  // empty: CacheDir()/builds
  bool use_cache = true;
  std::chrono::seconds timeout{120};
  // Anti-cheat rules on the source (before compiling) and the built object (after). Turning
  // them off is for testing the runtime sandbox only; results record it.
  bool static_check = true;
};

struct BuildResult {
  bool ok = false;
  bool check_failed = false;       // refused by the anti-cheat rules (see check)
  CheckReport check;
  std::filesystem::path artifact;  // the built object (a shared library for cpu)
  std::string hash;                // cache key: sha256 of source, contract, flags, toolchain
  bool cached = false;             // true when the artifact came from the cache
  double seconds = 0;              // compile time (0 when cached)
  std::string command;             // the compiler command line, for the record
  std::string feedback;            // trimmed diagnostics a model can act on (errors first)
  std::string log;                 // full compiler output (warnings included)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;

  // The contract header for `spec` (see docs/kernel-abi.md). Deterministic: the same spec gives
  // the same text byte for byte.
  virtual std::string Contract(const TaskSpec& spec) const = 0;

  // Checks and builds `source` against the contract of `spec`: anti-cheat rules on the source,
  // compile, anti-cheat rules on the object. Thread-safe; concurrent builds of the same source
  // are safe (the cache is filled by atomic rename).
  virtual Result<BuildResult> Build(const TaskSpec& spec, std::string_view source,
                                    const BuildOptions& options) = 0;

  // argv that starts a runner for a built artifact, with `threads` worker threads.
  virtual std::vector<std::string> RunnerCommand(const BuildResult& build, int threads) const = 0;

  // Toolchain identity for result stamps: {"compiler": "...", "flags": "..."}.
  virtual nlohmann::json Toolchain() const = 0;
};

// Names accepted by MakeBackend, for help texts.
std::vector<std::string> BackendNames();
// Factory: "cpu". Unknown names give kInvalidArgument listing the known ones.
Result<std::unique_ptr<Backend>> MakeBackend(std::string_view name);

// Path of the evokernel-runner executable: $EVOKERNEL_RUNNER, else next to the running binary,
// else next to the evokernel binary of the build tree.
std::filesystem::path RunnerPath();

// Keeps what a model needs from compiler output: error lines with their source context and
// the first notes, paths of the private build directory stripped, capped in size.
std::string TrimCompilerOutput(std::string_view raw, std::string_view build_dir,
                               size_t max_lines = 40, size_t max_chars = 4000);

}  // namespace evokernel
