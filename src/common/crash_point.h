// Fault injection for crash-consistency tests: CrashPoint("commit") kills the process with
// SIGKILL when $EVOKERNEL_CRASH_AT names that point ("commit", or "commit:3" for its third
// arrival). Without the variable it does nothing but one relaxed atomic load. The points sit
// right after each durable write of an agent iteration (docs/agent.md, "Crash consistency"),
// so a test can stop the process at every one of them and check what a resume makes of it.
#pragma once

#include <string_view>

namespace evokernel {

void CrashPoint(std::string_view name);

}  // namespace evokernel
