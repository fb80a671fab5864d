// Fast argmax over dim 1: one work-item per (batch, 32-column block) keeps float16 running maxima
// and int16 indices in registers and walks the reduced rows with vector loads and selects
// (first index of the maximum; the first NaN wins, like torch).
#define UPD(v, best, idx, j)                                                    \
  {                                                                             \
    const int16 u = isgreater(v, best) | (isnan(v) & ~isnan(best));             \
    best = select(best, v, u);                                                  \
    idx = select(idx, (int16)(j), u);                                           \
  }
__kernel void argmax(__global const float* restrict x, __global long* restrict out,
                     const int B, const int R, const int K) {
  const int blk = get_global_id(0);
  const int b = get_global_id(1);
  const int k0 = blk * 32;
  if (k0 >= K || b >= B) return;
  __global const float* p = x + (long)b * R * K + k0;
  __global long* q = out + (long)b * K + k0;
  if (k0 + 32 <= K) {
    float16 b0 = vload16(0, p), b1 = vload16(1, p);
    int16 i0 = 0, i1 = 0;
    for (int j = 1; j < R; ++j) {
      __global const float* r = p + (long)j * K;
      const float16 v0 = vload16(0, r), v1 = vload16(1, r);
      UPD(v0, b0, i0, j);
      UPD(v1, b1, i1, j);
    }
    vstore16(convert_long16(i0), 0, q);
    vstore16(convert_long16(i1), 1, q);
  } else {
    for (int k = 0; k < K - k0; ++k) {
      float best = p[k];
      long idx = 0;
      for (int j = 1; j < R; ++j) {
        const float v = p[(long)j * K + k];
        if (isnan(best)) break;
        if (v > best || isnan(v)) { best = v; idx = j; }
      }
      q[k] = idx;
    }
  }
}
//@launch argmax global=(round_up(ceil_div(x_shape2, 32), 4), x_shape0) local=(4, 1) args=(x, out, x_shape0, x_shape1, x_shape2)
