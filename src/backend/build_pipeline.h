// The build pipeline every backend goes through (the shared mechanism above the plug-ins):
//
//   key = sha256(backend, BuildKey, pipeline version, check on/off, contract, source)
//   cache hit (build.json + artifact) -> done
//   Stage -> CheckSource -> Compile -> CheckArtifact -> build.json -> atomic publish
//
// The anti-cheat stage is run here, not by the backends, so a backend cannot skip it; only
// BuildOptions::static_check (recorded in every result) turns it off. Builds are cached by
// content hash under <cache>/builds/<key>/ and published by rename(2), so concurrent builds of
// the same source from several threads or processes are safe and agree.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "common/subprocess.h"

namespace evokernel {

// Checks and builds `source` for `spec` with `backend`. Thread-safe.
Result<BuildResult> Build(const Backend& backend, const TaskSpec& spec, std::string_view source,
                          const BuildOptions& options);

// The environment every build tool runs with: nothing of evokernel's own (API keys and other
// secrets never reach a compiler, whose diagnostics become model feedback): PATH, a C locale,
// and HOME/TMPDIR inside the private build directory.
std::map<std::string, std::string> ToolEnvironment(const std::filesystem::path& build_dir);

// Runs a build tool in `dir` with ToolEnvironment, rlimits and a timeout.
Result<CommandResult> RunTool(std::vector<std::string> argv, const std::filesystem::path& dir,
                              std::chrono::milliseconds timeout, const ResourceLimits& limits = {},
                              size_t max_output = 1 << 20);

}  // namespace evokernel
