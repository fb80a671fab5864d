// Fast BatchNorm2d (training): one work-item per channel does everything for that channel: its
// N planes (128 KiB here) are read once from DRAM, then re-read from L2 for the variance and the
// normalise pass; float16 vector loads/accumulators, per-plane partials summed in double.
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
__kernel void bn(__global const float* restrict x, __global const float* restrict w,
                 __global const float* restrict b, __global float* restrict out,
                 const int N, const int C, const int HW) {
  const int c = get_global_id(0);
  if (c >= C) return;
  const int nv = HW / 16;
  double sum = 0.0;
  for (int n = 0; n < N; ++n) {
    __global const float* p = x + ((long)n * C + c) * HW;
    float16 a = 0.0f;
    for (int i = 0; i < nv; ++i) a += vload16(i, p);
    float8 a8 = a.lo + a.hi;
    float4 a4 = a8.lo + a8.hi;
    double s = (double)(a4.x + a4.y) + (double)(a4.z + a4.w);
    for (int i = nv * 16; i < HW; ++i) s += p[i];
    sum += s;
  }
  const double cnt = (double)N * HW;
  const double mean = sum / cnt;
  const float meanf = (float)mean;
  double sq = 0.0;
  for (int n = 0; n < N; ++n) {
    __global const float* p = x + ((long)n * C + c) * HW;
    float16 a = 0.0f;
    const float16 mv = (float16)(meanf);
    for (int i = 0; i < nv; ++i) { const float16 d = vload16(i, p) - mv; a = fma(d, d, a); }
    float8 a8 = a.lo + a.hi;
    float4 a4 = a8.lo + a8.hi;
    double s = (double)(a4.x + a4.y) + (double)(a4.z + a4.w);
    for (int i = nv * 16; i < HW; ++i) { const float d = p[i] - meanf; s += d * d; }
    sq += s;
  }
  // correct for the rounding of the mean to float: sum (x - m')^2 = sum (x - m)^2 + cnt (m - m')^2
  const double dm = mean - (double)meanf;
  const double var = sq / cnt - dm * dm;
  const double rstd = 1.0 / sqrt(var + 1e-5);
  const float sc = (float)(rstd * w[c]);
  const float sh = (float)(b[c] - mean * rstd * w[c]);
  const float16 scv = (float16)(sc), shv = (float16)(sh);
  for (int n = 0; n < N; ++n) {
    const long off = ((long)n * C + c) * HW;
    __global const float* p = x + off;
    __global float* q = out + off;
    for (int i = 0; i < nv; ++i) vstore16(fma(vload16(i, p), scv, shv), i, q);
    for (int i = nv * 16; i < HW; ++i) q[i] = fma(p[i], sc, sh);
  }
}
//@launch bn global=(round_up(x_shape1, 8)) local=(8) args=(x, bn_weight, bn_bias, out, x_shape0, x_shape1, x_shape2*x_shape3)
