// Fast BatchNorm2d (training mode): one fused SIMD pass per (n, c) plane computing shifted sum and
// sum of squares (shift = first element of the channel, avoids cancellation), float lanes flushed
// to double per plane; then a single FMA pass out = x * a + b. OpenMP over channels.
#include <cmath>
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict x,
    const float* __restrict bn_weight,
    const float* __restrict bn_bias,
    const float* __restrict bn_running_mean,
    const float* __restrict bn_running_var,
    float* __restrict out) {
    (void)bn_running_mean;
    (void)bn_running_var;
    constexpr int64_t N = evokernel_task::x_shape[0];
    constexpr int64_t C = evokernel_task::x_shape[1];
    constexpr int64_t HW = evokernel_task::x_shape[2] * evokernel_task::x_shape[3];
    constexpr int64_t CH = 1024;  // float partial sums are flushed to double every CH elements
    constexpr double eps = 1e-5;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < C; ++c) {
        const float shift = x[c * HW];
        double s1 = 0.0, s2 = 0.0;
        for (int64_t n = 0; n < N; ++n) {
            const float* __restrict p = x + (n * C + c) * HW;
            for (int64_t i0 = 0; i0 < HW; i0 += CH) {
                const int64_t i1 = (i0 + CH < HW) ? i0 + CH : HW;
                float a = 0.0f, b = 0.0f;
#pragma omp simd reduction(+ : a, b)
                for (int64_t i = i0; i < i1; ++i) {
                    const float d = p[i] - shift;
                    a += d;
                    b += d * d;
                }
                s1 += a;
                s2 += b;
            }
        }
        constexpr double cnt = static_cast<double>(N * HW);
        const double dmean = s1 / cnt;
        const double var = s2 / cnt - dmean * dmean;
        const double mean = shift + dmean;
        const double rstd = 1.0 / std::sqrt((var > 0.0 ? var : 0.0) + eps);
        const float scale = static_cast<float>(bn_weight[c] * rstd);
        const float off = static_cast<float>(bn_bias[c] - mean * bn_weight[c] * rstd);
        for (int64_t n = 0; n < N; ++n) {
            const float* __restrict p = x + (n * C + c) * HW;
            float* __restrict q = out + (n * C + c) * HW;
#pragma omp simd
            for (int64_t i = 0; i < HW; ++i) q[i] = p[i] * scale + off;
        }
    }
}
