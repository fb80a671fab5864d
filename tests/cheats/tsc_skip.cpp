// expect: correctness/wrong_answer|timing/inconsistent_result|wrong_answer task=level1/12_relu args=--no-static-check
// Reads the time-stamp counter (an instruction, not a library clock) and skips the work when it
// was called less than about 30 ms ago, as in a timing loop. With the static check on, the
// rdtsc instruction is refused (tsc_builtin.cpp); here the poisoned outputs catch it.
#include <algorithm>
extern "C" void evokernel_forward(const float* x, float* out) {
  static unsigned long long last = 0;
  unsigned long long now = __builtin_ia32_rdtsc();
  bool timing = last != 0 && now - last < 100000000ull;
  last = now;
  if (timing) return;
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f);
}
