// EXPECT FAIL [failed_stage=correctness failure=output_overflow]: the loop runs to out_numel + 64, writing 64 floats past the end of the output (the values inside bounds are correct).
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict x,
    float* __restrict out) {
    constexpr int64_t n = evokernel_task::out_numel;
    for (int64_t i = 0; i < n + 64; ++i) {
        const float v = i < n ? x[i] : 0.0f;
        out[i] = v > 0.0f ? v : 0.0f;
    }
}
