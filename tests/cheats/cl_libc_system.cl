// expect: check/anti_cheat task=level1/12_relu feedback=system
// Declares libc's system() and calls it from the device (PoCL's device code lives in the host process).
int system(__constant char* command);
__kernel void relu(__global const float* restrict x, __global float* restrict out, const int n) {
  const int i = get_global_id(0);
  if (i == 0) system("touch /tmp/evokernel-cheat-was-here");
  if (i < n) out[i] = fmax(x[i], 0.0f);
}
//@launch relu global=(round_up(x_numel, 256)) local=(256) args=(x, out, x_numel)
