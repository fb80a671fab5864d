// A counting semaphore in front of a provider: at most N requests in flight.
// (std::counting_semaphore needs its maximum at compile time; the limit here comes from the
// config.)
#include <condition_variable>
#include <mutex>

#include "provider/provider.h"

namespace evokernel {
namespace {

class ConcurrencyLimitedProvider final : public ProviderWrapper {
 public:
  ConcurrencyLimitedProvider(std::unique_ptr<Provider> target, int max_in_flight)
      : ProviderWrapper(std::move(target)), free_(std::max(1, max_in_flight)) {}

  Result<ChatResponse> CompleteWithDetail(const ChatRequest& request,
                                          FailureDetail* detail) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return free_ > 0; });
      --free_;
    }
    auto r = ProviderWrapper::CompleteWithDetail(request, detail);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++free_;
    }
    cv_.notify_one();
    return r;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int free_;
};

}  // namespace

std::unique_ptr<Provider> NewConcurrencyLimitedProvider(std::unique_ptr<Provider> target,
                                                        int max_in_flight) {
  return std::make_unique<ConcurrencyLimitedProvider>(std::move(target), max_in_flight);
}

}  // namespace evokernel
