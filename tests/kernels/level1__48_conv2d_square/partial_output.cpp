// EXPECT FAIL [failed_stage=correctness failure=wrong_answer (feedback reports unwritten elements)]: computes a "valid" convolution (ignores padding) and writes a smaller, packed [N, OC, H-2, W-2] result into the front of out; the tail of out is never written.
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict x,
    const float* __restrict conv2d_weight,
    float* __restrict out) {
    using namespace evokernel_task;
    constexpr int64_t N = x_shape[0], IC = x_shape[1], H = x_shape[2], W = x_shape[3];
    constexpr int64_t OC = out_channels, KS = kernel_size;
    constexpr int64_t OH = H - KS + 1, OW = W - KS + 1;  // wrong: forgot padding
    for (int64_t n = 0; n < N; ++n)
        for (int64_t oc = 0; oc < OC; ++oc)
            for (int64_t oh = 0; oh < OH; ++oh)
                for (int64_t ow = 0; ow < OW; ++ow) {
                    float acc = 0.0f;
                    for (int64_t ic = 0; ic < IC; ++ic)
                        for (int64_t kh = 0; kh < KS; ++kh)
                            for (int64_t kw = 0; kw < KS; ++kw)
                                acc += x[((n * IC + ic) * H + oh + kh) * W + ow + kw] *
                                       conv2d_weight[((oc * IC + ic) * KS + kh) * KS + kw];
                    out[((n * OC + oc) * OH + oh) * OW + ow] = acc;
                }
}
