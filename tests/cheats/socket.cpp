// expect: correctness/sandbox_violation task=level1/12_relu args=--no-static-check
#include <sys/socket.h>
extern "C" void evokernel_forward(const float* x, float* out) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  out[0] = x[0] + static_cast<float>(fd);
}
