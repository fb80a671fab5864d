// The launch plan a model writes in its OpenCL kernel, as `//@` comment lines, and how it is
// resolved against a task into a LaunchPlan (common/launch_plan.h):
//
//   //@launch KERNEL global=(E[, E[, E]]) local=(E[, E[, E]]) args=(ARG, ...)
//   //@buffer NAME TYPE COUNT         a scratch buffer of COUNT elements (poisoned before every call)
//   //@options OPTION ...             build options from an allowed list (-cl-mad-enable, ...)
//
// Launches run in the order written, on one in-order queue. ARG is a contract tensor name, a
// scratch buffer name, local(TYPE, COUNT) for __local memory, or a scalar: an integer
// expression (an `int` parameter), long(E), or float(E). Expressions (E, COUNT) use integer
// and floating-point literals, + - * / % and parentheses, min, max, ceil_div and round_up, and
// the task's names: module constants, non-tensor forward() arguments, NAME_numel, NAME_ndim
// and NAME_shape0, NAME_shape1, ... for every tensor argument.
//
// Every error names the kernel line and says what to write instead; the backend reports them
// as compile errors.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "common/launch_plan.h"
#include "common/status.h"
#include "task/task.h"

namespace evokernel::opencl {

// Numeric names a plan may use for `spec`, with their values (integers exact as int64 where
// they are integers).
struct PlanValue {
  bool is_int = true;
  int64_t i = 0;
  double f = 0;
};
std::map<std::string, PlanValue> PlanNames(const TaskSpec& spec);

// Parses and resolves the `//@` lines of `source`. `kernel_file` names the source in messages.
// kCompileError with "kernel.cl:LINE: ..." messages (one per problem found, newline-separated).
Result<LaunchPlan> ResolvePlan(std::string_view source, const TaskSpec& spec, std::string_view kernel_file);

// Build options a plan may ask for.
const std::vector<std::string>& AllowedBuildOptions();

// Bytes of one element of an OpenCL C scalar or vector type name ("float", "int4", "half"),
// or 0 when it is not one.
size_t OpenClTypeSize(std::string_view type);

}  // namespace evokernel::opencl
