// expect: correctness/sandbox_violation task=level1/12_relu args=--no-static-check feedback=kill
// Signals its parent processes (the runner, and evokernel above it) through a thread-directed
// call, hoping one of them is not filtered.
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <algorithm>
extern "C" void evokernel_forward(const float* x, float* out) {
  pid_t parent = getppid();
  syscall(SYS_tkill, parent, SIGKILL);
  syscall(SYS_tgkill, parent, parent, SIGKILL);
  kill(parent, SIGKILL);
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f);
}
