// Naive MSE loss: mean((p - t)^2) over all elements, one sequential double accumulator.
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict predictions,
    const float* __restrict targets,
    float* __restrict out) {
    constexpr int64_t n = evokernel_task::predictions_numel;
    double acc = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        const double d = static_cast<double>(predictions[i]) - static_cast<double>(targets[i]);
        acc += d * d;
    }
    out[0] = static_cast<float>(acc / n);
}
