// Fast row softmax: vectorised max, a vectorised Cephes-style expf (range reduction + degree-6
// polynomial, ~1 ulp), vector sums, one multiply pass; OpenMP over rows. Needs AVX2 + FMA; plain
// scalar fallback otherwise.
#include <cmath>
#include <cstdint>
#include <immintrin.h>

#if defined(__AVX2__) && defined(__FMA__)
namespace {
// exp(x) for x <= 0 (inputs are x - rowmax), 8 lanes, AVX2 + FMA.
inline __m256 exp256(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.3365478515625f);
    x = _mm256_max_ps(x, lo);
    const __m256 log2e = _mm256_set1_ps(1.44269504088896341f);
    __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    // x - fx*ln2, split ln2 for extra precision
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 y = _mm256_set1_ps(1.9875691500E-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
    const __m256 x2 = _mm256_mul_ps(x, x);
    y = _mm256_fmadd_ps(y, x2, _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    // scale by 2^fx
    __m256i e = _mm256_cvtps_epi32(fx);
    e = _mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}
inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}
inline float hmax(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}
}  // namespace

extern "C" void evokernel_forward(
    const float* __restrict x,
    float* __restrict out) {
    constexpr int64_t rows = evokernel_task::x_shape[0];
    constexpr int64_t cols = evokernel_task::x_shape[1];
    constexpr int64_t cv = cols / 32 * 32;  // columns handled 4 vectors at a time
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * cols;
        float* orow = out + r * cols;
        // 1) max
        __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
        for (int64_t j = 0; j < cv; j += 32) {
            m0 = _mm256_max_ps(m0, _mm256_loadu_ps(xr + j));
            m1 = _mm256_max_ps(m1, _mm256_loadu_ps(xr + j + 8));
            m2 = _mm256_max_ps(m2, _mm256_loadu_ps(xr + j + 16));
            m3 = _mm256_max_ps(m3, _mm256_loadu_ps(xr + j + 24));
        }
        float m = hmax(_mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3)));
        for (int64_t j = cv; j < cols; ++j) m = xr[j] > m ? xr[j] : m;
        // 2) exp and sum
        const __m256 vm = _mm256_set1_ps(m);
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        for (int64_t j = 0; j < cv; j += 32) {
            const __m256 e0 = exp256(_mm256_sub_ps(_mm256_loadu_ps(xr + j), vm));
            const __m256 e1 = exp256(_mm256_sub_ps(_mm256_loadu_ps(xr + j + 8), vm));
            const __m256 e2 = exp256(_mm256_sub_ps(_mm256_loadu_ps(xr + j + 16), vm));
            const __m256 e3 = exp256(_mm256_sub_ps(_mm256_loadu_ps(xr + j + 24), vm));
            _mm256_storeu_ps(orow + j, e0);
            _mm256_storeu_ps(orow + j + 8, e1);
            _mm256_storeu_ps(orow + j + 16, e2);
            _mm256_storeu_ps(orow + j + 24, e3);
            s0 = _mm256_add_ps(s0, e0);
            s1 = _mm256_add_ps(s1, e1);
            s2 = _mm256_add_ps(s2, e2);
            s3 = _mm256_add_ps(s3, e3);
        }
        float sum = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
        for (int64_t j = cv; j < cols; ++j) {
            orow[j] = std::exp(xr[j] - m);
            sum += orow[j];
        }
        // 3) normalise
        const float inv = 1.0f / sum;
        const __m256 vinv = _mm256_set1_ps(inv);
        for (int64_t j = 0; j < cv; j += 8) _mm256_storeu_ps(orow + j, _mm256_mul_ps(_mm256_loadu_ps(orow + j), vinv));
        for (int64_t j = cv; j < cols; ++j) orow[j] *= inv;
    }
}
#else
extern "C" void evokernel_forward(
    const float* __restrict x,
    float* __restrict out) {
    constexpr int64_t rows = evokernel_task::x_shape[0];
    constexpr int64_t cols = evokernel_task::x_shape[1];
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * cols;
        float* orow = out + r * cols;
        float m = xr[0];
        for (int64_t j = 1; j < cols; ++j) m = xr[j] > m ? xr[j] : m;
        float sum = 0.0f;
        for (int64_t j = 0; j < cols; ++j) {
            orow[j] = std::exp(xr[j] - m);
            sum += orow[j];
        }
        const float inv = 1.0f / sum;
        for (int64_t j = 0; j < cols; ++j) orow[j] *= inv;
    }
}
#endif
