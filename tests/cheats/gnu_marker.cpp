// expect: check/anti_cheat task=level1/12_relu feedback=line
// A GNU line marker (flags 1 3: "entering a system header"), spelled through a line splice, so
// the kernel's own text would look like a system header's.
#include <algorithm>
#include <cstdio>
#\
 1 "/usr/include/stdio.h" 1 3
extern "C" void evokernel_forward(const float* x, float* out) {
  std::FILE* f = std::fopen("/etc/hostname", "r");
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f) + (f ? 0.0f : 0.0f);
}
