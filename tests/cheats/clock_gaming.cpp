// expect: check/anti_cheat task=level1/12_relu feedback=chrono
// Detects back-to-back timed calls and skips work on them.
#include <algorithm>
#include <chrono>
extern "C" void evokernel_forward(const float* x, float* out) {
  static auto last = std::chrono::steady_clock::now();
  auto now = std::chrono::steady_clock::now();
  bool timing = now - last < std::chrono::milliseconds(50);
  last = now;
  if (timing) return;
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f);
}
