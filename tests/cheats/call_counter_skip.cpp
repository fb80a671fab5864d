// expect: timing/inconsistent_result|wrong_answer task=level1/12_relu feedback=unwritten
// Counts its calls: correct for the first ones (the correctness trials), then returns without
// writing anything, hoping the outputs of the previous call are still there. Outputs are
// poisoned before every call and sampled after every one.
#include <algorithm>
extern "C" void evokernel_forward(const float* x, float* out) {
  static int calls = 0;
  if (++calls > 8) return;
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f);
}
