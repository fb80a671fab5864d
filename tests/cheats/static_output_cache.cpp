// expect: correctness/wrong_answer task=level1/12_relu
// Computes once, then returns the stored result on every later call (stale memory).
#include <algorithm>
#include <cstring>
#include <vector>
extern "C" void evokernel_forward(const float* x, float* out) {
  static std::vector<float> saved;
  if (saved.empty()) {
    saved.resize(evokernel_task::out_numel);
    for (int64_t i = 0; i < evokernel_task::out_numel; ++i) saved[i] = std::max(x[i], 0.0f);
  }
  std::memcpy(out, saved.data(), saved.size() * sizeof(float));
}
