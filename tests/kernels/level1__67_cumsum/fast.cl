// Fast cumsum: one work-item per row; each float8 block gets an in-register log-step prefix scan
// (3 shifted adds) and one vector store; the running carry is kept in double (no long fp32 chain)
// and added to the block as one rounded float, so the double work is one add per 8 elements.
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
__kernel void cumsum(__global const float* restrict x, __global float* restrict out,
                     const int rows, const int L) {
  const int r = get_global_id(0);
  if (r >= rows) return;
  __global const float* xr = x + (long)r * L;
  __global float* yr = out + (long)r * L;
  const int nv = L / 8;
  double c = 0.0;
  for (int i = 0; i < nv; ++i) {
    float8 v = vload8(i, xr);
    v += (float8)(0.0f, v.s012, v.s3456);
    v += (float8)(0.0f, 0.0f, v.s0123, v.s45);
    v += (float8)(0.0f, 0.0f, 0.0f, 0.0f, v.s0123);
    vstore8(v + (float)c, i, yr);  // the carry is rounded once per block, never accumulated in float
    c += v.s7;
  }
  for (int j = nv * 8; j < L; ++j) { c += xr[j]; yr[j] = (float)c; }
}
//@launch cumsum global=(round_up(x_shape0, 8)) local=(8) args=(x, out, x_shape0, x_shape1)
