// EXPECT FAIL [failed_stage=compile failure=compile_error]: C++ syntax/type errors -- a missing semicolon and assigning a pointer to a float.
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict x,
    float* __restrict out) {
    for (int64_t i = 0; i < evokernel_task::x_numel; ++i) {
        float v = x + i
        out[i] = v > 0.0f ? v : 0.0f;
    }
}
