// OpenCL host-API helpers shared by the OpenCL compiler tool (src/backend/opencl/clc_main.cpp)
// and the runner's OpenCL device (src/runner/devices/opencl_device.cpp): opening the device a
// build was made for, and naming error codes. Only targets built with OpenCL include this.
#pragma once

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include <string>
#include <vector>

#include "common/status.h"

namespace evokernel::cl {

inline std::string ErrorName(cl_int e) {
  switch (e) {
#define EVK_CL_ERR(x) \
  case x:             \
    return #x;
    EVK_CL_ERR(CL_SUCCESS)
    EVK_CL_ERR(CL_DEVICE_NOT_FOUND)
    EVK_CL_ERR(CL_DEVICE_NOT_AVAILABLE)
    EVK_CL_ERR(CL_COMPILER_NOT_AVAILABLE)
    EVK_CL_ERR(CL_MEM_OBJECT_ALLOCATION_FAILURE)
    EVK_CL_ERR(CL_OUT_OF_RESOURCES)
    EVK_CL_ERR(CL_OUT_OF_HOST_MEMORY)
    EVK_CL_ERR(CL_PROFILING_INFO_NOT_AVAILABLE)
    EVK_CL_ERR(CL_BUILD_PROGRAM_FAILURE)
    EVK_CL_ERR(CL_MISALIGNED_SUB_BUFFER_OFFSET)
    EVK_CL_ERR(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    EVK_CL_ERR(CL_INVALID_VALUE)
    EVK_CL_ERR(CL_INVALID_DEVICE)
    EVK_CL_ERR(CL_INVALID_BINARY)
    EVK_CL_ERR(CL_INVALID_BUILD_OPTIONS)
    EVK_CL_ERR(CL_INVALID_PROGRAM)
    EVK_CL_ERR(CL_INVALID_PROGRAM_EXECUTABLE)
    EVK_CL_ERR(CL_INVALID_KERNEL_NAME)
    EVK_CL_ERR(CL_INVALID_KERNEL)
    EVK_CL_ERR(CL_INVALID_ARG_INDEX)
    EVK_CL_ERR(CL_INVALID_ARG_VALUE)
    EVK_CL_ERR(CL_INVALID_ARG_SIZE)
    EVK_CL_ERR(CL_INVALID_KERNEL_ARGS)
    EVK_CL_ERR(CL_INVALID_WORK_DIMENSION)
    EVK_CL_ERR(CL_INVALID_WORK_GROUP_SIZE)
    EVK_CL_ERR(CL_INVALID_WORK_ITEM_SIZE)
    EVK_CL_ERR(CL_INVALID_GLOBAL_OFFSET)
    EVK_CL_ERR(CL_INVALID_EVENT_WAIT_LIST)
    EVK_CL_ERR(CL_INVALID_EVENT)
    EVK_CL_ERR(CL_INVALID_BUFFER_SIZE)
    EVK_CL_ERR(CL_INVALID_GLOBAL_WORK_SIZE)
    EVK_CL_ERR(CL_INVALID_MEM_OBJECT)
    EVK_CL_ERR(CL_INVALID_COMMAND_QUEUE)
    EVK_CL_ERR(CL_INVALID_CONTEXT)
    EVK_CL_ERR(CL_INVALID_PLATFORM)
#undef EVK_CL_ERR
    default:
      return "OpenCL error " + std::to_string(e);
  }
}

inline std::string DeviceString(cl_device_id d, cl_device_info what) {
  size_t n = 0;
  if (clGetDeviceInfo(d, what, 0, nullptr, &n) != CL_SUCCESS || n == 0) return "";
  std::string s(n, '\0');
  clGetDeviceInfo(d, what, n, s.data(), nullptr);
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

inline std::string PlatformString(cl_platform_id p, cl_platform_info what) {
  size_t n = 0;
  if (clGetPlatformInfo(p, what, 0, nullptr, &n) != CL_SUCCESS || n == 0) return "";
  std::string s(n, '\0');
  clGetPlatformInfo(p, what, n, s.data(), nullptr);
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

struct DeviceHandle {
  cl_platform_id platform = nullptr;
  cl_device_id device = nullptr;
};

// The `index`-th device of the `platform`-th platform (the order the ICD loader lists them).
inline Result<DeviceHandle> OpenDevice(int platform, int index) {
  cl_uint np = 0;
  cl_int e = clGetPlatformIDs(0, nullptr, &np);
  if (e != CL_SUCCESS || np == 0)
    return Unavailable("no OpenCL platform found (" + ErrorName(e) +
                       "): install an OpenCL driver, e.g. pocl-opencl-icd (scripts/install-deps.sh)");
  std::vector<cl_platform_id> ps(np);
  clGetPlatformIDs(np, ps.data(), nullptr);
  if (platform < 0 || static_cast<cl_uint>(platform) >= np)
    return InvalidArgument("OpenCL platform " + std::to_string(platform) + " does not exist (" + std::to_string(np) +
                           " found)");
  cl_uint nd = 0;
  e = clGetDeviceIDs(ps[platform], CL_DEVICE_TYPE_ALL, 0, nullptr, &nd);
  if (e != CL_SUCCESS || nd == 0)
    return Unavailable("OpenCL platform " + std::to_string(platform) + " has no device (" + ErrorName(e) + ")");
  std::vector<cl_device_id> ds(nd);
  clGetDeviceIDs(ps[platform], CL_DEVICE_TYPE_ALL, nd, ds.data(), nullptr);
  if (index < 0 || static_cast<cl_uint>(index) >= nd)
    return InvalidArgument("OpenCL device " + std::to_string(platform) + ":" + std::to_string(index) +
                           " does not exist (" + std::to_string(nd) + " on that platform)");
  return DeviceHandle{ps[platform], ds[index]};
}

}  // namespace evokernel::cl
