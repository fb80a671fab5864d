// Fast sum over dim 1: one work-item per (batch, 64-column block) keeps float16 accumulators in
// registers and walks the reduced rows with vector loads; rows are summed in blocks of 16 and the
// block sums are added into a second accumulator set (better accuracy than one long running sum).
__kernel void sumdim(__global const float* restrict x, __global float* restrict out,
                     const int B, const int R, const int K) {
  const int blk = get_global_id(0);
  const int b = get_global_id(1);
  const int k0 = blk * 64;
  if (k0 >= K || b >= B) return;
  __global const float* p = x + (long)b * R * K + k0;
  __global float* q = out + (long)b * K + k0;
  if (k0 + 64 <= K) {
    float16 t0 = 0.0f, t1 = 0.0f, t2 = 0.0f, t3 = 0.0f;
    for (int j0 = 0; j0 < R; j0 += 16) {
      const int je = min(j0 + 16, R);
      float16 a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
      for (int j = j0; j < je; ++j) {
        __global const float* r = p + (long)j * K;
        a0 += vload16(0, r);
        a1 += vload16(1, r);
        a2 += vload16(2, r);
        a3 += vload16(3, r);
      }
      t0 += a0; t1 += a1; t2 += a2; t3 += a3;
    }
    vstore16(t0, 0, q);
    vstore16(t1, 1, q);
    vstore16(t2, 2, q);
    vstore16(t3, 3, q);
  } else {
    for (int k = 0; k < K - k0; ++k) {
      float t = 0.0f;
      for (int j0 = 0; j0 < R; j0 += 16) {
        float s = 0.0f;
        for (int j = j0; j < min(j0 + 16, R); ++j) s += p[(long)j * K + k];
        t += s;
      }
      q[k] = t;
    }
  }
}
//@launch sumdim global=(round_up(ceil_div(x_shape2, 64), 2), x_shape0) local=(2, 1) args=(x, out, x_shape0, x_shape1, x_shape2)
