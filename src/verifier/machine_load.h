// How busy the rest of the machine was while something was timed.
//
// A CpuLoadWindow reads /proc/stat when it opens and when it closes; the CPU time all
// processors spent busy in between (user, nice, system, irq, softirq, steal), divided by the
// wall time, is the number of cores that were busy on average. Subtracting the cores the
// measurement itself kept busy (the kernel's or the baseline's threads: one side runs at a
// time) leaves what other work took. A result timed while that was at least half a core says
// so (EvalResult::machine_loaded): its figures are honest measurements, but of a shared
// machine (memory bandwidth, caches and turbo headroom are shared too).
#pragma once

#include <cstdint>
#include <optional>

#include <nlohmann/json.hpp>

namespace evokernel {

struct MachineLoad {
  double busy_cores = 0;        // all processes, averaged over the window
  double other_busy_cores = 0;  // busy_cores minus the measurement's own threads (>= 0)
  int cpus = 0;                 // processors the counters cover
  double seconds = 0;           // the window's length
  bool loaded = false;          // other_busy_cores >= kLoadedCores
  static constexpr double kLoadedCores = 0.5;
  nlohmann::json ToJson() const;
};

class CpuLoadWindow {
 public:
  CpuLoadWindow();  // opens the window now
  // Closes it; `own_threads` is how many cores the measurement kept busy. Empty when
  // /proc/stat cannot be read (not Linux, or /proc not mounted).
  std::optional<MachineLoad> Close(int own_threads) const;

 private:
  struct Sample {
    uint64_t busy = 0, total = 0;  // clock ticks, summed over processors
    int cpus = 0;
    double wall_s = 0;
  };
  static std::optional<Sample> Read();
  std::optional<Sample> start_;
};

}  // namespace evokernel
