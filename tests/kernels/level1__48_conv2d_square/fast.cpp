// Fast Conv2d (stride 1, dilation 1, "same" padding): copy each image into a zero-padded buffer so
// the inner loops have no bounds checks, then a register-tiled AVX-512 micro-kernel computing
// 4 output channels x one 64-wide output row (16 zmm accumulators) per step:
// per (ic, kh, kw) 4 input-row loads, 4 weight broadcasts, 16 FMAs. OpenMP over (n, oc block).
// Falls back to a scalar direct convolution when AVX-512 is unavailable.
#include <cstdint>
#include <cstring>
#include <immintrin.h>

extern "C" void evokernel_forward(
    const float* __restrict x,
    const float* __restrict conv2d_weight,
    float* __restrict out) {
    using namespace evokernel_task;
    constexpr int64_t N = x_shape[0], IC = x_shape[1], H = x_shape[2], W = x_shape[3];
    constexpr int64_t OC = out_shape[1], OH = out_shape[2], OW = out_shape[3];
    constexpr int64_t KS = kernel_size;
    static_assert(stride == 1 && dilation == 1 && groups == 1 && OH == H && OW == W, "same conv only");
    constexpr int64_t PH = H + 2 * padding;
    constexpr int64_t PW = (W + 2 * padding + 15) / 16 * 16;  // padded row pitch
    const float* __restrict w = conv2d_weight;
#if defined(__AVX512F__)
    static_assert(OW % 16 == 0 && OW / 16 == 4 && OC % 4 == 0, "tile assumes 64-wide rows, OC % 4 == 0");
    constexpr int64_t OCB = 4;
    float* xpad = static_cast<float*>(_mm_malloc(sizeof(float) * N * IC * PH * PW, 64));
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int64_t p = 0; p < N * IC; ++p) {
            float* dst = xpad + p * PH * PW;
            std::memset(dst, 0, sizeof(float) * PH * PW);
            for (int64_t h = 0; h < H; ++h)
                std::memcpy(dst + (h + padding) * PW + padding, x + (p * H + h) * W, sizeof(float) * W);
        }
#pragma omp for schedule(static) collapse(2)
        for (int64_t n = 0; n < N; ++n)
            for (int64_t ocb = 0; ocb < OC / OCB; ++ocb) {
                const int64_t oc0 = ocb * OCB;
                for (int64_t oh = 0; oh < OH; ++oh) {
                    __m512 acc[OCB][4];
                    for (int64_t o = 0; o < OCB; ++o)
                        for (int64_t v = 0; v < 4; ++v) acc[o][v] = _mm512_setzero_ps();
                    for (int64_t ic = 0; ic < IC; ++ic) {
                        const float* xin = xpad + (n * IC + ic) * PH * PW + oh * PW;
                        const float* wk = w + (oc0 * IC + ic) * KS * KS;
                        for (int64_t kh = 0; kh < KS; ++kh)
                            for (int64_t kw = 0; kw < KS; ++kw) {
                                const float* r = xin + kh * PW + kw;
                                const __m512 i0 = _mm512_loadu_ps(r), i1 = _mm512_loadu_ps(r + 16);
                                const __m512 i2 = _mm512_loadu_ps(r + 32), i3 = _mm512_loadu_ps(r + 48);
                                for (int64_t o = 0; o < OCB; ++o) {
                                    const __m512 wv = _mm512_set1_ps(wk[o * IC * KS * KS + kh * KS + kw]);
                                    acc[o][0] = _mm512_fmadd_ps(wv, i0, acc[o][0]);
                                    acc[o][1] = _mm512_fmadd_ps(wv, i1, acc[o][1]);
                                    acc[o][2] = _mm512_fmadd_ps(wv, i2, acc[o][2]);
                                    acc[o][3] = _mm512_fmadd_ps(wv, i3, acc[o][3]);
                                }
                            }
                    }
                    for (int64_t o = 0; o < OCB; ++o) {
                        float* orow = out + ((n * OC + oc0 + o) * OH + oh) * OW;
                        for (int64_t v = 0; v < 4; ++v) _mm512_storeu_ps(orow + 16 * v, acc[o][v]);
                    }
                }
            }
    }
    _mm_free(xpad);
#else
    (void)PH; (void)PW;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t n = 0; n < N; ++n)
        for (int64_t oc = 0; oc < OC; ++oc)
            for (int64_t oh = 0; oh < OH; ++oh)
                for (int64_t ow = 0; ow < OW; ++ow) {
                    float acc = 0.0f;
                    for (int64_t ic = 0; ic < IC; ++ic)
                        for (int64_t kh = 0; kh < KS; ++kh) {
                            const int64_t ih = oh - padding + kh;
                            if (ih < 0 || ih >= H) continue;
                            for (int64_t kw = 0; kw < KS; ++kw) {
                                const int64_t iw = ow - padding + kw;
                                if (iw < 0 || iw >= W) continue;
                                acc += x[((n * IC + ic) * H + ih) * W + iw] * w[((oc * IC + ic) * KS + kh) * KS + kw];
                            }
                        }
                    out[((n * OC + oc) * OH + oh) * OW + ow] = acc;
                }
#endif
}
