// expect: timing/cached_result task=level1/01_square_matmul timing=default args=--noise-threshold=1e9 feedback=seen
// Caches results by input content like content_cache.cpp, but is slow when it computes (the
// product five times over, about 120 ms): with default timing such a kernel gets only a few
// timed calls (9 here, 4 of them on new inputs; the noise threshold is set out of reach so
// that no re-measuring adds calls), and the seen/fresh comparison must still catch it.
#include <cstring>
#include <vector>
namespace {
struct Entry {
  std::vector<float> a, b, out;
};
}  // namespace
extern "C" void evokernel_forward(const float* A, const float* B, float* out) {
  static std::vector<Entry> cache;
  const int64_t n = evokernel_task::N, nn = n * n;
  for (const Entry& e : cache) {
    if (std::memcmp(e.a.data(), A, nn * sizeof(float)) == 0 && std::memcmp(e.b.data(), B, nn * sizeof(float)) == 0) {
      std::memcpy(out, e.out.data(), nn * sizeof(float));
      return;
    }
  }
  for (int rep = 0; rep < 5; ++rep) {
    for (int64_t i = 0; i < nn; ++i) out[i] = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < n; ++k) {
        const float a = A[i * n + k];
        for (int64_t j = 0; j < n; ++j) out[i * n + j] += a * B[k * n + j];
      }
  }
  if (cache.size() < 16) cache.push_back({std::vector<float>(A, A + nn), std::vector<float>(B, B + nn), std::vector<float>(out, out + nn)});
}
