// Fast fused matmul + bias + Swish + scale + clamp (AVX-512): W packed into 32-column panels,
// 6x32 register-tiled FMA micro-kernel over K blocks, and a fused vectorised epilogue
// (bias, numerically stable sigmoid via a Cephes-style expf of -|y|, scale, clamp) applied to each
// tile while it is still hot in L1. OpenMP over row blocks. Scalar fallback without AVX-512.
#include <cmath>
#include <cstdint>
#include <immintrin.h>

namespace {
using namespace evokernel_task;
constexpr int64_t M = batch_size, KD = in_features, N = out_features;

inline float epilogue_scalar(float acc, float b) {
    float y = acc + b;
    y = y * (1.0f / (1.0f + std::exp(-y))) * static_cast<float>(scale);
    y = y < static_cast<float>(clamp_min) ? static_cast<float>(clamp_min) : y;
    return y > static_cast<float>(clamp_max) ? static_cast<float>(clamp_max) : y;
}

#if defined(__AVX512F__)
constexpr int64_t MR = 6, NR = 32, KC = 256;
static_assert(N % NR == 0, "N must be a multiple of the 32-column panel");

inline __m512 exp512(__m512 x) {  // valid for x <= 0
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
    return _mm512_scalef_ps(y, fx);
}

inline __m512 epilogue(__m512 acc, __m512 b) {
    const __m512 y = _mm512_add_ps(acc, b);
    const __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(y)));  // exp(-|y|)
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 den = _mm512_add_ps(one, e);
    const __mmask16 pos = _mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_GE_OQ);
    const __m512 num = _mm512_mask_blend_ps(pos, e, one);   // sigmoid = (y>=0 ? 1 : e) / (1 + e)
    __m512 r = _mm512_mul_ps(_mm512_mul_ps(y, _mm512_div_ps(num, den)), _mm512_set1_ps(static_cast<float>(scale)));
    r = _mm512_max_ps(r, _mm512_set1_ps(static_cast<float>(clamp_min)));
    return _mm512_min_ps(r, _mm512_set1_ps(static_cast<float>(clamp_max)));
}
#endif
}  // namespace

extern "C" void evokernel_forward(
    const float* __restrict x,
    const float* __restrict weight,
    const float* __restrict bias,
    float* __restrict out) {
#if defined(__AVX512F__)
    constexpr int64_t NT = N / NR;
    float* Wp = static_cast<float*>(_mm_malloc(sizeof(float) * KD * N, 64));  // [k-block][tile][kc][NR]
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int64_t k0 = 0; k0 < KD; k0 += KC) {
            const int64_t kc = (KD - k0 < KC) ? KD - k0 : KC;
            for (int64_t t = 0; t < NT; ++t) {
                float* dst = Wp + k0 * N + t * kc * NR;
                for (int64_t k = 0; k < kc; ++k)
                    for (int64_t j = 0; j < NR; ++j) dst[k * NR + j] = weight[(k0 + k) * N + t * NR + j];
            }
        }
        constexpr int64_t nblocks = (M + MR - 1) / MR;
#pragma omp for schedule(static)
        for (int64_t ib = 0; ib < nblocks; ++ib) {
            const int64_t i0 = ib * MR;
            const int64_t rows = (M - i0 < MR) ? M - i0 : MR;
            const float* ar[MR];
            for (int64_t r = 0; r < MR; ++r) ar[r] = x + (i0 + (r < rows ? r : 0)) * KD;
            for (int64_t t = 0; t < NT; ++t) {
                __m512 c[MR][2];
                for (int64_t r = 0; r < MR; ++r) c[r][0] = c[r][1] = _mm512_setzero_ps();
                for (int64_t k0 = 0; k0 < KD; k0 += KC) {
                    const int64_t kc = (KD - k0 < KC) ? KD - k0 : KC;
                    const float* bp = Wp + k0 * N + t * kc * NR;
                    for (int64_t k = 0; k < kc; ++k) {
                        const __m512 b0 = _mm512_load_ps(bp + k * NR);
                        const __m512 b1 = _mm512_load_ps(bp + k * NR + 16);
                        for (int64_t r = 0; r < MR; ++r) {
                            const __m512 a = _mm512_set1_ps(ar[r][k0 + k]);
                            c[r][0] = _mm512_fmadd_ps(a, b0, c[r][0]);
                            c[r][1] = _mm512_fmadd_ps(a, b1, c[r][1]);
                        }
                    }
                }
                const __m512 bb0 = _mm512_loadu_ps(bias + t * NR), bb1 = _mm512_loadu_ps(bias + t * NR + 16);
                for (int64_t r = 0; r < rows; ++r) {
                    float* o = out + (i0 + r) * N + t * NR;
                    _mm512_storeu_ps(o, epilogue(c[r][0], bb0));
                    _mm512_storeu_ps(o + 16, epilogue(c[r][1], bb1));
                }
            }
        }
    }
    _mm_free(Wp);
#else
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < M; ++i) {
        float* o = out + i * N;
        for (int64_t j = 0; j < N; ++j) o[j] = 0.0f;
        for (int64_t k = 0; k < KD; ++k) {
            const float a = x[i * KD + k];
#pragma omp simd
            for (int64_t j = 0; j < N; ++j) o[j] += a * weight[k * N + j];
        }
        for (int64_t j = 0; j < N; ++j) o[j] = epilogue_scalar(o[j], bias[j]);
    }
#endif
}
