// expect: correctness/wrong_answer|nondeterministic|timing/inconsistent_result|wrong_answer task=level1/40_sum_reduction args=--threads=2
// A data race: two threads add into the same accumulators without synchronisation.
extern "C" void evokernel_forward(const float* x, float* out) {
  const int64_t b = evokernel_task::x_shape[0], r = evokernel_task::x_shape[1], c = evokernel_task::x_shape[2];
  for (int64_t i = 0; i < b * c; ++i) out[i] = 0;
#pragma omp parallel for
  for (int64_t k = 0; k < r; ++k)
    for (int64_t i = 0; i < b; ++i)
      for (int64_t j = 0; j < c; ++j) out[i * c + j] += x[(i * r + k) * c + j];
}
