// `evokernel bench verifier` (see bench_verifier.cpp).
#pragma once

#include <set>
#include <string>

namespace evokernel {

struct BenchVerifierArgs {
  std::string backend = "cpu";
  int threads = 1;
  int repeats = 10;
  int pairs = 20;
  // Evaluations in flight for the throughput figure: their compile and correctness stages
  // overlap, timing never does (VerifyOptions::timing_gate). 0: the number of cores.
  int jobs = 0;
  std::string kernels_dir;  // default: <data dir>/tests/kernels
  // Background compile loops (c++ -O2 of a header-heavy file, over and over) kept running for
  // the whole benchmark: the load of a developer's machine, or of an agent compiling the next
  // kernel on the other core. 0: none.
  int load_compile = 0;
  // Which parts run: throughput (with trust), repeatability, resolution.
  std::set<std::string> parts = {"throughput", "repeatability", "resolution"};
  bool json = false;
};

int RunBenchVerifier(const BenchVerifierArgs& args);

}  // namespace evokernel
