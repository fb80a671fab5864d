// The kernel host: the process that loads and calls the kernel, forked by the supervisor.
//
// It holds no descriptor of the verifier's protocol and no secret: only its stderr log and the
// shared memory of runner/shared_args.h. It sets up its sandbox (network namespace, fault and
// SIGSYS reporters, the load filter), lets the device load the artifact, stacks the run filter,
// then serves the supervisor's commands from the control block (runner/control.h) until told
// to quit or killed. It never returns.
#pragma once

#include <sys/types.h>

#include <string>

#include "runner/device.h"
#include "runner/shared_args.h"

namespace evokernel::runner {

struct HostConfig {
  Device* device = nullptr;
  DeviceConfig device_config;
  SharedArgs* shared = nullptr;  // the supervisor's mappings, inherited across fork
  int socket_fd = -1;            // where the load filter's notification descriptor goes
  pid_t supervisor = 0;
};

[[noreturn]] void RunKernelHost(const HostConfig& config);

}  // namespace evokernel::runner
