// Naive sum over dim 1 with keepdim: one work-item per output, out[b][0][k] = sum_j x[b][j][k].
__kernel void sumdim(__global const float* restrict x, __global float* restrict out,
                     const int B, const int R, const int K) {
  const int i = get_global_id(0);
  if (i >= B * K) return;
  const int b = i / K, k = i % K;
  float s = 0.0f;
  for (int j = 0; j < R; ++j) s += x[((long)b * R + j) * K + k];
  out[i] = s;
}
//@launch sumdim global=(round_up(out_numel, 256)) local=(256) args=(x, out, x_shape0, x_shape1, x_shape2)
