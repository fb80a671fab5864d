// The CPU device: the artifact is a shared object whose evokernel_entry(void* const* args)
// calls the kernel with the host pointers; there is no device memory, so Upload and Download
// do nothing and the host clock times the call.
//
// Threads: the OpenMP pool (threads - 1 workers) is started in Init, before any filter, and
// the filters hold every later thread creation as a violation: a kernel gets exactly the
// threads it was granted, however it asks for more (num_threads, nested regions, releasing
// and re-creating the pool).
#include <dlfcn.h>
#include <omp.h>

#include <atomic>
#include <exception>
#include <new>

#include "runner/device.h"
#include "runner/fp_env.h"

namespace evokernel::runner {
namespace {

class CpuDevice final : public Device {
 public:
  SandboxPolicy Policy(const DeviceConfig&) const override {
    // The loader opens only the artifact: the libraries a kernel may link are loaded in Init.
    return {};
  }

  Status Init(const DeviceConfig& config) override {
    threads_ = config.threads < 1 ? 1 : config.threads;
    // Libraries a kernel may link (anticheat: ScanObject) that the runner does not link itself.
    for (const char* lib : {"libmvec.so.1"}) (void)dlopen(lib, RTLD_NOW | RTLD_GLOBAL);
    omp_set_dynamic(0);
    omp_set_num_threads(threads_);
    std::atomic<int> started{0};
#pragma omp parallel
    { started.fetch_add(1); }
    if (started.load() != threads_)
      return Internal("could not start " + std::to_string(threads_) + " OpenMP threads (got " +
                      std::to_string(started.load()) + ")");
    base_ = ReadFpEnv();
    return Status::Ok();
  }

  Status Load(const DeviceConfig& config) override {
    handle_ = dlopen(config.artifact.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle_) return Status(StatusCode::kRuntimeError, std::string("cannot load the kernel: ") + dlerror());
    entry_ = reinterpret_cast<void (*)(void* const*)>(dlsym(handle_, "evokernel_entry"));
    auto nargs = reinterpret_cast<int (*)()>(dlsym(handle_, "evokernel_num_args"));
    if (!entry_ || !nargs)
      return Status(StatusCode::kRuntimeError, "the kernel library lacks evokernel_entry; was it built by evokernel?");
    if (nargs() != static_cast<int>(config.args.size()))
      return InvalidArgument("the kernel was built for " + std::to_string(nargs()) + " arguments but the contract has " +
                             std::to_string(config.args.size()));
    return Status::Ok();
  }

  Status Upload(void* const*, int, int) override { return Status::Ok(); }

  Status Launch(void* const* args) override {
    try {
      entry_(args);
    } catch (const std::bad_alloc& e) {
      return Status(StatusCode::kRuntimeError,
                    std::string("memory_limit: the kernel could not allocate memory (") + e.what() +
                        "); the kernel process may use at most --memory-limit GiB of address space");
    } catch (const std::exception& e) {
      return Status(StatusCode::kRuntimeError, std::string("the kernel threw an exception: ") + e.what());
    } catch (...) {
      return Status(StatusCode::kRuntimeError, "the kernel threw a non-standard exception");
    }
    return Status::Ok();
  }

  Status Synchronize(double* device_ns) override {
    *device_ns = -1;
    return Status::Ok();
  }

  Status Download(void* const*, bool, DeviceObservation& obs) override {
    // The calling thread's FP environment is checked by the host; the pool's workers are
    // checked here, each restoring its own.
    if (threads_ > 1) {
      std::atomic<uint32_t> changed{0};
      const FpEnv base = base_;
#pragma omp parallel
      {
        if (omp_get_thread_num() != 0) changed.fetch_or(CheckAndRestoreFpEnv(base));
      }
      obs.fp_workers_changed = changed.load() != 0;
    }
    return Status::Ok();
  }

 private:
  int threads_ = 1;
  FpEnv base_;
  void* handle_ = nullptr;
  void (*entry_)(void* const*) = nullptr;
};

}  // namespace

std::unique_ptr<Device> NewCpuDevice() { return std::make_unique<CpuDevice>(); }

}  // namespace evokernel::runner
