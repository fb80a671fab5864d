#include "runner/guarded_buffer.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "common/poison.h"
#include "runner/signal_safe.h"

namespace evokernel::runner {
namespace {

// Guard-page registry read by the signal handler: fixed-size, no allocation.
struct GuardSlot {
  uintptr_t lo_begin = 0, lo_end = 0;  // leading guard page
  uintptr_t hi_begin = 0, hi_end = 0;  // trailing guard page
  char name[64] = {0};
  bool output = false;
  bool used = false;
};
constexpr int kSlots = 512;
GuardSlot g_slots[kSlots];

size_t PageSize() {
  static const size_t p = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return p;
}

void OnFault(int sig, siginfo_t* info, void*) {
  uintptr_t a = reinterpret_cast<uintptr_t>(info->si_addr);
  for (const auto& s : g_slots) {
    if (!s.used) continue;
    bool before = a >= s.lo_begin && a < s.lo_end;
    bool after = a >= s.hi_begin && a < s.hi_end;
    if (!before && !after) continue;
    SignalSafeWrite("evokernel-runner: out_of_bounds: the kernel accessed memory ");
    if (before) {
      SignalSafeWriteNumber(s.lo_end - a);
      SignalSafeWrite(s.output ? " bytes before the start of output '" : " bytes before the start of argument '");
    } else {
      SignalSafeWriteNumber(a - s.hi_begin + 1);
      SignalSafeWrite(s.output ? " bytes past the end of output '" : " bytes past the end of argument '");
    }
    SignalSafeWrite(s.name);
    SignalSafeWrite("'\n");
    _exit(after && s.output ? kOutputOverflowExit : kOutOfBoundsExit);
  }
  // Not ours: die of the original signal.
  signal(sig, SIG_DFL);
}

}  // namespace

GuardedBuffer::GuardedBuffer(const std::string& name, size_t nbytes, bool output) : nbytes_(nbytes) {
  const size_t page = PageSize();
  // Inaccessible regions cost address space only; 1 MiB catches strided overruns by whole rows.
  const size_t guard = std::max<size_t>(page, 1 << 20);
  size_t padded = (nbytes + 63) / 64 * 64;
  size_t data_pages = padded == 0 ? 1 : (padded + page - 1) / page;
  map_len_ = data_pages * page + 2 * guard;
  void* m = mmap(nullptr, map_len_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return;
  base_ = static_cast<std::byte*>(m);
  std::byte* usable = base_ + guard;
  std::byte* usable_end = usable + data_pages * page;
  if (mprotect(usable, data_pages * page, PROT_READ | PROT_WRITE) != 0) {
    munmap(base_, map_len_);
    base_ = nullptr;
    return;
  }
  data_ = usable_end - padded;
  lo_ = usable;
  lo_len_ = static_cast<size_t>(data_ - usable);
  hi_ = data_ + nbytes;
  hi_len_ = padded - nbytes;
  for (int i = 0; i < kSlots; ++i) {
    if (g_slots[i].used) continue;
    GuardSlot& s = g_slots[i];
    s.lo_begin = reinterpret_cast<uintptr_t>(base_);
    s.lo_end = s.lo_begin + guard;
    s.hi_begin = reinterpret_cast<uintptr_t>(usable_end);
    s.hi_end = s.hi_begin + guard;
    std::strncpy(s.name, name.c_str(), sizeof s.name - 1);
    s.output = output;
    s.used = true;
    slot_ = i;
    break;
  }
  FillCanaries();
}

GuardedBuffer::~GuardedBuffer() {
  if (slot_ >= 0) g_slots[slot_].used = false;
  if (base_) munmap(base_, map_len_);
}

void GuardedBuffer::FillCanaries() {
  if (!base_) return;
  std::memset(lo_, kCanaryByte, lo_len_);
  std::memset(hi_, kCanaryByte, hi_len_);
}

const char* GuardedBuffer::CanaryViolation() const {
  for (size_t i = 0; i < lo_len_; ++i)
    if (static_cast<uint8_t>(lo_[i]) != kCanaryByte) return "before";
  for (size_t i = 0; i < hi_len_; ++i)
    if (static_cast<uint8_t>(hi_[i]) != kCanaryByte) return "after";
  return "";
}

void InstallGuardHandler() {
  static char alt_stack[1 << 16];
  stack_t ss{};
  ss.ss_sp = alt_stack;
  ss.ss_size = sizeof alt_stack;
  sigaltstack(&ss, nullptr);
  struct sigaction sa{};
  sa.sa_sigaction = OnFault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, nullptr);
  sigaction(SIGBUS, &sa, nullptr);
}

}  // namespace evokernel::runner
