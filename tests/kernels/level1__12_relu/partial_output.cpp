// EXPECT FAIL [failed_stage=correctness failure=wrong_answer (feedback reports unwritten elements)]: only the first half of the output is written (loop bound numel / 2), the second half keeps whatever garbage was there.
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict x,
    float* __restrict out) {
    for (int64_t i = 0; i < evokernel_task::out_numel / 2; ++i) {
        const float v = x[i];
        out[i] = v > 0.0f ? v : 0.0f;
    }
}
