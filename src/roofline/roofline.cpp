#include "roofline/roofline.h"

#include <unistd.h>

#include <algorithm>
#include <optional>
#include <chrono>

#include "common/fs.h"
#include "common/json_int.h"
#include "common/subprocess.h"

namespace evokernel {
namespace fs = std::filesystem;

namespace {
// Bump when evokernel-peaks measures differently, so old cached figures are not reused.
constexpr const char* kPeaksVersion = "peaks-v1";
}  // namespace

double MachinePeaks::BandwidthFor(double working_set_bytes) const {
  if (read_bandwidth.empty()) return 0;
  double bw = read_bandwidth.front().second;
  for (const auto& [bytes, rate] : read_bandwidth)
    if (bytes <= working_set_bytes) bw = rate;
  return bw;
}

nlohmann::json MachinePeaks::ToJson() const {
  nlohmann::json bw = nlohmann::json::array();
  for (const auto& [bytes, rate] : read_bandwidth) bw.push_back({{"bytes", bytes}, {"bytes_per_s", rate}});
  return {{"version", kPeaksVersion}, {"device", device}, {"threads", threads}, {"cpu", cpu},
          {"flops_per_s", flops_per_s}, {"read_bandwidth", bw}, {"cache_file", cache_file}};
}

Result<MachinePeaks> MachinePeaks::FromJson(const nlohmann::json& j) {
  try {
    MachinePeaks p;
    p.threads = JsonInt<int>(j, "threads");
    p.flops_per_s = j.at("flops_per_s").get<double>();
    p.cpu = j.value("cpu", "");
    if (j.contains("device") && j["device"].is_string()) p.device = j["device"].get<std::string>();
    for (const auto& e : j.at("read_bandwidth"))
      p.read_bandwidth.emplace_back(e.at("bytes").get<double>(), e.at("bytes_per_s").get<double>());
    std::sort(p.read_bandwidth.begin(), p.read_bandwidth.end());
    if (!(p.flops_per_s > 0) || p.read_bandwidth.empty())
      return InvalidArgument("machine peaks: flops_per_s must be positive and read_bandwidth non-empty");
    for (const auto& [bytes, rate] : p.read_bandwidth)
      if (!(rate > 0)) return InvalidArgument("machine peaks: a read bandwidth is not positive");
    return p;
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("machine peaks: malformed JSON: ") + e.what());
  }
}

namespace {
// The cached peaks in `file` for `threads`, if it holds readable ones.
std::optional<MachinePeaks> ReadCachedPeaks(const fs::path& file, int threads) {
  auto text = ReadFile(file);
  if (!text.ok()) return std::nullopt;
  try {
    auto peaks = MachinePeaks::FromJson(nlohmann::json::parse(*text));
    if (peaks.ok() && peaks->threads == threads) return std::move(peaks).value();
  } catch (const std::exception&) {
  }
  return std::nullopt;
}
}  // namespace

Result<MachinePeaks> LoadOrMeasurePeaks(const std::string& device, const std::vector<std::string>& argv, int threads,
                                        bool remeasure) {
  threads = std::max(threads, 1);
  const std::string cpu = CpuModelName();
  const std::string key = Sha256Hex(std::string(kPeaksVersion) + "\n" + device).substr(0, 16);
  const fs::path file = CacheDir() / "machine" / ("peaks-" + key + "-t" + std::to_string(threads) + ".json");
  const std::optional<MachinePeaks> cached = ReadCachedPeaks(file, threads);
  if (!remeasure && cached) {
    MachinePeaks peaks = *cached;
    peaks.cache_file = file.string();
    return peaks;
  }
  // (An unreadable cache entry is measured again and replaced.)
  SpawnOptions so;
  so.argv = argv;
  const std::string tool = argv.empty() ? std::string("(none)") : fs::path(argv[0]).filename().string();
  auto run = RunCommand(so, std::chrono::seconds(120));
  if (!run.ok()) return Unavailable("could not run " + tool + ": " + run.status().message());
  if (!run->exit.exited || run->exit.exit_code != 0)
    return Unavailable(tool + " failed (" + run->exit.Describe() + "): " + run->err.substr(0, 500));
  Result<MachinePeaks> peaks = InvalidArgument(tool + " printed no JSON");
  try {
    peaks = MachinePeaks::FromJson(nlohmann::json::parse(run->out));
  } catch (const std::exception& e) {
    return Unavailable(tool + " printed malformed JSON: " + e.what());
  }
  if (!peaks.ok()) return Unavailable(peaks.status().message());
  // Never lower: a measurement taken while the machine is busy comes out low, so a re-measure
  // keeps, per figure, the higher of the cached and the new value.
  if (cached && cached->threads == peaks->threads) {
    peaks->flops_per_s = std::max(peaks->flops_per_s, cached->flops_per_s);
    for (auto& [bytes, rate] : peaks->read_bandwidth)
      for (const auto& [ob, orate] : cached->read_bandwidth)
        if (ob == bytes) rate = std::max(rate, orate);
  }
  peaks->cpu = cpu;
  peaks->device = device;
  peaks->cache_file = file.string();
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  // A cache that cannot be written only costs a re-measurement next time.
  (void)WriteFileAtomic(file, peaks->ToJson().dump(2) + "\n");
  return peaks;
}

nlohmann::json RooflineBound::ToJson() const {
  return {{"flops", flops >= 0 ? nlohmann::json(flops) : nlohmann::json(nullptr)},
          {"bytes", bytes},
          {"peak_gflops", peak_flops_per_s / 1e9},
          {"bandwidth_gb_per_s", bandwidth_bytes_per_s / 1e9},
          {"compute_bound_ms", compute_ns / 1e6},
          {"memory_bound_ms", memory_ns / 1e6},
          {"bound_ms", bound_ns / 1e6},
          {"measured_ms", measured_ns / 1e6},
          {"fraction", fraction}};
}

RooflineBound ComputeRoofline(const TaskSpec& spec, const MachinePeaks& peaks, double measured_ns) {
  RooflineBound b;
  b.flops = spec.flops;
  b.bytes = spec.CompulsoryBytes();
  b.peak_flops_per_s = peaks.flops_per_s;
  b.bandwidth_bytes_per_s = peaks.BandwidthFor(b.bytes);
  b.compute_ns = b.flops > 0 && b.peak_flops_per_s > 0 ? b.flops / b.peak_flops_per_s * 1e9 : 0;
  b.memory_ns = b.bandwidth_bytes_per_s > 0 ? b.bytes / b.bandwidth_bytes_per_s * 1e9 : 0;
  b.bound_ns = std::max(b.compute_ns, b.memory_ns);
  b.measured_ns = measured_ns;
  b.fraction = measured_ns > 0 ? b.bound_ns / measured_ns : 0;
  return b;
}

}  // namespace evokernel
