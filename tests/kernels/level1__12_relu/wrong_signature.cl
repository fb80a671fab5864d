// The launch plan passes three arguments to a kernel that takes two.
__kernel void relu(__global const float* restrict x, __global float* restrict out) {
  const int i = get_global_id(0);
  if (i < x_numel) out[i] = fmax(x[i], 0.0f);
}
//@launch relu global=(round_up(x_numel, 256)) local=(256) args=(x, out, x_numel)
