// Internal to src/provider: the libcurl transport and what the OpenAI and Anthropic clients
// share (error classification, error-body parsing, redaction, pricing). Not a public API.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
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
  double request_timeout_s = 600;  // the whole transfer
  // No byte of the reply body within this many seconds of the request being sent (0: no limit).
  double first_byte_timeout_s = 0;
  // The reply body, once begun, brings no byte for this many seconds (0: no limit).
  double idle_timeout_s = 0;
  // Only for the wording of a first-byte timeout: an unstreamed reply's first byte comes after
  // the whole generation.
  bool streaming = false;
  const std::atomic<bool>* cancel = nullptr;  // aborts the transfer when it becomes true
  // When set, the body is handed over as it arrives, with the reply's HTTP status and
  // Content-Type, instead of being collected in HttpReply::body. Returning false stops the
  // transfer: HttpReply::stopped, not an error.
  std::function<bool(long status, std::string_view content_type, std::string_view data)> on_body;
  // Without on_body: a longer body fails the call ("not a chat completion endpoint").
  size_t max_body_bytes = size_t{64} << 20;
};

struct HttpReply {
  long status = 0;
  std::string body;         // empty when on_body took the body
  std::string retry_after;  // raw Retry-After header value, empty when absent
  bool stopped = false;     // on_body asked to stop before the body ended
};

// One POST. Any HTTP status is a reply; only transport failures (connect, the three timeouts,
// reset, reply too large) are errors: kProviderError naming the URL and the phase (a timeout
// names its setting, its value and how to raise it), with *detail's retryable and timed_out
// set. Thread-safe (one easy handle per call; curl_global_init once).
//
// The first-byte and idle limits are checked from libcurl's progress callback, which runs about
// once a second while the connection is quiet, so they fire up to about a second late.
Result<HttpReply> HttpPost(const HttpRequest& request, FailureDetail* detail);

// One Server-Sent Event.
struct SseEvent {
  std::string type;  // the "event:" field; empty when the event named none
  std::string data;  // its "data:" lines joined by "\n"
};

// Incremental parser of the text/event-stream format (WHATWG HTML, "Server-sent events"): lines
// end in \n, \r\n or \r, also when a line or its ending is split across Feed() calls; lines
// starting with ':' are comments (keep-alives); "data:" lines of one event accumulate; a blank
// line dispatches the event; an event without data lines is dropped; "id:" and "retry:" are
// ignored. Not thread-safe: one per stream.
class SseParser {
 public:
  using Handler = std::function<bool(const SseEvent&)>;  // returns false to stop
  // `max_pending`: the most bytes one unfinished line plus one event's data may hold.
  explicit SseParser(size_t max_pending = size_t{64} << 20) : max_pending_(max_pending) {}

  // Parses `bytes`, calling `on_event` for each complete event. false when `on_event` returned
  // false or an event grew beyond max_pending (overflowed()); feed nothing more then.
  bool Feed(std::string_view bytes, const Handler& on_event);
  // The end of the stream: an event whose last data line ended but whose blank line never came
  // is dispatched (servers that close right after their last line); an unterminated last line
  // is dropped.
  bool Finish(const Handler& on_event);

  bool overflowed() const { return overflowed_; }
  size_t events() const { return events_; }  // dispatched so far

 private:
  bool EndLine(const Handler& on_event);
  bool Dispatch(const Handler& on_event);

  size_t max_pending_;
  std::string line_;  // the current, unfinished line
  std::string type_;
  std::string data_;  // data lines, each followed by \n
  bool skip_lf_ = false;  // the last Feed() ended in \r: a \n starting the next one belongs to it
  bool overflowed_ = false;
  size_t events_ = 0;
};

// The longest prefix of `text` of at most `max_bytes` bytes that does not split a UTF-8
// sequence.
std::string TruncateUtf8(std::string text, size_t max_bytes);

// The value of the first string member named `key` in `json`, which may be cut anywhere (a
// body stopped at the transport cap): escapes decoded, up to the closing quote or to where the
// text ends. Empty when there is no such member.
std::string JsonStringPrefix(std::string_view json, std::string_view key);

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

// A stream or JSON error object carried inside a 2xx reply, as a Status: kUnavailable when
// retrying may help (overloaded, rate limited, server or unknown errors), kProviderError when the
// error says the request itself was wrong (invalid request, authentication, permission, not
// found, a 4xx code other than 408, 409, 429). `j` is the object holding "error" (or an
// Anthropic {"type":"error","error":{...}} event).
Status ErrorObjectStatus(const nlohmann::json& j);

// Shared by the OpenAI and Anthropic clients: sends the request (streamed or not), enforces the
// reply-size cap, classifies failures, parses through the subclass, estimates missing usage,
// prices, redacts. Thread-safe: no mutable state.
class HttpProvider : public Provider {
 public:
  explicit HttpProvider(ProviderConfig config) : config_(std::move(config)) {}

  const ProviderConfig& config() const override { return config_; }
  Result<ChatResponse> Complete(const ChatRequest& request) override;
  Result<ChatResponse> CompleteWithDetail(const ChatRequest& request,
                                          FailureDetail* detail) override;

  // What a reply said, in either form.
  struct Parsed {
    std::string text;
    std::string finish_reason;  // normalised
    std::string model;          // empty when the reply names none
    std::optional<int64_t> input_tokens, output_tokens;  // unset: the reply reported none
  };

  // Folds a streamed reply's events into a Parsed; one per call.
  class StreamDecoder {
   public:
    virtual ~StreamDecoder() = default;
    // kInvalidArgument: a malformed event (the message says what); kUnavailable /
    // kProviderError: the stream carried the endpoint's error (ErrorObjectStatus()).
    virtual Status OnEvent(const SseEvent& event) = 0;

    Parsed parsed;
    bool done = false;      // the stream's terminal event arrived ([DONE], message_stop)
    bool finished = false;  // a finish / stop reason arrived
  };

 protected:
  // The request body; `stream` asks for a streamed (SSE) reply.
  virtual nlohmann::json BuildBody(const ChatRequest& request, bool stream) const = 0;
  // Headers carrying the key (empty key: none) and any protocol headers.
  virtual std::vector<std::string> AuthHeaders(const std::string& key) const = 0;
  // Parses a 2xx JSON body. On failure returns a message saying what was malformed.
  virtual Result<Parsed> ParseReply(const nlohmann::json& body) const = 0;
  virtual std::unique_ptr<StreamDecoder> NewStreamDecoder() const = 0;
  // The reply text, as far as it goes, of a JSON body cut at the transport cap.
  virtual std::string SalvageText(std::string_view cut_body) const = 0;

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
