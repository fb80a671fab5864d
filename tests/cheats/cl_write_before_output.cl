// expect: correctness/out_of_bounds task=level1/12_relu feedback=before
// Writes 16 elements before the start of the output (into whatever the driver placed there).
__kernel void relu(__global const float* restrict x, __global float* restrict out, const int n) {
  const int i = get_global_id(0);
  if (i < n) out[i] = fmax(x[i], 0.0f);
  if (i < 16) out[i - 16] = 1.0f;
}
//@launch relu global=(round_up(x_numel, 256)) local=(256) args=(x, out, x_numel)
