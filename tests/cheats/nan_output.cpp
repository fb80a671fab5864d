// expect: correctness/wrong_answer task=level1/12_relu feedback=NaN
// NaN everywhere: passes any check of the form "fail if |diff| > tol".
#include <limits>
extern "C" void evokernel_forward(const float*, float* out) {
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::numeric_limits<float>::quiet_NaN();
}
