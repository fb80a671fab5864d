// EXPECT FAIL [failed_stage=correctness failure=runtime_error (SIGSEGV)]: dereferences a null pointer read through a volatile variable (so the compiler cannot turn it into a trap or drop it); evokernel itself must survive and report the crash.
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict x,
    float* __restrict out) {
    float* volatile scratch = nullptr;  // "forgot to allocate the scratch buffer"
    for (int64_t i = 0; i < evokernel_task::x_numel; ++i) {
        const float v = x[i];
        scratch[i] = v;
        out[i] = v > 0.0f ? v : 0.0f;
    }
}
