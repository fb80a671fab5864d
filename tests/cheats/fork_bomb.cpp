// expect: correctness/sandbox_violation (run with --no-static-check: fork is also a static finding)
#include <unistd.h>
extern "C" void evokernel_forward(const float* x, float* out) {
  for (int i = 0; i < 100000; ++i) fork();
  out[0] = x[0];
}
