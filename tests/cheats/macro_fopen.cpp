// expect: check/anti_cheat task=level1/12_relu feedback=fopen
// Hides fopen behind token pasting to read a file of precomputed answers.
#include <cstdio>
#include <algorithm>
#define CAT(a, b) a##b
extern "C" void evokernel_forward(const float* x, float* out) {
  FILE* f = CAT(fo, pen)("/tmp/answers.bin", "rb");
  if (f) std::fclose(f);
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f);
}
