// The runner's device registry: one line per device (runner/devices/<name>_device.cpp).
#include <functional>

#include "runner/device.h"

namespace evokernel::runner {

std::unique_ptr<Device> NewCpuDevice();
#ifdef EVOKERNEL_HAVE_OPENCL
std::unique_ptr<Device> NewOpenClDevice();
#endif

namespace {

struct DeviceEntry {
  const char* name;
  std::function<std::unique_ptr<Device>()> make;
};

const std::vector<DeviceEntry>& Entries() {
  static const std::vector<DeviceEntry> entries = {
      {"cpu", NewCpuDevice},
#ifdef EVOKERNEL_HAVE_OPENCL
      {"opencl", NewOpenClDevice},
#endif
  };
  return entries;
}

}  // namespace

std::vector<std::string> DeviceNames() {
  std::vector<std::string> names;
  for (const auto& e : Entries()) names.push_back(e.name);
  return names;
}

Result<std::unique_ptr<Device>> MakeDevice(std::string_view name) {
  for (const auto& e : Entries())
    if (name == e.name) return e.make();
  std::string known;
  for (const auto& n : DeviceNames()) known += (known.empty() ? "" : ", ") + n;
  return InvalidArgument("runner: unknown device '" + std::string(name) + "' (available: " + known + ")");
}

}  // namespace evokernel::runner
