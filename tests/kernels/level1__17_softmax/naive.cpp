// Naive row softmax: per row, max, then sum of exp(x - max), then divide; scalar std::exp.
#include <cmath>
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict x,
    float* __restrict out) {
    constexpr int64_t rows = evokernel_task::x_shape[0];
    constexpr int64_t cols = evokernel_task::x_shape[1];
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * cols;
        float* orow = out + r * cols;
        float m = xr[0];
        for (int64_t j = 1; j < cols; ++j)
            if (xr[j] > m) m = xr[j];
        double sum = 0.0;
        for (int64_t j = 0; j < cols; ++j) {
            orow[j] = std::exp(xr[j] - m);
            sum += orow[j];
        }
        const float inv = static_cast<float>(1.0 / sum);
        for (int64_t j = 0; j < cols; ++j) orow[j] *= inv;
    }
}
