// expect: check/anti_cheat task=level1/01_square_matmul feedback=cblas_sgemm
// Falls back to BLAS, declared by hand (no header needed to cheat).
extern "C" void cblas_sgemm(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
extern "C" void evokernel_forward(const float* A, const float* B, float* out) {
  const int n = static_cast<int>(evokernel_task::N);
  cblas_sgemm(101, 111, 111, n, n, n, 1.0f, A, n, B, n, 0.0f, out, n);
}
