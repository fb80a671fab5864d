#include <dlfcn.h>

#include <exception>
#include <new>

#include "runner/device.h"

namespace evokernel::runner {
namespace {

class CpuDevice final : public Device {
 public:
  ~CpuDevice() override = default;  // the library stays loaded until the process exits

  Status Load(const std::string& artifact) override {
    handle_ = dlopen(artifact.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle_) return Status(StatusCode::kRuntimeError, std::string("cannot load the kernel: ") + dlerror());
    entry_ = reinterpret_cast<void (*)(void* const*)>(dlsym(handle_, "evokernel_entry"));
    auto nargs = reinterpret_cast<int (*)()>(dlsym(handle_, "evokernel_num_args"));
    if (!entry_ || !nargs)
      return Status(StatusCode::kRuntimeError, "the kernel library lacks evokernel_entry; was it built by evokernel?");
    num_args_ = nargs();
    return Status::Ok();
  }

  int NumArgs() const override { return num_args_; }

  Status Call(void* const* args) override {
    try {
      entry_(args);
    } catch (const std::bad_alloc& e) {
      return Status(StatusCode::kRuntimeError, std::string("memory_limit: the kernel could not allocate memory (") +
                                                   e.what() + "); the kernel process may use at most --memory-limit GiB of address space");
    } catch (const std::exception& e) {
      return Status(StatusCode::kRuntimeError, std::string("the kernel threw an exception: ") + e.what());
    } catch (...) {
      return Status(StatusCode::kRuntimeError, "the kernel threw a non-standard exception");
    }
    return Status::Ok();
  }

 private:
  void* handle_ = nullptr;
  void (*entry_)(void* const*) = nullptr;
  int num_args_ = -1;
};

}  // namespace

std::unique_ptr<Device> NewCpuDevice() { return std::make_unique<CpuDevice>(); }

Result<std::unique_ptr<Device>> MakeDevice(std::string_view backend) {
  if (backend == "cpu") return NewCpuDevice();
  return InvalidArgument("runner: unknown backend '" + std::string(backend) + "'");
}

}  // namespace evokernel::runner
