// expect: check/anti_cheat|compile/compile_error task=level1/12_relu
// Calls a host function under a name no source rule knows (resolved from the process at load time).
void dl_iterate_phdr(__global float* p);
__kernel void relu(__global const float* restrict x, __global float* restrict out, const int n) {
  const int i = get_global_id(0);
  if (i == 0) dl_iterate_phdr(out);
  if (i < n) out[i] = fmax(x[i], 0.0f);
}
//@launch relu global=(round_up(x_numel, 256)) local=(256) args=(x, out, x_numel)
