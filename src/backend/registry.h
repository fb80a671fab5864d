// The backend registry: every backend this build of evokernel can use, by name.
//
// A backend registers with one line in registry.cpp (name, one-line description, factory). The
// CLI, the agent and the benchmarks find backends only through here, so adding one never edits
// a command. Backends whose toolchain was not found at configure time are not compiled in and
// do not appear (a missing toolchain at run time is reported by the backend's BuildKey).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backend/backend.h"

namespace evokernel {

struct BackendEntry {
  std::string name;
  std::string description;  // one line, for `--help` and `backends list`
  std::function<std::unique_ptr<Backend>()> make;
};

// Registered backends, in registration order.
const std::vector<BackendEntry>& Backends();
// Names of the registered backends, for help texts.
std::vector<std::string> BackendNames();
// The backend called `name`; kInvalidArgument listing the known ones when there is none.
Result<std::unique_ptr<Backend>> MakeBackend(std::string_view name);

}  // namespace evokernel
