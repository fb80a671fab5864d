// expect: check/anti_cheat task=level1/12_relu feedback=thread
// Returns at once and finishes the work on a detached thread.
#include <algorithm>
#include <thread>
extern "C" void evokernel_forward(const float* x, float* out) {
  std::thread([x, out] {
    for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f);
  }).detach();
}
