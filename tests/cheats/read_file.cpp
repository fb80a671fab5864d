// expect: correctness/sandbox_violation (with --no-static-check): reads a file outside its directory
#include <cstdio>
extern "C" void evokernel_forward(const float* x, float* out) {
  FILE* f = std::fopen("/etc/passwd", "r");
  out[0] = x[0] + (f ? 1.0f : 0.0f);
}
