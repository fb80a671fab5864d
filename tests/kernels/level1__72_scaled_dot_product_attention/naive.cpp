// Naive scaled dot-product attention: for every (batch, head, query) row, scores = q.k_j / sqrt(d),
// softmax over keys (max-subtracted, scalar std::exp), then out = sum_j p_j * v_j.
#include <cmath>
#include <cstdint>
#include <vector>

extern "C" void evokernel_forward(
    const float* __restrict Q,
    const float* __restrict K,
    const float* __restrict V,
    float* __restrict out) {
    using namespace evokernel_task;
    constexpr int64_t BH = Q_shape[0] * Q_shape[1];
    constexpr int64_t S = Q_shape[2];    // queries
    constexpr int64_t SK = K_shape[2];   // keys
    constexpr int64_t D = Q_shape[3];
    const float scale = 1.0f / std::sqrt(static_cast<float>(D));
    std::vector<float> p(SK);
    for (int64_t bh = 0; bh < BH; ++bh) {
        const float* q = Q + bh * S * D;
        const float* k = K + bh * SK * D;
        const float* v = V + bh * SK * D;
        float* o = out + bh * S * D;
        for (int64_t i = 0; i < S; ++i) {
            float m = -INFINITY;
            for (int64_t j = 0; j < SK; ++j) {
                float dot = 0.0f;
                for (int64_t d = 0; d < D; ++d) dot += q[i * D + d] * k[j * D + d];
                p[j] = dot * scale;
                if (p[j] > m) m = p[j];
            }
            float sum = 0.0f;
            for (int64_t j = 0; j < SK; ++j) {
                p[j] = std::exp(p[j] - m);
                sum += p[j];
            }
            for (int64_t d = 0; d < D; ++d) {
                float acc = 0.0f;
                for (int64_t j = 0; j < SK; ++j) acc += p[j] * v[j * D + d];
                o[i * D + d] = acc / sum;
            }
        }
    }
}
