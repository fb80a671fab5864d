// expect: feasible task=level1/12_relu
// Tries to keep state in a scratch buffer across calls: a second launch marks the buffer as
// "valid" and the next call would return garbage instead of working if the mark survived.
// Scratch is poisoned before every call, so the mark never survives and the kernel does all
// its work every time: it must be feasible; a wrong answer means state leaked between calls.
//@buffer state uint 4
__kernel void relu(__global const float* restrict x, __global float* restrict out, __global const uint* state,
                   const int n) {
  const int i = get_global_id(0);
  if (state[0] == 0x600dcafeu && state[1] == 0x600dcafeu) {
    if (i < n) out[i] = NAN;  // what a stale cache would return: visible to every check
    return;
  }
  if (i < n) out[i] = fmax(x[i], 0.0f);
}
__kernel void mark(__global uint* state) { state[0] = state[1] = 0x600dcafeu; }
//@launch relu global=(round_up(x_numel, 256)) local=(256) args=(x, out, state, x_numel)
//@launch mark global=(1) local=(1) args=(state)
