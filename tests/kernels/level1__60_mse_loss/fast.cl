// Fast MSE loss: one work-group; each work-item reduces a contiguous chunk with float16 vector
// loads and FMA accumulators (flushed to double every 1024 elements), then a __local-memory
// reduction of the per-item partials.
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#define WG 16
__kernel void mse(__global const float* restrict p, __global const float* restrict t,
                  __global float* restrict out, const int n, __local double* part) {
  const int lid = get_local_id(0);
  const int chunk = (n / WG) & ~1023;  // multiple of 1024
  const int beg = lid * chunk;
  double s = 0.0;
  for (int b = beg; b < beg + chunk; b += 1024) {
    float16 a0 = 0.0f, a1 = 0.0f;
    for (int i = b / 16; i < (b + 1024) / 16; i += 2) {
      const float16 d0 = vload16(i, p) - vload16(i, t);
      const float16 d1 = vload16(i + 1, p) - vload16(i + 1, t);
      a0 = fma(d0, d0, a0);
      a1 = fma(d1, d1, a1);
    }
    const float16 a = a0 + a1;
    const float8 a8 = a.lo + a.hi;
    const float4 a4 = a8.lo + a8.hi;
    s += (double)(a4.x + a4.y) + (double)(a4.z + a4.w);
  }
  if (lid == WG - 1)  // the tail past the equal chunks
    for (int i = WG * chunk; i < n; ++i) { const double d = (double)p[i] - (double)t[i]; s += d * d; }
  part[lid] = s;
  barrier(CLK_LOCAL_MEM_FENCE);
  if (lid == 0) {
    double tot = 0.0;
    for (int i = 0; i < WG; ++i) tot += part[i];
    out[0] = (float)(tot / n);
  }
}
//@launch mse global=(16) local=(16) args=(predictions, targets, out, predictions_numel, local(double, 16))
