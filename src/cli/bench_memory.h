// `evokernel bench memory` (see bench_memory.cpp).
#pragma once

#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace evokernel {

struct BenchMemoryArgs {
  std::string sizes = "10000,100000,1000000";  // bank sizes, comma-separated
  int queries = 1000;                           // recall + selection queries per size
  std::string dir;                              // where the temporary banks go (default: $TMPDIR)
  std::string db;  // instead of temporary SQLite files: this bank (an empty one; one size)
  uint64_t seed = 1;
  bool json = false;
};

// Registers `memory` under the `bench` subcommand.
CLI::App* AddBenchMemory(CLI::App* bench, BenchMemoryArgs& args);

int RunBenchMemory(const BenchMemoryArgs& args);

}  // namespace evokernel
