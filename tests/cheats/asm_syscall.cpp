// expect: check/anti_cheat task=level1/12_relu feedback=asm
// A raw system call through inline assembly (getpid), invisible to symbol checks.
#include <algorithm>
extern "C" void evokernel_forward(const float* x, float* out) {
  long r;
  asm volatile("syscall" : "=a"(r) : "a"(39) : "rcx", "r11", "memory");
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f) + 0.0f * r;
}
