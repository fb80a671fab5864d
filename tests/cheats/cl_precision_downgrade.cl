// expect: correctness/wrong_answer task=level1/01_square_matmul
// Rounds the operands to bfloat16 (drops 16 mantissa bits) before multiplying.
float bf16(float v) { return as_float(as_uint(v) & 0xffff0000u); }
__kernel void mm(__global const float* restrict A, __global const float* restrict B, __global float* restrict out) {
  const int r = get_global_id(1), c = get_global_id(0);
  if (r >= N || c >= N) return;
  float acc = 0.0f;
  for (int k = 0; k < N; ++k) acc += bf16(A[r * N + k]) * bf16(B[k * N + c]);
  out[r * N + c] = acc;
}
//@launch mm global=(round_up(N, 16), round_up(N, 16)) local=(16, 16) args=(A, B, out)
