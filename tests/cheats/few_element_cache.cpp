// expect: timing/cached_result|inconsistent_result|wrong_answer task=level1/01_square_matmul feedback=while
// A result cache keyed on four input elements: it hits whenever those elements repeat, so it
// would hit on inputs perturbed elsewhere. Timed calls run on whole new input sets (and are
// checked), so it is either slow on new inputs or wrong on them.
#include <cstring>
#include <vector>
namespace {
struct Entry {
  float key[4];
  std::vector<float> out;
};
}  // namespace
extern "C" void evokernel_forward(const float* A, const float* B, float* out) {
  static std::vector<Entry> cache;
  const int64_t n = evokernel_task::N, nn = n * n;
  const float key[4] = {A[0], A[nn / 2], B[1], B[nn - 1]};
  for (const Entry& e : cache)
    if (std::memcmp(e.key, key, sizeof key) == 0) {
      std::memcpy(out, e.out.data(), nn * sizeof(float));
      return;
    }
  for (int64_t i = 0; i < nn; ++i) out[i] = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < n; ++k) {
      const float a = A[i * n + k];
      for (int64_t j = 0; j < n; ++j) out[i * n + j] += a * B[k * n + j];
    }
  Entry e;
  std::memcpy(e.key, key, sizeof key);
  e.out.assign(out, out + nn);
  if (cache.size() < 64) cache.push_back(std::move(e));
}
