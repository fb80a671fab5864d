#include "runner/shared_args.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include "common/poison.h"
#include "runner/control.h"
#include "runner/signal_safe.h"

namespace evokernel::runner {
namespace {

size_t PageSize() {
  static const size_t p = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return p;
}

size_t RoundUp(size_t v, size_t m) { return (v + m - 1) / m * m; }

int NewMemfd(const char* name, size_t bytes) {
  int fd = static_cast<int>(syscall(SYS_memfd_create, name, MFD_CLOEXEC));
  if (fd < 0) return -1;
  if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// ---- fault registry of the kernel host (read by the signal handler: no allocation) ----

struct Region {
  uintptr_t begin = 0, end = 0;  // the whole mapping: [guard][cell][guard]
  uintptr_t cell = 0;            // start of the cell
  uintptr_t data = 0, data_end = 0;
  int arg = -1;
  bool output = false;
  char name[64] = {0};
};
constexpr int kMaxRegions = 4096;
Region g_regions[kMaxRegions];
int g_nregions = 0;
Control* g_control = nullptr;

void OnFault(int sig, siginfo_t* info, void*) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(info->si_addr);
  for (int i = 0; i < g_nregions; ++i) {
    const Region& r = g_regions[i];
    if (a < r.begin || a >= r.end) continue;
    const uintptr_t cell_end = r.cell + (r.end - r.begin) - 2 * kGuardBytes;
    const bool in_cell = a >= r.cell && a < cell_end;
    if (in_cell && !r.output && a >= r.data && a < r.data_end) {
      // Input cells are mapped read-only: the kernel wrote to its argument.
      if (g_control) {
        g_control->fault = kFaultInputWrite;
        g_control->fault_arg = r.arg;
      }
      SignalSafeWrite("evokernel-runner: input_modified: the kernel wrote to its read-only argument '");
      SignalSafeWrite(r.name);
      SignalSafeWrite("'\n");
      _exit(89);
    }
    const bool after = a >= r.data_end;
    const uint64_t distance = after ? a - r.data_end + 1 : r.data - a;
    if (g_control) {
      g_control->fault = kFaultGuard;
      g_control->fault_arg = r.arg;
      g_control->fault_after = after;
      g_control->fault_distance = distance;
    }
    SignalSafeWrite("evokernel-runner: out_of_bounds: the kernel accessed memory ");
    SignalSafeWriteNumber(distance);
    SignalSafeWrite(after ? " bytes past the end of " : " bytes before the start of ");
    SignalSafeWrite(r.output ? "output '" : "argument '");
    SignalSafeWrite(r.name);
    SignalSafeWrite("'\n");
    _exit(after && r.output ? 88 : 86);
  }
  // Not argument memory: the handler was reset on entry (SA_RESETHAND), so returning repeats
  // the access and the process dies of the original signal.
  (void)sig;
}

}  // namespace

Result<Layout> Layout::Make(std::vector<ArgLayout> args, int slots, int in_aliases, int out_aliases) {
  Layout l;
  l.slots = std::max(1, slots);
  l.in_aliases = std::max(1, in_aliases);
  l.out_aliases = std::max(1, out_aliases);
  const size_t page = PageSize();
  bool seen_output = false;
  for (auto& a : args) {
    if (!a.output && seen_output) return InvalidArgument("spec: inputs must come before outputs");
    seen_output = seen_output || a.output;
    a.nbytes = static_cast<size_t>(NumElements(a.shape)) * DTypeSize(a.dtype);
    const size_t padded = RoundUp(a.nbytes, 64);
    a.cell = std::max(page, RoundUp(padded, page));
    a.data_offset = a.cell - padded;
    if (a.output) {
      a.offset = l.out_bytes;
      l.out_bytes += a.cell;
    } else {
      a.offset = l.slot_bytes;
      l.slot_bytes += a.cell;
      ++l.n_in;
    }
  }
  l.args = std::move(args);
  if (l.args.size() == l.n_in) return InvalidArgument("spec: the kernel has no outputs");
  return l;
}

size_t Layout::HostMappedBytes() const {
  size_t in_maps = static_cast<size_t>(slots) * n_in * static_cast<size_t>(in_aliases);
  size_t out_maps = (args.size() - n_in) * static_cast<size_t>(out_aliases);
  return static_cast<size_t>(in_aliases) * static_cast<size_t>(slots) * slot_bytes +
         static_cast<size_t>(out_aliases) * out_bytes + (in_maps + out_maps) * 2 * kGuardBytes;
}

// ---- supervisor side ----

Result<SharedArgs> SharedArgs::Create(const Layout& layout, size_t flush_bytes) {
  SharedArgs s;
  s.layout_ = layout;
  const size_t page = PageSize();
  s.flush_bytes_ = flush_bytes;
  const size_t sizes[4] = {page, std::max(page, RoundUp(flush_bytes, page)),
                           static_cast<size_t>(layout.slots) * layout.slot_bytes, std::max(page, layout.out_bytes)};
  const char* names[4] = {"evokernel-control", "evokernel-flush", "evokernel-inputs", "evokernel-outputs"};
  std::byte* maps[4] = {};
  for (int i = 0; i < 4; ++i) {
    size_t bytes = std::max(page, sizes[i]);
    s.fds_[i] = NewMemfd(names[i], bytes);
    if (s.fds_[i] < 0) return IoError(std::string("memfd_create: ") + std::strerror(errno));
    void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, s.fds_[i], 0);
    if (m == MAP_FAILED) return IoError(std::string("cannot map shared argument memory: ") + std::strerror(errno));
    maps[i] = static_cast<std::byte*>(m);
  }
  s.control_ = maps[0];
  s.flush_ = maps[1];
  s.in_ = maps[2];
  s.out_ = maps[3];
  new (s.control_) Control();
  for (int slot = 0; slot < layout.slots; ++slot)
    for (size_t a = 0; a < layout.args.size(); ++a) {
      if (layout.args[a].output && slot > 0) continue;
      s.FillCanaries(slot, a);
    }
  return s;
}

SharedArgs::SharedArgs(SharedArgs&& o) noexcept { *this = std::move(o); }

SharedArgs& SharedArgs::operator=(SharedArgs&& o) noexcept {
  if (this == &o) return *this;
  Release();
  layout_ = std::move(o.layout_);
  for (int i = 0; i < 4; ++i) {
    fds_[i] = o.fds_[i];
    o.fds_[i] = -1;
  }
  control_ = o.control_;
  flush_ = o.flush_;
  flush_bytes_ = o.flush_bytes_;
  in_ = o.in_;
  out_ = o.out_;
  o.control_ = o.flush_ = o.in_ = o.out_ = nullptr;
  return *this;
}

SharedArgs::~SharedArgs() { Release(); }

void SharedArgs::Release() {
  const size_t page = PageSize();
  if (control_) munmap(control_, page);
  if (flush_) munmap(flush_, std::max(page, RoundUp(flush_bytes_, page)));
  if (in_) munmap(in_, std::max(page, static_cast<size_t>(layout_.slots) * layout_.slot_bytes));
  if (out_) munmap(out_, std::max(page, layout_.out_bytes));
  for (int& fd : fds_)
    if (fd >= 0) close(fd), fd = -1;
  control_ = flush_ = in_ = out_ = nullptr;
}

void SharedArgs::UnmapInherited() {
  const size_t page = PageSize();
  if (control_) munmap(control_, page);
  if (flush_) munmap(flush_, std::max(page, RoundUp(flush_bytes_, page)));
  if (in_) munmap(in_, std::max(page, static_cast<size_t>(layout_.slots) * layout_.slot_bytes));
  if (out_) munmap(out_, std::max(page, layout_.out_bytes));
  control_ = flush_ = in_ = out_ = nullptr;
}

std::byte* SharedArgs::Cell(int slot, size_t arg) {
  const ArgLayout& a = layout_.args[arg];
  return a.output ? out_ + a.offset : in_ + static_cast<size_t>(slot) * layout_.slot_bytes + a.offset;
}

std::byte* SharedArgs::Data(int slot, size_t arg) { return Cell(slot, arg) + layout_.args[arg].data_offset; }

void SharedArgs::FillCanaries(int slot, size_t arg) {
  const ArgLayout& a = layout_.args[arg];
  std::byte* cell = Cell(slot, arg);
  std::memset(cell, kCanaryByte, a.data_offset);
  std::memset(cell + a.data_offset + a.nbytes, kCanaryByte, a.cell - a.data_offset - a.nbytes);
}

const char* SharedArgs::CanaryViolation(int slot, size_t arg) {
  const ArgLayout& a = layout_.args[arg];
  const std::byte* cell = Cell(slot, arg);
  for (size_t i = 0; i < a.data_offset; ++i)
    if (static_cast<uint8_t>(cell[i]) != kCanaryByte) return "before";
  for (size_t i = a.data_offset + a.nbytes; i < a.cell; ++i)
    if (static_cast<uint8_t>(cell[i]) != kCanaryByte) return "after";
  return "";
}

// ---- kernel host side ----

namespace {

// One fenced mapping of `bytes` of `fd` at `offset`; nullptr on failure.
std::byte* MapFenced(int fd, size_t offset, size_t bytes, int prot, const ArgLayout& a, int arg) {
  const size_t total = bytes + 2 * kGuardBytes;
  void* base = mmap(nullptr, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) return nullptr;
  std::byte* cell = static_cast<std::byte*>(base) + kGuardBytes;
  if (mmap(cell, bytes, prot, MAP_SHARED | MAP_FIXED, fd, static_cast<off_t>(offset)) == MAP_FAILED) {
    munmap(base, total);
    return nullptr;
  }
  if (g_nregions < kMaxRegions) {
    Region& r = g_regions[g_nregions++];
    r.begin = reinterpret_cast<uintptr_t>(base);
    r.end = r.begin + total;
    r.cell = reinterpret_cast<uintptr_t>(cell);
    r.data = r.cell + a.data_offset;
    r.data_end = r.data + a.nbytes;
    r.arg = arg;
    r.output = a.output;
    std::strncpy(r.name, a.name.c_str(), sizeof r.name - 1);
  }
  return cell;
}

}  // namespace

Result<HostArgs> HostArgs::Map(const SharedArgs& shared) {
  HostArgs h;
  h.layout_ = shared.layout();
  const Layout& l = h.layout_;
  const size_t page = PageSize();
  void* ctl = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_SHARED, shared.control_fd(), 0);
  if (ctl == MAP_FAILED) return IoError("cannot map the control block");
  h.control_ = static_cast<std::byte*>(ctl);
  h.flush_bytes_ = shared.flush_bytes();
  if (h.flush_bytes_ > 0) {
    void* f = mmap(nullptr, RoundUp(h.flush_bytes_, page), PROT_READ | PROT_WRITE, MAP_SHARED, shared.flush_fd(), 0);
    if (f == MAP_FAILED) return IoError("cannot map the flush buffer");
    h.flush_ = static_cast<std::byte*>(f);
  }
  h.in_data_.assign(static_cast<size_t>(l.in_aliases * l.slots) * l.n_in, nullptr);
  for (int alias = 0; alias < l.in_aliases; ++alias)
    for (int slot = 0; slot < l.slots; ++slot)
      for (size_t a = 0; a < l.n_in; ++a) {
        const ArgLayout& al = l.args[a];
        std::byte* cell = MapFenced(shared.in_fd(), static_cast<size_t>(slot) * l.slot_bytes + al.offset, al.cell,
                                    PROT_READ, al, static_cast<int>(a));
        if (!cell) return IoError("cannot map input '" + al.name + "': " + std::strerror(errno));
        h.in_data_[(static_cast<size_t>(alias) * l.slots + slot) * l.n_in + a] = cell + al.data_offset;
      }
  const size_t n_out = l.args.size() - l.n_in;
  h.out_data_.assign(static_cast<size_t>(l.out_aliases) * n_out, nullptr);
  for (int alias = 0; alias < l.out_aliases; ++alias)
    for (size_t a = l.n_in; a < l.args.size(); ++a) {
      const ArgLayout& al = l.args[a];
      std::byte* cell = MapFenced(shared.out_fd(), al.offset, al.cell, PROT_READ | PROT_WRITE, al, static_cast<int>(a));
      if (!cell) return IoError("cannot map output '" + al.name + "': " + std::strerror(errno));
      h.out_data_[static_cast<size_t>(alias) * n_out + (a - l.n_in)] = cell + al.data_offset;
    }
  return h;
}

namespace {

void Populate(std::byte* p, size_t bytes, bool write) {
  const size_t page = PageSize();
  std::byte* start = reinterpret_cast<std::byte*>(reinterpret_cast<uintptr_t>(p) / page * page);
  const size_t len = RoundUp(static_cast<size_t>(p + bytes - start), page);
  (void)madvise(start, len, write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
  // Populated page-table entries are not enough on every machine: on the VMs this was
  // developed on, the first access to each cache line through a new mapping costs about 5x a
  // later one (2 ms of ReLU became 10-15 ms), although no fault is counted. So every line is
  // touched once, through this very mapping, before any call can be timed on it.
  if (write) {
    for (size_t off = 0; off < len; off += 64) start[off] = std::byte{0};
  } else {
    uint64_t sink = 0;
    for (size_t off = 0; off < len; off += 64) sink += static_cast<uint8_t>(start[off]);
    __asm__ volatile("" : : "r"(sink));
  }
}

}  // namespace

void HostArgs::PopulateSlot(int slot) const {
  const Layout& l = layout_;
  if (slot < 0 || slot >= l.slots) return;
  for (int alias = 0; alias < l.in_aliases; ++alias)
    for (size_t a = 0; a < l.n_in; ++a)
      Populate(in_data_[(static_cast<size_t>(alias) * l.slots + slot) * l.n_in + a], l.args[a].nbytes, false);
}

void HostArgs::PopulateOutputs() const {
  const Layout& l = layout_;
  const size_t n_out = l.args.size() - l.n_in;
  for (int alias = 0; alias < l.out_aliases; ++alias)
    for (size_t a = 0; a < n_out; ++a)
      Populate(out_data_[static_cast<size_t>(alias) * n_out + a], l.args[l.n_in + a].nbytes, true);
}

void HostArgs::Pointers(int slot, int in_alias, int out_alias, std::vector<void*>& out) const {
  const Layout& l = layout_;
  const size_t n_out = l.args.size() - l.n_in;
  out.resize(l.args.size());
  for (size_t a = 0; a < l.n_in; ++a)
    out[a] = in_data_[(static_cast<size_t>(in_alias) * l.slots + slot) * l.n_in + a];
  for (size_t a = 0; a < n_out; ++a) out[l.n_in + a] = out_data_[static_cast<size_t>(out_alias) * n_out + a];
}

void InstallFaultHandler(std::byte* control) {
  g_control = reinterpret_cast<Control*>(control);
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
