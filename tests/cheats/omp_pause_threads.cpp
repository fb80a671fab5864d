// expect: correctness/too_many_threads task=level1/12_relu args=--no-static-check,--threads=2
// Uses more threads than granted and releases them before the call returns (so none are
// alive afterwards): the extra threads are refused when they are created.
#include <omp.h>
#include <algorithm>
extern "C" void evokernel_forward(const float* x, float* out) {
#pragma omp parallel for num_threads(6)
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f);
  omp_pause_resource_all(omp_pause_hard);
}
