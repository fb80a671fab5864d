// expect: check/anti_cheat task=level1/12_relu feedback=enqueue
// Enqueues the real work from the device so that it runs after the timed span has ended.
__kernel void relu(__global const float* restrict x, __global float* restrict out, const int n) {
  const int i = get_global_id(0);
  if (i == 0) {
    enqueue_kernel(get_default_queue(), CLK_ENQUEUE_FLAGS_NO_WAIT, ndrange_1D(n), ^{
      out[get_global_id(0)] = fmax(x[get_global_id(0)], 0.0f);
    });
  }
}
//@launch relu global=(256) local=(256) args=(x, out, x_numel)
