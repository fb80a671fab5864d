// EXPECT FAIL [failed_stage=compile failure=compile_error]: uses an undeclared identifier (`in_ch` instead of `in_channels`) and calls a member function on a raw pointer.
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict x,
    const float* __restrict conv2d_weight,
    float* __restrict out) {
    using namespace evokernel_task;
    for (int64_t i = 0; i < out_numel; ++i) out[i] = 0.0f;
    for (int64_t ic = 0; ic < in_ch; ++ic) {
        out[0] += x.at(ic) * conv2d_weight[ic];
    }
}
