// Fast row softmax: one work-item per row, float8 vector passes (2 independent chains) with an
// inlined Cephes-style exp (range reduction + degree-6 polynomial, ~1 ulp, no libcall);
// exp(x - max) is computed once, stored, and rescaled in place while the row is still in cache.
inline float8 exp8(float8 x) {
  x = select(x, (float8)(-87.3365478515625f), isless(x, (float8)(-87.3365478515625f)));  // keeps NaN
  const float8 t = x * 1.44269504088896341f + 12582912.0f;  // round to nearest via 1.5 * 2^23
  const float8 fx = t - 12582912.0f;
  x = x - fx * 0.693359375f;
  x = x + fx * 2.12194440e-4f;
  float8 y = (float8)(1.9875691500E-4f);
  y = y * x + 1.3981999507E-3f;
  y = y * x + 8.3334519073E-3f;
  y = y * x + 4.1665795894E-2f;
  y = y * x + 1.6666665459E-1f;
  y = y * x + 5.0000001201E-1f;
  y = y * (x * x) + (x + 1.0f);
  const int8 e = (as_int8(t) - 0x4B400000 + 127) << 23;
  return y * as_float8(e);
}
__kernel void softmax(__global const float* restrict x, __global float* restrict out,
                      const int rows, const int cols) {
  const int r = get_global_id(0);
  if (r >= rows) return;
  __global const float* xr = x + (long)r * cols;
  __global float* yr = out + (long)r * cols;
  const int nv = cols / 16;
  float8 ma = (float8)(-INFINITY), mb = ma;
  for (int j = 0; j < nv; ++j) { ma = fmax(ma, vload8(2 * j, xr)); mb = fmax(mb, vload8(2 * j + 1, xr)); }
  const float8 m8 = fmax(ma, mb);
  const float4 m4 = fmax(m8.lo, m8.hi);
  const float2 m2 = fmax(m4.lo, m4.hi);
  float m = fmax(m2.lo, m2.hi);
  for (int j = nv * 16; j < cols; ++j) m = fmax(m, xr[j]);
  const float8 mv = (float8)(m);
  float8 sa = 0.0f, sb = 0.0f;
  for (int j = 0; j < nv; ++j) {
    const float8 ea = exp8(vload8(2 * j, xr) - mv);
    const float8 eb = exp8(vload8(2 * j + 1, xr) - mv);
    vstore8(ea, 2 * j, yr);
    vstore8(eb, 2 * j + 1, yr);
    sa += ea;
    sb += eb;
  }
  const float8 s8 = sa + sb;
  const float4 s4 = s8.lo + s8.hi;
  const float2 s2 = s4.lo + s4.hi;
  float s = s2.lo + s2.hi;
  for (int j = nv * 16; j < cols; ++j) { const float e = exp(xr[j] - m); yr[j] = e; s += e; }
  const float inv = 1.0f / s;
  const float8 iv = (float8)(inv);
  for (int j = 0; j < nv * 2; ++j) vstore8(vload8(j, yr) * iv, j, yr);
  for (int j = nv * 16; j < cols; ++j) yr[j] *= inv;
}
//@launch softmax global=(round_up(batch_size, 8)) local=(8) args=(x, out, batch_size, dim)
