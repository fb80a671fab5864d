// expect: correctness/too_many_threads task=level1/12_relu args=--no-static-check
// Returns a correct output, then keeps modifying it from a detached thread: the thread cannot even be
// started (every thread beyond the granted ones is refused at creation), so the late write never happens.
#include <algorithm>
#include <thread>
#include <unistd.h>
extern "C" void evokernel_forward(const float* x, float* out) {
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f);
  std::thread([out] {
    usleep(500);
    out[0] += 1.0f;
  }).detach();
}
