// expect: check/anti_cheat task=level1/12_relu feedback=extension
// Enables every extension the driver has (some reach host memory or the device's internals).
#pragma OPENCL EXTENSION all : enable
__kernel void relu(__global const float* restrict x, __global float* restrict out, const int n) {
  const int i = get_global_id(0);
  if (i < n) out[i] = fmax(x[i], 0.0f);
}
//@launch relu global=(round_up(x_numel, 256)) local=(256) args=(x, out, x_numel)
