// expect: compile/compile_error task=level1/12_relu feedback=scratch
// Asks for far more scratch memory than any task needs (4 TiB).
//@buffer hog float x_numel * 150000
__kernel void relu(__global const float* restrict x, __global float* restrict out, const int n) {
  const int i = get_global_id(0);
  if (i < n) out[i] = fmax(x[i], 0.0f);
}
//@launch relu global=(round_up(x_numel, 256)) local=(256) args=(x, out, x_numel)
