// expect: check/anti_cheat task=level1/01_square_matmul feedback=sgemm_
// Calls Fortran BLAS through a token-pasting macro, so the name never appears in the source.
#define BLAS(p, op) p##op##_
extern "C" void BLAS(s, gemm)(const char*, const char*, const int*, const int*, const int*, const float*,
                              const float*, const int*, const float*, const int*, const float*, float*, const int*);
extern "C" void evokernel_forward(const float* A, const float* B, float* out) {
  const int n = static_cast<int>(evokernel_task::N);
  const float one = 1, zero = 0;
  BLAS(s, gemm)("N", "N", &n, &n, &n, &one, B, &n, A, &n, &zero, out, &n);
}
