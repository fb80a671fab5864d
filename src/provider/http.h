// Internal to src/provider: the libcurl transport and what the OpenAI and Anthropic clients
// share (error classification, error-body parsing, redaction, pricing). Not a public API.
#pragma once

#include <atomic>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "provider/provider.h"

namespace evokernel::provider_internal {

// Replaces every occurrence of each secret with "<redacted>". Secrets shorter than 4
// characters are ignored (placeholders like "x" are not secrets and redacting them would garble
// every message).
class Redactor {
 public:
  void Add(std::string secret);
  std::string operator()(std::string text) const;

 private:
  std::vector<std::string> secrets_;
};

// The API key (from the environment, now) and the values of extra headers whose name suggests a
// credential (…key…, …auth…, …token…, …secret…, cookie).
Redactor SecretsOf(const ProviderConfig& config);

struct HttpRequest {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  double connect_timeout_s = 10;
  double request_timeout_s = 600;
  const std::atomic<bool>* cancel = nullptr;  // aborts the transfer when it becomes true
};

struct HttpReply {
  long status = 0;
  std::string body;
  std::string retry_after;  // raw Retry-After header value, empty when absent
};

// One POST. Any HTTP status is a reply; only transport failures (connect, timeout, reset, reply
// too large) are errors: kProviderError naming the URL and the phase, with *detail's retryable
// and timed_out set. Thread-safe (one easy handle per call; curl_global_init once).
Result<HttpReply> HttpPost(const HttpRequest& request, FailureDetail* detail);

// Retry-After as seconds from now: a non-negative number of seconds or an HTTP date.
// nullopt when malformed.
std::optional<double> ParseRetryAfter(std::string_view value);

// 429, 408, 409 and 5xx.
bool IsRetryableHttpStatus(long status);

// The provider's error message from an error body (OpenAI, Anthropic, vLLM, Ollama, FastAPI
// shapes), else an excerpt of the body.
std::string ErrorMessageFromBody(const std::string& body);

// The first `n` bytes of `text` with control characters blanked, "..." when cut.
std::string Excerpt(std::string_view text, size_t n = 200);

// Shared by the OpenAI and Anthropic clients: sends the request, classifies failures, parses
// through the subclass, estimates missing usage, prices, redacts. Thread-safe: no mutable state.
class HttpProvider : public Provider {
 public:
  explicit HttpProvider(ProviderConfig config) : config_(std::move(config)) {}

  const ProviderConfig& config() const override { return config_; }
  Result<ChatResponse> Complete(const ChatRequest& request) override;
  Result<ChatResponse> CompleteWithDetail(const ChatRequest& request,
                                          FailureDetail* detail) override;

 protected:
  struct Parsed {
    std::string text;
    std::string finish_reason;  // normalised
    std::string model;          // empty when the reply names none
    bool has_usage = false;
    int64_t input_tokens = 0, output_tokens = 0;
  };

  virtual nlohmann::json BuildBody(const ChatRequest& request) const = 0;
  // Headers carrying the key (empty key: none) and any protocol headers.
  virtual std::vector<std::string> AuthHeaders(const std::string& key) const = 0;
  // Parses a 2xx body. On failure returns a message saying what was malformed.
  virtual Result<Parsed> ParseReply(const nlohmann::json& body) const = 0;

  // The effective sampling settings: the request's, else the config's.
  std::optional<double> Temperature(const ChatRequest& r) const {
    return r.temperature ? r.temperature : config_.temperature;
  }
  std::optional<int> MaxTokens(const ChatRequest& r) const {
    return r.max_tokens ? r.max_tokens : config_.max_tokens;
  }

  ProviderConfig config_;
};

std::unique_ptr<Provider> NewOpenAIProvider(const ProviderConfig& config);
std::unique_ptr<Provider> NewAnthropicProvider(const ProviderConfig& config);

// Shared by the clients for the "malformed" messages: the JSON type name of `j`.
std::string TypeName(const nlohmann::json& j);

}  // namespace evokernel::provider_internal
