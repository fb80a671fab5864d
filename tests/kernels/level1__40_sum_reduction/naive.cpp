// Naive sum over dim 1 with keepdim: out[b][0][k] = sum_j x[b][j][k], strided inner loop.
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict x,
    float* __restrict out) {
    using namespace evokernel_task;
    constexpr int64_t B = x_shape[0], R = x_shape[1], K = x_shape[2];
    for (int64_t b = 0; b < B; ++b) {
        for (int64_t k = 0; k < K; ++k) {
            float acc = 0.0f;
            for (int64_t j = 0; j < R; ++j) acc += x[(b * R + j) * K + k];
            out[b * K + k] = acc;
        }
    }
}
