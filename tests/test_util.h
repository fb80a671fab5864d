// Shared helpers for evokernel tests.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/subprocess.h"

namespace evokernel::testing {

inline std::filesystem::path TestDir() { return EVOKERNEL_TEST_DIR; }
inline std::filesystem::path FixturesDir() { return TestDir() / "fixtures"; }
inline std::filesystem::path KernelsDir() { return TestDir() / "kernels"; }

// Points the build cache at a directory private to this test binary, so tests neither read a
// user's cache nor race each other's cleanup.
inline void UsePrivateCache() {
  static const std::string dir = [] {
    auto d = MakeTempDir("evokernel-test-cache-");
    std::string path = d.ok() ? d->string() : std::string("/tmp/evokernel-test-cache");
    static ScopedDir cleanup(path);  // removed when the test binary exits
    return path;
  }();
  setenv("EVOKERNEL_CACHE_DIR", dir.c_str(), 1);
  // The kernels' precompiled header depends only on compiler, CPU and flags: one for all tests
  // instead of one per test process.
  static const std::string pch = (std::filesystem::temp_directory_path() / "evokernel-test-pch").string();
  setenv("EVOKERNEL_PCH_DIR", pch.c_str(), 0);
}

struct CliResult {
  int exit_code = -1;
  std::string out, err;
  nlohmann::json json;  // parsed stdout when it is JSON
};

// Runs the evokernel binary with `args`; `extra_env` is added to (and wins over) the
// environment it inherits.
inline CliResult RunCli(const std::vector<std::string>& args, int timeout_s = 300,
                        const std::map<std::string, std::string>& extra_env = {}) {
  UsePrivateCache();
  SpawnOptions so;
  if (!extra_env.empty()) {
    std::map<std::string, std::string> env;
    for (char** e = environ; *e; ++e) {
      std::string kv = *e;
      size_t eq = kv.find('=');
      if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& [k, v] : extra_env) env[k] = v;
    so.env = std::move(env);
  }
  so.argv = {EVOKERNEL_BIN};
  so.argv.insert(so.argv.end(), args.begin(), args.end());
  CliResult r;
  auto res = RunCommand(so, std::chrono::seconds(timeout_s));
  if (!res.ok()) {
    r.err = res.status().ToString();
    return r;
  }
  r.exit_code = res->exit.exited ? res->exit.exit_code : 128 + res->exit.term_signal;
  r.out = res->out;
  r.err = res->err;
  try {
    r.json = nlohmann::json::parse(r.out);
  } catch (...) {
  }
  return r;
}

}  // namespace evokernel::testing
