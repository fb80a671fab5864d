// Benchmark kernel for level1/01_square_matmul on OpenCL: the packed, register-tiled matmul of
// tests/kernels/level1__01_square_matmul/fast.cl. `evokernel bench verifier --backend opencl`
// makes the variant doing 5% more work by appending the line after "slow variant appends:": a
// second launch of the tile kernel that recomputes the first 42 of 768 rows (same values).
// slow variant appends: //@launch mm global=(N/16, round_up(N/20, 6)/6) local=(16, 1) args=(Ap, Bp, out, N)
#define TM 6
__kernel void packB(__global const float* restrict B, __global float* restrict Bp, const int n) {
  const int k = get_global_id(0);
  const int jb = get_global_id(1);
  __global const float* s = B + k * n + jb * 16;
  __global float* d = Bp + (jb * n + k) * 16;
  vstore8(vload8(0, s), 0, d);
  vstore8(vload8(1, s), 1, d);
}
__kernel void packA(__global const float* restrict A, __global float* restrict Ap, const int n) {
  const int k = get_global_id(0);
  const int ib = get_global_id(1);
  _Pragma("unroll") for (int r = 0; r < TM; ++r) Ap[(ib * n + k) * TM + r] = A[(ib * TM + r) * n + k];
}
__kernel void mm(__global const float* restrict Ap, __global const float* restrict Bp,
                 __global float* restrict C, const int n) {
  const int jb = get_global_id(0);
  const int ib = get_global_id(1);
  const int j0 = jb * 16;
  const int i0 = ib * TM;
  __global const float* a = Ap + ib * n * TM;
  __global const float* b = Bp + jb * n * 16;
  float8 t0[TM], t1[TM];
  _Pragma("unroll") for (int r = 0; r < TM; ++r) { t0[r] = 0; t1[r] = 0; }
  for (int kc = 0; kc < n; kc += 64) {
    float8 a0[TM], a1[TM];
    _Pragma("unroll") for (int r = 0; r < TM; ++r) { a0[r] = 0; a1[r] = 0; }
    for (int k = kc; k < kc + 64; ++k) {
      const float8 b0 = vload8(0, b + k * 16);
      const float8 b1 = vload8(1, b + k * 16);
      _Pragma("unroll") for (int r = 0; r < TM; ++r) {
        const float av = a[k * TM + r];
        a0[r] = fma((float8)(av), b0, a0[r]);
        a1[r] = fma((float8)(av), b1, a1[r]);
      }
    }
    _Pragma("unroll") for (int r = 0; r < TM; ++r) { t0[r] += a0[r]; t1[r] += a1[r]; }
  }
  _Pragma("unroll") for (int r = 0; r < TM; ++r) {
    vstore8(t0[r], 0, C + (i0 + r) * n + j0);
    vstore8(t1[r], 0, C + (i0 + r) * n + j0 + 8);
  }
}
//@buffer Ap float N*N
//@buffer Bp float N*N
//@launch packA global=(N, N/6) local=(64, 1) args=(A, Ap, N)
//@launch packB global=(N, N/16) local=(64, 1) args=(B, Bp, N)
//@launch mm global=(N/16, N/6) local=(16, 1) args=(Ap, Bp, out, N)
