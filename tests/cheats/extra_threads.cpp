// expect: correctness/too_many_threads task=level1/12_relu
// Uses 4 OpenMP threads although evokernel grants one (an unfair comparison with the baseline).
#include <algorithm>
extern "C" void evokernel_forward(const float* x, float* out) {
#pragma omp parallel for num_threads(4)
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f);
}
