// expect: check/anti_cheat task=level1/12_relu feedback=getenv
// Behaves differently when it believes it is being verified.
#include <algorithm>
#include <cstdlib>
extern "C" void evokernel_forward(const float* x, float* out) {
  bool verifying = std::getenv("EVOKERNEL_VERIFY") != nullptr;
  for (int64_t i = 0; i < evokernel_task::out_numel; i += verifying ? 1 : 2) out[i] = std::max(x[i], 0.0f);
}
