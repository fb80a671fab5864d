// Naive row softmax: one work-item per row; max, then sum of exp(x - max), then divide.
__kernel void softmax(__global const float* restrict x, __global float* restrict out,
                      const int rows, const int cols) {
  const int r = get_global_id(0);
  if (r >= rows) return;
  __global const float* xr = x + (long)r * cols;
  __global float* yr = out + (long)r * cols;
  float m = -INFINITY;
  for (int j = 0; j < cols; ++j) m = fmax(m, xr[j]);
  float s = 0.0f;
  for (int j = 0; j < cols; ++j) s += exp(xr[j] - m);
  const float inv = 1.0f / s;
  for (int j = 0; j < cols; ++j) yr[j] = exp(xr[j] - m) * inv;
}
//@launch softmax global=(round_up(batch_size, 16)) local=(16) args=(x, out, batch_size, dim)
