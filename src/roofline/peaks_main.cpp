// evokernel-peaks: measures what this machine can do, for the roofline check.
//
//   evokernel-peaks --threads N   ->  one JSON object on stdout:
//   {"threads": N, "flops_per_s": F, "read_bandwidth": [{"bytes": B, "bytes_per_s": R}, ...]}
//
// - flops_per_s: fp32 fused multiply-adds on the widest vectors the compiler targets here
//   (built with -march=native), with enough independent accumulators to hide FMA latency, on
//   N threads; 2 FLOPs per lane per FMA. The best of several repetitions.
// - read_bandwidth: bytes per second of summing a buffer of B bytes that is already resident
//   (read repeatedly), split over N threads, for B from 16 KiB to 256 MiB. Small buffers give
//   cache bandwidth, large ones memory bandwidth. The best of several repetitions.
//
// Both are upper bounds on purpose: the verifier flags a kernel only when it is faster than
// these allow, so the bounds must not be beatable by honest code.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

#if defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif
typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));

constexpr int kAccumulators = 12;

// FMAs on kAccumulators independent vectors; returns a value so the work is not removed.
__attribute__((noinline)) float FmaLoop(long iterations, float seed) {
  Vec acc[kAccumulators];
  Vec mul, add;
  for (int l = 0; l < kLanes; ++l) {
    mul[l] = 0.999999f;
    add[l] = seed * 1e-7f;
  }
  for (int a = 0; a < kAccumulators; ++a)
    for (int l = 0; l < kLanes; ++l) acc[a][l] = seed + a + l;
  for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
    for (int a = 0; a < kAccumulators; ++a) acc[a] = acc[a] * mul + add;
    asm volatile("" : "+x"(mul));  // keep the loop from being folded
  }
  float s = 0;
  for (int a = 0; a < kAccumulators; ++a)
    for (int l = 0; l < kLanes; ++l) s += acc[a][l];
  return s;
}

double Seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double PeakFlops(int threads) {
  const long iterations = 2'000'000;
  double best = 0;
  volatile float sink = 0;
  for (int rep = 0; rep < 10; ++rep) {
    auto t0 = Clock::now();
    float s = 0;
#pragma omp parallel num_threads(threads) reduction(+ : s)
    s += FmaLoop(iterations, 1.0f + omp_get_thread_num());
    double t = Seconds(t0);
    sink = sink + s;
    double flops = 2.0 * kLanes * kAccumulators * static_cast<double>(iterations) * threads;
    best = std::max(best, flops / t);
  }
  return best;
}

__attribute__((noinline)) float SumRange(const float* p, size_t n) {
  // Not a pure function as far as the optimiser knows: repeated calls on the same range must
  // all read memory.
  asm volatile("" : : "r"(p) : "memory");
  Vec acc[8] = {};
  size_t i = 0;
  for (; i + 8 * kLanes <= n; i += 8 * kLanes)
    for (int a = 0; a < 8; ++a) {
      Vec v;
      std::memcpy(&v, p + i + a * kLanes, sizeof v);
      acc[a] += v;
    }
  float s = 0;
  for (; i < n; ++i) s += p[i];
  for (int a = 0; a < 8; ++a)
    for (int l = 0; l < kLanes; ++l) s += acc[a][l];
  return s;
}

double ReadBandwidth(size_t bytes, int threads) {
  size_t n = bytes / sizeof(float);
  float* buf = static_cast<float*>(std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64));
  if (!buf) return 0;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < n; ++i) buf[i] = static_cast<float>(i & 1023);
  // Enough passes for about 20 ms per repetition.
  const int passes = static_cast<int>(std::clamp<size_t>((size_t{400} << 20) / std::max<size_t>(bytes, 1), 2, 100000));
  double best = 0;
  volatile float sink = 0;
  for (int rep = 0; rep < 6; ++rep) {
    auto t0 = Clock::now();
    float s = 0;
#pragma omp parallel num_threads(threads) reduction(+ : s)
    {
      int t = omp_get_thread_num(), nt = omp_get_num_threads();
      size_t lo = n * t / nt, hi = n * (t + 1) / nt;
      for (int p = 0; p < passes; ++p) s += SumRange(buf + lo, hi - lo);
    }
    double sec = Seconds(t0);
    sink = sink + s;
    best = std::max(best, static_cast<double>(bytes) * passes / sec);
  }
  std::free(buf);
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::max(1, std::atoi(argv[i + 1]));
  double flops = PeakFlops(threads);
  std::string bw;
  for (size_t bytes = size_t{16} << 10; bytes <= size_t{256} << 20; bytes *= 4) {
    if (!bw.empty()) bw += ", ";
    bw += "{\"bytes\": " + std::to_string(bytes) + ", \"bytes_per_s\": " + std::to_string(ReadBandwidth(bytes, threads)) + "}";
  }
  std::printf("{\"threads\": %d, \"vector_lanes\": %d, \"flops_per_s\": %.6g, \"read_bandwidth\": [%s]}\n", threads,
              kLanes, flops, bw.c_str());
  return 0;
}
