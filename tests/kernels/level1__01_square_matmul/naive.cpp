// Naive square matmul: C[i][j] = sum_k A[i][k] * B[k][j], textbook i-j-k loop order, one thread.
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict A,
    const float* __restrict B,
    float* __restrict out) {
    constexpr int64_t n = evokernel_task::N;
    for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = 0; j < n; ++j) {
            float acc = 0.0f;
            for (int64_t k = 0; k < n; ++k) {
                acc += A[i * n + k] * B[k * n + j];
            }
            out[i * n + j] = acc;
        }
    }
}
