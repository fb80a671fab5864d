// expect: check/anti_cheat task=level1/01_square_matmul feedback=dlopen
// Loads OpenBLAS at run time.
#include <dlfcn.h>
typedef void (*gemm_t)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
extern "C" void evokernel_forward(const float* A, const float* B, float* out) {
  void* h = dlopen("libopenblas.so.0", RTLD_NOW);
  auto gemm = reinterpret_cast<gemm_t>(dlsym(h, "cblas_sgemm"));
  const int n = static_cast<int>(evokernel_task::N);
  gemm(101, 111, 111, n, n, n, 1.0f, A, n, B, n, 0.0f, out, n);
}
