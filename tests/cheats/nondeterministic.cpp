// expect: correctness/nondeterministic task=level1/12_relu
// Gives a different answer on every other call (a stand-in for races and uninitialised reads).
#include <algorithm>
extern "C" void evokernel_forward(const float* x, float* out) {
  static int calls = 0;
  float skew = (calls++ % 2) ? 0.01f : 0.0f;
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f) + skew;
}
