// The roofline check: could this machine have produced a measured latency at all?
//
// A kernel cannot finish faster than max(FLOPs / peak FLOP/s, bytes / bandwidth). The
// verifier compares each measured median with that bound and flags a kernel that beats it
// (speedup_trusted = false, a `review` entry): the timing was fooled, or the work estimate is
// wrong, and a person should look. Every input of the bound is chosen so honest kernels cannot
// beat it:
//   - FLOPs: torch.profiler's count for the reference forward (TaskSpec::flops), which covers
//     matmul-like ops, convolutions and elementwise add/mul and counts nothing else: a lower
//     bound for a kernel doing the same computation. (A fast algorithm doing fewer operations,
//     such as Winograd convolution or Strassen, can beat it; that is a reason for review, not
//     a verdict.)
//   - Bytes: every argument read or written once (TaskSpec::CompulsoryBytes).
//   - Peaks: measured on the backend's device by its micro-benchmark (evokernel-peaks for the
//     CPU, `evokernel-clc peaks` for an OpenCL device) with the evaluation's thread count:
//     fp32 FMA throughput on the widest vectors, and the read bandwidth of a buffer already
//     resident in cache at the working-set size (an upper bound: the timing loop flushes the
//     cache before every call, so real kernels see memory bandwidth).
// Peaks are measured once per device and thread count and cached under <cache dir>/machine/
// (about 1 s); `evokernel machine --remeasure` refreshes them.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "task/task.h"

namespace evokernel {

struct MachinePeaks {
  std::string device;  // which device was measured ("cpu:<model>:<cores>", "opencl:<platform>:<device>:...")
  int threads = 1;
  double flops_per_s = 0;                                 // fp32
  std::vector<std::pair<double, double>> read_bandwidth;  // (buffer bytes, bytes/s), ascending
  std::string cpu;
  std::string cache_file;  // where the figures are kept

  // Bandwidth an honest kernel with this working set could reach at most: the measured figure
  // at the largest buffer size not above it (smaller buffers sit in faster caches), or the
  // smallest size's figure below that.
  double BandwidthFor(double working_set_bytes) const;
  nlohmann::json ToJson() const;
  static Result<MachinePeaks> FromJson(const nlohmann::json& j);
};

// The peaks of `device` for `threads`, from the cache or measured now by running `argv` (a
// backend's micro-benchmark: Backend::Peaks). Errors: kUnavailable when the benchmark is missing
// or fails (the verifier then reports the check as not done).
Result<MachinePeaks> LoadOrMeasurePeaks(const std::string& device, const std::vector<std::string>& argv, int threads,
                                        bool remeasure = false);

struct RooflineBound {
  double flops = -1;  // lower bound; -1 when the profiler gave none
  double bytes = 0;
  double peak_flops_per_s = 0;
  double bandwidth_bytes_per_s = 0;
  double compute_ns = 0;  // flops / peak
  double memory_ns = 0;   // bytes / bandwidth
  double bound_ns = 0;    // max of the two: no kernel can be faster
  double measured_ns = 0;
  // bound / measured: the share of the machine's limit the kernel reaches. Above 1 it is
  // faster than physically possible.
  double fraction = 0;
  nlohmann::json ToJson() const;
};

RooflineBound ComputeRoofline(const TaskSpec& spec, const MachinePeaks& peaks, double measured_ns);

// A kernel is flagged for review when its fraction exceeds this: above 1 by a margin for
// the uncertainty of the measured peaks (clock boost, a busy machine while measuring). Honest
// kernels measured here reach at most about 0.95 (a blocked matmul near peak FMA rate);
// the exploits the check exists for are off by 10x and more.
constexpr double kRooflineReviewFraction = 1.5;

}  // namespace evokernel
