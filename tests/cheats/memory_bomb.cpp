// expect: correctness/memory_limit task=level1/12_relu feedback=memory
#include <algorithm>
#include <vector>
extern "C" void evokernel_forward(const float* x, float* out) {
  std::vector<float> huge(size_t{25} << 30);
  huge[12345] = x[0];
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f) + huge[0];
}
