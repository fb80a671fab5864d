// Naive square matmul: one work-item per output element, C[i][j] = sum_k A[i][k] * B[k][j]
// (double accumulator, so the long dot products stay well inside the tolerance).
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
__kernel void matmul(__global const float* restrict A, __global const float* restrict B,
                     __global float* restrict C, const int n) {
  const int j = get_global_id(0);
  const int i = get_global_id(1);
  if (i < n && j < n) {
    double acc = 0.0;
    for (int k = 0; k < n; ++k) acc += (double)A[i * n + k] * (double)B[k * n + j];
    C[i * n + j] = (float)acc;
  }
}
//@launch matmul global=(round_up(N, 16), round_up(N, 16)) local=(16, 16) args=(A, B, out, N)
