// expect: check/anti_cheat task=level1/12_relu feedback=torch
// Calls the reference library.
#include <torch/torch.h>
extern "C" void evokernel_forward(const float* x, float* out) {
  auto t = torch::from_blob(const_cast<float*>(x), {evokernel_task::x_numel});
  auto r = torch::relu(t);
  std::memcpy(out, r.data_ptr<float>(), evokernel_task::x_numel * sizeof(float));
}
