#include "support/scripted_llm_server.h"

#include <httplib.h>

#include <chrono>
#include <fstream>

#include "common/fs.h"

namespace evokernel::testing {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Result<ScriptStep> ParseStep(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) return InvalidArgument(where + ": a step must be a JSON object");
  static const std::vector<std::string> kKeys = {
      "status",           "text",           "finish_reason",       "usage",
      "error",            "raw_body",       "content_type",        "delay_ms",
      "retry_after",      "close_connection", "first_byte_delay_ms", "oversized_bytes",
      "fill",             "ignore_stream",  "chunk_bytes",         "chunk_delay_ms",
      "stall_after_events", "stall_ms",     "cut_after_events",    "cut_abruptly",
      "stream_error",     "stream_error_type", "crlf",             "split_writes",
      "pattern",          "field",          "times"};
  ScriptStep s;
  try {
    for (const auto& [k, v] : j.items())
      if (std::find(kKeys.begin(), kKeys.end(), k) == kKeys.end())
        return InvalidArgument(where + ": unknown key '" + k + "'");
    s.status = j.value("status", 200);
    s.text = j.value("text", "");
    s.finish_reason = j.value("finish_reason", "stop");
    if (j.contains("usage")) {
      const auto& u = j["usage"];
      if (u.is_null()) {
        s.omit_usage = true;
      } else {
        s.usage = std::make_pair(u.at("input_tokens").get<int64_t>(),
                                 u.at("output_tokens").get<int64_t>());
      }
    }
    s.error = j.value("error", "scripted error");
    if (j.contains("raw_body")) s.raw_body = j["raw_body"].get<std::string>();
    s.content_type = j.value("content_type", "application/json");
    s.delay_ms = j.value("delay_ms", 0);
    if (j.contains("retry_after"))
      s.retry_after = j["retry_after"].is_string() ? j["retry_after"].get<std::string>()
                                                   : j["retry_after"].dump();
    s.close_connection = j.value("close_connection", false);
    s.first_byte_delay_ms = j.value("first_byte_delay_ms", 0);
    s.oversized_bytes = j.value("oversized_bytes", size_t{0});
    s.fill = j.value("fill", s.fill);
    if (s.fill.empty()) return InvalidArgument(where + ": fill must not be empty");
    s.ignore_stream = j.value("ignore_stream", false);
    s.chunk_bytes = j.value("chunk_bytes", size_t{0});
    s.chunk_delay_ms = j.value("chunk_delay_ms", 0);
    s.stall_after_events = j.value("stall_after_events", -1);
    s.stall_ms = j.value("stall_ms", 0);
    s.cut_after_events = j.value("cut_after_events", -1);
    s.cut_abruptly = j.value("cut_abruptly", false);
    s.stream_error = j.value("stream_error", "");
    s.stream_error_type = j.value("stream_error_type", s.stream_error_type);
    s.crlf = j.value("crlf", false);
    s.split_writes = j.value("split_writes", false);
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(where + ": " + e.what());
  }
  return s;
}

// The text a match rule looks at.
std::string Field(const nlohmann::json& body, const std::string& field) {
  auto text_of = [](const nlohmann::json& c) -> std::string {
    if (c.is_string()) return c.get<std::string>();
    std::string out;
    if (c.is_array())
      for (const auto& b : c)
        if (b.is_object() && b.contains("text") && b["text"].is_string())
          out += b["text"].get<std::string>();
    return out;
  };
  std::string system, last_user, all;
  if (body.is_object() && body.contains("system")) system = text_of(body["system"]);
  if (body.is_object() && body.contains("messages") && body["messages"].is_array()) {
    for (const auto& m : body["messages"]) {
      if (!m.is_object()) continue;
      std::string role = m.value("role", "");
      std::string content = m.contains("content") ? text_of(m["content"]) : "";
      if (role == "system")
        system += (system.empty() ? "" : "\n") + content;
      else
        all += content + "\n";
      if (role == "user") last_user = content;
    }
  }
  if (field == "system") return system;
  if (field == "last_user") return last_user;
  return system + "\n" + all;
}

int64_t Quarter(size_t chars) { return static_cast<int64_t>((chars + 3) / 4); }

// The longest prefix of at most n bytes that does not split a UTF-8 sequence.
size_t Utf8Cut(const std::string& s, size_t n) {
  if (n >= s.size()) return s.size();
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

std::string FillText(const std::string& fill, size_t bytes) {
  std::string out;
  out.reserve(bytes + fill.size());
  while (out.size() < bytes) out += fill;
  out.resize(Utf8Cut(out, bytes));
  return out;
}

// `text` in pieces of about `n` bytes, never splitting a UTF-8 sequence.
std::vector<std::string> Pieces(const std::string& text, size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < text.size();) {
    size_t end = i + Utf8Cut(text.substr(i), n);
    if (end == i) end = i + std::min(text.size() - i, size_t{4});  // n smaller than one character
    out.push_back(text.substr(i, end - i));
    i = end;
  }
  return out;
}

std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// One event in the wire format.
std::string SseEventText(const std::string& type, const std::string& data, bool crlf) {
  const char* nl = crlf ? "\r\n" : "\n";
  std::string e;
  if (!type.empty()) e += "event: " + type + nl;
  e += "data: " + data + nl + nl;
  return e;
}

// The events of a streamed answer, and where its end (finish, usage, terminator) begins.
struct StreamPlan {
  std::vector<std::string> events;
  size_t tail_start = 0;
};

StreamPlan PlanStream(const ScriptStep& step, const std::string& text, const std::string& model,
                      size_t index, int64_t in, int64_t out, bool anthropic, bool include_usage) {
  StreamPlan plan;
  size_t chunk = step.chunk_bytes > 0          ? step.chunk_bytes
                 : step.oversized_bytes > 0    ? size_t{16384}
                                               : std::max<size_t>(1, (text.size() + 2) / 3);
  std::vector<std::string> pieces = Pieces(text, chunk);
  auto add = [&](const std::string& type, const nlohmann::json& data) {
    plan.events.push_back(SseEventText(type, Dump(data), step.crlf));
  };
  if (anthropic) {
    std::string sr = step.finish_reason == "stop"     ? "end_turn"
                     : step.finish_reason == "length" ? "max_tokens"
                                                      : step.finish_reason;
    nlohmann::json message = {{"id", "msg_scripted_" + std::to_string(index)},
                              {"type", "message"},
                              {"role", "assistant"},
                              {"model", model},
                              {"content", nlohmann::json::array()},
                              {"stop_reason", nullptr},
                              {"stop_sequence", nullptr}};
    if (!step.omit_usage) message["usage"] = {{"input_tokens", in}, {"output_tokens", 1}};
    add("message_start", {{"type", "message_start"}, {"message", message}});
    add("content_block_start", {{"type", "content_block_start"},
                                {"index", 0},
                                {"content_block", {{"type", "text"}, {"text", ""}}}});
    add("ping", {{"type", "ping"}});
    for (const auto& p : pieces)
      add("content_block_delta", {{"type", "content_block_delta"},
                                  {"index", 0},
                                  {"delta", {{"type", "text_delta"}, {"text", p}}}});
    plan.tail_start = plan.events.size();
    add("content_block_stop", {{"type", "content_block_stop"}, {"index", 0}});
    nlohmann::json delta = {{"type", "message_delta"},
                            {"delta", {{"stop_reason", sr}, {"stop_sequence", nullptr}}}};
    if (!step.omit_usage) delta["usage"] = {{"output_tokens", out}};
    add("message_delta", delta);
    add("message_stop", {{"type", "message_stop"}});
  } else {
    auto chunk_json = [&](nlohmann::json choices) {
      return nlohmann::json{{"id", "chatcmpl-scripted-" + std::to_string(index)},
                            {"object", "chat.completion.chunk"},
                            {"created", 0},
                            {"model", model},
                            {"choices", std::move(choices)}};
    };
    auto choice = [](nlohmann::json delta, nlohmann::json finish) {
      return nlohmann::json::array(
          {{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", std::move(finish)}}});
    };
    add("", chunk_json(choice({{"role", "assistant"}, {"content", ""}}, nullptr)));
    for (const auto& p : pieces) add("", chunk_json(choice({{"content", p}}, nullptr)));
    plan.tail_start = plan.events.size();
    add("", chunk_json(choice(nlohmann::json::object(), step.finish_reason)));
    if (include_usage && !step.omit_usage) {
      nlohmann::json last = chunk_json(nlohmann::json::array());
      last["usage"] = {{"prompt_tokens", in}, {"completion_tokens", out}, {"total_tokens", in + out}};
      add("", last);
    }
    plan.events.push_back(std::string("data: [DONE]") + (step.crlf ? "\r\n\r\n" : "\n\n"));
  }
  return plan;
}

}  // namespace

std::string PromptText(const nlohmann::json& body) { return Field(body, "prompt"); }

std::string RecordedRequest::Header(const std::string& name) const {
  std::string n = Lower(name);
  for (const auto& [k, v] : headers)
    if (Lower(k) == n) return v;
  return "";
}

bool RecordedRequest::HasHeader(const std::string& name) const {
  std::string n = Lower(name);
  for (const auto& [k, v] : headers)
    if (Lower(k) == n) return true;
  return false;
}

Result<Script> ParseScript(const nlohmann::json& j) {
  if (!j.is_object())
    return InvalidArgument("script: expected a JSON object with steps, match, default");
  Script s;
  for (const auto& [k, v] : j.items())
    if (k != "model" && k != "steps" && k != "match" && k != "default")
      return InvalidArgument("script: unknown key '" + k +
                             "' (allowed: model, steps, match, default)");
  if (j.contains("model")) {
    if (!j["model"].is_string()) return InvalidArgument("script: model must be a string");
    s.model = j["model"].get<std::string>();
  }
  if (j.contains("steps")) {
    if (!j["steps"].is_array()) return InvalidArgument("script: steps must be an array");
    for (size_t i = 0; i < j["steps"].size(); ++i) {
      EVK_ASSIGN_OR_RETURN(ScriptStep st,
                           ParseStep(j["steps"][i], "script: steps[" + std::to_string(i) + "]"));
      s.steps.push_back(std::move(st));
    }
  }
  if (j.contains("match")) {
    if (!j["match"].is_array()) return InvalidArgument("script: match must be an array");
    for (size_t i = 0; i < j["match"].size(); ++i) {
      std::string where = "script: match[" + std::to_string(i) + "]";
      const auto& r = j["match"][i];
      EVK_ASSIGN_OR_RETURN(ScriptStep st, ParseStep(r, where));
      MatchRule rule;
      if (!r.contains("pattern") || !r["pattern"].is_string())
        return InvalidArgument(where + ": needs a \"pattern\" string");
      rule.pattern = r["pattern"].get<std::string>();
      rule.field = r.value("field", "prompt");
      if (rule.field != "prompt" && rule.field != "last_user" && rule.field != "system")
        return InvalidArgument(where + ": field must be prompt, last_user or system");
      rule.times = r.value("times", -1);
      try {
        std::regex re(rule.pattern);
      } catch (const std::regex_error& e) {
        return InvalidArgument(where + ": bad regex '" + rule.pattern + "': " + e.what());
      }
      rule.step = std::move(st);
      s.rules.push_back(std::move(rule));
    }
  }
  if (j.contains("default")) {
    EVK_ASSIGN_OR_RETURN(ScriptStep st, ParseStep(j["default"], "script: default"));
    s.default_step = std::move(st);
  }
  return s;
}

Result<Script> LoadScript(const std::filesystem::path& file) {
  EVK_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return InvalidArgument(file.string() + ": not valid JSON");
  auto s = ParseScript(j);
  if (!s.ok()) return s.status().WithContext(file.string());
  return s;
}

Result<std::unique_ptr<ScriptedLlmServer>> ScriptedLlmServer::Start(
    Script script, int port, std::filesystem::path log_file) {
  std::unique_ptr<ScriptedLlmServer> s(new ScriptedLlmServer());
  s->log_file_ = std::move(log_file);
  for (const auto& r : script.rules) {
    try {
      s->compiled_.emplace_back(r.pattern);
    } catch (const std::regex_error& e) {
      return InvalidArgument("bad regex '" + r.pattern + "': " + e.what());
    }
  }
  s->script_ = std::move(script);
  s->server_ = std::make_unique<httplib::Server>();
  // Enough workers for the widest test (each delayed answer holds one).
  s->server_->new_task_queue = [] { return new httplib::ThreadPool(32); };
  ScriptedLlmServer* self = s.get();
  s->server_->Post("/v1/chat/completions",
                   [self](const httplib::Request& req, httplib::Response& res) {
                     self->Handle(req, res, /*anthropic=*/false);
                   });
  s->server_->Post("/v1/messages", [self](const httplib::Request& req, httplib::Response& res) {
    self->Handle(req, res, /*anthropic=*/true);
  });
  if (port == 0) {
    s->port_ = s->server_->bind_to_any_port("127.0.0.1");
  } else {
    s->port_ = s->server_->bind_to_port("127.0.0.1", port) ? port : -1;
  }
  if (s->port_ <= 0)
    return Unavailable("scripted server: cannot bind 127.0.0.1:" + std::to_string(port));
  s->thread_ = std::thread([self] { self->server_->listen_after_bind(); });
  for (int i = 0; i < 500 && !s->server_->is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  if (!s->server_->is_running()) return Unavailable("scripted server: did not start listening");
  return s;
}

ScriptedLlmServer::~ScriptedLlmServer() { Stop(); }

void ScriptedLlmServer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

void ScriptedLlmServer::Push(ScriptStep step) {
  std::lock_guard<std::mutex> lock(mu_);
  script_.steps.push_back(std::move(step));
}

void ScriptedLlmServer::SetDefault(ScriptStep step) {
  std::lock_guard<std::mutex> lock(mu_);
  script_.default_step = std::move(step);
}

void ScriptedLlmServer::SetResponder(Responder responder) {
  std::lock_guard<std::mutex> lock(mu_);
  responder_ = std::move(responder);
}

void ScriptedLlmServer::AddRule(MatchRule rule) {
  std::lock_guard<std::mutex> lock(mu_);
  compiled_.emplace_back(rule.pattern);  // throws on a bad regex: a bug in the test itself
  script_.rules.push_back(std::move(rule));
}

std::vector<RecordedRequest> ScriptedLlmServer::Requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

size_t ScriptedLlmServer::RequestCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_.size();
}

bool ScriptedLlmServer::Pause(int ms) {
  if (ms <= 0) return true;
  std::unique_lock<std::mutex> lock(mu_);
  return !stop_cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping_; });
}

ScriptedLlmServer::Chosen ScriptedLlmServer::Choose(const nlohmann::json& body) {
  if (responder_)
    if (std::optional<ScriptStep> step = responder_(body)) return {std::move(*step), "responder"};
  for (size_t i = 0; i < script_.rules.size(); ++i) {
    MatchRule& r = script_.rules[i];
    if (r.times == 0) continue;
    if (std::regex_search(Field(body, r.field), compiled_[i])) {
      if (r.times > 0) --r.times;
      return {r.step, "match:" + std::to_string(i)};
    }
  }
  if (!script_.steps.empty()) {
    Chosen c{script_.steps.front(), "step:" + std::to_string(counter_)};
    script_.steps.pop_front();
    ++counter_;
    return c;
  }
  if (script_.default_step) return {*script_.default_step, "default"};
  return {ScriptStep::Error(500, "scripted server: script exhausted"), "default"};
}

void ScriptedLlmServer::Handle(const httplib::Request& req, httplib::Response& res,
                               bool anthropic) {
  int now = ++in_flight_;
  for (int prev = max_in_flight_.load();
       now > prev && !max_in_flight_.compare_exchange_weak(prev, now);) {
  }
  // A body written later (a delayed or streamed one) keeps the request in flight until it is
  // written: the content provider holds a copy of `leave`, whose deleter counts the request out.
  std::shared_ptr<void> leave(nullptr, [this](void*) { --in_flight_; });

  RecordedRequest rec;
  rec.path = req.path;
  for (const auto& [k, v] : req.headers) rec.headers.emplace_back(k, v);
  rec.body = req.body;
  rec.json = nlohmann::json::parse(req.body, nullptr, false);
  Chosen chosen;
  size_t index;
  {
    std::lock_guard<std::mutex> lock(mu_);
    chosen = Choose(rec.json);
    rec.answered_by = chosen.answered_by;
    index = requests_.size();
    requests_.push_back(rec);
    if (!log_file_.empty()) {
      nlohmann::json line = {
          {"index", index},
          {"path", rec.path},
          {"answered_by", rec.answered_by},
          {"body", rec.json.is_discarded() ? nlohmann::json(rec.body) : rec.json}};
      std::ofstream(log_file_, std::ios::app) << Dump(line) << "\n";
    }
  }
  const ScriptStep step = chosen.step;

  if (step.delay_ms > 0) Pause(step.delay_ms);
  res.status = step.status;
  if (!step.retry_after.empty()) res.set_header("Retry-After", step.retry_after);
  if (step.close_connection) {
    // Announce a body, send none: the provider returning false makes httplib drop the connection
    // after the headers.
    res.set_content_provider(1024, "application/json",
                             [leave](size_t, size_t, httplib::DataSink&) { return false; });
    return;
  }
  // A whole body, sent at once or after first_byte_delay_ms (the headers go first).
  auto send = [&](std::string body, const std::string& type) {
    if (step.first_byte_delay_ms <= 0) {
      res.set_content(std::move(body), type);
      return;
    }
    auto shared = std::make_shared<std::string>(std::move(body));
    int delay = step.first_byte_delay_ms;
    res.set_content_provider(
        shared->size(), type,
        [this, shared, delay, leave, waited = false](size_t offset, size_t length,
                                                     httplib::DataSink& sink) mutable {
          if (!waited && !Pause(delay)) return false;
          waited = true;
          return sink.write(shared->data() + offset, std::min(length, shared->size() - offset));
        });
  };
  if (step.raw_body) {
    send(*step.raw_body, step.content_type);
    return;
  }
  std::string model = script_.model;
  if (model.empty() && rec.json.is_object() && rec.json.contains("model") &&
      rec.json["model"].is_string())
    model = rec.json["model"].get<std::string>();
  if (step.status < 200 || step.status > 299) {
    nlohmann::json body =
        anthropic
            ? nlohmann::json{{"type", "error"},
                             {"error", {{"type", "scripted_error"}, {"message", step.error}}}}
            : nlohmann::json{
                  {"error",
                   {{"message", step.error}, {"type", "scripted_error"}, {"code", step.status}}}};
    send(body.dump(), "application/json");
    return;
  }
  const std::string text =
      step.oversized_bytes > 0 ? FillText(step.fill, step.oversized_bytes) : step.text;
  int64_t in = 0, out = 0;
  if (step.usage) {
    in = step.usage->first;
    out = step.usage->second;
  } else {
    in = Quarter(Field(rec.json, "prompt").size());
    out = Quarter(text.size());
  }
  const bool stream = !step.ignore_stream && rec.json.is_object() && rec.json.contains("stream") &&
                      rec.json["stream"].is_boolean() && rec.json["stream"].get<bool>();
  if (stream) {
    bool include_usage = false;
    if (rec.json.contains("stream_options") && rec.json["stream_options"].is_object()) {
      const auto& o = rec.json["stream_options"];
      include_usage = o.contains("include_usage") && o["include_usage"].is_boolean() &&
                      o["include_usage"].get<bool>();
    }
    auto plan = std::make_shared<StreamPlan>(
        PlanStream(step, text, model, index, in, out, anthropic, include_usage));
    // Where the stream stops early: at cut_after_events, else (with a stream_error) where its
    // end would begin.
    int cut = step.cut_after_events >= 0 ? step.cut_after_events
              : !step.stream_error.empty() ? static_cast<int>(plan->tail_start)
                                           : -1;
    std::string error_event;
    if (!step.stream_error.empty()) {
      nlohmann::json err = {{"type", step.stream_error_type}, {"message", step.stream_error}};
      error_event = anthropic ? SseEventText("error", Dump({{"type", "error"}, {"error", err}}),
                                             step.crlf)
                              : SseEventText("", Dump({{"error", err}}), step.crlf);
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, plan, step, cut, error_event, leave](size_t, httplib::DataSink& sink) {
          auto write = [&sink](const std::string& s) { return sink.write(s.data(), s.size()); };
          if (!Pause(step.first_byte_delay_ms)) return false;
          if (!write(step.crlf ? ": keep-alive\r\n\r\n" : ": keep-alive\n\n")) return false;
          for (size_t i = 0; i < plan->events.size(); ++i) {
            if (cut >= 0 && static_cast<int>(i) == cut) break;
            if (static_cast<int>(i) == step.stall_after_events) {
              if (!Pause(step.stall_ms)) return false;
            } else if (i > 0 && !Pause(step.chunk_delay_ms)) {
              return false;
            }
            const std::string& e = plan->events[i];
            if (step.split_writes && e.size() > 1) {
              size_t half = e.size() / 2;
              if (!write(e.substr(0, half)) || !Pause(5) || !write(e.substr(half))) return false;
            } else if (!write(e)) {
              return false;
            }
          }
          if (!error_event.empty() && !write(error_event)) return false;
          if (cut >= 0 && step.cut_abruptly) return false;  // drop the connection mid-body
          sink.done();
          return true;
        });
    return;
  }
  nlohmann::json body;
  if (anthropic) {
    std::string sr = step.finish_reason == "stop"     ? "end_turn"
                     : step.finish_reason == "length" ? "max_tokens"
                                                      : step.finish_reason;
    body = {{"id", "msg_scripted_" + std::to_string(index)},
            {"type", "message"},
            {"role", "assistant"},
            {"model", model},
            {"content", nlohmann::json::array({{{"type", "text"}, {"text", text}}})},
            {"stop_reason", sr},
            {"stop_sequence", nullptr}};
    if (!step.omit_usage) body["usage"] = {{"input_tokens", in}, {"output_tokens", out}};
  } else {
    body = {{"id", "chatcmpl-scripted-" + std::to_string(index)},
            {"object", "chat.completion"},
            {"created", 0},
            {"model", model},
            {"choices",
             nlohmann::json::array({{{"index", 0},
                                     {"message", {{"role", "assistant"}, {"content", text}}},
                                     {"finish_reason", step.finish_reason}}})}};
    if (!step.omit_usage)
      body["usage"] = {
          {"prompt_tokens", in}, {"completion_tokens", out}, {"total_tokens", in + out}};
  }
  send(Dump(body), "application/json");
}

}  // namespace evokernel::testing
