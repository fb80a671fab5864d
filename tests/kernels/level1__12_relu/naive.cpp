// Naive ReLU: out[i] = max(x[i], 0), one element at a time.
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict x,
    float* __restrict out) {
    for (int64_t i = 0; i < evokernel_task::x_numel; ++i) {
        const float v = x[i];
        out[i] = v > 0.0f ? v : 0.0f;
    }
}
