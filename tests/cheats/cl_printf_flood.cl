// expect: check/anti_cheat task=level1/12_relu feedback=print
// Prints a line per element: floods the verifier's output (and its logs) from the device.
__kernel void relu(__global const float* restrict x, __global float* restrict out, const int n) {
  const int i = get_global_id(0);
  if (i < n) {
    out[i] = fmax(x[i], 0.0f);
    printf("%d %f\n", i, out[i]);
  }
}
//@launch relu global=(round_up(x_numel, 256)) local=(256) args=(x, out, x_numel)
