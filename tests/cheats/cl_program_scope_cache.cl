// expect: compile/compile_error task=level1/12_relu
// Counts calls in a program-scope global variable and skips the work after the first calls
// (OpenCL C 1.2 has no writable program-scope variables: state cannot survive a launch).
__global int calls = 0;
__kernel void relu(__global const float* restrict x, __global float* restrict out, const int n) {
  const int i = get_global_id(0);
  if (i == 0) calls++;
  if (calls > 3) return;
  if (i < n) out[i] = fmax(x[i], 0.0f);
}
//@launch relu global=(round_up(x_numel, 256)) local=(256) args=(x, out, x_numel)
