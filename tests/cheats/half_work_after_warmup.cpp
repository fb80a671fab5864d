// expect: timing/inconsistent_result|wrong_answer task=level1/12_relu
// After the correctness trials, computes only the first half of the output on every call and
// leaves the rest as the previous call left it.
#include <algorithm>
extern "C" void evokernel_forward(const float* x, float* out) {
  static int calls = 0;
  const int64_t n = ++calls > 8 ? evokernel_task::out_numel / 2 : evokernel_task::out_numel;
  for (int64_t i = 0; i < n; ++i) out[i] = std::max(x[i], 0.0f);
}
