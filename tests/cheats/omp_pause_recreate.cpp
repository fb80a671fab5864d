// expect: correctness/too_many_threads task=level1/12_relu args=--no-static-check,--threads=2
// Stays within the granted threads, but destroys the pool after each call, so the next call
// creates new threads (a thread count taken between calls would never see more than granted).
#include <omp.h>
#include <algorithm>
extern "C" void evokernel_forward(const float* x, float* out) {
#pragma omp parallel for
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f);
  omp_pause_resource_all(omp_pause_hard);
}
