// The OpenCL device: runs a program binary built by evokernel-clc, following its launch plan
// (common/launch_plan.h, plan.json next to the artifact). No model-written host code exists.
//
// Memory: every contract argument has device buffers of its own, one per place the argument
// moves between (DeviceConfig::in_aliases / out_aliases), each a sub-buffer fenced by canary
// bytes on both sides inside a larger allocation; scratch buffers of the plan are fenced too.
// A call uploads the inputs and the poisoned outputs (and poisons the scratch buffers and
// refills every fence), launches the plan (timed: profiling events from the first launch's
// start to the last one's end), waits for the queue, then reads the outputs and the fences
// back (and, when asked, the inputs, to catch writes to them).
//
// Sandbox policy: the OpenCL platform, context, queue, program (from the binary) and buffers
// are created in Init, before any filter, and no kernel code runs there. The driver's compiled
// kernels are loaded at their first launch, in Prepare, under the load filter: PoCL unpacks
// the binary into a private cache directory inside the evaluation's work directory, and that
// directory is all it may open (read-only). PoCL's worker threads (POCL_MAX_PTHREAD_COUNT =
// the granted threads) are started in Init.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/launch_plan.h"
#include "common/opencl_api.h"
#include "common/poison.h"
#include "runner/device.h"

namespace evokernel::runner {
namespace {

// Bytes of canary on each side of every buffer (a multiple of every device's base address
// alignment in practice: 1024 bits on PoCL).
constexpr size_t kFence = 4096;
constexpr unsigned char kCanaryByte = 0xA5;

// One allocation as three sub-buffers: [fence | data | fence]. The allocation itself is never
// used after that (PoCL does not mix commands on a buffer and its sub-buffers well).
struct FencedBuffer {
  cl_mem parent = nullptr;
  cl_mem data = nullptr;                  // [kFence, kFence + bytes)
  cl_mem fence[2] = {nullptr, nullptr};   // before and after the data
  size_t bytes = 0;                       // of the data sub-buffer (padded to the alignment)
  size_t used = 0;                        // of the argument: [used, bytes) is canary as well
};

std::string ClStatus(const char* what, cl_int e) { return std::string(what) + ": " + cl::ErrorName(e); }

class OpenClDevice final : public Device {
 public:
  ~OpenClDevice() override {
    // The process ends right after; nothing to release that the OS would not.
  }

  SandboxPolicy Policy(const DeviceConfig& config) const override {
    SandboxPolicy p;
    const std::string cache = config.work_dir + "/pocl-cache";
    p.read_paths = {cache + "/"};
    p.env = {{"POCL_CACHE_DIR", cache},
             {"POCL_MAX_PTHREAD_COUNT", std::to_string(std::max(1, config.threads))},
             {"POCL_SIGFPE_HANDLER", "0"}};
    // (The binary holds the work-group functions of the plan's local sizes, so PoCL never
    // compiles or links here; if it tried, the exec would trap.)
    p.runtime_threads = std::max(1, config.threads);
    // PoCL makes sure the directories of its cache exist before loading a kernel from it.
    p.load_errno = {{"mkdir", EEXIST}, {"mkdirat", EEXIST}};
    return p;
  }

  Status Init(const DeviceConfig& config) override {
    config_ = config;
    const std::string dir = config.artifact.substr(0, config.artifact.rfind('/'));
    std::ifstream pf(dir + "/plan.json");
    if (!pf) return Status(StatusCode::kRuntimeError, "the OpenCL kernel has no plan.json next to it");
    nlohmann::json pj;
    try {
      pf >> pj;
    } catch (const std::exception& e) {
      return Status(StatusCode::kRuntimeError, std::string("plan.json is malformed: ") + e.what());
    }
    auto plan = LaunchPlan::FromJson(pj);
    if (!plan.ok()) return plan.status();
    plan_ = std::move(plan).value();
    for (const auto& l : plan_.launches)
      for (const auto& a : l.args)
        if (a.kind == PlanArg::Kind::kTensor && (a.index < 0 || static_cast<size_t>(a.index) >= config.args.size()))
          return InvalidArgument("the launch plan names argument " + std::to_string(a.index) + " of " +
                                 std::to_string(config.args.size()));
    auto h = cl::OpenDevice(plan_.platform, plan_.device);
    if (!h.ok()) return h.status();
    device_ = h->device;
    cl_uint align_bits = 0;
    clGetDeviceInfo(device_, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align_bits, &align_bits, nullptr);
    align_ = std::max<size_t>(4, align_bits / 8);
    if (kFence % align_ != 0) return Unavailable("the OpenCL device needs a base address alignment above 4 KiB");
    cl_int e = CL_SUCCESS;
    ctx_ = clCreateContext(nullptr, 1, &device_, nullptr, nullptr, &e);
    if (e != CL_SUCCESS) return Internal(ClStatus("clCreateContext", e));
    queue_ = clCreateCommandQueue(ctx_, device_, CL_QUEUE_PROFILING_ENABLE, &e);
    if (e != CL_SUCCESS) return Internal(ClStatus("clCreateCommandQueue", e));
    // One program per variant (common/launch_plan.h), each from its binary next to plan.json.
    for (int v = 0; v < plan_.variants; ++v) {
      const std::string file = v == 0 ? config.artifact : dir + "/" + LaunchPlan::VariantFile(v);
      std::ifstream bf(file, std::ios::binary);
      std::string bin((std::istreambuf_iterator<char>(bf)), std::istreambuf_iterator<char>());
      if (bin.empty()) return Status(StatusCode::kRuntimeError, "cannot read the program binary " + file);
      const unsigned char* bp = reinterpret_cast<const unsigned char*>(bin.data());
      const size_t bn = bin.size();
      cl_int bin_status = CL_SUCCESS;
      cl_program prog = clCreateProgramWithBinary(ctx_, 1, &device_, &bn, &bp, &bin_status, &e);
      if (e != CL_SUCCESS || bin_status != CL_SUCCESS)
        return Status(StatusCode::kRuntimeError, ClStatus("clCreateProgramWithBinary", e != CL_SUCCESS ? e : bin_status) +
                                                     " (was the kernel built for another device?)");
      const std::string options = "-cl-std=CL1.2 " + plan_.options + " " + LaunchPlan::VariantOption(v);
      e = clBuildProgram(prog, 1, &device_, options.c_str(), nullptr, nullptr);
      if (e != CL_SUCCESS) return Status(StatusCode::kRuntimeError, ClStatus("clBuildProgram (binary)", e));
      programs_.push_back(prog);
    }
    for (const auto& l : plan_.launches) {
      cl_kernel k = clCreateKernel(programs_[static_cast<size_t>(l.variant)], l.kernel.c_str(), &e);
      if (e != CL_SUCCESS) return Status(StatusCode::kRuntimeError, ClStatus(("clCreateKernel " + l.kernel).c_str(), e));
      kernels_.push_back(k);
    }
    // Buffers: per argument, one per place it moves between.
    for (const auto& a : config.args) {
      const int places = a.output ? std::max(1, config.out_aliases) : std::max(1, config.in_aliases);
      std::vector<FencedBuffer> bufs;
      for (int i = 0; i < places; ++i) {
        auto b = Allocate(a.nbytes);
        if (!b.ok()) return b.status();
        bufs.push_back(*b);
      }
      args_.push_back(std::move(bufs));
    }
    for (const auto& s : plan_.scratch) {
      auto b = Allocate(s.bytes);
      if (!b.ok()) return b.status();
      scratch_.push_back(*b);
    }
    // Scalars and local memory never change: set once.
    for (size_t li = 0; li < plan_.launches.size(); ++li) {
      const auto& l = plan_.launches[li];
      for (size_t ai = 0; ai < l.args.size(); ++ai) {
        const PlanArg& a = l.args[ai];
        const cl_uint idx = static_cast<cl_uint>(ai);
        cl_int r = CL_SUCCESS;
        switch (a.kind) {
          case PlanArg::Kind::kInt: {
            cl_int v = static_cast<cl_int>(a.i);
            r = clSetKernelArg(kernels_[li], idx, sizeof v, &v);
            break;
          }
          case PlanArg::Kind::kLong: {
            cl_long v = a.i;
            r = clSetKernelArg(kernels_[li], idx, sizeof v, &v);
            break;
          }
          case PlanArg::Kind::kFloat: {
            cl_float v = static_cast<cl_float>(a.f);
            r = clSetKernelArg(kernels_[li], idx, sizeof v, &v);
            break;
          }
          case PlanArg::Kind::kLocal: r = clSetKernelArg(kernels_[li], idx, a.bytes, nullptr); break;
          case PlanArg::Kind::kScratch:
            r = clSetKernelArg(kernels_[li], idx, sizeof(cl_mem), &scratch_[static_cast<size_t>(a.index)].data);
            break;
          case PlanArg::Kind::kTensor: break;  // per call
        }
        if (r != CL_SUCCESS)
          return Status(StatusCode::kRuntimeError, ClStatus(("argument " + a.text + " of " + l.kernel).c_str(), r));
      }
    }
    canary_.assign(kFence, kCanaryByte);
    fence_read_.resize(kFence);
    return Status::Ok();
  }

  Status Load(const DeviceConfig&) override { return Status::Ok(); }

  // The first launch of every kernel loads its compiled code (PoCL: a dlopen from the private
  // cache directory), under the load filter, on zeroed buffers.
  Status Prepare() override {
    for (auto& per_arg : args_)
      for (auto& b : per_arg) {
        const cl_uchar zero = 0;
        clEnqueueFillBuffer(queue_, b.data, &zero, 1, 0, b.bytes, 0, nullptr, nullptr);
      }
    for (auto& b : scratch_) {
      const cl_uchar zero = 0;
      clEnqueueFillBuffer(queue_, b.data, &zero, 1, 0, b.bytes, 0, nullptr, nullptr);
    }
    in_place_ = 0;
    out_place_ = 0;
    EVK_RETURN_IF_ERROR(Enqueue());
    double ns = 0;
    return Synchronize(&ns);
  }

  Status Upload(void* const* args, int in_alias, int out_alias) override {
    in_place_ = in_alias;
    out_place_ = out_alias;
    for (size_t i = 0; i < config_.args.size(); ++i) {
      const auto& a = config_.args[i];
      const FencedBuffer& b = Current(i);
      // Inputs every call (a kernel that wrote to its input on the device gets the input back),
      // outputs poisoned as the host holds them.
      if (a.nbytes > 0) {
        cl_int e = clEnqueueWriteBuffer(queue_, b.data, CL_FALSE, 0, a.nbytes, args[i], 0, nullptr, nullptr);
        if (e != CL_SUCCESS) return Status(StatusCode::kRuntimeError, ClStatus("upload", e));
      }
      EVK_RETURN_IF_ERROR(FillFences(b));
    }
    for (auto& s : scratch_) {
      const cl_uint poison = kPoisonF32;
      cl_int e = clEnqueueFillBuffer(queue_, s.data, &poison, sizeof poison, 0, s.bytes & ~size_t{3}, 0, nullptr, nullptr);
      if (e != CL_SUCCESS) return Status(StatusCode::kRuntimeError, ClStatus("scratch poison", e));
      EVK_RETURN_IF_ERROR(FillFences(s));
    }
    cl_int e = clFinish(queue_);
    return e == CL_SUCCESS ? Status::Ok() : Status(StatusCode::kRuntimeError, ClStatus("upload", e));
  }

  Status Launch(void* const*) override { return Enqueue(); }

  Status Synchronize(double* device_ns) override {
    *device_ns = -1;
    cl_int e = clFinish(queue_);
    Status st = Status::Ok();
    if (e != CL_SUCCESS) st = Status(StatusCode::kRuntimeError, ClStatus("the kernel failed", e));
    if (first_ && last_ && st.ok()) {
      cl_int s1 = CL_COMPLETE, s2 = CL_COMPLETE;
      clGetEventInfo(first_, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof s1, &s1, nullptr);
      clGetEventInfo(last_, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof s2, &s2, nullptr);
      if (s1 < 0 || s2 < 0) {
        st = Status(StatusCode::kRuntimeError, "a kernel launch failed on the device (" + cl::ErrorName(s1 < 0 ? s1 : s2) + ")");
      } else {
        cl_ulong t0 = 0, t1 = 0;
        if (clGetEventProfilingInfo(first_, CL_PROFILING_COMMAND_START, sizeof t0, &t0, nullptr) == CL_SUCCESS &&
            clGetEventProfilingInfo(last_, CL_PROFILING_COMMAND_END, sizeof t1, &t1, nullptr) == CL_SUCCESS && t1 >= t0)
          *device_ns = static_cast<double>(t1 - t0);
      }
    }
    ReleaseEvents();
    return st;
  }

  Status Download(void* const* args, bool inputs_too, DeviceObservation& obs) override {
    for (size_t i = 0; i < config_.args.size(); ++i) {
      const auto& a = config_.args[i];
      const FencedBuffer& b = Current(i);
      if (a.output && a.nbytes > 0) {
        cl_int e = clEnqueueReadBuffer(queue_, b.data, CL_TRUE, 0, a.nbytes, args[i], 0, nullptr, nullptr);
        if (e != CL_SUCCESS) return Status(StatusCode::kRuntimeError, ClStatus("download", e));
      } else if (!a.output && inputs_too && a.nbytes > 0) {
        check_.resize(a.nbytes);
        cl_int e = clEnqueueReadBuffer(queue_, b.data, CL_TRUE, 0, a.nbytes, check_.data(), 0, nullptr, nullptr);
        if (e != CL_SUCCESS) return Status(StatusCode::kRuntimeError, ClStatus("download", e));
        if (std::memcmp(check_.data(), args[i], a.nbytes) != 0) obs.modified_inputs.push_back(a.name);
      }
      EVK_RETURN_IF_ERROR(CheckFences(b, a.name, obs));
    }
    for (size_t s = 0; s < scratch_.size(); ++s) EVK_RETURN_IF_ERROR(CheckFences(scratch_[s], plan_.scratch[s].name, obs));
    return Status::Ok();
  }

 private:
  Result<FencedBuffer> Allocate(size_t nbytes) {
    FencedBuffer b;
    // Sub-buffers start at multiples of the device's base address alignment.
    b.bytes = std::max<size_t>(align_, (nbytes + align_ - 1) / align_ * align_);
    b.used = nbytes;
    cl_int e = CL_SUCCESS;
    b.parent = clCreateBuffer(ctx_, CL_MEM_READ_WRITE, b.bytes + 2 * kFence, nullptr, &e);
    if (e != CL_SUCCESS)
      return Status(StatusCode::kRuntimeError, "memory_limit: " + ClStatus("could not allocate device memory", e));
    const cl_buffer_region regions[3] = {{0, kFence}, {kFence, b.bytes}, {kFence + b.bytes, kFence}};
    cl_mem* parts[3] = {&b.fence[0], &b.data, &b.fence[1]};
    for (int i = 0; i < 3; ++i) {
      *parts[i] = clCreateSubBuffer(b.parent, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &regions[i], &e);
      if (e != CL_SUCCESS) return Internal(ClStatus("clCreateSubBuffer", e));
    }
    return b;
  }

  const FencedBuffer& Current(size_t arg) const {
    const auto& v = args_[arg];
    const int place = config_.args[arg].output ? out_place_ : in_place_;
    return v[static_cast<size_t>(place) % v.size()];
  }

  Status FillFences(const FencedBuffer& b) {
    for (cl_mem f : b.fence) {
      cl_int e = clEnqueueFillBuffer(queue_, f, &kCanaryByte, 1, 0, kFence, 0, nullptr, nullptr);
      if (e != CL_SUCCESS) return Status(StatusCode::kRuntimeError, ClStatus("fence", e));
    }
    if (b.used < b.bytes) {
      cl_int e = clEnqueueFillBuffer(queue_, b.data, &kCanaryByte, 1, b.used, b.bytes - b.used, 0, nullptr, nullptr);
      if (e != CL_SUCCESS) return Status(StatusCode::kRuntimeError, ClStatus("fence", e));
    }
    return Status::Ok();
  }

  Status CheckFences(const FencedBuffer& b, const std::string& name, DeviceObservation& obs) {
    for (int side = 0; side < 2; ++side) {
      cl_int e = clEnqueueReadBuffer(queue_, b.fence[side], CL_TRUE, 0, kFence, fence_read_.data(), 0, nullptr, nullptr);
      if (e != CL_SUCCESS) return Status(StatusCode::kRuntimeError, ClStatus("fence read", e));
      bool hit = std::memcmp(fence_read_.data(), canary_.data(), kFence) != 0;
      if (side == 1 && !hit && b.used < b.bytes) {
        cl_int e2 = clEnqueueReadBuffer(queue_, b.data, CL_TRUE, b.used, b.bytes - b.used, fence_read_.data(), 0, nullptr, nullptr);
        if (e2 != CL_SUCCESS) return Status(StatusCode::kRuntimeError, ClStatus("fence read", e2));
        hit = std::memcmp(fence_read_.data(), canary_.data(), b.bytes - b.used) != 0;
      }
      if (hit) obs.canary.emplace_back(name, side == 0 ? "before" : "after");
    }
    return Status::Ok();
  }

  Status Enqueue() {
    ReleaseEvents();
    for (size_t li = 0; li < plan_.launches.size(); ++li) {
      const auto& l = plan_.launches[li];
      for (size_t ai = 0; ai < l.args.size(); ++ai) {
        const PlanArg& a = l.args[ai];
        if (a.kind != PlanArg::Kind::kTensor) continue;
        cl_mem m = Current(static_cast<size_t>(a.index)).data;
        cl_int e = clSetKernelArg(kernels_[li], static_cast<cl_uint>(ai), sizeof m, &m);
        if (e != CL_SUCCESS) return Status(StatusCode::kRuntimeError, ClStatus(("argument " + a.text).c_str(), e));
      }
      cl_event ev = nullptr;
      cl_int e = clEnqueueNDRangeKernel(queue_, kernels_[li], static_cast<cl_uint>(l.global.size()), nullptr,
                                        reinterpret_cast<const size_t*>(l.global.data()),
                                        reinterpret_cast<const size_t*>(l.local.data()), 0, nullptr, &ev);
      if (e != CL_SUCCESS) {
        ReleaseEvents();
        return Status(StatusCode::kRuntimeError,
                      ClStatus(("launch of " + l.kernel + " (kernel.cl:" + std::to_string(l.line) + ")").c_str(), e));
      }
      // Keep the first launch's event and the latest one (each holding its own reference).
      if (!first_) {
        first_ = ev;
        clRetainEvent(ev);
      } else {
        clReleaseEvent(last_);
      }
      last_ = ev;
    }
    clFlush(queue_);
    return Status::Ok();
  }

  void ReleaseEvents() {
    if (first_) clReleaseEvent(first_);
    if (last_) clReleaseEvent(last_);
    first_ = last_ = nullptr;
  }

  DeviceConfig config_;
  LaunchPlan plan_;
  cl_device_id device_ = nullptr;
  cl_context ctx_ = nullptr;
  cl_command_queue queue_ = nullptr;
  std::vector<cl_program> programs_;  // per variant
  std::vector<cl_kernel> kernels_;                 // one per launch
  std::vector<std::vector<FencedBuffer>> args_;    // per contract argument, per place
  std::vector<FencedBuffer> scratch_;
  int in_place_ = 0, out_place_ = 0;
  size_t align_ = 128;  // CL_DEVICE_MEM_BASE_ADDR_ALIGN, in bytes
  cl_event first_ = nullptr, last_ = nullptr;
  std::vector<unsigned char> canary_, fence_read_, check_;
};

static_assert(sizeof(size_t) == sizeof(uint64_t), "launch sizes are passed as size_t");

}  // namespace

std::unique_ptr<Device> NewOpenClDevice() { return std::make_unique<OpenClDevice>(); }

}  // namespace evokernel::runner
