// Naive fused matmul + bias + Swish + scale + clamp: y = x @ W + b (i-j-k loops),
// then y * sigmoid(y) * scale clamped to [clamp_min, clamp_max], element by element.
#include <cmath>
#include <cstdint>

extern "C" void evokernel_forward(
    const float* __restrict x,
    const float* __restrict weight,
    const float* __restrict bias,
    float* __restrict out) {
    using namespace evokernel_task;
    constexpr int64_t M = batch_size, KD = in_features, N = out_features;
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            float acc = 0.0f;
            for (int64_t k = 0; k < KD; ++k) acc += x[i * KD + k] * weight[k * N + j];
            float y = acc + bias[j];
            y = y * (1.0f / (1.0f + std::exp(-y)));
            y = y * static_cast<float>(scale);
            if (y < static_cast<float>(clamp_min)) y = static_cast<float>(clamp_min);
            if (y > static_cast<float>(clamp_max)) y = static_cast<float>(clamp_max);
            out[i * N + j] = y;
        }
}
