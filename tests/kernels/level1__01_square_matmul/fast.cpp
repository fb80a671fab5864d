// Fast square matmul: K- and N-blocked with packed B panels and a 6x(2 vectors) register-tiled
// FMA micro-kernel (AVX-512 when available, else AVX2), OpenMP over row blocks.
#include <cstdint>
#include <immintrin.h>

namespace {
constexpr int64_t n = evokernel_task::N;
#if defined(__AVX512F__)
constexpr int64_t VW = 16;
typedef __m512 vec;
inline vec vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, vec v) { _mm512_storeu_ps(p, v); }
inline vec vbcast(const float* p) { return _mm512_set1_ps(*p); }
inline vec vfma(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
inline vec vadd(vec a, vec b) { return _mm512_add_ps(a, b); }
inline vec vzero() { return _mm512_setzero_ps(); }
#else
constexpr int64_t VW = 8;
typedef __m256 vec;
inline vec vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, vec v) { _mm256_storeu_ps(p, v); }
inline vec vbcast(const float* p) { return _mm256_broadcast_ss(p); }
inline vec vfma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
inline vec vadd(vec a, vec b) { return _mm256_add_ps(a, b); }
inline vec vzero() { return _mm256_setzero_ps(); }
#endif
constexpr int64_t MR = 6;        // rows per micro tile
constexpr int64_t NR = 2 * VW;   // columns per micro tile
constexpr int64_t KC = 256;      // k block
constexpr int64_t NTILES = n / NR;             // full column tiles
constexpr int64_t NFULL = NTILES * NR;

// C[rows x NR] (+)= A[rows, 0:kc] * Bp, Bp packed as kc rows of NR contiguous floats.
inline void micro(const float* a, const float* bp, int64_t kc, float* c, int64_t rows, bool first) {
    const float* ar[MR];
    for (int64_t r = 0; r < MR; ++r) ar[r] = a + (r < rows ? r : 0) * n;
    vec c00 = vzero(), c01 = vzero(), c10 = vzero(), c11 = vzero(), c20 = vzero(), c21 = vzero();
    vec c30 = vzero(), c31 = vzero(), c40 = vzero(), c41 = vzero(), c50 = vzero(), c51 = vzero();
    for (int64_t k = 0; k < kc; ++k) {
        const vec b0 = vload(bp + k * NR);
        const vec b1 = vload(bp + k * NR + VW);
        vec x;
        x = vbcast(ar[0] + k); c00 = vfma(x, b0, c00); c01 = vfma(x, b1, c01);
        x = vbcast(ar[1] + k); c10 = vfma(x, b0, c10); c11 = vfma(x, b1, c11);
        x = vbcast(ar[2] + k); c20 = vfma(x, b0, c20); c21 = vfma(x, b1, c21);
        x = vbcast(ar[3] + k); c30 = vfma(x, b0, c30); c31 = vfma(x, b1, c31);
        x = vbcast(ar[4] + k); c40 = vfma(x, b0, c40); c41 = vfma(x, b1, c41);
        x = vbcast(ar[5] + k); c50 = vfma(x, b0, c50); c51 = vfma(x, b1, c51);
    }
    const vec acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    for (int64_t r = 0; r < rows; ++r) {
        float* cr = c + r * n;
        if (first) {
            vstore(cr, acc[r][0]);
            vstore(cr + VW, acc[r][1]);
        } else {
            vstore(cr, vadd(vload(cr), acc[r][0]));
            vstore(cr + VW, vadd(vload(cr + VW), acc[r][1]));
        }
    }
}
}  // namespace

extern "C" void evokernel_forward(
    const float* __restrict A,
    const float* __restrict B,
    float* __restrict out) {
    // Packed copy of B: for each k block, for each column tile, kc x NR contiguous floats.
    static_assert(NFULL > 0, "matrix narrower than one micro tile");
    float* Bp = static_cast<float*>(_mm_malloc(sizeof(float) * n * NFULL, 64));
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int64_t k0 = 0; k0 < n; k0 += KC) {
            const int64_t kc = (n - k0 < KC) ? n - k0 : KC;
            for (int64_t t = 0; t < NTILES; ++t) {
                float* dst = Bp + k0 * NFULL + t * kc * NR;
                for (int64_t k = 0; k < kc; ++k)
                    for (int64_t j = 0; j < NR; ++j) dst[k * NR + j] = B[(k0 + k) * n + t * NR + j];
            }
        }
        // (implicit barrier)
        constexpr int64_t nblocks = (n + MR - 1) / MR;
#pragma omp for schedule(static)
        for (int64_t ib = 0; ib < nblocks; ++ib) {
            const int64_t i0 = ib * MR;
            const int64_t rows = (n - i0 < MR) ? n - i0 : MR;
            for (int64_t k0 = 0; k0 < n; k0 += KC) {
                const int64_t kc = (n - k0 < KC) ? n - k0 : KC;
                for (int64_t t = 0; t < NTILES; ++t)
                    micro(A + i0 * n + k0, Bp + k0 * NFULL + t * kc * NR, kc, out + i0 * n + t * NR, rows, k0 == 0);
            }
            // leftover columns (none when n is a multiple of NR)
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t j = NFULL; j < n; ++j) {
                    float acc = 0.0f;
                    for (int64_t k = 0; k < n; ++k) acc += A[(i0 + r) * n + k] * B[k * n + j];
                    out[(i0 + r) * n + j] = acc;
                }
        }
    }
    _mm_free(Bp);
}
