// expect: check/anti_cheat task=level1/12_relu feedback=constructor
// Runs code when the library is loaded.
#include <algorithm>
__attribute__((constructor)) static void at_load() {}
extern "C" void evokernel_forward(const float* x, float* out) {
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f);
}
