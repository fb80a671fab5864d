// expect: correctness/sandbox_violation task=level1/12_relu args=--no-static-check feedback=mmap
// Asks for writable and executable anonymous memory outright.
#include <sys/mman.h>
#include <algorithm>
extern "C" void evokernel_forward(const float* x, float* out) {
  void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f) + (page ? 0.0f : 1.0f);
}
