// expect: check/anti_cheat task=level1/12_relu feedback=constructor
// Load-time code: a constructor in the device object runs when the driver loads it.
__attribute__((constructor)) void at_load(void) {}
__kernel void relu(__global const float* restrict x, __global float* restrict out, const int n) {
  const int i = get_global_id(0);
  if (i < n) out[i] = fmax(x[i], 0.0f);
}
//@launch relu global=(round_up(x_numel, 256)) local=(256) args=(x, out, x_numel)
