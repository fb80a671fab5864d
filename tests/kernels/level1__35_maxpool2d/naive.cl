// Naive MaxPool2d: one work-item per output pixel scans its dilated kernel window, skipping padded
// positions (implicit -inf padding).
__kernel void maxpool(__global const float* restrict x, __global float* restrict out,
                      const int NC, const int H, const int W, const int OH, const int OW,
                      const int K, const int S, const int P, const int D) {
  const int idx = get_global_id(0);
  if (idx >= NC * OH * OW) return;
  const int ow = idx % OW, oh = (idx / OW) % OH, nc = idx / (OW * OH);
  float m = -INFINITY;
  for (int kh = 0; kh < K; ++kh) {
    const int ih = oh * S - P + kh * D;
    if (ih < 0 || ih >= H) continue;
    for (int kw = 0; kw < K; ++kw) {
      const int iw = ow * S - P + kw * D;
      if (iw < 0 || iw >= W) continue;
      const float v = x[((long)nc * H + ih) * W + iw];
      if (v > m || isnan(v)) m = v;
    }
  }
  out[idx] = m;
}
//@launch maxpool global=(round_up(out_numel, 256)) local=(256) args=(x, out, x_shape0*x_shape1, x_shape2, x_shape3, out_shape2, out_shape3, kernel_size, stride, padding, dilation)
