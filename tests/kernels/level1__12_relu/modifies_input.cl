// Computes ReLU in place in the input, then copies it: the input must stay read-only.
__kernel void relu(__global float* x, __global float* restrict out, const int n) {
  const int i = get_global_id(0);
  if (i < n) {
    x[i] = fmax(x[i], 0.0f);
    out[i] = x[i];
  }
}
//@launch relu global=(round_up(x_numel, 256)) local=(256) args=(x, out, x_numel)
