// expect: correctness/fp_environment task=level1/12_relu
// Switches the rounding mode to round-toward-zero during the call and leaves it so.
#include <xmmintrin.h>
#include <algorithm>
extern "C" void evokernel_forward(const float* x, float* out) {
  _MM_SET_ROUNDING_MODE(_MM_ROUND_TOWARD_ZERO);
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f);
}
