// Naive MaxPool2d: for every output pixel scan the (dilated) kernel window, skipping padded
// positions (implicit -inf padding), general in kernel/stride/padding/dilation.
#include <cmath>
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict x,
    float* __restrict out) {
    using namespace evokernel_task;
    constexpr int64_t NC = x_shape[0] * x_shape[1];
    constexpr int64_t H = x_shape[2], W = x_shape[3];
    constexpr int64_t OH = out_shape[2], OW = out_shape[3];
    for (int64_t p = 0; p < NC; ++p) {
        const float* xp = x + p * H * W;
        for (int64_t oh = 0; oh < OH; ++oh) {
            for (int64_t ow = 0; ow < OW; ++ow) {
                float m = -INFINITY;
                for (int64_t kh = 0; kh < kernel_size; ++kh) {
                    const int64_t ih = oh * stride - padding + kh * dilation;
                    if (ih < 0 || ih >= H) continue;
                    for (int64_t kw = 0; kw < kernel_size; ++kw) {
                        const int64_t iw = ow * stride - padding + kw * dilation;
                        if (iw < 0 || iw >= W) continue;
                        const float v = xp[ih * W + iw];
                        if (v > m || std::isnan(v)) m = v;
                    }
                }
                out[(p * OH + oh) * OW + ow] = m;
            }
        }
    }
}
