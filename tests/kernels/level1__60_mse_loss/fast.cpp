// Fast MSE loss: float SIMD partial sums (omp simd reduction, 16 lanes x unrolled) over 4096-element
// chunks, each chunk's sum flushed into a double accumulator (keeps fp32 error tiny);
// OpenMP reduction over chunks.
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict predictions,
    const float* __restrict targets,
    float* __restrict out) {
    constexpr int64_t n = evokernel_task::predictions_numel;
    constexpr int64_t CH = 4096;
    constexpr int64_t nch = (n + CH - 1) / CH;
    double total = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : total)
    for (int64_t c = 0; c < nch; ++c) {
        const int64_t i0 = c * CH;
        const int64_t i1 = (i0 + CH < n) ? i0 + CH : n;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int64_t i = i0; i < i1; ++i) {
            const float d = predictions[i] - targets[i];
            s += d * d;
        }
        total += s;
    }
    out[0] = static_cast<float>(total / static_cast<double>(n));
}
