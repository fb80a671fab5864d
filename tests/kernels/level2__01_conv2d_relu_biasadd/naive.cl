// Naive Conv2d (valid, stride 1) + conv bias, then ReLU, then the per-channel bias: one
// work-item per output element.
__kernel void conv_relu_bias(__global const float* restrict x, __global const float* restrict bias,
                             __global const float* restrict w, __global const float* restrict cb,
                             __global float* restrict out, const int N, const int C, const int H,
                             const int W, const int O, const int K, const int OH, const int OW) {
  const int idx = get_global_id(0);
  if (idx >= N * O * OH * OW) return;
  const int ow = idx % OW, oh = (idx / OW) % OH, o = (idx / (OW * OH)) % O, n = idx / (OW * OH * O);
  float acc = cb[o];
  for (int c = 0; c < C; ++c)
    for (int kh = 0; kh < K; ++kh)
      for (int kw = 0; kw < K; ++kw)
        acc += x[(((long)n * C + c) * H + oh + kh) * W + ow + kw] * w[((o * C + c) * K + kh) * K + kw];
  out[idx] = fmax(acc, 0.0f) + bias[o];
}
//@launch conv_relu_bias global=(round_up(out_numel, 256)) local=(256) args=(x, bias, conv_weight, conv_bias, out, x_shape0, x_shape1, x_shape2, x_shape3, out_shape1, kernel_size, out_shape2, out_shape3)
