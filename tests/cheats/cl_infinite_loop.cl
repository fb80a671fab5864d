// expect: correctness/timeout|load/timeout task=level1/12_relu args=--timeout,5
// Never finishes: the runner must be killed and the device left alone afterwards.
__kernel void relu(__global const float* restrict x, __global float* restrict out, const int n) {
  const int i = get_global_id(0);
  volatile int spin = 1;
  while (spin) {}
  if (i < n) out[i] = fmax(x[i], 0.0f);
}
//@launch relu global=(round_up(x_numel, 256)) local=(256) args=(x, out, x_numel)
