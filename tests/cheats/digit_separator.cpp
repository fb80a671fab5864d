// expect: check/anti_cheat task=level1/12_relu feedback=fopen
// C++14 digit separators: a scanner that reads 1'0 as the start of a character literal skips
// everything up to the next quote on the line.
#include <algorithm>
#include <cstdio>
extern "C" void evokernel_forward(const float* x, float* out) {
  const long n = 1'0; std::FILE* f = std::fopen("/etc/hostname", "r"); const long m = 2'0;
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f) + (f ? 0.0f : 0.0f) * (n + m);
}
