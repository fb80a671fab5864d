// Benchmark kernel for level1/12_relu on OpenCL: few large work-items streaming contiguous
// chunks (memory-bound). `evokernel bench verifier --backend opencl` makes the variant doing 5%
// more work by appending the line after "slow variant appends:": a second launch that
// recomputes the first 5% of the elements (same values).
// slow variant appends: //@launch relu global=(round_up(ceil_div(x_numel / 20, 4096), 8)) local=(8) args=(x, out, x_numel / 20)
#define CHUNK 4096
__kernel void relu(__global const float* restrict x, __global float* restrict out, const int n) {
  const int base = get_global_id(0) * CHUNK;
  if (base >= n) return;
  __global const float* xs = x + base;
  __global float* os = out + base;
  const int end = min(n - base, CHUNK);
  int i = 0;
  for (; i + 16 <= end; i += 16) {
    const float16 v = vload16(0, xs + i);
    vstore16(select(v, (float16)(0.0f), isless(v, (float16)(0.0f))), 0, os + i);
  }
  for (; i < end; ++i) os[i] = xs[i] < 0.0f ? 0.0f : xs[i];
}
//@launch relu global=(round_up(ceil_div(x_numel, 4096), 8)) local=(8) args=(x, out, x_numel)
