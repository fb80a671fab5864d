// EXPECT FAIL [failed_stage=compile failure=compile_error]: evokernel_forward omits the conv2d_weight argument (x, out only), conflicting with the extern "C" declaration in the contract header.
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict x,
    float* __restrict out) {
    using namespace evokernel_task;
    for (int64_t i = 0; i < out_numel; ++i) out[i] = x[i % x_numel];
}
