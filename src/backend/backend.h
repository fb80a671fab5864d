// Backends turn kernel source into something the runner can execute.
//
// A backend is a plug-in with a name (src/backend/registry.h): it says what language kernels are
// written in, renders the contract (the header or description a model is shown and the kernel is
// built against), stages and compiles a kernel, implements the anti-cheat rules of its source
// language, and names the runner device (src/runner/devices) that executes its artifacts. What
// every backend shares lives above the plug-ins, in the build pipeline (build_pipeline.h): the
// content-hash cache, atomic publication, the build record, and the anti-cheat stage, which the
// pipeline runs itself so that no backend can skip it.
//
// Build failures are data (BuildResult.ok == false with feedback), not errors: a Status is
// returned only when the backend itself cannot work (compiler missing, cache unwritable).
//
// Adding a backend: docs/backends.md (one folder under src/backend/, its runner device, a line in
// each registry, prompts/<backend>/ and knowledge/<backend>/).
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
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
  std::string hash;                // cache key: sha256 of source, contract, toolchain, rules
  bool cached = false;             // true when the artifact came from the cache
  double seconds = 0;              // compile time (0 when cached)
  std::string command;             // the compiler command line, for the record
  std::string feedback;            // trimmed diagnostics a model can act on (errors first)
  std::string log;                 // full compiler output (warnings included)
};

// What kernels of a backend are written in, and how run records and the agent name them.
struct SourceLanguage {
  std::string name;         // "C++17", "OpenCL C 1.2 with a launch plan"
  std::string extension;    // file extension of attempts and best kernels: ".cpp", ".cl"
  std::vector<std::string> fences;  // Markdown code-fence tags a model may use: {"cpp", "c++"}
  std::string entry_point;  // what a kernel must contain, as named in feedback: "evokernel_forward"
  std::string kernel_file;  // the name the kernel has in findings and compiler output: "kernel.cpp"
  // How a reply should hold a kernel, for extraction feedback: "reply with the complete kernel
  // source in one ```cpp fenced block that defines ...".
  std::string reply_hint;
};

// What Compile produced (or why not).
struct CompileOutput {
  bool ok = false;
  bool timed_out = false;           // not cached: may depend on the machine's load
  std::string artifact;             // file name inside the build directory
  std::string command;              // for the record
  std::string log;                  // full tool output, private paths removed
  std::string feedback;             // trimmed diagnostics for a model
  double seconds = 0;
};

// How a backend's device is measured for the roofline check (roofline/roofline.h).
struct PeaksProbe {
  std::string device;             // identity of the measured device: part of the cache key
  std::vector<std::string> argv;  // a micro-benchmark that prints MachinePeaks JSON
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  virtual const SourceLanguage& language() const = 0;
  // The runner device (src/runner/device.h) that executes this backend's artifacts.
  virtual std::string_view device() const = 0;

  // The contract for `spec` (see docs/kernel-abi.md). Deterministic: the same spec gives the
  // same text byte for byte.
  virtual std::string Contract(const TaskSpec& spec) const = 0;

  // Everything besides the source and the contract that determines what a build produces:
  // tool versions, flags, target CPU, the version of the backend's anti-cheat rules. Part of
  // the cache key. Fails when the toolchain is missing (the message says what to install).
  virtual Result<std::string> BuildKey() const = 0;

  // Writes the files of one build into `dir` (fresh and private to this build).
  virtual Status Stage(const TaskSpec& spec, std::string_view source, const std::filesystem::path& dir) const = 0;

  // Anti-cheat rules of the backend's source language, run by the pipeline before compiling,
  // on the staged files. Findings go into `report`; a Status only when a tool cannot run.
  virtual Status CheckSource(const TaskSpec& spec, std::string_view source, const std::filesystem::path& dir,
                             CheckReport& report) const = 0;

  // Compiles the staged files in `dir` into an artifact in `dir`.
  virtual Result<CompileOutput> Compile(const TaskSpec& spec, const std::filesystem::path& dir,
                                        const BuildOptions& options) const = 0;

  // Anti-cheat rules on the built artifact, run by the pipeline after a successful compile.
  virtual Status CheckArtifact(const std::filesystem::path& dir, const CompileOutput& compiled,
                               CheckReport& report) const = 0;

  // Toolchain identity for result stamps: {"compiler": "...", "flags": "...", ...}.
  virtual nlohmann::json Toolchain() const = 0;

  // The device's roofline peaks with `threads` granted threads: measured by a micro-benchmark
  // on that device. Fails when the device cannot be named (its toolchain is missing).
  virtual Result<PeaksProbe> Peaks(int threads) const = 0;

  // The PyTorch device the eager baseline runs on, so that a kernel is compared with PyTorch on
  // the hardware it targets: "cpu" for the CPU backend and for OpenCL on PoCL (a CPU device).
  // The oracle runs PyTorch on the CPU only; a backend that targets a GPU must say so here and
  // comes with the oracle's support for that device.
  virtual std::string_view baseline_device() const { return "cpu"; }
};

// argv that starts a runner for a built artifact of `backend` with `threads` worker threads.
std::vector<std::string> RunnerCommand(const Backend& backend, const BuildResult& build, int threads);

// Path of the evokernel-runner executable: $EVOKERNEL_RUNNER, else next to the running binary,
// else next to the evokernel binary of the build tree.
std::filesystem::path RunnerPath();

// Keeps what a model needs from compiler output: error lines with their source context and
// the first notes, paths of the private build directory stripped, capped in size. Source
// excerpts are kept only for diagnostics located in `kernel_file` (when given): lines of other
// files (system headers, whatever a kernel managed to include) are never quoted.
std::string TrimCompilerOutput(std::string_view raw, std::string_view build_dir,
                               size_t max_lines = 40, size_t max_chars = 4000,
                               std::string_view kernel_file = "");

}  // namespace evokernel
