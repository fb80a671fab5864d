#include "backend/registry.h"

namespace evokernel {

// Factories of the backend folders (src/backend/<name>/).
std::unique_ptr<Backend> NewCpuBackend();
#ifdef EVOKERNEL_HAVE_OPENCL
std::unique_ptr<Backend> NewOpenClBackend();
#endif

const std::vector<BackendEntry>& Backends() {
  static const std::vector<BackendEntry> entries = {
      {"cpu", "C++17 kernels built by g++ (OpenMP, SIMD intrinsics), run on this machine's CPU", NewCpuBackend},
#ifdef EVOKERNEL_HAVE_OPENCL
      {"opencl", "OpenCL C 1.2 kernels with a launch plan, run on an OpenCL device (PoCL on this CPU by default)",
       NewOpenClBackend},
#endif
  };
  return entries;
}

std::vector<std::string> BackendNames() {
  std::vector<std::string> names;
  for (const auto& e : Backends()) names.push_back(e.name);
  return names;
}

Result<std::unique_ptr<Backend>> MakeBackend(std::string_view name) {
  for (const auto& e : Backends())
    if (e.name == name) return e.make();
  std::string known;
  for (const auto& n : BackendNames()) known += (known.empty() ? "" : ", ") + n;
  return InvalidArgument("unknown backend '" + std::string(name) + "' (available: " + known + ")");
}

}  // namespace evokernel
