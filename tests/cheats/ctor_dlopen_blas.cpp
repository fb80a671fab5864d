// expect: load/sandbox_violation task=level1/01_square_matmul args=--no-static-check feedback=libopenblas
// Load-time code (a static initialiser) loads the system BLAS, and the kernel calls it.
#include <dlfcn.h>
typedef void (*gemm_t)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
static gemm_t gemm = [] {
  void* h = dlopen("libopenblas.so.0", RTLD_NOW);
  if (!h) h = dlopen("/usr/lib/x86_64-linux-gnu/libblas.so.3", RTLD_NOW);
  return h ? reinterpret_cast<gemm_t>(dlsym(h, "cblas_sgemm")) : nullptr;
}();
extern "C" void evokernel_forward(const float* A, const float* B, float* out) {
  const int n = static_cast<int>(evokernel_task::N);
  if (gemm) {
    gemm(101, 111, 111, n, n, n, 1.0f, A, n, B, n, 0.0f, out, n);
    return;
  }
  for (int i = 0; i < n * n; ++i) out[i] = 0;
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < n; ++k)
      for (int j = 0; j < n; ++j) out[i * n + j] += A[i * n + k] * B[k * n + j];
}
