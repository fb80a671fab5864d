// Fast ReLU: memory-bound, so use wide SIMD max with non-temporal (streaming) stores to skip the
// read-for-ownership of the 29 MB output; OpenMP over 64-byte aligned chunks.
#include <cstdint>
#include <immintrin.h>

extern "C" void evokernel_forward(
    const float* __restrict x,
    float* __restrict out) {
    constexpr int64_t total = evokernel_task::x_numel;
#if defined(__AVX512F__)
    constexpr int64_t VW = 16;
#else
    constexpr int64_t VW = 8;
#endif
    constexpr int64_t nvec = total / VW;
#pragma omp parallel for schedule(static)
    for (int64_t v = 0; v < nvec; ++v) {
        const int64_t i = v * VW;  // tensors are 64-byte aligned, so every vector is aligned
#if defined(__AVX512F__)
        _mm512_stream_ps(out + i, _mm512_max_ps(_mm512_load_ps(x + i), _mm512_setzero_ps()));
#else
        _mm256_stream_ps(out + i, _mm256_max_ps(_mm256_load_ps(x + i), _mm256_setzero_ps()));
#endif
    }
    for (int64_t i = nvec * VW; i < total; ++i) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
    _mm_sfence();
}
