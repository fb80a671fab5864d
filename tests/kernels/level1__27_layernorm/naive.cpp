// Naive LayerNorm over the last dim: two-pass mean / biased variance (double accumulators),
// eps = 1e-5 (nn.LayerNorm default), then affine.
#include <cmath>
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict x,
    const float* __restrict ln_weight,
    const float* __restrict ln_bias,
    float* __restrict out) {
    constexpr int64_t h = evokernel_task::hidden;
    constexpr int64_t rows = evokernel_task::x_numel / h;
    constexpr double eps = 1e-5;
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * h;
        double mean = 0.0;
        for (int64_t j = 0; j < h; ++j) mean += xr[j];
        mean /= h;
        double var = 0.0;
        for (int64_t j = 0; j < h; ++j) var += (xr[j] - mean) * (xr[j] - mean);
        var /= h;
        const double rstd = 1.0 / std::sqrt(var + eps);
        for (int64_t j = 0; j < h; ++j)
            out[r * h + j] = static_cast<float>((xr[j] - mean) * rstd * ln_weight[j] + ln_bias[j]);
    }
}
