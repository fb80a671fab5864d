// Fast scaled dot-product attention (AVX-512): per (batch, head) K is transposed into a [D][SK]
// scratch so QK^T is a broadcast-FMA GEMM; 4 queries x 64 keys (16 zmm accumulators) per tile;
// a vectorised Cephes-style expf for the softmax; P@V as broadcast-FMA over 4 queries x 64 dims.
// OpenMP over (batch*head, query block). Plain scalar fallback without AVX-512.
#include <cmath>
#include <cstdint>
#include <immintrin.h>

namespace {
using namespace evokernel_task;
constexpr int64_t BH = Q_shape[0] * Q_shape[1];
constexpr int64_t S = Q_shape[2];
constexpr int64_t SK = K_shape[2];
constexpr int64_t D = Q_shape[3];
constexpr int64_t QB = 4;  // queries per tile

#if defined(__AVX512F__)
inline __m512 exp512(__m512 x) {  // valid for x <= 0 (max-subtracted scores)
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.3365478515625f));
    const __m512 fx = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), x);
    __m512 y = _mm512_set1_ps(1.9875691500E-4f);
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.3981999507E-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(8.3334519073E-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(4.1665795894E-2f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.6666665459E-1f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(5.0000001201E-1f));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(x, x), _mm512_add_ps(x, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(y, fx);  // y * 2^fx
}
#endif
}  // namespace

extern "C" void evokernel_forward(
    const float* __restrict Q,
    const float* __restrict K,
    const float* __restrict V,
    float* __restrict out) {
    const float scale = 1.0f / std::sqrt(static_cast<float>(D));
#if defined(__AVX512F__)
    static_assert(SK % 64 == 0 && D == 64 && S % QB == 0, "tiling assumes D = 64, SK % 64 == 0");
    constexpr int64_t nqb = S / QB;
#pragma omp parallel
    {
        alignas(64) float kt[D * SK];   // K^T of the current head
        alignas(64) float p[QB][SK];    // scores / probabilities of the current query block
        int64_t cur_bh = -1;
#pragma omp for schedule(static)
        for (int64_t t = 0; t < BH * nqb; ++t) {
            const int64_t bh = t / nqb, i0 = (t % nqb) * QB;
            const float* q = Q + (bh * S + i0) * D;
            const float* v = V + bh * SK * D;
            if (bh != cur_bh) {
                const float* k = K + bh * SK * D;
                for (int64_t j = 0; j < SK; ++j)
                    for (int64_t d = 0; d < D; ++d) kt[d * SK + j] = k[j * D + d];
                cur_bh = bh;
            }
            // scores: p[r][j] = scale * sum_d q[r][d] * kt[d][j]
            for (int64_t j0 = 0; j0 < SK; j0 += 64) {
                __m512 acc[QB][4];
                for (int r = 0; r < QB; ++r)
                    for (int u = 0; u < 4; ++u) acc[r][u] = _mm512_setzero_ps();
                for (int64_t d = 0; d < D; ++d) {
                    const float* kr = kt + d * SK + j0;
                    const __m512 k0 = _mm512_load_ps(kr), k1 = _mm512_load_ps(kr + 16);
                    const __m512 k2 = _mm512_load_ps(kr + 32), k3 = _mm512_load_ps(kr + 48);
                    for (int r = 0; r < QB; ++r) {
                        const __m512 qv = _mm512_set1_ps(q[r * D + d]);
                        acc[r][0] = _mm512_fmadd_ps(qv, k0, acc[r][0]);
                        acc[r][1] = _mm512_fmadd_ps(qv, k1, acc[r][1]);
                        acc[r][2] = _mm512_fmadd_ps(qv, k2, acc[r][2]);
                        acc[r][3] = _mm512_fmadd_ps(qv, k3, acc[r][3]);
                    }
                }
                const __m512 vs = _mm512_set1_ps(scale);
                for (int r = 0; r < QB; ++r)
                    for (int u = 0; u < 4; ++u) _mm512_store_ps(&p[r][j0 + 16 * u], _mm512_mul_ps(acc[r][u], vs));
            }
            // softmax numerators and row sums
            float inv[QB];
            for (int r = 0; r < QB; ++r) {
                __m512 m = _mm512_set1_ps(-INFINITY);
                for (int64_t j = 0; j < SK; j += 16) m = _mm512_max_ps(m, _mm512_load_ps(&p[r][j]));
                const __m512 vm = _mm512_set1_ps(_mm512_reduce_max_ps(m));
                __m512 s = _mm512_setzero_ps();
                for (int64_t j = 0; j < SK; j += 16) {
                    const __m512 e = exp512(_mm512_sub_ps(_mm512_load_ps(&p[r][j]), vm));
                    _mm512_store_ps(&p[r][j], e);
                    s = _mm512_add_ps(s, e);
                }
                inv[r] = 1.0f / _mm512_reduce_add_ps(s);
            }
            // out[r][:] = inv[r] * sum_j p[r][j] * v[j][:]
            __m512 o[QB][4];
            for (int r = 0; r < QB; ++r)
                for (int u = 0; u < 4; ++u) o[r][u] = _mm512_setzero_ps();
            for (int64_t j = 0; j < SK; ++j) {
                const float* vr = v + j * D;
                const __m512 v0 = _mm512_loadu_ps(vr), v1 = _mm512_loadu_ps(vr + 16);
                const __m512 v2 = _mm512_loadu_ps(vr + 32), v3 = _mm512_loadu_ps(vr + 48);
                for (int r = 0; r < QB; ++r) {
                    const __m512 pv = _mm512_set1_ps(p[r][j]);
                    o[r][0] = _mm512_fmadd_ps(pv, v0, o[r][0]);
                    o[r][1] = _mm512_fmadd_ps(pv, v1, o[r][1]);
                    o[r][2] = _mm512_fmadd_ps(pv, v2, o[r][2]);
                    o[r][3] = _mm512_fmadd_ps(pv, v3, o[r][3]);
                }
            }
            for (int r = 0; r < QB; ++r) {
                float* orow = out + (bh * S + i0 + r) * D;
                const __m512 vi = _mm512_set1_ps(inv[r]);
                for (int u = 0; u < 4; ++u) _mm512_storeu_ps(orow + 16 * u, _mm512_mul_ps(o[r][u], vi));
            }
        }
    }
#else
#pragma omp parallel for schedule(static)
    for (int64_t row = 0; row < BH * S; ++row) {
        const int64_t bh = row / S;
        const float* q = Q + row * D;
        const float* k = K + bh * SK * D;
        const float* v = V + bh * SK * D;
        float p[SK];
        float m = -INFINITY;
        for (int64_t j = 0; j < SK; ++j) {
            float dot = 0.0f;
            for (int64_t d = 0; d < D; ++d) dot += q[d] * k[j * D + d];
            p[j] = dot * scale;
            m = p[j] > m ? p[j] : m;
        }
        float sum = 0.0f;
        for (int64_t j = 0; j < SK; ++j) { p[j] = std::exp(p[j] - m); sum += p[j]; }
        float o[D] = {};
        for (int64_t j = 0; j < SK; ++j)
            for (int64_t d = 0; d < D; ++d) o[d] += p[j] * v[j * D + d];
        for (int64_t d = 0; d < D; ++d) out[row * D + d] = o[d] / sum;
    }
#endif
}
