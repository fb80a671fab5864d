// expect: check/anti_cheat task=level1/12_relu feedback=rdtsc
// Reads the time-stamp counter through a compiler builtin (no clock library call to find).
#include <algorithm>
extern "C" void evokernel_forward(const float* x, float* out) {
  static unsigned long long last = 0;
  unsigned long long now = __builtin_ia32_rdtsc();
  bool timing = now - last < 100000000ull;
  last = now;
  for (int64_t i = 0; i < evokernel_task::out_numel; i += timing ? 2 : 1) out[i] = std::max(x[i], 0.0f);
}
