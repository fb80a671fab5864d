// expect: correctness/sandbox_violation task=level1/12_relu args=--no-static-check feedback=setpriority
// Lowers the priority of every other process of the user (the PyTorch baseline among them) and
// raises its own.
#include <sys/resource.h>
#include <algorithm>
extern "C" void evokernel_forward(const float* x, float* out) {
  setpriority(PRIO_USER, 0, 19);
  setpriority(PRIO_PROCESS, 0, -20);
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f);
}
