// Naive argmax over dim 1 (int64 indices): first index of the maximum, strided inner loop.
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict x,
    int64_t* __restrict out) {
    using namespace evokernel_task;
    constexpr int64_t B = x_shape[0], R = x_shape[1], K = x_shape[2];
    for (int64_t b = 0; b < B; ++b) {
        for (int64_t k = 0; k < K; ++k) {
            float best = x[b * R * K + k];
            int64_t idx = 0;
            for (int64_t j = 1; j < R; ++j) {
                const float v = x[(b * R + j) * K + k];
                if (v > best) {
                    best = v;
                    idx = j;
                }
            }
            out[b * K + k] = idx;
        }
    }
}
