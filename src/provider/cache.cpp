// Content-addressed response cache: cache_dir/<first two hex digits>/<sha256>.json, keyed by
// RequestHash() (what was asked of which model at which endpoint, never who asked or with which
// key). A rerun with the same prompts reproduces offline from it.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "common/fs.h"
#include "provider/http.h"
#include "provider/provider.h"

namespace evokernel {
namespace {
namespace fs = std::filesystem;

constexpr int kCacheFormat = 1;

class CachingProvider final : public ProviderWrapper {
 public:
  CachingProvider(std::unique_ptr<Provider> target, fs::path dir)
      : ProviderWrapper(std::move(target)), dir_(std::move(dir)) {}

  Result<ChatResponse> CompleteWithDetail(const ChatRequest& request,
                                          FailureDetail* detail) override {
    auto start = std::chrono::steady_clock::now();
    const std::string hash = RequestHash(config(), request);
    const fs::path path = dir_ / hash.substr(0, 2) / (hash + ".json");
    if (auto hit = Lookup(path, hash)) {
      hit->from_cache = true;
      hit->attempts = 0;
      hit->usage.cost_usd = 0;
      hit->usage.cost_known = true;  // a hit is known to cost nothing
      hit->request_hash = hash;
      hit->latency_s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      return *hit;
    }
    auto r = ProviderWrapper::CompleteWithDetail(request, detail);
    if (r.ok()) Store(path, hash, request, *r);
    return r;
  }

 private:
  // nullopt on a miss or an unreadable/corrupt entry (which the next Store() overwrites).
  std::optional<ChatResponse> Lookup(const fs::path& path, const std::string& hash) const {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return std::nullopt;
    auto text = ReadFile(path);
    if (!text.ok()) return std::nullopt;
    nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || j.value("format", 0) != kCacheFormat ||
        j.value("request_hash", "") != hash || !j.contains("response"))
      return std::nullopt;
    auto r = ChatResponse::FromJson(j["response"]);
    if (!r.ok()) return std::nullopt;
    // The reply limit is not part of the key (a rerun with another limit asks the same), but it
    // decides the answer: a reply cut at a smaller limit than today's could now come whole, and
    // one longer than today's limit would now be cut. Either is a miss, and Store() replaces it.
    const auto limit = static_cast<size_t>(std::max<int64_t>(config().max_reply_bytes, 1));
    if ((r->oversized && r->text.size() < limit) || r->text.size() > limit) return std::nullopt;
    return std::move(r).value();
  }

  void Store(const fs::path& path, const std::string& hash, const ChatRequest& request,
             const ChatResponse& r) const {
    nlohmann::json resp = r.ToJson();
    resp.erase("from_cache");
    resp.erase("latency_s");
    nlohmann::json entry = {{"format", kCacheFormat},
                            {"request_hash", hash},
                            {"created_unix", static_cast<int64_t>(std::time(nullptr))},
                            {"request", CanonicalRequest(config(), request)},
                            {"response", resp},
                            {"original_latency_s", r.latency_s}};
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    // The answer is already in hand; failing to cache it (disk full) must not fail the call.
    // The directory itself was checked when the stack was built (MakeProvider).
    const auto redact = provider_internal::SecretsOf(config());
    (void)WriteFileAtomic(
        path, redact(entry.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)) + "\n");
  }

  fs::path dir_;
};

}  // namespace

std::unique_ptr<Provider> NewCachingProvider(std::unique_ptr<Provider> target, fs::path cache_dir) {
  return std::make_unique<CachingProvider>(std::move(target), std::move(cache_dir));
}

}  // namespace evokernel
