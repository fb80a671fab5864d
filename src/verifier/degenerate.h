// Rejecting degenerate tasks: a task whose output is near-constant, or does not change when
// the inputs change, lets a kernel that returns a constant pass. See docs/tasks.md.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "task/oracle.h"
#include "task/task.h"

namespace evokernel {

struct DegeneracyReport {
  bool degenerate = false;
  std::vector<std::string> reasons;  // one line per failed rule, naming the output
  nlohmann::json outputs = nlohmann::json::array();  // per output: rel_spread, differs_across_seeds
  nlohmann::json ToJson() const;
};

// Runs the reference with two seeds and applies the rules. Errors only when the oracle fails.
Result<DegeneracyReport> CheckDegenerate(Oracle& oracle, const TaskSpec& spec,
                                         uint64_t seed_a = 11, uint64_t seed_b = 12);

}  // namespace evokernel
