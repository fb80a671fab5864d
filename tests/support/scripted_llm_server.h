// ScriptedLlmServer: a fake LLM endpoint on loopback for tests. Never linked into evokernel.
//
// It wraps cpp-httplib's Server on 127.0.0.1 (ephemeral port by default) and serves both
//   POST /v1/chat/completions   (OpenAI Chat Completions shape)
//   POST /v1/messages           (Anthropic Messages shape)
// answering each request from a script. Every request is recorded (path, headers, body) for
// assertions, and the largest number of requests in flight at once is tracked.
//
// Choosing the step for a request, first hit wins:
//   0. the responder (SetResponder), when set and it returns a step: code that computes the
//      answer from the request (the learning world of bench/learning.sh);
//   1. match rules, in order: a rule whose regex (ECMAScript, searched, not anchored) matches
//      its field of the request and whose `times` is not used up;
//   2. the step queue, front first (each step answers one request);
//   3. the default step (unless set: HTTP 500 "scripted server: script exhausted").
//
// Script file format (JSON), as read by LoadScript() and the scripted_llm_server executable:
//
//   {
//     "model":   "scripted-model",     // model named in replies (default: echo the request's)
//     "steps":   [ STEP, ... ],        // the queue
//     "match":   [ RULE, ... ],        // match rules
//     "default": STEP                  // when nothing else applies
//   }
//   STEP = {
//     "status": 200,                   // HTTP status (default 200)
//     "text": "...",                   // the assistant's reply, rendered in the endpoint's shape
//     "finish_reason": "stop",         // "stop" | "length" | anything (Anthropic: end_turn,
//                                      //   max_tokens; others passed through)
//     "usage": {"input_tokens": 10, "output_tokens": 5}
//                                      // default: chars/4 of prompt and text; null: omit usage
//     "error": "message",              // for a non-2xx status: rendered as the endpoint's error
//                                      //   JSON (default "scripted error")
//     "raw_body": "...",               // sent verbatim instead of a rendered body (garbage tests)
//     "content_type": "...",           // with raw_body (default application/json)
//     "delay_ms": 0,                   // wait before answering (interrupted by Stop())
//     "retry_after": "1",              // Retry-After header value (seconds or an HTTP date)
//     "close_connection": false,       // send the status line and headers announcing a body,
//                                      //   then close the connection without sending it
//     "first_byte_delay_ms": 0,        // send the status line and headers, then wait this long
//                                      //   before the first byte of the body (a hung server;
//                                      //   streamed or not, any status)
//     "oversized_bytes": 0,            // > 0: the reply text is `fill` repeated to this many
//                                      //   bytes (cut at a UTF-8 boundary) instead of `text`;
//                                      //   usage as for any text (null: none)
//     "fill": "...",                   // with oversized_bytes (default a line of C++)
//     -- streaming: a 2xx answer to a request with "stream": true is an event stream --
//     "ignore_stream": false,          // answer one JSON body anyway (a server that cannot stream)
//     "chunk_bytes": 0,                // text bytes per content event (0: the text in 3 events;
//                                      //   16384 with oversized_bytes)
//     "chunk_delay_ms": 0,             // pause between events
//     "stall_after_events": -1,        // before event number N (0-based; -1: never) ...
//     "stall_ms": 0,                   //   ... pause this long (a stream stalled mid-reply)
//     "cut_after_events": -1,          // send only the first N events (-1: all): no finish,
//                                      //   usage, [DONE] or message_stop; the body then ends
//                                      //   properly, or
//     "cut_abruptly": false,           //   the connection is dropped without ending it
//     "stream_error": "",              // non-empty: an error event with this message replaces
//                                      //   the end of the stream (after the text events, or at
//                                      //   cut_after_events); OpenAI: data: {"error":{...}},
//                                      //   Anthropic: event: error
//     "stream_error_type": "overloaded_error",
//     "crlf": false,                   // end the stream's lines in \r\n instead of \n
//     "split_writes": false            // write each event in two halves, 5 ms apart (lines split
//                                      //   across the client's reads)
//   }
//
// Event streams follow the APIs: OpenAI chat.completion.chunk events (a role chunk, content
// deltas, a finish_reason chunk, a usage chunk when the request set
// stream_options.include_usage and the step has usage, then "data: [DONE]"); Anthropic
// message_start (input tokens), content_block_start, a ping, content_block_delta text_deltas,
// content_block_stop, message_delta (stop_reason, output tokens), message_stop. Every stream
// begins with a ": keep-alive" comment line.
//   RULE = STEP fields plus
//     "pattern": "wrong_answer",       // regex
//     "field": "prompt",               // "prompt": system + every message, joined by newlines;
//                                      // "last_user": the last user message; "system"
//     "times": -1                      // how many requests it may answer (-1: unlimited)
//
// Thread safety: all methods may be called from any thread while the server runs.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace evokernel::testing {

struct ScriptStep {
  int status = 200;
  std::string text;
  std::string finish_reason = "stop";
  std::optional<std::pair<int64_t, int64_t>> usage;  // {input, output}; nullopt: chars/4
  bool omit_usage = false;                           // reply without a usage object
  std::string error = "scripted error";
  std::optional<std::string> raw_body;
  std::string content_type = "application/json";
  int delay_ms = 0;
  std::string retry_after;
  bool close_connection = false;
  int first_byte_delay_ms = 0;
  size_t oversized_bytes = 0;
  std::string fill = "float acc = 0.0f;  // filler line of an oversized reply\n";
  // Streaming and its faults (see the format above).
  bool ignore_stream = false;
  size_t chunk_bytes = 0;
  int chunk_delay_ms = 0;
  int stall_after_events = -1;
  int stall_ms = 0;
  int cut_after_events = -1;
  bool cut_abruptly = false;
  std::string stream_error;
  std::string stream_error_type = "overloaded_error";
  bool crlf = false;
  bool split_writes = false;

  static ScriptStep Text(std::string text) {
    ScriptStep s;
    s.text = std::move(text);
    return s;
  }
  static ScriptStep Error(int status, std::string message, std::string retry_after = "") {
    ScriptStep s;
    s.status = status;
    s.error = std::move(message);
    s.retry_after = std::move(retry_after);
    return s;
  }
  static ScriptStep Raw(int status, std::string body) {
    ScriptStep s;
    s.status = status;
    s.raw_body = std::move(body);
    return s;
  }
};

struct MatchRule {
  std::string pattern;
  std::string field = "prompt";  // "prompt" | "last_user" | "system"
  int times = -1;
  ScriptStep step;
};

// Computes a step from the request body, or nullopt to fall through to the script. Called with
// the server's lock held, so one call at a time.
using Responder = std::function<std::optional<ScriptStep>(const nlohmann::json& body)>;

// The text a "prompt" rule matches: the system text and every message, joined by newlines.
std::string PromptText(const nlohmann::json& body);

struct Script {
  std::string model;  // empty: echo the request's model
  std::deque<ScriptStep> steps;
  std::vector<MatchRule> rules;
  std::optional<ScriptStep> default_step;
};

Result<Script> ParseScript(const nlohmann::json& j);
Result<Script> LoadScript(const std::filesystem::path& file);

struct RecordedRequest {
  std::string path;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  nlohmann::json json;      // the parsed body (discarded when not JSON)
  std::string answered_by;  // "match:<i>", "step:<i>" or "default"

  // First value of a header (case-insensitive); empty when absent.
  std::string Header(const std::string& name) const;
  bool HasHeader(const std::string& name) const;
};

class ScriptedLlmServer {
 public:
  // Binds 127.0.0.1:`port` (0: ephemeral) and serves on background threads. `log_file`, when
  // set, gets one JSON line per request (path, body, answered_by; credential headers left out).
  static Result<std::unique_ptr<ScriptedLlmServer>> Start(Script script = {}, int port = 0,
                                                          std::filesystem::path log_file = {});
  ~ScriptedLlmServer();
  ScriptedLlmServer(const ScriptedLlmServer&) = delete;
  ScriptedLlmServer& operator=(const ScriptedLlmServer&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string openai_base_url() const { return url() + "/v1"; }

  void Push(ScriptStep step);
  void SetDefault(ScriptStep step);
  void AddRule(MatchRule rule);
  void SetResponder(Responder responder);

  std::vector<RecordedRequest> Requests() const;
  size_t RequestCount() const;
  int MaxInFlight() const { return max_in_flight_.load(); }

  // Stops listening, interrupts delays (streams in progress end) and joins the threads.
  // Idempotent.
  void Stop();

 private:
  ScriptedLlmServer() = default;
  struct Chosen {
    ScriptStep step;
    std::string answered_by;
  };
  Chosen Choose(const nlohmann::json& body);  // with mu_ held
  // Waits up to `ms`; false when Stop() interrupted the wait.
  bool Pause(int ms);
  void Handle(const httplib::Request& req, httplib::Response& res, bool anthropic);

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::filesystem::path log_file_;

  mutable std::mutex mu_;
  Script script_;
  Responder responder_;
  std::vector<std::regex> compiled_;  // one per script_.rules entry
  std::vector<RecordedRequest> requests_;
  size_t counter_ = 0;
  bool stopping_ = false;
  std::condition_variable stop_cv_;

  std::atomic<int> in_flight_{0};
  std::atomic<int> max_in_flight_{0};
};

}  // namespace evokernel::testing
