// EXPECT FAIL [failed_stage=correctness failure=input_modified]: pre-scales the const-cast input x in place by 2 and then convolves with 0.5 * weight -- the output is exactly right, but the read-only input has been overwritten.
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict x,
    const float* __restrict conv2d_weight,
    float* __restrict out) {
    using namespace evokernel_task;
    constexpr int64_t N = x_shape[0], IC = x_shape[1], H = x_shape[2], W = x_shape[3];
    constexpr int64_t OC = out_shape[1], OH = out_shape[2], OW = out_shape[3];
    constexpr int64_t KS = kernel_size;
    float* xs = const_cast<float*>(x);
    for (int64_t i = 0; i < x_numel; ++i) xs[i] *= 2.0f;  // bug: in place on a read-only input
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
                                acc += xs[((n * IC + ic) * H + ih) * W + iw] *
                                       (0.5f * conv2d_weight[((oc * IC + ic) * KS + kh) * KS + kw]);
                            }
                        }
                    out[((n * OC + oc) * OH + oh) * OW + ow] = acc;
                }
}
