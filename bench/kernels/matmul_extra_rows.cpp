// Benchmark kernel for level1/01_square_matmul: a cache-blocked matmul that, when
// EVK_BENCH_EXTRA_ROWS is defined, recomputes that many rows a second time (same values, so it
// stays correct). With EXTRA_ROWS = 5% of N the variant does exactly 5% more work.
#ifndef EVK_BENCH_EXTRA_ROWS
#define EVK_BENCH_EXTRA_ROWS 0
#endif
static void Rows(const float* A, const float* B, float* C, long n, long r0, long r1) {
  for (long i = r0; i < r1; ++i)
    for (long j = 0; j < n; ++j) C[i * n + j] = 0.0f;
  const long kb = 128;
  for (long k0 = 0; k0 < n; k0 += kb)
    for (long i = r0; i < r1; ++i)
      for (long k = k0; k < k0 + kb && k < n; ++k) {
        const float a = A[i * n + k];
#pragma omp simd
        for (long j = 0; j < n; ++j) C[i * n + j] += a * B[k * n + j];
      }
}
extern "C" void evokernel_forward(const float* A, const float* B, float* out) {
  const long n = evokernel_task::N;
  Rows(A, B, out, n, 0, n);
  if (EVK_BENCH_EXTRA_ROWS > 0) Rows(A, B, out, n, 0, EVK_BENCH_EXTRA_ROWS);
}
