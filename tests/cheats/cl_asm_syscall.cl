// expect: check/anti_cheat task=level1/12_relu feedback=assembly
// Issues a raw system call from inline assembly inside the kernel.
__kernel void relu(__global const float* restrict x, __global float* restrict out, const int n) {
  const int i = get_global_id(0);
  if (i == 0) __asm__ volatile("mov $39, %%eax\n syscall" ::: "rax", "rcx", "r11", "memory");
  if (i < n) out[i] = fmax(x[i], 0.0f);
}
//@launch relu global=(round_up(x_numel, 256)) local=(256) args=(x, out, x_numel)
