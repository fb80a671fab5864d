// EXPECT FAIL [failed_stage=compile failure=compile_error]: evokernel_forward is defined without the `out` argument, which conflicts with the extern "C" declaration in the force-included contract header.
#include <cstdint>

static float g_scratch[evokernel_task::x_numel];

extern "C" void evokernel_forward(
    const float* __restrict x) {
    for (int64_t i = 0; i < evokernel_task::x_numel; ++i) {
        const float v = x[i];
        g_scratch[i] = v > 0.0f ? v : 0.0f;
    }
}
