// Naive inclusive cumsum along dim 1: one sequential running float sum per row.
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict x,
    float* __restrict out) {
    constexpr int64_t rows = evokernel_task::x_shape[0];
    constexpr int64_t len = evokernel_task::x_shape[1];
    for (int64_t r = 0; r < rows; ++r) {
        float acc = 0.0f;
        for (int64_t j = 0; j < len; ++j) {
            acc += x[r * len + j];
            out[r * len + j] = acc;
        }
    }
}
