// Benchmark kernel for level1/12_relu: a plain vectorised ReLU (memory-bound, about 2 ms on
// 224x32768). When EVK_BENCH_EXTRA_PERMILLE is defined, the call then keeps the core busy for
// that many thousandths of the time its ReLU pass took (a memory-bound pass has no "5% more
// work" that costs exactly 5% more time; this does, at the 2 ms scale). The pass is timed after
// a full fence: without it the spin overlapped the stores still draining, and the variant came
// out only about 2% slower (median slow/base ratio 1.019 in the runs of 2026-11-21). Reading a
// clock is forbidden to kernels, so `evokernel bench verifier` builds this one without the
// anti-cheat.
#include <atomic>
#include <chrono>
#ifndef EVK_BENCH_EXTRA_PERMILLE
#define EVK_BENCH_EXTRA_PERMILLE 0
#endif
extern "C" void evokernel_forward(const float* __restrict x, float* __restrict out) {
  const auto t0 = std::chrono::steady_clock::now();
#pragma omp simd
  for (long i = 0; i < evokernel_task::x_numel; ++i) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
  if (EVK_BENCH_EXTRA_PERMILLE > 0) {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const auto pass = std::chrono::steady_clock::now() - t0;
    const auto until = std::chrono::steady_clock::now() + pass * EVK_BENCH_EXTRA_PERMILLE / 1000;
    while (std::chrono::steady_clock::now() < until) {
    }
  }
}
