// Fast MaxPool2d (3x3, stride 2, pad 1 specialised): per output row, a vectorised vertical max of
// the 3 contributing input rows into a -inf padded line buffer, then a stride-2 horizontal max
// of 3 neighbours (omp simd). OpenMP over (n, c) planes. (NaN-free inputs assumed.)
#include <cmath>
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict x,
    float* __restrict out) {
    using namespace evokernel_task;
    static_assert(kernel_size == 3 && stride == 2 && padding == 1 && dilation == 1,
                  "fast path is specialised for k3 s2 p1 d1");
    constexpr int64_t NC = x_shape[0] * x_shape[1];
    constexpr int64_t H = x_shape[2], W = x_shape[3];
    constexpr int64_t OH = out_shape[2], OW = out_shape[3];
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < NC; ++p) {
        alignas(64) float line[W + 2 * 16];
        float* row = line + 16;  // row[-1] and row[W..] are padding
        row[-1] = -INFINITY;
        for (int64_t j = W; j < W + 16; ++j) row[j] = -INFINITY;
        const float* xp = x + p * H * W;
        float* op = out + p * OH * OW;
        for (int64_t oh = 0; oh < OH; ++oh) {
            const int64_t ih0 = oh * 2 - 1;
            const float* r0 = xp + (ih0 < 0 ? ih0 + 1 : ih0) * W;           // clamp: duplicates a valid row
            const float* r1 = xp + (ih0 + 1) * W;
            const float* r2 = xp + (ih0 + 2 < H ? ih0 + 2 : ih0 + 1) * W;   // (max is idempotent)
#pragma omp simd aligned(row : 64)
            for (int64_t j = 0; j < W; ++j) {
                const float a = r0[j] > r1[j] ? r0[j] : r1[j];
                row[j] = a > r2[j] ? a : r2[j];
            }
            float* o = op + oh * OW;
#pragma omp simd
            for (int64_t ow = 0; ow < OW; ++ow) {
                const float a = row[2 * ow - 1], b = row[2 * ow], c = row[2 * ow + 1];
                const float m = a > b ? a : b;
                o[ow] = m > c ? m : c;
            }
        }
    }
}
