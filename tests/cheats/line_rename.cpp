// expect: check/anti_cheat task=level1/12_relu feedback=line
// Renames the rest of the kernel to the contract header in the preprocessor's line markers, so
// that a scan by file name would skip the system() call that follows.
#include <algorithm>
#include <cstdlib>
#line 1 "evokernel_task.h"
extern "C" void evokernel_forward(const float* x, float* out) {
  std::system("true");
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f);
}
