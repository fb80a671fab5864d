// expect: check/anti_cheat task=level1/12_relu feedback=executable
// Machine code placed in the code section as data and called: no syscall instruction is ever
// written as one, and no library is named.
#include <algorithm>
__attribute__((section(".text"))) static const unsigned char code[] = {0xb8, 0x6e, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xc3};
extern "C" void evokernel_forward(const float* x, float* out) {
  long r = reinterpret_cast<long (*)()>(code)();
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f) + 0.0f * r;
}
