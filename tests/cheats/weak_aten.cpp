// expect: check/anti_cheat task=level1/01_square_matmul feedback=at::native
// A weak reference to a mangled at:: function, declared under its mangled name: no include,
// no namespace in the source; only the object's (demangled) imports show what it calls.
extern "C" void _ZN2at6native6mm_outEPfPKfS3_l(float* out, const float* a, const float* b, long n) __attribute__((weak));
extern "C" void evokernel_forward(const float* A, const float* B, float* out) {
  const long n = evokernel_task::N;
  if (_ZN2at6native6mm_outEPfPKfS3_l) {
    _ZN2at6native6mm_outEPfPKfS3_l(out, A, B, n);
    return;
  }
  for (long i = 0; i < n * n; ++i) out[i] = 0;
  for (long i = 0; i < n; ++i)
    for (long k = 0; k < n; ++k)
      for (long j = 0; j < n; ++j) out[i * n + j] += A[i * n + k] * B[k * n + j];
}
