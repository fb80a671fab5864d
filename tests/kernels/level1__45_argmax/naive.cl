// Naive argmax over dim 1 (int64 indices): one work-item per output, first index of the maximum
// (a NaN counts as the maximum, like torch).
__kernel void argmax(__global const float* restrict x, __global long* restrict out,
                     const int B, const int R, const int K) {
  const int i = get_global_id(0);
  if (i >= B * K) return;
  const int b = i / K, k = i % K;
  float best = x[(long)b * R * K + k];
  long idx = 0;
  for (int j = 1; j < R; ++j) {
    const float v = x[((long)b * R + j) * K + k];
    if (isnan(best)) break;
    if (v > best || isnan(v)) { best = v; idx = j; }
  }
  out[i] = idx;
}
//@launch argmax global=(round_up(out_numel, 256)) local=(256) args=(x, out, x_shape0, x_shape1, x_shape2)
