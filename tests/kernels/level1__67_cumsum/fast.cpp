// Fast inclusive cumsum: in-register SIMD prefix scan of 16 floats (4 shift-and-add steps with
// valignd), then add the running carry (broadcast of the previous block's last lane). Two rows are
// scanned in lock-step so their carry chains overlap. OpenMP over row pairs. Scalar fallback.
#include <cstdint>
#include <immintrin.h>

namespace {
constexpr int64_t rows = evokernel_task::x_shape[0];
constexpr int64_t len = evokernel_task::x_shape[1];

inline void scan_row_scalar(const float* __restrict xr, float* __restrict orow) {
    float acc = 0.0f;
    for (int64_t j = 0; j < len; ++j) {
        acc += xr[j];
        orow[j] = acc;
    }
}

#if defined(__AVX512F__)
inline __m512 scan16(__m512 v) {
    const __m512i z = _mm512_setzero_si512();
    __m512i vi = _mm512_castps_si512(v);
    v = _mm512_add_ps(v, _mm512_castsi512_ps(_mm512_alignr_epi32(vi, z, 15)));  // + shift by 1
    vi = _mm512_castps_si512(v);
    v = _mm512_add_ps(v, _mm512_castsi512_ps(_mm512_alignr_epi32(vi, z, 14)));  // + shift by 2
    vi = _mm512_castps_si512(v);
    v = _mm512_add_ps(v, _mm512_castsi512_ps(_mm512_alignr_epi32(vi, z, 12)));  // + shift by 4
    vi = _mm512_castps_si512(v);
    v = _mm512_add_ps(v, _mm512_castsi512_ps(_mm512_alignr_epi32(vi, z, 8)));   // + shift by 8
    return v;
}
#endif
}  // namespace

extern "C" void evokernel_forward(
    const float* __restrict x,
    float* __restrict out) {
#if defined(__AVX512F__)
    constexpr int64_t lv = len / 16 * 16;
    constexpr int64_t pairs = rows / 2;
    const __m512i last = _mm512_set1_epi32(15);
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < pairs; ++p) {
        const float* xa = x + (2 * p) * len;
        const float* xb = xa + len;
        float* oa = out + (2 * p) * len;
        float* ob = oa + len;
        __m512 ca = _mm512_setzero_ps(), cb = _mm512_setzero_ps();
        for (int64_t j = 0; j < lv; j += 16) {
            const __m512 sa = _mm512_add_ps(scan16(_mm512_loadu_ps(xa + j)), ca);
            const __m512 sb = _mm512_add_ps(scan16(_mm512_loadu_ps(xb + j)), cb);
            _mm512_storeu_ps(oa + j, sa);
            _mm512_storeu_ps(ob + j, sb);
            ca = _mm512_permutexvar_ps(last, sa);
            cb = _mm512_permutexvar_ps(last, sb);
        }
        float ra = _mm512_cvtss_f32(ca), rb = _mm512_cvtss_f32(cb);
        for (int64_t j = lv; j < len; ++j) {
            ra += xa[j]; oa[j] = ra;
            rb += xb[j]; ob[j] = rb;
        }
    }
    if (rows % 2) scan_row_scalar(x + (rows - 1) * len, out + (rows - 1) * len);
#else
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) scan_row_scalar(x + r * len, out + r * len);
#endif
}
