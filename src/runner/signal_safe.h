// Async-signal-safe output for the runner's fault handlers: write(2) only, no allocation.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstring>

namespace evokernel::runner {

inline void SignalSafeWrite(const char* s) {
  ssize_t r = write(2, s, std::strlen(s));
  (void)r;
}

inline void SignalSafeWriteNumber(uint64_t v) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v && n < 23);
  char out[24];
  for (int i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
  out[n] = 0;
  SignalSafeWrite(out);
}

}  // namespace evokernel::runner
