// Fast Conv2d: the input is first copied into a zero-padded scratch image (no bounds checks in the
// hot loop); then each work-item computes 4 output channels x 16 output columns of one output row
// in four float16 register accumulators: per (ic, kh, kw) one unaligned float16 load, 4 weight
// broadcasts, 4 vector FMAs. Channel blocks vary fastest in the grid, so the 3 input rows of an
// output row stay in cache for all of them. Stride/dilation other than 1 fall back to a direct scan.
#define OB 4
__kernel void pad(__global const float* restrict x, __global float* restrict xp, const int H,
                  const int W, const int P, const int Hp, const int Wp) {
  const int ph = get_global_id(0);
  const int nc = get_global_id(1);
  if (ph >= Hp) return;
  __global float* d = xp + ((long)nc * Hp + ph) * Wp;
  const int ih = ph - P;
  if (ih < 0 || ih >= H) {
    for (int j = 0; j < Wp; ++j) d[j] = 0.0f;
    return;
  }
  __global const float* s = x + ((long)nc * H + ih) * W;
  for (int j = 0; j < Wp; ++j) {
    const int iw = j - P;
    d[j] = (iw >= 0 && iw < W) ? s[iw] : 0.0f;
  }
}
__kernel void conv(__global const float* restrict x, __global const float* restrict xp,
                   __global const float* restrict w, __global float* restrict out, const int N,
                   const int C, const int H, const int W, const int O, const int K, const int OH,
                   const int OW, const int S, const int P, const int D, const int Hp, const int Wp) {
  const int ob = get_global_id(0);
  const int oh = get_global_id(1);
  const int n = get_global_id(2);
  if (ob * OB >= O) return;
  const int o0 = ob * OB;
  if (stride == 1 && dilation == 1 && out_shape1 % OB == 0 && S == 1 && D == 1 && K == kernel_size &&
      C == x_shape1 && O == out_shape1) {
    const int KK = kernel_size, CC = x_shape1;
    const long wo = (long)CC * KK * KK;
    for (int ow0 = 0; ow0 < OW; ow0 += 16) {
      float16 a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
      for (int c = 0; c < CC; ++c) {
        __global const float* wc = w + ((long)o0 * CC + c) * KK * KK;
        _Pragma("unroll") for (int kh = 0; kh < KK; ++kh) {
          __global const float* row = xp + (((long)n * CC + c) * Hp + oh + kh) * Wp + ow0;
          __global const float* wk = wc + kh * KK;
          _Pragma("unroll") for (int kw = 0; kw < KK; ++kw) {
            const float16 v = vload16(0, row + kw);
            a0 = fma(v, (float16)(wk[kw]), a0);
            a1 = fma(v, (float16)(wk[wo + kw]), a1);
            a2 = fma(v, (float16)(wk[2 * wo + kw]), a2);
            a3 = fma(v, (float16)(wk[3 * wo + kw]), a3);
          }
        }
      }
      __global float* q = out + (((long)n * O + o0) * OH + oh) * OW + ow0;
      const long os = (long)OH * OW;
      if (ow0 + 16 <= OW) {
        vstore16(a0, 0, q);
        vstore16(a1, 0, q + os);
        vstore16(a2, 0, q + 2 * os);
        vstore16(a3, 0, q + 3 * os);
      } else {
        float t0[16], t1[16], t2[16], t3[16];
        vstore16(a0, 0, t0); vstore16(a1, 0, t1); vstore16(a2, 0, t2); vstore16(a3, 0, t3);
        for (int j = 0; j < OW - ow0; ++j) {
          q[j] = t0[j]; q[os + j] = t1[j]; q[2 * os + j] = t2[j]; q[3 * os + j] = t3[j];
        }
      }
    }
    return;
  }
  for (int o = o0; o < min(o0 + OB, O); ++o)
    for (int ow = 0; ow < OW; ++ow) {
      float acc = 0.0f;
      for (int c = 0; c < C; ++c)
        for (int kh = 0; kh < K; ++kh) {
          const int ih = oh * S - P + kh * D;
          if (ih < 0 || ih >= H) continue;
          for (int kw = 0; kw < K; ++kw) {
            const int iw = ow * S - P + kw * D;
            if (iw < 0 || iw >= W) continue;
            acc += x[(((long)n * C + c) * H + ih) * W + iw] * w[((o * C + c) * K + kh) * K + kw];
          }
        }
      out[(((long)n * O + o) * OH + oh) * OW + ow] = acc;
    }
}
//@buffer xp float x_shape0*x_shape1*(x_shape2+2*padding)*(round_up(out_shape3, 16)+kernel_size-1)
//@launch pad global=(round_up(x_shape2+2*padding, 8), x_shape0*x_shape1) local=(8, 1) args=(x, xp, x_shape2, x_shape3, padding, x_shape2+2*padding, round_up(out_shape3, 16)+kernel_size-1)
//@launch conv global=(round_up(ceil_div(out_shape1, 4), 8), out_shape2, x_shape0) local=(8, 1, 1) args=(x, xp, conv2d_weight, out, x_shape0, x_shape1, x_shape2, x_shape3, out_shape1, kernel_size, out_shape2, out_shape3, stride, padding, dilation, x_shape2+2*padding, round_up(out_shape3, 16)+kernel_size-1)
