// Naive BatchNorm2d (training mode): one work-item per channel computes the batch mean and biased
// variance (two passes, double accumulators, eps 1e-5); then one work-item per element normalises.
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
__kernel void stats(__global const float* restrict x, __global const float* restrict w,
                    __global const float* restrict b, __global float* restrict ab,
                    const int N, const int C, const int HW) {
  const int c = get_global_id(0);
  if (c >= C) return;
  double sum = 0.0;
  for (int n = 0; n < N; ++n)
    for (int i = 0; i < HW; ++i) sum += x[((long)n * C + c) * HW + i];
  const double mean = sum / ((double)N * HW);
  double sq = 0.0;
  for (int n = 0; n < N; ++n)
    for (int i = 0; i < HW; ++i) {
      const double d = x[((long)n * C + c) * HW + i] - mean;
      sq += d * d;
    }
  const double var = sq / ((double)N * HW);
  const double rstd = 1.0 / sqrt(var + 1e-5);
  ab[2 * c] = (float)(rstd * w[c]);
  ab[2 * c + 1] = (float)(b[c] - mean * rstd * w[c]);
}
__kernel void apply(__global const float* restrict x, __global const float* restrict ab,
                    __global float* restrict out, const int C, const int HW, const int total) {
  const int i = get_global_id(0);
  if (i >= total) return;
  const int c = (i / HW) % C;
  out[i] = x[i] * ab[2 * c] + ab[2 * c + 1];
}
//@buffer ab float 2*num_features
//@launch stats global=(round_up(x_shape1, 16)) local=(16) args=(x, bn_weight, bn_bias, ab, x_shape0, x_shape1, x_shape2*x_shape3)
//@launch apply global=(round_up(x_numel, 256)) local=(256) args=(x, ab, out, x_shape1, x_shape2*x_shape3, x_numel)
