// Naive inclusive cumsum along dim 1: one work-item per row, one sequential running sum (double).
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
__kernel void cumsum(__global const float* restrict x, __global float* restrict out,
                     const int rows, const int L) {
  const int r = get_global_id(0);
  if (r >= rows) return;
  double s = 0.0;
  for (int j = 0; j < L; ++j) { s += x[(long)r * L + j]; out[(long)r * L + j] = (float)s; }
}
//@launch cumsum global=(round_up(x_shape0, 16)) local=(16) args=(x, out, x_shape0, x_shape1)
