// Fast ReLU: few large work-items, each streams a contiguous 16 KiB chunk with float16 loads/stores.
#define CHUNK 4096
__kernel void relu(__global const float* restrict x, __global float* restrict out, const int n) {
  const int base = get_global_id(0) * CHUNK;
  if (base >= n) return;
  __global const float* xs = x + base;
  __global float* os = out + base;
  if (base + CHUNK <= n) {
    for (int i = 0; i < CHUNK / 16; ++i) {
      const float16 v = vload16(i, xs);
      vstore16(select(v, (float16)(0.0f), isless(v, (float16)(0.0f))), i, os);  // keeps NaN
    }
  } else {
    for (int i = 0; i < n - base; ++i) os[i] = xs[i] < 0.0f ? 0.0f : xs[i];
  }
}
//@launch relu global=(round_up(ceil_div(x_numel, 4096), 8)) local=(8) args=(x, out, x_numel)
