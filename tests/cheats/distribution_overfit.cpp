// expect: correctness/wrong_answer task=level1/14_sigmoid feedback=hidden
// Exact on the inputs the task generates (|x| < 6), wrong outside that range.
#include <cmath>
extern "C" void evokernel_forward(const float* x, float* out) {
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) {
    float v = x[i];
    out[i] = v > 6 ? 1.0f : v < -6 ? 0.0f : 1.0f / (1.0f + std::exp(-v));
  }
}
