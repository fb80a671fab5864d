// expect: correctness/sandbox_violation task=level1/12_relu args=--no-static-check feedback=mprotect
// Writes machine code (a raw getppid system call) into a page and makes the page executable.
#include <sys/mman.h>
#include <algorithm>
#include <cstring>
extern "C" void evokernel_forward(const float* x, float* out) {
  static const unsigned char code[] = {0xb8, 0x6e, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xc3};  // mov eax, 110; syscall; ret
  void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  std::memcpy(page, code, sizeof code);
  mprotect(page, 4096, PROT_READ | PROT_EXEC);
  long r = reinterpret_cast<long (*)()>(page)();
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f) + 0.0f * r;
}
