// EXPECT FAIL [failed_stage=correctness failure=input_modified]: applies ReLU in place to the const-cast input x and then copies it to out; the output is correct but the read-only input has been overwritten.
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict x,
    float* __restrict out) {
    float* xm = const_cast<float*>(x);
    for (int64_t i = 0; i < evokernel_task::x_numel; ++i) {
        if (xm[i] < 0.0f) xm[i] = 0.0f;
        out[i] = xm[i];
    }
}
