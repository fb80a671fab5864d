// expect: load/sandbox_violation task=level1/12_relu args=--no-static-check feedback=loading
// A static initialiser writes a file when the library is loaded, before any call.
#include <cstdio>
#include <algorithm>
struct AtLoad {
  AtLoad() {
    FILE* f = std::fopen("/tmp/evokernel-cheat-at-load", "w");
    if (f) std::fclose(f);
  }
};
static AtLoad at_load;
extern "C" void evokernel_forward(const float* x, float* out) {
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f);
}
