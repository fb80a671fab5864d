// evokernel-clc: the OpenCL backend's compiler tool (a build tool like g++: run by the build
// pipeline in the build directory, with a scrubbed environment, rlimits and a timeout; it never
// runs kernel code).
//
//   evokernel-clc info  [--device P:D]
//       JSON: platform, device and driver identity, for build keys and result stamps.
//   evokernel-clc build --device P:D --source FILE --plan plan.json --out kernel.bin
//       Builds FILE for the device (OpenCL C 1.2 plus the plan's allowed options), checks the
//       plan against the built kernels (names, argument count and kinds, work-group sizes,
//       local memory), and writes the program binary. With PoCL, the binary holds the compiled
//       work-group functions for every local size of the plan (POCL_BINARY_SPECIALIZE_WG, set
//       by the backend), so the runner never compiles or links anything.
//       Exit 1: the kernel or plan is wrong; stderr holds the build log and "kernel.cl:LINE: ..."
//       lines for a model. Exit 2: the tool itself could not work.
//   evokernel-clc peaks --threads N [--device P:D]
//       Roofline peaks of the device, measured by OpenCL micro-benchmarks (fp32 FMA rate, read
//       bandwidth per buffer size), as JSON (roofline/roofline.h, MachinePeaks).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/launch_plan.h"
#include "common/opencl_api.h"

namespace evokernel::opencl {
namespace {

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "evokernel-clc: %s\n", msg.c_str());
  std::exit(2);
}

std::string Arg(int argc, char** argv, const char* name, const char* def = nullptr) {
  for (int i = 2; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  if (!def) Die(std::string("missing ") + name);
  return def;
}

cl::DeviceHandle Open(const std::string& spec) {
  int p = 0, d = 0;
  if (std::sscanf(spec.c_str(), "%d:%d", &p, &d) != 2) Die("--device takes PLATFORM:DEVICE, e.g. 0:0");
  auto h = cl::OpenDevice(p, d);
  if (!h.ok()) Die(h.status().message());
  return *h;
}

nlohmann::json Info(const cl::DeviceHandle& h) {
  cl_uint cus = 0, align = 0;
  size_t max_wg = 0;
  cl_ulong local = 0, global = 0;
  clGetDeviceInfo(h.device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cus, &cus, nullptr);
  clGetDeviceInfo(h.device, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align, &align, nullptr);
  clGetDeviceInfo(h.device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof max_wg, &max_wg, nullptr);
  clGetDeviceInfo(h.device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof local, &local, nullptr);
  clGetDeviceInfo(h.device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof global, &global, nullptr);
  return {{"platform", cl::PlatformString(h.platform, CL_PLATFORM_NAME)},
          {"platform_version", cl::PlatformString(h.platform, CL_PLATFORM_VERSION)},
          {"device", cl::DeviceString(h.device, CL_DEVICE_NAME)},
          {"device_version", cl::DeviceString(h.device, CL_DEVICE_VERSION)},
          {"driver_version", cl::DeviceString(h.device, CL_DRIVER_VERSION)},
          {"compute_units", cus},
          {"max_work_group_size", max_wg},
          {"local_mem_bytes", local},
          {"global_mem_bytes", global},
          {"base_addr_align_bits", align}};
}

std::string KernelArgString(cl_kernel k, cl_uint i, cl_kernel_arg_info what) {
  size_t n = 0;
  if (clGetKernelArgInfo(k, i, what, 0, nullptr, &n) != CL_SUCCESS || n == 0) return "";
  std::string s(n, '\0');
  clGetKernelArgInfo(k, i, what, n, s.data(), nullptr);
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

// "float4*" -> "float"; "uint" -> "uint".
std::string BaseType(std::string t) {
  while (!t.empty() && (t.back() == '*' || t.back() == ' ')) t.pop_back();
  while (!t.empty() && std::isdigit(static_cast<unsigned char>(t.back()))) t.pop_back();
  return t;
}

// The OpenCL C element types a tensor of this dtype may be passed as.
std::vector<std::string> ElementTypes(const std::string& dtype) {
  if (dtype == "float32") return {"float"};
  if (dtype == "float64") return {"double"};
  if (dtype == "int64") return {"long", "ulong"};
  if (dtype == "int32") return {"int", "uint"};
  if (dtype == "bool" || dtype == "uint8") return {"uchar", "char", "bool"};
  if (dtype == "float16") return {"half", "ushort", "short"};
  return {};
}

int Build(int argc, char** argv) {
  const cl::DeviceHandle h = Open(Arg(argc, argv, "--device", "0:0"));
  std::ifstream sf(Arg(argc, argv, "--source"));
  std::stringstream ss;
  ss << sf.rdbuf();
  const std::string source = ss.str();
  std::ifstream pf(Arg(argc, argv, "--plan"));
  nlohmann::json pj;
  try {
    pf >> pj;
  } catch (const std::exception& e) {
    Die(std::string("cannot read the plan: ") + e.what());
  }
  auto plan = LaunchPlan::FromJson(pj);
  if (!plan.ok()) Die(plan.status().message());
  const std::string kernel_file = Arg(argc, argv, "--kernel-file", "kernel.cl");
  // Argument names and dtypes of the contract, for the checks.
  std::vector<std::string> arg_names = pj.value("arg_names", std::vector<std::string>{});
  std::vector<std::string> arg_dtypes = pj.value("arg_dtypes", std::vector<std::string>{});

  cl_int e = CL_SUCCESS;
  cl_context ctx = clCreateContext(nullptr, 1, &h.device, nullptr, nullptr, &e);
  if (e != CL_SUCCESS) Die("clCreateContext: " + cl::ErrorName(e));
  const char* src = source.c_str();
  const size_t len = source.size();
  cl_program prog = clCreateProgramWithSource(ctx, 1, &src, &len, &e);
  if (e != CL_SUCCESS) Die("clCreateProgramWithSource: " + cl::ErrorName(e));
  const int variant = std::atoi(Arg(argc, argv, "--variant", "0").c_str());
  const std::string options =
      "-cl-std=CL1.2 -cl-kernel-arg-info " + plan->options + " " + LaunchPlan::VariantOption(variant);
  e = clBuildProgram(prog, 1, &h.device, options.c_str(), nullptr, nullptr);
  size_t log_n = 0;
  clGetProgramBuildInfo(prog, h.device, CL_PROGRAM_BUILD_LOG, 0, nullptr, &log_n);
  std::string log(log_n, '\0');
  if (log_n) clGetProgramBuildInfo(prog, h.device, CL_PROGRAM_BUILD_LOG, log_n, log.data(), nullptr);
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
  if (e != CL_SUCCESS) {
    std::fprintf(stderr, "%s\n", log.empty() ? ("clBuildProgram: " + cl::ErrorName(e)).c_str() : log.c_str());
    return 1;
  }
  if (!log.empty()) std::fprintf(stderr, "%s\n", log.c_str());

  // The plan against what was built.
  size_t names_n = 0;
  clGetProgramInfo(prog, CL_PROGRAM_KERNEL_NAMES, 0, nullptr, &names_n);
  std::string names(names_n, '\0');
  if (names_n) clGetProgramInfo(prog, CL_PROGRAM_KERNEL_NAMES, names_n, names.data(), nullptr);
  while (!names.empty() && names.back() == '\0') names.pop_back();
  cl_ulong dev_local = 0;
  clGetDeviceInfo(h.device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof dev_local, &dev_local, nullptr);
  std::string errors;
  auto fail = [&](int line, const std::string& m) {
    errors += kernel_file + ":" + std::to_string(line) + ": " + m + "\n";
  };
  for (const auto& l : plan->launches) {
    cl_kernel k = clCreateKernel(prog, l.kernel.c_str(), &e);
    if (e != CL_SUCCESS) {
      fail(l.line, "no __kernel function named '" + l.kernel + "' (the program defines: " +
                       (names.empty() ? std::string("none") : names) + ")");
      continue;
    }
    cl_uint nargs = 0;
    clGetKernelInfo(k, CL_KERNEL_NUM_ARGS, sizeof nargs, &nargs, nullptr);
    if (nargs != l.args.size()) {
      fail(l.line, "kernel '" + l.kernel + "' takes " + std::to_string(nargs) + " arguments but args=( ) gives " +
                       std::to_string(l.args.size()));
      clReleaseKernel(k);
      continue;
    }
    cl_ulong local_bytes = 0;
    clGetKernelWorkGroupInfo(k, h.device, CL_KERNEL_LOCAL_MEM_SIZE, sizeof local_bytes, &local_bytes, nullptr);
    for (cl_uint i = 0; i < nargs; ++i) {
      const PlanArg& a = l.args[i];
      cl_kernel_arg_address_qualifier aq = 0;
      clGetKernelArgInfo(k, i, CL_KERNEL_ARG_ADDRESS_QUALIFIER, sizeof aq, &aq, nullptr);
      const std::string type = KernelArgString(k, i, CL_KERNEL_ARG_TYPE_NAME);
      const std::string pname = KernelArgString(k, i, CL_KERNEL_ARG_NAME);
      const std::string where = "argument " + std::to_string(i + 1) + " ('" + a.text + "') of '" + l.kernel + "'";
      const bool pointer = type.find('*') != std::string::npos;
      switch (a.kind) {
        case PlanArg::Kind::kTensor:
        case PlanArg::Kind::kScratch: {
          if (!pointer || (aq != CL_KERNEL_ARG_ADDRESS_GLOBAL && aq != CL_KERNEL_ARG_ADDRESS_CONSTANT)) {
            fail(l.line, where + " is a buffer, but parameter '" + pname + "' is " + type +
                             " (declare it __global TYPE*)");
            break;
          }
          if (a.kind == PlanArg::Kind::kTensor && static_cast<size_t>(a.index) < arg_dtypes.size()) {
            auto ok = ElementTypes(arg_dtypes[static_cast<size_t>(a.index)]);
            if (!ok.empty() && std::find(ok.begin(), ok.end(), BaseType(type)) == ok.end())
              fail(l.line, where + " is " + arg_dtypes[static_cast<size_t>(a.index)] + " but parameter '" + pname +
                               "' is " + type + " (use " + ok[0] + "* or a " + ok[0] + " vector type)");
          }
          break;
        }
        case PlanArg::Kind::kLocal:
          if (!pointer || aq != CL_KERNEL_ARG_ADDRESS_LOCAL)
            fail(l.line, where + " is local memory, but parameter '" + pname + "' is not a __local pointer (" + type + ")");
          local_bytes += a.bytes;
          break;
        case PlanArg::Kind::kInt:
          if (pointer || (type != "int" && type != "uint"))
            fail(l.line, where + " is an int, but parameter '" + pname + "' is " + type +
                             (type == "long" || type == "ulong" ? " (write long(...) in args)" : ""));
          break;
        case PlanArg::Kind::kLong:
          if (pointer || (type != "long" && type != "ulong"))
            fail(l.line, where + " is a long, but parameter '" + pname + "' is " + type);
          break;
        case PlanArg::Kind::kFloat:
          if (pointer || type != "float") fail(l.line, where + " is a float, but parameter '" + pname + "' is " + type);
          break;
      }
    }
    size_t wg_max = 0;
    clGetKernelWorkGroupInfo(k, h.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof wg_max, &wg_max, nullptr);
    size_t wg = 1;
    for (auto v : l.local) wg *= v;
    if (wg_max > 0 && wg > wg_max)
      fail(l.line, "a work-group of " + std::to_string(wg) + " work-items is more than '" + l.kernel +
                       "' can run on this device (" + std::to_string(wg_max) + ")");
    size_t reqd[3] = {0, 0, 0};
    clGetKernelWorkGroupInfo(k, h.device, CL_KERNEL_COMPILE_WORK_GROUP_SIZE, sizeof reqd, reqd, nullptr);
    if (reqd[0] != 0)
      for (size_t d = 0; d < 3; ++d) {
        size_t want = d < l.local.size() ? l.local[d] : 1;
        if (reqd[d] != want) {
          fail(l.line, "local=( ) does not match the kernel's reqd_work_group_size attribute");
          break;
        }
      }
    if (local_bytes > dev_local)
      fail(l.line, "'" + l.kernel + "' needs " + std::to_string(local_bytes) + " bytes of local memory; the device has " +
                       std::to_string(dev_local));
    clReleaseKernel(k);
  }
  if (!errors.empty()) {
    std::fprintf(stderr, "%s", errors.c_str());
    return 1;
  }
  // The binary: with PoCL this also compiles the work-group functions of the plan's local sizes.
  size_t bin_n = 0;
  e = clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof bin_n, &bin_n, nullptr);
  if (e != CL_SUCCESS || bin_n == 0) Die("the OpenCL driver gave no program binary (" + cl::ErrorName(e) + ")");
  std::vector<unsigned char> bin(bin_n);
  unsigned char* bp = bin.data();
  e = clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bp, &bp, nullptr);
  if (e != CL_SUCCESS) Die("clGetProgramInfo(CL_PROGRAM_BINARIES): " + cl::ErrorName(e));
  std::ofstream out(Arg(argc, argv, "--out"), std::ios::binary);
  out.write(reinterpret_cast<const char*>(bin.data()), static_cast<std::streamsize>(bin.size()));
  if (!out) Die("cannot write the program binary");
  clReleaseProgram(prog);
  clReleaseContext(ctx);
  return 0;
}

// ---- peaks ----

const char* kPeaksSource = R"CL(
__kernel void rd(__global const float* a, __global float* out, int chunk16, int reps) {
  // Each work-item sums its own contiguous chunk with 16-wide loads (what a CPU device streams
  // fastest); several accumulators hide the add latency.
  const int gid = get_global_id(0);
  __global const float* p = a + (size_t)gid * chunk16 * 16;
  float16 s0 = (float16)(0.0f), s1 = (float16)(0.0f);
  for (int r = 0; r < reps; ++r) {
    int i = 0;
    for (; i + 1 < chunk16; i += 2) { s0 += vload16(i, p); s1 += vload16(i + 1, p); }
    if (i < chunk16) s0 += vload16(i, p);
  }
  float16 s = s0 + s1;
  out[gid] = s.s0 + s.s1 + s.s2 + s.s3 + s.s4 + s.s5 + s.s6 + s.s7 + s.s8 + s.s9 + s.sa + s.sb + s.sc + s.sd + s.se + s.sf;
}
__kernel void fma8(__global float* out, int iters, float m) {
  float8 a = (float8)(get_global_id(0) * 1e-9f), b = a + 1.0f, c = a + 2.0f, d = a + 3.0f;
  float8 e = a + 4.0f, f = a + 5.0f, g = a + 6.0f, h = a + 7.0f;
  for (int i = 0; i < iters; ++i) {
    a = fma(a, m, 0.5f); b = fma(b, m, 0.5f); c = fma(c, m, 0.5f); d = fma(d, m, 0.5f);
    e = fma(e, m, 0.5f); f = fma(f, m, 0.5f); g = fma(g, m, 0.5f); h = fma(h, m, 0.5f);
  }
  float8 s = a + b + c + d + e + f + g + h;
  out[get_global_id(0)] = s.s0 + s.s1 + s.s2 + s.s3 + s.s4 + s.s5 + s.s6 + s.s7;
}
)CL";

double EventNs(cl_event ev) {
  cl_ulong t0 = 0, t1 = 0;
  clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof t0, &t0, nullptr);
  clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof t1, &t1, nullptr);
  return static_cast<double>(t1 - t0);
}

int Peaks(int argc, char** argv) {
  const int threads = std::max(1, std::atoi(Arg(argc, argv, "--threads", "1").c_str()));
  const cl::DeviceHandle h = Open(Arg(argc, argv, "--device", "0:0"));
  cl_int e = CL_SUCCESS;
  cl_context ctx = clCreateContext(nullptr, 1, &h.device, nullptr, nullptr, &e);
  if (e != CL_SUCCESS) Die("clCreateContext: " + cl::ErrorName(e));
  cl_command_queue q = clCreateCommandQueue(ctx, h.device, CL_QUEUE_PROFILING_ENABLE, &e);
  if (e != CL_SUCCESS) Die("clCreateCommandQueue: " + cl::ErrorName(e));
  const char* src = kPeaksSource;
  cl_program prog = clCreateProgramWithSource(ctx, 1, &src, nullptr, &e);
  if (clBuildProgram(prog, 1, &h.device, "-cl-std=CL1.2 -cl-mad-enable", nullptr, nullptr) != CL_SUCCESS)
    Die("the micro-benchmark did not build");
  cl_kernel rd = clCreateKernel(prog, "rd", &e), fma = clCreateKernel(prog, "fma8", &e);
  cl_uint cus = 1;
  clGetDeviceInfo(h.device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cus, &cus, nullptr);
  // Enough work-groups for every compute unit, several times over.
  const size_t local = 64, groups = std::max<size_t>(16, size_t{cus} * 8), global = local * groups;
  cl_mem out = clCreateBuffer(ctx, CL_MEM_READ_WRITE, global * sizeof(float), nullptr, &e);

  // FMA: 8 chains of float8 per work-item, 2 flops per lane per fma. The best of 5 runs.
  double best_flops = 0;
  {
    int iters = 4096;
    const float m = 0.999f;
    clSetKernelArg(fma, 0, sizeof out, &out);
    clSetKernelArg(fma, 2, sizeof m, &m);
    for (int run = 0; run < 7; ++run) {
      clSetKernelArg(fma, 1, sizeof iters, &iters);
      cl_event ev;
      clEnqueueNDRangeKernel(q, fma, 1, nullptr, &global, &local, 0, nullptr, &ev);
      clFinish(q);
      const double ns = EventNs(ev);
      clReleaseEvent(ev);
      if (ns < 20e6 && iters < (1 << 22)) {  // too short to time well: more work
        iters *= 4;
        continue;
      }
      const double flops = double(global) * iters * 8 * 8 * 2;
      best_flops = std::max(best_flops, flops / ns * 1e9);
    }
  }
  // Read bandwidth per buffer size: the best of several passes over a buffer already resident
  // (the highest figure an honest kernel could see at that working set), over a few launch
  // shapes (work-items per compute unit), since which one a device streams fastest varies.
  nlohmann::json bw = nlohmann::json::array();
  for (size_t bytes = size_t{32} << 10; bytes <= size_t{256} << 20; bytes *= 4) {
    cl_mem a = clCreateBuffer(ctx, CL_MEM_READ_ONLY, bytes, nullptr, &e);
    if (e != CL_SUCCESS) break;
    std::vector<float> ones(bytes / sizeof(float), 1.0f);
    clEnqueueWriteBuffer(q, a, CL_TRUE, 0, bytes, ones.data(), 0, nullptr, nullptr);
    const int reps = static_cast<int>(std::max<size_t>(1, (size_t{64} << 20) / bytes));
    double best = 0;
    for (size_t items_per_cu : {size_t{1}, size_t{4}, size_t{16}, size_t{64}}) {
      size_t items = std::max<size_t>(1, size_t{cus} * items_per_cu);
      while (items > 1 && bytes / 64 / items < 4) items /= 2;  // at least 4 loads per work-item
      const int chunk16 = static_cast<int>(bytes / 64 / items);
      if (chunk16 < 1) continue;
      const size_t lsz = std::min<size_t>(items, 16);
      const size_t gsz = (items / lsz) * lsz;
      if (gsz == 0 || gsz * sizeof(float) > global * sizeof(float) * 64) continue;
      cl_mem o = clCreateBuffer(ctx, CL_MEM_READ_WRITE, gsz * sizeof(float), nullptr, &e);
      clSetKernelArg(rd, 0, sizeof a, &a);
      clSetKernelArg(rd, 1, sizeof o, &o);
      clSetKernelArg(rd, 2, sizeof chunk16, &chunk16);
      clSetKernelArg(rd, 3, sizeof reps, &reps);
      for (int run = 0; run < 4; ++run) {
        cl_event ev;
        if (clEnqueueNDRangeKernel(q, rd, 1, nullptr, &gsz, &lsz, 0, nullptr, &ev) != CL_SUCCESS) break;
        clFinish(q);
        const double ns = EventNs(ev);
        clReleaseEvent(ev);
        const double read = double(gsz) * chunk16 * 64 * reps;
        if (ns > 0) best = std::max(best, read / ns * 1e9);
      }
      clReleaseMemObject(o);
    }
    clReleaseMemObject(a);
    if (best > 0) bw.push_back({{"bytes", bytes}, {"bytes_per_s", best}});
  }
  if (!(best_flops > 0) || bw.empty()) Die("the micro-benchmark measured nothing");
  nlohmann::json j = {{"threads", threads},
                      {"flops_per_s", best_flops},
                      {"read_bandwidth", bw},
                      {"device", cl::DeviceString(h.device, CL_DEVICE_NAME)}};
  std::cout << j.dump(2) << "\n";
  return 0;
}

}  // namespace
}  // namespace evokernel::opencl

int main(int argc, char** argv) {
  using namespace evokernel::opencl;
  if (argc < 2) Die("usage: evokernel-clc info|build|peaks [options]");
  const std::string cmd = argv[1];
  if (cmd == "peaks") {
    // The device's own threads: PoCL's pthread device takes its worker count from here.
    setenv("POCL_MAX_PTHREAD_COUNT", Arg(argc, argv, "--threads", "1").c_str(), 1);
    return Peaks(argc, argv);
  }
  if (cmd == "info") {
    std::cout << Info(Open(Arg(argc, argv, "--device", "0:0"))).dump() << "\n";
    return 0;
  }
  if (cmd == "build") {
    // PoCL reads these when the platform starts: where its kernel cache goes (private to the
    // build), and the local sizes whose work-group functions go into the binary.
    setenv("POCL_CACHE_DIR", Arg(argc, argv, "--cache-dir").c_str(), 1);
    if (std::string wg = Arg(argc, argv, "--specialize", ""); !wg.empty()) setenv("POCL_BINARY_SPECIALIZE_WG", wg.c_str(), 1);
    setenv("POCL_MAX_PTHREAD_COUNT", "1", 1);
    return Build(argc, argv);
  }
  Die("unknown command '" + cmd + "' (info, build, peaks)");
}
