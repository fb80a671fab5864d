// expect: correctness/sandbox_violation task=level1/12_relu args=--no-static-check
#include <unistd.h>
extern "C" void evokernel_forward(const float* x, float* out) {
  for (int i = 0; i < 100000; ++i) fork();
  out[0] = x[0];
}
