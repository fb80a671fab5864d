// A resolved launch plan: which device kernels run, in what order, on what NDRange and with
// which arguments. The contract between a backend that compiles kernels for an NDRange device
// (src/backend/opencl), its compiler tool (evokernel-clc) and the runner device that launches
// them (src/runner/devices/opencl_device.cpp). No model-written host code runs: a model writes
// the plan as `//@launch` lines in its kernel source (docs/kernel-abi.md, OpenCL), the backend
// resolves their expressions against the task's constants into this plan, and the runner only
// follows it.
//
// Written as plan.json next to the artifact.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace evokernel {

struct PlanArg {
  enum class Kind { kTensor, kScratch, kLocal, kInt, kLong, kFloat };
  Kind kind = Kind::kInt;
  int index = 0;        // kTensor: contract argument; kScratch: scratch buffer
  uint64_t bytes = 0;   // kLocal: local memory
  int64_t i = 0;        // kInt, kLong
  double f = 0;         // kFloat
  std::string text;     // as written, for messages
};

struct PlanLaunch {
  std::string kernel;
  int line = 0;  // of the //@launch line in the kernel source
  std::vector<uint64_t> global, local;  // same length, 1 to 3; global a multiple of local
  std::vector<PlanArg> args;
  // Which program binary holds this launch's compiled code (0: kernel.bin, v: kernel.vN.bin).
  // PoCL keeps one compiled work-group function per local size in a binary, and a launch
  // with a grid wider than 65535 needs another one than a launch with a narrow grid.
  int variant = 0;
};

struct PlanScratch {
  std::string name;
  uint64_t bytes = 0;
};

struct LaunchPlan {
  std::vector<PlanLaunch> launches;
  std::vector<PlanScratch> scratch;  // device buffers of the plan, poisoned before every call
  std::string options;               // build options (from the allowed list)
  // The OpenCL platform and device (indices, as clGetPlatformIDs/clGetDeviceIDs list them) the
  // program was built for; the runner opens the same one.
  int platform = 0, device = 0;
  int variants = 1;  // program binaries

  // The build option that makes program binary `v` distinct ("" for 0).
  static std::string VariantOption(int v);
  // The artifact file of program binary `v`, next to plan.json.
  static std::string VariantFile(int v);

  // Distinct kernel names, in order of first launch.
  std::vector<std::string> Kernels() const;
  nlohmann::json ToJson() const;
  // Errors (kInvalidArgument) name the field that is wrong.
  static Result<LaunchPlan> FromJson(const nlohmann::json& j);
};

std::string_view PlanArgKindName(PlanArg::Kind k);

}  // namespace evokernel
