// expect: check/anti_cheat task=level1/12_relu feedback=floating-point
// Sets flush-to-zero and denormals-are-zero in the worker thread's MXCSR from the kernel (a
// builtin, no assembly), leaving the FP environment changed for whatever runs next.
__kernel void relu(__global const float* restrict x, __global float* restrict out, const int n) {
  const int i = get_global_id(0);
  if (i == 0) __builtin_ia32_ldmxcsr(__builtin_ia32_stmxcsr() | 0x8040);
  if (i < n) out[i] = fmax(x[i], 0.0f);
}
//@launch relu global=(round_up(x_numel, 256)) local=(256) args=(x, out, x_numel)
