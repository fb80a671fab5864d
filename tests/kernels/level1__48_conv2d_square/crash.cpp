// EXPECT FAIL [failed_stage=correctness failure=runtime_error (SIGSEGV)]: accumulates into a scratch buffer pointer that is null (read through a volatile so the compiler keeps the faulting store).
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict x,
    const float* __restrict conv2d_weight,
    float* __restrict out) {
    using namespace evokernel_task;
    float* volatile scratch = nullptr;  // "padded input buffer" that was never allocated
    constexpr int64_t PH = height + 2 * padding, PW = width + 2 * padding;
    for (int64_t i = 0; i < x_shape[0] * in_channels * PH * PW; ++i) scratch[i] = 0.0f;
    for (int64_t i = 0; i < out_numel; ++i) out[i] = x[i % x_numel] * conv2d_weight[0];
}
