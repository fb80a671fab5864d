// Writes through a pointer far outside any buffer: the device faults.
__kernel void relu(__global const float* restrict x, __global float* restrict out, const int n) {
  const int i = get_global_id(0);
  if (i < n) out[i] = fmax(x[i], 0.0f);
  if (i == 0) out[(long)1 << 40] = 1.0f;
}
//@launch relu global=(round_up(x_numel, 256)) local=(256) args=(x, out, x_numel)
