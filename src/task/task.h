// Tasks and suites.
//
// A TaskRef is what the suite manifest (suite.toml) and the command line say about a task file,
// known without running Python. A TaskSpec is the kernel contract the PyTorch oracle derived
// from it: the ordered arguments the kernel receives (inputs, parameters, outputs) with dtypes
// and shapes, plus constants and an operator signature. See docs/tasks.md.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "common/tensor.h"

namespace evokernel {

constexpr double kDefaultAtol = 1e-4;  // KernelBench's fp32 tolerance
constexpr double kDefaultRtol = 1e-4;

struct TaskRef {
  std::string id;  // "level1/19_relu", or the file path for a task outside any suite
  std::filesystem::path file;
  std::string suite;  // empty outside a suite
  int level = 0;      // 0 when unknown
  std::string category = "uncategorised";
  std::string description;
  double atol = kDefaultAtol;
  double rtol = kDefaultRtol;
  nlohmann::json overrides = nlohmann::json::object();  // shape constant -> value

  nlohmann::json ToJson() const;
};

struct Suite {
  std::string name;
  int level = 0;
  std::string description;
  std::filesystem::path dir;
  std::vector<TaskRef> tasks;  // sorted by id
};

// Loads <dir>/suite.toml (optional) and every *.py task file in dir. Errors name the manifest
// file and line: unknown keys, bad types, entries for files that do not exist.
Result<Suite> LoadSuite(const std::filesystem::path& dir);

// Every suite directory directly below tasks_dir (a directory holding *.py files).
Result<std::vector<Suite>> LoadSuites(const std::filesystem::path& tasks_dir);

// Resolves "level1/19_relu", "19_relu" (unique across suites) or a path to a .py file.
// `cli_overrides` (name -> JSON value) are merged over the manifest's overrides.
Result<TaskRef> ResolveTask(std::string_view id_or_path, const std::filesystem::path& tasks_dir,
                            const nlohmann::json& cli_overrides = nlohmann::json::object());

// Parses "name=value" (value as JSON when it parses, else as a string) into `overrides`.
Status ParseOverride(std::string_view assignment, nlohmann::json& overrides);

// Default tasks directory: $EVOKERNEL_TASKS_DIR, else <data dir>/tasks.
std::filesystem::path DefaultTasksDir();

enum class ArgRole { kInput, kParam, kOutput };
std::string_view ArgRoleName(ArgRole r);

struct TaskArg {
  std::string name;  // a C identifier, unique within the task
  ArgRole role = ArgRole::kInput;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  std::string source;  // "forward argument 0", "conv.weight", "forward() output 0"
};

struct TaskSpec {
  TaskRef ref;
  std::vector<TaskArg> args;  // inputs, then params, then outputs: the kernel's argument order
  nlohmann::json scalar_args = nlohmann::json::array();  // non-tensor forward() arguments
  nlohmann::json constants = nlohmann::json::object();   // module-level constants (overridden)
  nlohmann::json init_inputs = nlohmann::json::array();
  std::vector<std::string> modules;  // nn.Module types used
  std::vector<std::string> calls;    // functions/methods called in Model
  std::vector<std::string> aten_ops;  // ATen operators one forward pass runs (torch.profiler)
  // Floating-point operations of one forward pass by torch.profiler's formulas (matmul-like
  // ops, convolutions, elementwise add/mul; others count 0): a lower bound. -1 when unknown.
  double flops = -1;
  nlohmann::json flops_by_op = nlohmann::json::object();
  std::string doc;                   // Model docstring
  std::string source;                // the task file text
  nlohmann::json env;                // torch version, BLAS, threads of the oracle

  size_t num_inputs() const;   // inputs + params (what the kernel reads)
  size_t num_outputs() const;
  // Bytes every correct kernel must at least read and write once: all arguments.
  double CompulsoryBytes() const;
  nlohmann::json ToJson() const;
};

}  // namespace evokernel
