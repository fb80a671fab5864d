// Fast argmax over dim 1: walk the reduced dim row by row (contiguous K-wide rows), keeping a
// K-wide running max and int32 index in local buffers updated with a branch-free SIMD select;
// strict '>' keeps the first maximal index like torch. OpenMP over the batch.
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict x,
    int64_t* __restrict out) {
    using namespace evokernel_task;
    constexpr int64_t B = x_shape[0], R = x_shape[1], K = x_shape[2];
    static_assert(R < (int64_t(1) << 31), "int32 index buffer");
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; ++b) {
        alignas(64) float best[K];
        alignas(64) int32_t idx[K];
        const float* __restrict xb = x + b * R * K;
#pragma omp simd
        for (int64_t k = 0; k < K; ++k) {
            best[k] = xb[k];
            idx[k] = 0;
        }
        for (int64_t j = 1; j < R; ++j) {
            const float* __restrict xr = xb + j * K;
            const int32_t jj = static_cast<int32_t>(j);
#pragma omp simd aligned(best, idx : 64)
            for (int64_t k = 0; k < K; ++k) {
                const bool gt = xr[k] > best[k];
                best[k] = gt ? xr[k] : best[k];
                idx[k] = gt ? jj : idx[k];
            }
        }
        for (int64_t k = 0; k < K; ++k) out[b * K + k] = idx[k];
    }
}
