// LLM providers: one chat-completion call to a model endpoint, behind a small interface.
//
// The stack MakeProvider() builds, outermost first:
//
//   AccountingProvider   records tokens, cost, cache hits, retries and errors in a UsageLedger
//     CachingProvider    content-addressed response cache (cache_dir; off when empty)
//       RetryingProvider exponential backoff with full jitter, Retry-After, bounded attempts
//         ConcurrencyLimitedProvider   at most `concurrency` requests in flight
//           OpenAIProvider | AnthropicProvider   one HTTP request per call (libcurl)
//
// The retry wrapper sits outside the concurrency limit so a request waiting out a backoff does
// not hold a slot; the cache sits outside the retries so a hit costs neither a slot nor a
// request. Every layer is a Provider, and ProviderWrapper forwards everything to the layer it
// wraps, so tests can slip a fault injector or a recorder in anywhere.
//
// Thread safety: every Provider made here is safe to call from several threads at once.
// Failure: Complete() never throws; endpoint failures are kProviderError Statuses whose message
// names the endpoint URL, the HTTP status or transport error, the provider's own message and
// (after retries) the attempt count. The API key never appears in a message, a log line, a
// cache file or the ledger (see docs/providers.md, "Secrets").
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "provider/config.h"

namespace evokernel {

struct ChatMessage {
  std::string role;  // "user" or "assistant" ("system" entries are merged into the system prompt)
  std::string content;
};

struct ChatRequest {
  std::string system;  // system prompt; may be empty
  std::vector<ChatMessage> messages;
  std::optional<double> temperature;  // unset: the config's, else the endpoint's default
  std::optional<int> max_tokens;      // unset: the config's (Anthropic: 4096 when neither is set)
  std::vector<std::string> stop;      // stop sequences
  // Distinguishes otherwise identical requests in the response cache (independent samples of
  // one prompt, as in pass@k). Part of the cache key; never sent.
  int sample_index = 0;
  std::string task_id;  // for accounting only; never sent
  std::string phase;    // "draft" | "refine", for accounting only; never sent
  // When set and it becomes true, the call stops as soon as possible (within about 100 ms,
  // also during a retry's backoff) with a kProviderError saying it was cancelled, and is not
  // retried. Not part of the cache key. Must outlive the call.
  const std::atomic<bool>* cancel = nullptr;
};

struct Usage {
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  double cost_usd = 0;     // 0 for cache hits and for models missing from the price table
  bool estimated = false;  // the endpoint reported no usage; tokens estimated as chars / 4
  bool cost_known =
      false;  // the model was found in the price table (or the answer came from cache)
};

struct ChatResponse {
  std::string text;           // the assistant's reply (text blocks joined)
  std::string finish_reason;  // normalised: "stop" | "length" | "other"
  std::string model;          // the model the endpoint says answered (else the requested one)
  Usage usage;
  double latency_s = 0;  // wall time of the whole call, retries and backoff included
  int attempts = 0;      // HTTP requests made for this answer (0: from cache)
  bool from_cache = false;
  std::string request_hash;  // RequestHash(): the cache key, also a stable prompt id for records
  std::string endpoint;      // the URL the answer came from (or was originally fetched from)
  // The reply was longer than max_reply_bytes: `text` holds its first max_reply_bytes bytes (cut
  // at a UTF-8 boundary; what could be salvaged when an unstreamed body passed the transport
  // cap), finish_reason is "length", and the tokens are the reply's own usage when it reported
  // one before the cut, else estimated from the kept text (usage.estimated). A success: it is
  // not retried, and the cache keeps it like any answer.
  bool oversized = false;

  nlohmann::json ToJson() const;
  // Inverse of ToJson(); kInvalidArgument naming the missing or mistyped field.
  static Result<ChatResponse> FromJson(const nlohmann::json& j);
};

// What a failed call knows beyond its Status; filled by CompleteWithDetail().
struct FailureDetail {
  // 429, 408, 409, 5xx, timeouts, connection errors, malformed 2xx, retryable stream errors
  bool retryable = false;
  // A 2xx whose body was not the expected JSON or event stream, or a stream cut before its end;
  // retried like a 5xx, up to max_retries.
  bool malformed = false;
  bool timed_out = false;  // connect, first-byte, idle or total timeout
  int http_status = 0;                  // 0: no HTTP response
  std::optional<double> retry_after_s;  // the endpoint's Retry-After, in seconds from now
  int attempts = 0;                     // HTTP requests made (set by the retry layer)
};

class Provider {
 public:
  virtual ~Provider() = default;

  // "openai" or "anthropic" (the kind of the endpoint at the bottom of the stack).
  virtual std::string_view name() const = 0;
  virtual const ProviderConfig& config() const = 0;

  // Sends one chat request and returns the endpoint's answer. Thread-safe.
  virtual Result<ChatResponse> Complete(const ChatRequest& request) = 0;

  // Complete() that also fills *detail (must not be null) on failure; the retry layer decides
  // with it. The default calls Complete() and classifies by code: kTimeout and kUnavailable are
  // retryable, everything else is fatal. Layers in this folder override it.
  virtual Result<ChatResponse> CompleteWithDetail(const ChatRequest& request,
                                                  FailureDetail* detail);
};

// Forwards every call to `target`. Derive from it and override what you need (fault injection,
// recording, replay); Complete() routes through CompleteWithDetail() so one override suffices.
class ProviderWrapper : public Provider {
 public:
  explicit ProviderWrapper(std::unique_ptr<Provider> target) : target_(std::move(target)) {}

  std::string_view name() const override { return target_->name(); }
  const ProviderConfig& config() const override { return target_->config(); }
  Result<ChatResponse> Complete(const ChatRequest& request) override;
  Result<ChatResponse> CompleteWithDetail(const ChatRequest& request,
                                          FailureDetail* detail) override {
    return target_->CompleteWithDetail(request, detail);
  }
  Provider* target() const { return target_.get(); }

 private:
  std::unique_ptr<Provider> target_;
};

class UsageLedger;

// Builds the whole stack for `config` (validated first: kInvalidArgument with what to
// configure). `ledger` receives every call's accounting; pass one to read totals (may be null:
// a private ledger is used).
Result<std::unique_ptr<Provider>> MakeProvider(const ProviderConfig& config,
                                               std::shared_ptr<UsageLedger> ledger = nullptr);

// ---- The layers, for tests and custom stacks. Each takes ownership of what it wraps.

// The bare HTTP client for config.kind ("openai" or "anthropic"). One request per call, no
// retries. Reads the API key from $config.ApiKeyEnv() at each call.
Result<std::unique_ptr<Provider>> MakeHttpProvider(const ProviderConfig& config);

struct RetryOptions {
  int max_retries = 4;          // retries after the first attempt
  double backoff_base_s = 1.0;  // delay before retry n (0-based): uniform(0, min(max, base*2^n))
  double backoff_max_s = 60.0;
  // A Retry-After on a retryable reply is honoured instead of the jittered delay, capped at
  // backoff_max_s * kRetryAfterCapFactor so a hostile or confused server cannot park a run.
  static constexpr double kRetryAfterCapFactor = 4.0;
};
std::unique_ptr<Provider> NewRetryingProvider(std::unique_ptr<Provider> target,
                                              RetryOptions options);

// At most `max_in_flight` (>= 1) calls of `target` at once; further callers block.
std::unique_ptr<Provider> NewConcurrencyLimitedProvider(std::unique_ptr<Provider> target,
                                                        int max_in_flight);

// Serves repeated requests from cache_dir/<hh>/<hash>.json (hash = RequestHash()). A hit has
// from_cache = true, attempts = 0 and zero cost. Entries are written atomically; a corrupt entry
// is ignored and overwritten. Only successful answers are stored.
std::unique_ptr<Provider> NewCachingProvider(std::unique_ptr<Provider> target,
                                             std::filesystem::path cache_dir);

// Records every call (successes, failures, cache hits, retries) in `ledger`.
std::unique_ptr<Provider> NewAccountingProvider(std::unique_ptr<Provider> target,
                                                std::shared_ptr<UsageLedger> ledger);

// The canonical JSON that identifies a request's answer: kind, base_url, model, system,
// messages, effective temperature and max_tokens (request over config), stop, sample_index.
// Never the key, headers, task or phase.
nlohmann::json CanonicalRequest(const ProviderConfig& config, const ChatRequest& request);
// SHA-256 hex of CanonicalRequest().dump().
std::string RequestHash(const ProviderConfig& config, const ChatRequest& request);

}  // namespace evokernel
