// Fast Conv2d + ReLU + bias: each work-item computes 4 output channels x 16 output columns of one
// output row in four float16 register accumulators (per (ic, kh, kw): one unaligned float16 load,
// 4 weight broadcasts, 4 vector FMAs); the ragged last column block is shifted left to overlap the
// previous one so every load stays inside the row. Bias, ReLU and bias are fused into the store;
// channel blocks vary fastest in the grid so the input rows of an output row stay in cache.
#define OB 4
__kernel void conv_relu_bias(__global const float* restrict x, __global const float* restrict bias,
                             __global const float* restrict w, __global const float* restrict cb,
                             __global float* restrict out, const int N, const int C, const int H,
                             const int W, const int O, const int K, const int OH, const int OW) {
  const int ob = get_global_id(0);
  const int oh = get_global_id(1);
  const int n = get_global_id(2);
  if (ob * OB >= O) return;
  const int o0 = ob * OB;
  if (OW >= 16 && O % OB == 0 && K == kernel_size && C == x_shape1) {
    const int KK = kernel_size, CC = x_shape1;
    const long wo = (long)CC * KK * KK;
    const long os = (long)OH * OW;
    const float c0 = cb[o0], c1 = cb[o0 + 1], c2 = cb[o0 + 2], c3 = cb[o0 + 3];
    const float b0 = bias[o0], b1 = bias[o0 + 1], b2 = bias[o0 + 2], b3 = bias[o0 + 3];
    for (int ob = 0; ob < OW; ob += 16) {
      const int ow0 = min(ob, OW - 16);
      float16 a0 = c0, a1 = c1, a2 = c2, a3 = c3;
      for (int c = 0; c < CC; ++c) {
        __global const float* wc = w + ((long)o0 * CC + c) * KK * KK;
        _Pragma("unroll") for (int kh = 0; kh < KK; ++kh) {
          __global const float* row = x + (((long)n * CC + c) * H + oh + kh) * W + ow0;
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
      vstore16(select(a0, (float16)(0.0f), isless(a0, (float16)(0.0f))) + b0, 0, q);
      vstore16(select(a1, (float16)(0.0f), isless(a1, (float16)(0.0f))) + b1, 0, q + os);
      vstore16(select(a2, (float16)(0.0f), isless(a2, (float16)(0.0f))) + b2, 0, q + 2 * os);
      vstore16(select(a3, (float16)(0.0f), isless(a3, (float16)(0.0f))) + b3, 0, q + 3 * os);
    }
    return;
  }
  for (int o = o0; o < min(o0 + OB, O); ++o)
    for (int ow = 0; ow < OW; ++ow) {
      float acc = cb[o];
      for (int c = 0; c < C; ++c)
        for (int kh = 0; kh < K; ++kh)
          for (int kw = 0; kw < K; ++kw)
            acc += x[(((long)n * C + c) * H + oh + kh) * W + ow + kw] * w[((o * C + c) * K + kh) * K + kw];
      out[(((long)n * O + o) * OH + oh) * OW + ow] = (acc < 0.0f ? 0.0f : acc) + bias[o];
    }
}
//@launch conv_relu_bias global=(round_up(ceil_div(out_shape1, 4), 8), out_shape2, x_shape0) local=(8, 1, 1) args=(x, bias, conv_weight, conv_bias, out, x_shape0, x_shape1, x_shape2, x_shape3, out_shape1, kernel_size, out_shape2, out_shape3)
