// Naive MSE loss: a single work-item sums (p - t)^2 over all elements in one sequential double
// accumulator, then divides by the count.
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
__kernel void mse(__global const float* restrict p, __global const float* restrict t,
                  __global float* restrict out, const int n) {
  if (get_global_id(0) != 0) return;
  double s = 0.0;
  for (int i = 0; i < n; ++i) { const double d = (double)p[i] - (double)t[i]; s += d * d; }
  out[0] = (float)(s / n);
}
//@launch mse global=(1) local=(1) args=(predictions, targets, out, predictions_numel)
