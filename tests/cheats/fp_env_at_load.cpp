// expect: load/fp_environment task=level1/12_relu
// Sets flush-to-zero and denormals-are-zero when the library is loaded and never restores them
// (every later computation in the process, the checks' included, changes).
#include <xmmintrin.h>
#include <algorithm>
static const int ftz = [] {
  _mm_setcsr(_mm_getcsr() | 0x8040);
  return 0;
}();
extern "C" void evokernel_forward(const float* x, float* out) {
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f) + ftz;
}
