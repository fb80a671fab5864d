// Fast LayerNorm: float SIMD reductions (omp simd) for mean and centred variance, rstd hoisted,
// fused scale/shift pass; OpenMP over rows.
#include <cmath>
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict x,
    const float* __restrict ln_weight,
    const float* __restrict ln_bias,
    float* __restrict out) {
    constexpr int64_t h = evokernel_task::hidden;
    constexpr int64_t rows = evokernel_task::x_numel / h;
    constexpr float eps = 1e-5f;
    constexpr float inv_h = 1.0f / static_cast<float>(h);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        const float* __restrict xr = x + r * h;
        float* __restrict orow = out + r * h;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int64_t j = 0; j < h; ++j) sum += xr[j];
        const float mean = sum * inv_h;
        float sq = 0.0f;
#pragma omp simd reduction(+ : sq)
        for (int64_t j = 0; j < h; ++j) {
            const float d = xr[j] - mean;
            sq += d * d;
        }
        const float rstd = 1.0f / std::sqrt(sq * inv_h + eps);
#pragma omp simd
        for (int64_t j = 0; j < h; ++j) orow[j] = (xr[j] - mean) * rstd * ln_weight[j] + ln_bias[j];
    }
}
