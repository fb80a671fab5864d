// Fast LayerNorm: one work-item per row, float16 vector passes (sum, centred sum of squares,
// fused scale/shift) over a row that stays in L1; float lane accumulators (rows are short).
__kernel void layernorm(__global const float* restrict x, __global const float* restrict w,
                        __global const float* restrict b, __global float* restrict out,
                        const int rows, const int H) {
  const int r = get_global_id(0);
  if (r >= rows) return;
  __global const float* xr = x + (long)r * H;
  __global float* yr = out + (long)r * H;
  const int nv = H / 16;
  float16 a = 0.0f;
  for (int j = 0; j < nv; ++j) a += vload16(j, xr);
  float8 a8 = a.lo + a.hi;
  float4 a4 = a8.lo + a8.hi;
  float s = (a4.x + a4.y) + (a4.z + a4.w);
  for (int j = nv * 16; j < H; ++j) s += xr[j];
  const float mean = s / H;
  const float16 mv = (float16)(mean);
  float16 q = 0.0f;
  for (int j = 0; j < nv; ++j) { const float16 d = vload16(j, xr) - mv; q = fma(d, d, q); }
  float8 q8 = q.lo + q.hi;
  float4 q4 = q8.lo + q8.hi;
  float sq = (q4.x + q4.y) + (q4.z + q4.w);
  for (int j = nv * 16; j < H; ++j) { const float d = xr[j] - mean; sq += d * d; }
  const float rstd = 1.0f / sqrt(sq / H + 1e-5f);
  const float16 rv = (float16)(rstd);
  for (int j = 0; j < nv; ++j)
    vstore16(fma((vload16(j, xr) - mv) * rv, vload16(j, w), vload16(j, b)), j, yr);
  for (int j = nv * 16; j < H; ++j) yr[j] = fma((xr[j] - mean) * rstd, w[j], b[j]);
}
//@launch layernorm global=(round_up(x_shape0*x_shape1, 16)) local=(16) args=(x, ln_weight, ln_bias, out, x_shape0*x_shape1, hidden)
