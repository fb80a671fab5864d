// The floating-point environment a kernel must leave as it found it: SSE control and status
// (MXCSR: flush-to-zero, denormals-are-zero, rounding, exception masks) and the x87 control
// word. A kernel may change them during a call (numerics are checked against the reference);
// one that leaves them changed alters every later computation of the process, the next call's
// included, so the runner checks and restores them after loading and after every call.
#pragma once

#include <cstdint>

namespace evokernel::runner {

struct FpEnv {
  uint32_t mxcsr = 0;
  uint16_t x87 = 0;
};

inline FpEnv ReadFpEnv() {
  FpEnv e;
#if defined(__x86_64__)
  __asm__ volatile("stmxcsr %0" : "=m"(e.mxcsr));
  __asm__ volatile("fnstcw %0" : "=m"(e.x87));
#endif
  return e;
}

inline void WriteFpEnv(const FpEnv& e) {
#if defined(__x86_64__)
  __asm__ volatile("ldmxcsr %0" : : "m"(e.mxcsr));
  __asm__ volatile("fldcw %0" : : "m"(e.x87));
#endif
}

// Control bits only: the status (sticky exception) flags of MXCSR change with any arithmetic.
constexpr uint32_t kMxcsrControlMask = 0xFFC0;

// Bit 0: SSE control changed, bit 1: x87 control changed; 0 when both match `base`. Restores
// `base` when they differ.
inline uint32_t CheckAndRestoreFpEnv(const FpEnv& base) {
  FpEnv now = ReadFpEnv();
  uint32_t changed = ((now.mxcsr & kMxcsrControlMask) != (base.mxcsr & kMxcsrControlMask) ? 1u : 0u) |
                     (now.x87 != base.x87 ? 2u : 0u);
  if (changed) WriteFpEnv(base);
  return changed;
}

}  // namespace evokernel::runner
