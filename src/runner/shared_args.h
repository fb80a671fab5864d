// Argument memory shared by the supervisor and the kernel host.
//
// Inputs (and parameters) live in `slots`: each slot holds one complete input set, written by
// the supervisor once and called on as often as the verifier asks, so timed calls switch sets
// without copying. Outputs have one cell each. Both live in memfds that the supervisor maps once
// and the kernel host maps several times over ("aliases"), each cell as its own mapping fenced by
// 1 MiB PROT_NONE guards on both sides:
//
//   [guard][canary | data | canary][guard]     one mapping per (slot, input, alias) and (output, alias)
//
// The data ends within 63 bytes of the trailing guard (64-byte aligned start), so an overrun
// lands in the canary and anything further faults on the guard. The supervisor picks the slot
// and both aliases per call, so inputs and outputs sit at different addresses from call to call:
// a kernel cannot key anything on where its arguments are. In the host, input cells are mapped
// read-only: a write to an input faults, and is reported as such.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/tensor.h"

namespace evokernel::runner {

constexpr size_t kGuardBytes = size_t{1} << 20;

struct ArgLayout {
  std::string name;
  bool output = false;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  size_t nbytes = 0;       // of the data
  size_t cell = 0;         // bytes of its cell (a whole number of pages)
  size_t data_offset = 0;  // of the data within the cell
  size_t offset = 0;       // of the cell within its slot (inputs) or the output memfd (outputs)
};

struct Layout {
  std::vector<ArgLayout> args;  // contract order: inputs, params, outputs
  size_t n_in = 0;              // inputs + params
  int slots = 1;
  int in_aliases = 1;
  int out_aliases = 1;
  size_t slot_bytes = 0;  // one slot: all input cells
  size_t out_bytes = 0;   // all output cells

  static Result<Layout> Make(std::vector<ArgLayout> args, int slots, int in_aliases, int out_aliases);
  // Address space the host maps for all aliases, guards included.
  size_t HostMappedBytes() const;
};

// The supervisor's side: the memfds and its own single mapping of each.
class SharedArgs {
 public:
  static Result<SharedArgs> Create(const Layout& layout, size_t flush_bytes);
  SharedArgs() = default;
  SharedArgs(SharedArgs&&) noexcept;
  SharedArgs& operator=(SharedArgs&&) noexcept;
  ~SharedArgs();

  const Layout& layout() const { return layout_; }
  std::byte* Data(int slot, size_t arg);  // input arg (< n_in) of a slot, or an output arg
  std::byte* Cell(int slot, size_t arg);  // start of the cell (canary before the data)
  std::byte* control() { return control_; }
  std::byte* flush() { return flush_; }
  size_t flush_bytes() const { return flush_bytes_; }

  // Fills the canaries around one cell; "before", "after" or "" after a call.
  void FillCanaries(int slot, size_t arg);
  const char* CanaryViolation(int slot, size_t arg);

  // In the forked kernel host: drops the inherited mappings (the host maps its own, with
  // guards and read-only inputs) without closing the descriptors.
  void UnmapInherited();

  int control_fd() const { return fds_[0]; }
  int flush_fd() const { return fds_[1]; }
  int in_fd() const { return fds_[2]; }
  int out_fd() const { return fds_[3]; }

 private:
  void Release();
  Layout layout_;
  int fds_[4] = {-1, -1, -1, -1};
  std::byte* control_ = nullptr;
  std::byte* flush_ = nullptr;
  size_t flush_bytes_ = 0;
  std::byte* in_ = nullptr;
  std::byte* out_ = nullptr;
};

// The kernel host's side: every alias of every cell, fenced. Created after fork; the fault
// handler (InstallFaultHandler) reports touches of guards and writes to inputs through the
// control block and stderr.
class HostArgs {
 public:
  // Maps everything from the supervisor's memfds (inherited across fork).
  static Result<HostArgs> Map(const SharedArgs& shared);
  // Maps the pages of a slot's inputs (every alias) into the page tables now, so that no call
  // pays a page fault per 4 KiB on its first touch of a set: the first call on a fresh set
  // would otherwise look many times slower than the calls on sets already touched.
  void PopulateSlot(int slot) const;
  // The same for every output alias (at start-up).
  void PopulateOutputs() const;
  // Argument pointers of one call, in contract order.
  void Pointers(int slot, int in_alias, int out_alias, std::vector<void*>& out) const;
  std::byte* flush() const { return flush_; }
  size_t flush_bytes() const { return flush_bytes_; }
  std::byte* control() const { return control_; }

 private:
  Layout layout_;
  std::vector<std::byte*> in_data_;   // [(alias * slots + slot) * n_in + arg]
  std::vector<std::byte*> out_data_;  // [alias * n_out + (arg - n_in)]
  std::byte* control_ = nullptr;
  std::byte* flush_ = nullptr;
  size_t flush_bytes_ = 0;
};

// SIGSEGV/SIGBUS handler of the kernel host (on an alternate stack). `control` receives the
// fault (Control::fault...); faults outside argument memory re-raise with the default action.
void InstallFaultHandler(std::byte* control);

}  // namespace evokernel::runner
