#include "verifier/machine_load.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

namespace evokernel {

nlohmann::json MachineLoad::ToJson() const {
  return {{"busy_cores", busy_cores},
          {"other_busy_cores", other_busy_cores},
          {"cpus", cpus},
          {"seconds", seconds},
          {"loaded", loaded}};
}

CpuLoadWindow::CpuLoadWindow() : start_(Read()) {}

std::optional<CpuLoadWindow::Sample> CpuLoadWindow::Read() {
  std::ifstream in("/proc/stat");
  if (!in) return std::nullopt;
  Sample s;
  s.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  bool have_total = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("cpu", 0) != 0) continue;
    if (line.size() > 3 && line[3] == ' ') {
      // cpu  user nice system idle iowait irq softirq steal guest guest_nice
      std::istringstream ss(line.substr(3));
      uint64_t v[8] = {0};
      for (auto& x : v) ss >> x;
      s.busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
      s.total = s.busy + v[3] + v[4];
      have_total = true;
    } else {
      ++s.cpus;
    }
  }
  if (!have_total || s.cpus == 0) return std::nullopt;
  return s;
}

std::optional<MachineLoad> CpuLoadWindow::Close(int own_threads) const {
  if (!start_) return std::nullopt;
  auto end = Read();
  if (!end || end->total <= start_->total) return std::nullopt;
  MachineLoad m;
  m.cpus = end->cpus;
  m.seconds = end->wall_s - start_->wall_s;
  // Ticks are summed over processors: the busy share of all ticks times the processor count
  // is the number of cores busy on average.
  const double busy_share = double(end->busy - start_->busy) / double(end->total - start_->total);
  m.busy_cores = busy_share * m.cpus;
  m.other_busy_cores = std::max(0.0, m.busy_cores - std::max(own_threads, 1));
  m.loaded = m.other_busy_cores >= MachineLoad::kLoadedCores;
  return m;
}

}  // namespace evokernel
