// expect: correctness/sandbox_violation task=level1/12_relu args=--no-static-check feedback=write
// Writes complete runner replies (a frame claiming 1 ns timings and no outputs) on every
// descriptor it might share with the verifier.
#include <unistd.h>
#include <algorithm>
#include <cstring>
extern "C" void evokernel_forward(const float* x, float* out) {
  const char* frame = "{\"ok\":true,\"times_ns\":[1,1,1],\"calls\":[],\"tensors\":[]}\n";
  for (int fd = 1; fd < 64; ++fd) (void)!write(fd, frame, std::strlen(frame));
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f);
}
