// Retries with exponential backoff and full jitter ("Exponential Backoff And Jitter", AWS
// Architecture Blog, 2015): retry n waits uniform(0, min(max, base * 2^n)), which spreads
// clients that failed together instead of having them return in lockstep.
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <random>
#include <thread>

#include "provider/provider.h"

namespace evokernel {
namespace {

double Uniform(double hi) {
  thread_local std::mt19937_64 rng([] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd() ^
           std::hash<std::thread::id>()(std::this_thread::get_id());
  }());
  if (!(hi > 0)) return 0;
  return std::uniform_real_distribution<double>(0, hi)(rng);
}

class RetryingProvider final : public ProviderWrapper {
 public:
  RetryingProvider(std::unique_ptr<Provider> target, RetryOptions o)
      : ProviderWrapper(std::move(target)), o_(o) {}

  Result<ChatResponse> CompleteWithDetail(const ChatRequest& request,
                                          FailureDetail* detail) override {
    auto start = std::chrono::steady_clock::now();
    for (int attempt = 0;; ++attempt) {
      FailureDetail d;
      auto r = ProviderWrapper::CompleteWithDetail(request, &d);
      const int attempts = attempt + 1;
      if (r.ok()) {
        r->attempts = attempts;
        r->latency_s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return r;
      }
      // A malformed 2xx (an empty "choices", a proxy's page, a cut reply) is retried like a 5xx,
      // up to max_retries: real endpoints return one now and then under load, and one garbled
      // reply must not end a run.
      const bool cancelled = request.cancel && request.cancel->load();
      if (cancelled || !d.retryable || attempt >= o_.max_retries) {
        *detail = d;
        detail->attempts = attempts;
        std::string why = cancelled      ? "cancelled"
                          : !d.retryable ? "not retried: the error is permanent"
                                         : fmt::format("max_retries = {} exhausted", o_.max_retries);
        return Status(r.status().code(),
                      fmt::format("{} (after {} attempt{}; {})", r.status().message(), attempts,
                                  attempts == 1 ? "" : "s", why));
      }
      double delay = Uniform(
          std::min(o_.backoff_max_s, o_.backoff_base_s * std::ldexp(1.0, std::min(attempt, 60))));
      if (d.retry_after_s)
        delay = std::min(*d.retry_after_s, o_.backoff_max_s * RetryOptions::kRetryAfterCapFactor);
      // Sleep in slices so a cancellation ends the backoff promptly.
      auto until = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                           std::chrono::duration<double>(delay));
      while (std::chrono::steady_clock::now() < until && !(request.cancel && request.cancel->load()))
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
            until - std::chrono::steady_clock::now(), std::chrono::milliseconds(50)));
    }
  }

 private:
  RetryOptions o_;
};

}  // namespace

std::unique_ptr<Provider> NewRetryingProvider(std::unique_ptr<Provider> target,
                                              RetryOptions options) {
  return std::make_unique<RetryingProvider>(std::move(target), options);
}

}  // namespace evokernel
