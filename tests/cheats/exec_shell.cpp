// expect: correctness/sandbox_violation task=level1/12_relu args=--no-static-check
#include <cstdlib>
extern "C" void evokernel_forward(const float* x, float* out) {
  int rc = std::system("touch /tmp/evokernel-cheat-exec");
  out[0] = x[0] + static_cast<float>(rc);
}
