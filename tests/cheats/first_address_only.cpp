// expect: correctness/wrong_answer task=level1/12_relu
// Correct only where its arguments were on the first call: it remembers that address and takes
// a shortcut (the previous output) whenever the argument is somewhere else.
#include <algorithm>
#include <cstring>
#include <vector>
extern "C" void evokernel_forward(const float* x, float* out) {
  static const float* first = nullptr;
  static std::vector<float> saved;
  if (!first) first = x;
  if (x != first && !saved.empty()) {
    std::memcpy(out, saved.data(), saved.size() * sizeof(float));
    return;
  }
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f);
  saved.assign(out, out + evokernel_task::out_numel);
}
