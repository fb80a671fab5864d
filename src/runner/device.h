// The runner's view of a backend: load an artifact, call it on host buffers.
//
// A device implementation owns whatever the backend needs (a dlopen handle for cpu; a context,
// device buffers and a stream for GPU backends) and must return from Call only when all work
// the kernel started has finished and outputs are back in the host buffers.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace evokernel::runner {

class Device {
 public:
  virtual ~Device() = default;
  // Loads the artifact and finds its entry point.
  virtual Status Load(const std::string& artifact) = 0;
  // Number of arguments the artifact was built for (valid after Load).
  virtual int NumArgs() const = 0;
  // Runs the kernel once. args: inputs, params, outputs (host pointers, contract order).
  virtual Status Call(void* const* args) = 0;
};

std::unique_ptr<Device> NewCpuDevice();
Result<std::unique_ptr<Device>> MakeDevice(std::string_view backend);

}  // namespace evokernel::runner
