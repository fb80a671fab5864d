// A correct but deliberately slow ReLU (tests use it as the start point a refinement must beat):
// elements are visited with a stride of one cache line, so every line of the 28 MiB input and
// output is fetched from memory 16 times. Several times slower than naive.cpp on any machine,
// whatever its vector width.
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict x,
    float* __restrict out) {
    constexpr int64_t n = evokernel_task::x_numel;
    constexpr int64_t stride = 16;  // floats per 64-byte line
    for (int64_t j = 0; j < stride; ++j)
        for (int64_t i = j; i < n; i += stride) {
            const float v = x[i];
            out[i] = v > 0.0f ? v : 0.0f;
        }
}
