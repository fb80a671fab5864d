// Naive fused matmul + bias + Swish + scale + clamp: one work-item per output element,
// y = sum_k x[i][k] * W[k][j] + b[j]; out = clamp(y * sigmoid(y) * scale, lo, hi).
__kernel void fused(__global const float* restrict x, __global const float* restrict W,
                    __global const float* restrict b, __global float* restrict out,
                    const int M, const int K, const int N, const float sc, const float lo,
                    const float hi) {
  const int j = get_global_id(0);
  const int i = get_global_id(1);
  if (i >= M || j >= N) return;
  float acc = 0.0f;
  for (int k = 0; k < K; ++k) acc += x[i * K + k] * W[k * N + j];
  const float y = acc + b[j];
  const float s = y / (1.0f + exp(-y)) * sc;
  out[i * N + j] = fmin(fmax(s, lo), hi);
}
//@launch fused global=(round_up(out_features, 16), round_up(batch_size, 16)) local=(16, 16) args=(x, weight, bias, out, batch_size, in_features, out_features, float(scale), float(clamp_min), float(clamp_max))
