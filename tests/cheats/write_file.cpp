// expect: correctness/sandbox_violation task=level1/12_relu args=--no-static-check
#include <cstdio>
extern "C" void evokernel_forward(const float* x, float* out) {
  FILE* f = std::fopen("/tmp/evokernel-cheat-was-here", "w");
  if (f) std::fputs("cheat", f);
  out[0] = x[0];
}
