// expect: correctness/wrong_answer task=level1/01_square_matmul
// Rounds the operands to bfloat16 before multiplying (a precision downgrade).
#include <cstdint>
#include <cstring>
#include <vector>
static float ToBf16(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  u = (u + 0x8000u) & 0xFFFF0000u;
  std::memcpy(&v, &u, 4);
  return v;
}
extern "C" void evokernel_forward(const float* A, const float* B, float* out) {
  const int64_t n = evokernel_task::N;
  std::vector<float> a(A, A + n * n), b(B, B + n * n);
  for (auto& v : a) v = ToBf16(v);
  for (auto& v : b) v = ToBf16(v);
  for (int64_t i = 0; i < n * n; ++i) out[i] = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < n; ++k)
      for (int64_t j = 0; j < n; ++j) out[i * n + j] += a[i * n + k] * b[k * n + j];
}
