// expect: correctness/wrong_answer task=level1/01_square_matmul
// Caches the result by input pointer: same address, same answer.
#include <cstring>
#include <vector>
extern "C" void evokernel_forward(const float* A, const float* B, float* out) {
  static const float* last = nullptr;
  static std::vector<float> saved;
  const int64_t n = evokernel_task::N;
  if (A == last && !saved.empty()) {
    std::memcpy(out, saved.data(), saved.size() * sizeof(float));
    return;
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) out[i * n + j] = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < n; ++k)
      for (int64_t j = 0; j < n; ++j) out[i * n + j] += A[i * n + k] * B[k * n + j];
  last = A;
  saved.assign(out, out + n * n);
}
