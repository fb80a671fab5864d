// Fast MaxPool2d: one work-item per (n, c) plane; for the 3x3/stride-2/pad-1 case it takes the
// vertical max of 3 input rows with float16 loads, then splits even/odd columns with swizzles
// (NaN-propagating max, like torch); other shapes fall back to a direct window scan.
inline float16 nmax16(float16 a, float16 b) { return select(b, a, isgreater(a, b) | isnan(a)); }
inline float8 nmax8(float8 a, float8 b) { return select(b, a, isgreater(a, b) | isnan(a)); }
__kernel void maxpool(__global const float* restrict x, __global float* restrict out,
                      const int NC, const int H, const int W, const int OH, const int OW,
                      const int K, const int S, const int P, const int D) {
  const int nc = get_global_id(0);
  if (nc >= NC) return;
  __global const float* xp = x + (long)nc * H * W;
  __global float* op = out + (long)nc * OH * OW;
  if (K == 3 && S == 2 && P == 1 && D == 1 && W % 16 == 0 && OW == W / 2 && OH == (H + 1) / 2) {
    for (int oh = 0; oh < OH; ++oh) {
      const int ih = 2 * oh;
      __global const float* r0 = xp + (long)(ih > 0 ? ih - 1 : ih) * W;  // row -1 is padding: reuse row 0
      __global const float* r1 = xp + (long)ih * W;
      __global const float* r2 = xp + (long)(ih + 1 < H ? ih + 1 : ih) * W;
      float carry = -INFINITY;
      for (int k = 0; k < W / 16; ++k) {
        const float16 v = nmax16(nmax16(vload16(k, r0), vload16(k, r1)), vload16(k, r2));
        const float8 ev = v.even, od = v.odd;
        const float8 sh = (float8)(carry, od.s0, od.s1, od.s2, od.s3, od.s4, od.s5, od.s6);
        carry = od.s7;
        vstore8(nmax8(nmax8(ev, od), sh), k, op + (long)oh * OW);
      }
    }
    return;
  }
  for (int oh = 0; oh < OH; ++oh)
    for (int ow = 0; ow < OW; ++ow) {
      float m = -INFINITY;
      for (int kh = 0; kh < K; ++kh) {
        const int ih = oh * S - P + kh * D;
        if (ih < 0 || ih >= H) continue;
        for (int kw = 0; kw < K; ++kw) {
          const int iw = ow * S - P + kw * D;
          if (iw < 0 || iw >= W) continue;
          const float v = xp[(long)ih * W + iw];
          if (v > m || isnan(v)) m = v;
        }
      }
      op[(long)oh * OW + ow] = m;
    }
}
//@launch maxpool global=(round_up(x_shape0*x_shape1, 8)) local=(8) args=(x, out, x_shape0*x_shape1, x_shape2, x_shape3, out_shape2, out_shape3, kernel_size, stride, padding, dilation)
