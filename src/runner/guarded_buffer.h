// Argument buffers fenced against out-of-bounds access.
//
// Each buffer is its own mapping: [1 MiB PROT_NONE][canary][data][canary][1 MiB PROT_NONE]. The
// data starts 64-byte aligned and ends within 63 bytes of the trailing guard page, so a write
// just past the end lands in the canary and anything up to 1 MiB further faults on the guard; the same
// holds before the start. A fault on a guard page is reported by InstallGuardHandler's SIGSEGV
// handler, which names the argument and side and exits with kOutOfBoundsExit.
#pragma once

#include <cstddef>
#include <string>

namespace evokernel::runner {

constexpr int kOutOfBoundsExit = 86;       // a guard page of an argument was touched
constexpr int kOutputOverflowExit = 88;    // ... the one past the end of an output

class GuardedBuffer {
 public:
  // Registers the buffer's guard pages under `name` for the fault handler; `output` is
  // reported with it ("... of output 'out'" vs "... of argument 'x'").
  GuardedBuffer(const std::string& name, size_t nbytes, bool output);
  ~GuardedBuffer();
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;

  std::byte* data() { return data_; }
  const std::byte* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  bool valid() const { return base_ != nullptr; }

  void FillCanaries();
  // "" when both canaries are intact, else "before" or "after".
  const char* CanaryViolation() const;

 private:
  std::byte* base_ = nullptr;
  size_t map_len_ = 0;
  std::byte* data_ = nullptr;
  size_t nbytes_ = 0;
  std::byte* lo_ = nullptr;  // canary before the data
  size_t lo_len_ = 0;
  std::byte* hi_ = nullptr;  // canary after the data
  size_t hi_len_ = 0;
  int slot_ = -1;
};

// Installs the SIGSEGV/SIGBUS handler (on an alternate stack, so stack overflows are reported
// too). Faults outside guard pages re-raise with the default action.
void InstallGuardHandler();

}  // namespace evokernel::runner
