// Naive Conv2d (NCHW, OIHW weights, no bias): one work-item per output element, direct loops
// over input channels and the kernel window with bounds checks for the padding.
__kernel void conv(__global const float* restrict x, __global const float* restrict w,
                   __global float* restrict out, const int N, const int C, const int H, const int W,
                   const int O, const int K, const int OH, const int OW, const int S, const int P,
                   const int D) {
  const int idx = get_global_id(0);
  if (idx >= N * O * OH * OW) return;
  const int ow = idx % OW, oh = (idx / OW) % OH, o = (idx / (OW * OH)) % O, n = idx / (OW * OH * O);
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
  out[idx] = acc;
}
//@launch conv global=(round_up(out_numel, 256)) local=(256) args=(x, conv2d_weight, out, x_shape0, x_shape1, x_shape2, x_shape3, out_shape1, kernel_size, out_shape2, out_shape3, stride, padding, dilation)
