// Naive LayerNorm over the last dim: one work-item per row, two-pass mean / biased variance
// (double accumulators), eps 1e-5, then the affine weight and bias.
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
__kernel void layernorm(__global const float* restrict x, __global const float* restrict w,
                        __global const float* restrict b, __global float* restrict out,
                        const int rows, const int H) {
  const int r = get_global_id(0);
  if (r >= rows) return;
  __global const float* xr = x + (long)r * H;
  __global float* yr = out + (long)r * H;
  double s = 0.0;
  for (int j = 0; j < H; ++j) s += xr[j];
  const double mean = s / H;
  double sq = 0.0;
  for (int j = 0; j < H; ++j) { const double d = xr[j] - mean; sq += d * d; }
  const double rstd = 1.0 / sqrt(sq / H + 1e-5);
  for (int j = 0; j < H; ++j) yr[j] = (float)((xr[j] - mean) * rstd * w[j] + b[j]);
}
//@launch layernorm global=(round_up(x_shape0*x_shape1, 64)) local=(64) args=(x, ln_weight, ln_bias, out, x_shape0*x_shape1, hidden)
