// expect: correctness/sandbox_violation task=level1/12_relu args=--no-static-check
#include <cstdio>
extern "C" void evokernel_forward(const float* x, float* out) {
  FILE* f = std::fopen("/etc/passwd", "r");
  out[0] = x[0] + (f ? 1.0f : 0.0f);
}
