// expect: correctness/wrong_answer|nondeterministic|timing/inconsistent_result|wrong_answer task=level1/40_sum_reduction args=--threads=2
// A data race: every work-item adds into the output without atomics (lost updates).
__kernel void zero(__global float* restrict out, const int n) {
  const int i = get_global_id(0);
  if (i < n) out[i] = 0.0f;
}
__kernel void sum(__global const float* restrict x, __global float* out) {
  const long b = get_global_id(0), r = get_global_id(1);
  for (long c = 0; c < x_shape2; ++c) out[b * x_shape2 + c] += x[(b * x_shape1 + r) * x_shape2 + c];
}
//@launch zero global=(round_up(out_numel, 64)) local=(64) args=(out, out_numel)
//@launch sum global=(x_shape0, x_shape1) local=(1, 16) args=(x, out)
