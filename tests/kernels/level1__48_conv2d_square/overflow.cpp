// EXPECT FAIL [failed_stage=correctness failure=output_overflow]: correct convolution, but then zero-initialises "one extra row" -- 64 floats past the end of out (out[out_numel .. out_numel + 63]).
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict x,
    const float* __restrict conv2d_weight,
    float* __restrict out) {
    using namespace evokernel_task;
    constexpr int64_t N = x_shape[0], IC = x_shape[1], H = x_shape[2], W = x_shape[3];
    constexpr int64_t OC = out_shape[1], OH = out_shape[2], OW = out_shape[3];
    constexpr int64_t KS = kernel_size;
    for (int64_t i = 0; i < out_numel + 64; ++i) out[i] = 0.0f;  // bug: + 64
    for (int64_t n = 0; n < N; ++n)
        for (int64_t oc = 0; oc < OC; ++oc)
            for (int64_t ic = 0; ic < IC; ++ic)
                for (int64_t kh = 0; kh < KS; ++kh)
                    for (int64_t kw = 0; kw < KS; ++kw) {
                        const float wv = conv2d_weight[((oc * IC + ic) * KS + kh) * KS + kw];
                        for (int64_t oh = 0; oh < OH; ++oh) {
                            const int64_t ih = oh - padding + kh;
                            if (ih < 0 || ih >= H) continue;
                            for (int64_t ow = 0; ow < OW; ++ow) {
                                const int64_t iw = ow - padding + kw;
                                if (iw < 0 || iw >= W) continue;
                                out[((n * OC + oc) * OH + oh) * OW + ow] += wv * x[((n * IC + ic) * H + ih) * W + iw];
                            }
                        }
                    }
}
