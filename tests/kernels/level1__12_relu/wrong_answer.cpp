// EXPECT FAIL [failed_stage=correctness failure=wrong_answer]: computes LeakyReLU with slope 0.1 instead of ReLU, so every negative input gives -0.1*|x| instead of 0.
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict x,
    float* __restrict out) {
    for (int64_t i = 0; i < evokernel_task::x_numel; ++i) {
        const float v = x[i];
        out[i] = v > 0.0f ? v : 0.1f * v;
    }
}
