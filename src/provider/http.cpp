#include "provider/http.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <ctime>
#include <mutex>
#include <optional>
#include <utility>

namespace evokernel::provider_internal {

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// What one transfer has seen so far; shared by the libcurl callbacks of one HttpPost().
struct Transfer {
  const HttpRequest* req = nullptr;
  CURL* curl = nullptr;
  std::string body;
  std::string retry_after;
  bool too_large = false;
  bool stopped = false;  // on_body returned false
  // For the first-byte and idle limits.
  Clock::time_point start;
  std::optional<Clock::time_point> sent;        // the request body was handed to the socket
  std::optional<Clock::time_point> last_byte;   // the latest body bytes arrived
  size_t body_bytes = 0;
  enum class Fired { kNone, kFirstByte, kIdle } fired = Fired::kNone;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t bytes = size * n;
  t->last_byte = Clock::now();
  t->body_bytes += bytes;
  if (t->req->on_body) {
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    const char* type = nullptr;
    curl_easy_getinfo(t->curl, CURLINFO_CONTENT_TYPE, &type);
    if (!t->req->on_body(status, type ? type : "", std::string_view(data, bytes))) {
      t->stopped = true;
      return 0;  // makes curl fail with CURLE_WRITE_ERROR
    }
    return bytes;
  }
  if (t->body.size() + bytes > t->req->max_body_bytes) {
    t->too_large = true;
    return 0;
  }
  t->body.append(data, bytes);
  return bytes;
}

// libcurl calls this about once a second while the connection is quiet and more often while data
// flows; returning non-zero aborts the transfer. It enforces cancellation and the first-byte and
// idle limits (libcurl's own low-speed limit cannot tell waiting for the first byte from a stall).
int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t ultotal, curl_off_t ulnow) {
  auto* t = static_cast<Transfer*>(user);
  const HttpRequest& req = *t->req;
  if (req.cancel && req.cancel->load()) return 1;
  const Clock::time_point now = Clock::now();
  if (!t->sent && ultotal > 0 && ulnow >= ultotal) t->sent = now;
  if (!t->last_byte) {
    // Until the request is out, the wait counts from the start (a quick connect and upload).
    if (req.first_byte_timeout_s > 0 &&
        Seconds(now - t->sent.value_or(t->start)) > req.first_byte_timeout_s) {
      t->fired = Transfer::Fired::kFirstByte;
      return 1;
    }
  } else if (req.idle_timeout_s > 0 && Seconds(now - *t->last_byte) > req.idle_timeout_s) {
    t->fired = Transfer::Fired::kIdle;
    return 1;
  }
  return 0;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t bytes = size * n;
  std::string_view line(data, bytes);
  if (line.rfind("HTTP/", 0) == 0) {
    t->retry_after.clear();  // a new response (after 100 Continue): forget the previous headers
  } else if (size_t colon = line.find(':');
             colon != std::string_view::npos && Lower(line.substr(0, colon)) == "retry-after") {
    std::string_view v = line.substr(colon + 1);
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
    t->retry_after = std::string(v);
  }
  return bytes;
}

long Millis(double seconds) {
  return std::max(1L, static_cast<long>(std::llround(seconds * 1000)));
}

bool RetryableTransport(CURLcode rc) {
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

bool CredentialHeader(const std::string& name) {
  std::string n = Lower(name);
  for (const char* w : {"key", "auth", "token", "secret", "cookie", "password"})
    if (n.find(w) != std::string::npos) return true;
  return false;
}

}  // namespace

void Redactor::Add(std::string secret) {
  if (secret.size() >= 4) secrets_.push_back(std::move(secret));
}

std::string Redactor::operator()(std::string text) const {
  for (const auto& s : secrets_)
    for (size_t p = 0; (p = text.find(s, p)) != std::string::npos;) {
      text.replace(p, s.size(), "<redacted>");
      p += 10;
    }
  return text;
}

Redactor SecretsOf(const ProviderConfig& config) {
  Redactor r;
  r.Add(config.ApiKey());
  // Credentials embedded in the URL (https://user:password@host/...).
  const std::string& url = config.base_url;
  if (size_t scheme = url.find("://"); scheme != std::string::npos) {
    size_t host_end = url.find('/', scheme + 3);
    size_t at = url.rfind('@', host_end);
    if (at != std::string::npos && at > scheme + 3) r.Add(url.substr(scheme + 3, at - scheme - 3));
  }
  for (const auto& [name, value] : config.extra_headers)
    if (CredentialHeader(name)) r.Add(value);
  return r;
}

Result<HttpReply> HttpPost(const HttpRequest& req, FailureDetail* detail) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });

  CURL* curl = curl_easy_init();
  if (!curl) return Internal("curl_easy_init failed (out of memory?)");
  struct curl_slist* headers = nullptr;
  for (const auto& h : req.headers) headers = curl_slist_append(headers, h.c_str());
  Transfer t;
  t.req = &req;
  t.curl = curl;
  char errbuf[CURL_ERROR_SIZE] = {0};
  static const std::string kUserAgent = std::string("evokernel/") + EVOKERNEL_VERSION;
  curl_easy_setopt(curl, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req.body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, Millis(req.connect_timeout_s));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, Millis(req.request_timeout_s));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);       // no SIGALRM tricks: we run on many threads
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);  // long generations behind NATs
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(curl, CURLOPT_USERAGENT, kUserAgent.c_str());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);

  t.start = Clock::now();
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_off_t connect_us = 0;
  curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connect_us);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);

  if (rc == CURLE_ABORTED_BY_CALLBACK && req.cancel && req.cancel->load()) {
    detail->retryable = false;
    return Status(StatusCode::kProviderError, fmt::format("{}: cancelled", req.url));
  }
  if (rc == CURLE_WRITE_ERROR && t.stopped) rc = CURLE_OK;  // on_body had what it needed
  if (rc != CURLE_OK) {
    detail->retryable = RetryableTransport(rc) || t.fired != Transfer::Fired::kNone;
    detail->timed_out = rc == CURLE_OPERATION_TIMEDOUT || t.fired != Transfer::Fired::kNone;
    std::string what;
    if (t.fired == Transfer::Fired::kFirstByte && req.streaming) {
      what = fmt::format(
          "no reply within first_byte_timeout_s = {:g} s of sending the request (the server "
          "sent no byte of the event stream; raise first_byte_timeout_s for slow models or long "
          "prompts)",
          req.first_byte_timeout_s);
    } else if (t.fired == Transfer::Fired::kFirstByte) {
      what = fmt::format(
          "no reply within first_byte_timeout_s = {:g} s of sending the request (with stream = "
          "false the reply arrives only after the whole generation, so this limit covers it: "
          "raise first_byte_timeout_s for long outputs, or set stream = true)",
          req.first_byte_timeout_s);
    } else if (t.fired == Transfer::Fired::kIdle) {
      what = fmt::format(
          "the reply stalled: no data for idle_timeout_s = {:g} s after {} bytes (raise "
          "idle_timeout_s if the server pauses longer between tokens)",
          req.idle_timeout_s, t.body_bytes);
    } else if (t.too_large) {
      what = fmt::format("the reply exceeds {} bytes; this is not a chat completion endpoint",
                         req.max_body_bytes);
    } else if (rc == CURLE_OPERATION_TIMEDOUT && connect_us == 0) {
      what = fmt::format(
          "could not connect within connect_timeout_s = {:g} s; check that the server is "
          "running and reachable",
          req.connect_timeout_s);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
      what = fmt::format(
          "no complete reply within request_timeout_s = {:g} s (the limit on the whole request; "
          "raise it for slow models or long outputs)",
          req.request_timeout_s);
    } else if (rc == CURLE_COULDNT_CONNECT) {
      what = std::string("connection refused or unreachable (") +
             (errbuf[0] ? errbuf : curl_easy_strerror(rc)) +
             "); check that the server is running and base_url is right";
    } else if (rc == CURLE_PARTIAL_FILE || rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR ||
               rc == CURLE_SEND_ERROR) {
      what = std::string("the connection broke before the reply was complete (") +
             (errbuf[0] ? errbuf : curl_easy_strerror(rc)) + ")";
    } else {
      what =
          std::string(curl_easy_strerror(rc)) + (errbuf[0] ? std::string(" (") + errbuf + ")" : "");
    }
    return Status(StatusCode::kProviderError, fmt::format("{}: {}", req.url, what));
  }
  HttpReply reply;
  reply.status = status;
  reply.body = std::move(t.body);
  reply.retry_after = std::move(t.retry_after);
  reply.stopped = t.stopped;
  return reply;
}

std::optional<double> ParseRetryAfter(std::string_view value) {
  std::string v(value);
  if (v.empty()) return std::nullopt;
  if (std::all_of(v.begin(), v.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; })) {
    char* end = nullptr;
    double s = std::strtod(v.c_str(), &end);
    if (end != v.c_str() + v.size() || !std::isfinite(s) || s < 0) return std::nullopt;
    return s;
  }
  time_t when = curl_getdate(v.c_str(), nullptr);
  if (when == -1) return std::nullopt;
  double delta = std::difftime(when, std::time(nullptr));
  return std::max(0.0, delta);
}

bool IsRetryableHttpStatus(long status) {
  return status == 429 || status == 408 || status == 409 || (status >= 500 && status <= 599);
}

std::string Excerpt(std::string_view text, size_t n) {
  std::string e(text.substr(0, n));
  for (char& c : e)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return e + (text.size() > n ? "..." : "");
}

std::string TypeName(const nlohmann::json& j) {
  if (j.is_discarded()) return "not JSON";
  return j.type_name();
}

std::string ErrorMessageFromBody(const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    const auto err = j.find("error");
    if (err != j.end() && err->is_object()) {
      std::string msg = err->contains("message") && (*err)["message"].is_string()
                            ? (*err)["message"].get<std::string>()
                            : Excerpt(err->dump());
      if (err->contains("type") && (*err)["type"].is_string())
        msg += " (" + (*err)["type"].get<std::string>() + ")";
      return Excerpt(msg, 500);
    }
    if (err != j.end() && err->is_string()) return Excerpt(err->get<std::string>(), 500);
    if (j.contains("message") && j["message"].is_string())
      return Excerpt(j["message"].get<std::string>(), 500);
    if (j.contains("detail")) {
      const auto& d = j["detail"];
      return Excerpt(d.is_string() ? d.get<std::string>() : d.dump(), 500);
    }
  }
  if (body.empty()) return "(empty body)";
  return "body: " + Excerpt(body);
}

bool SseParser::Feed(std::string_view bytes, const Handler& on_event) {
  size_t i = 0;
  if (skip_lf_ && !bytes.empty()) {
    skip_lf_ = false;
    if (bytes[0] == '\n') i = 1;
  }
  while (i < bytes.size()) {
    size_t j = bytes.find_first_of("\r\n", i);
    if (j == std::string_view::npos) {
      line_.append(bytes.substr(i));
      if (line_.size() + data_.size() > max_pending_) {
        overflowed_ = true;
        return false;
      }
      return true;
    }
    line_.append(bytes.substr(i, j - i));
    if (bytes[j] == '\r') {
      if (j + 1 == bytes.size())
        skip_lf_ = true;
      else if (bytes[j + 1] == '\n')
        ++j;
    }
    i = j + 1;
    if (!EndLine(on_event)) return false;
  }
  return true;
}

bool SseParser::EndLine(const Handler& on_event) {
  if (line_.empty()) return Dispatch(on_event);
  bool ok = true;
  const std::string_view line(line_);
  if (line.front() != ':') {  // not a comment
    size_t colon = line.find(':');
    std::string_view field = line.substr(0, colon);
    std::string_view value;
    if (colon != std::string_view::npos) {
      value = line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    }
    if (field == "data") {
      data_.append(value);
      data_.push_back('\n');
      if (data_.size() > max_pending_) {
        overflowed_ = true;
        ok = false;
      }
    } else if (field == "event") {
      type_ = std::string(value);
    }
  }
  line_.clear();
  return ok;
}

bool SseParser::Dispatch(const Handler& on_event) {
  if (data_.empty()) {  // no data lines: nothing to deliver
    type_.clear();
    return true;
  }
  SseEvent e;
  e.type = std::move(type_);
  e.data = std::move(data_);
  e.data.pop_back();  // the \n after the last data line
  type_.clear();
  data_.clear();
  ++events_;
  return on_event(e);
}

bool SseParser::Finish(const Handler& on_event) {
  line_.clear();
  return Dispatch(on_event);
}

std::string TruncateUtf8(std::string text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t cut = max_bytes;
  // text[cut] is the first byte dropped: while it continues a sequence, that sequence began
  // before the cut and goes too.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  return text;
}

namespace {

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Four hex digits at s[i..i+4); nullopt when cut short or not hex.
std::optional<uint32_t> Hex4(std::string_view s, size_t i) {
  if (i + 4 > s.size()) return std::nullopt;
  uint32_t v = 0;
  for (size_t k = i; k < i + 4; ++k) {
    char c = s[k];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return std::nullopt;
    v = v * 16 + static_cast<uint32_t>(d);
  }
  return v;
}

}  // namespace

std::string JsonStringPrefix(std::string_view json, std::string_view key) {
  const std::string quoted = "\"" + std::string(key) + "\"";
  auto ws = [&json](size_t i) {
    while (i < json.size() && std::isspace(static_cast<unsigned char>(json[i]))) ++i;
    return i;
  };
  for (size_t at = json.find(quoted); at != std::string_view::npos;
       at = json.find(quoted, at + 1)) {
    size_t i = ws(at + quoted.size());
    if (i >= json.size() || json[i] != ':') continue;  // a value that happens to equal the key
    i = ws(i + 1);
    if (i >= json.size() || json[i] != '"') continue;  // not a string member
    std::string out;
    for (++i; i < json.size(); ++i) {
      char c = json[i];
      if (c == '"') return out;
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (++i >= json.size()) return out;  // cut inside an escape
      switch (json[i]) {
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case 'r': out.push_back('\r'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'u': {
          std::optional<uint32_t> cp = Hex4(json, i + 1);
          if (!cp) return out;
          i += 4;
          if (*cp >= 0xD800 && *cp <= 0xDBFF) {  // a surrogate pair, when the low half follows
            std::optional<uint32_t> lo;
            if (i + 2 < json.size() && json[i + 1] == '\\' && json[i + 2] == 'u')
              lo = Hex4(json, i + 3);
            if (lo && *lo >= 0xDC00 && *lo <= 0xDFFF) {
              *cp = 0x10000 + ((*cp - 0xD800) << 10) + (*lo - 0xDC00);
              i += 6;
            } else {
              *cp = 0xFFFD;
            }
          } else if (*cp >= 0xDC00 && *cp <= 0xDFFF) {
            *cp = 0xFFFD;
          }
          AppendUtf8(out, *cp);
          break;
        }
        default: out.push_back(json[i]); break;  // \" \\ \/ and anything lenient
      }
    }
    return out;
  }
  return "";
}

Status ErrorObjectStatus(const nlohmann::json& j) {
  std::string message = ErrorMessageFromBody(j.dump(-1, ' ', false,
                                                    nlohmann::json::error_handler_t::replace));
  const nlohmann::json* err = j.is_object() && j.contains("error") ? &j["error"] : nullptr;
  std::string words = Lower(message);
  bool permanent = false;
  if (err && err->is_object()) {
    for (const char* field : {"type", "code", "status"}) {
      auto f = err->find(field);
      if (f == err->end()) continue;
      if (f->is_string()) words += " " + Lower(f->get<std::string>());
      if (f->is_number_integer()) {
        int64_t code = f->get<int64_t>();
        if (code >= 400 && code <= 499 && !IsRetryableHttpStatus(static_cast<long>(code)))
          permanent = true;
      }
    }
  }
  for (const char* w : {"invalid_request", "authentication", "permission", "not_found",
                        "invalid_api_key", "context_length"})
    if (words.find(w) != std::string::npos) permanent = true;
  return permanent ? Status(StatusCode::kProviderError, message) : Unavailable(message);
}

Result<ChatResponse> HttpProvider::Complete(const ChatRequest& request) {
  FailureDetail detail;
  return CompleteWithDetail(request, &detail);
}

namespace {

// Takes one reply as it arrives and works out what it is: an error body (non-2xx), one JSON
// reply (stream = false, or a server that ignored "stream": true) or an event stream. A 2xx is
// a stream when its Content-Type says text/event-stream, one body when it says JSON, and
// otherwise (a mislabelled stream, a proxy's page) a stream only when it begins like one. Stops
// the transfer once the streamed text passes max_text, a body passes max_body (the transport
// cap), or the stream carries an error.
class ReplyReader {
 public:
  enum class Mode { kUndecided, kBody, kStream };

  ReplyReader(std::unique_ptr<HttpProvider::StreamDecoder> decoder, size_t max_text,
              size_t max_body)
      : decoder_(std::move(decoder)), sse_(max_body), max_text_(max_text), max_body_(max_body) {}

  bool OnData(long status, std::string_view content_type, std::string_view data) {
    if (mode_ == Mode::kUndecided) {
      std::string type = Lower(content_type);
      if (status < 200 || status > 299 || type.find("json") != std::string::npos) {
        mode_ = Mode::kBody;
      } else if (type.find("text/event-stream") != std::string::npos) {
        mode_ = Mode::kStream;
      } else {
        sniffed_.append(data);
        if (!Sniff(/*at_end=*/false)) return true;  // too little to tell yet
        return Take(std::exchange(sniffed_, std::string()));
      }
    }
    return Take(data);
  }

  // After a transfer that ended by itself: what was held back to be sniffed, and the stream's
  // last event if its blank line never came.
  void Finish() {
    if (mode_ == Mode::kUndecided) {
      Sniff(/*at_end=*/true);
      if (!Take(std::exchange(sniffed_, std::string()))) return;
    }
    if (mode_ == Mode::kStream && error_.ok() && !text_over_ && !sse_.overflowed())
      sse_.Finish(Handler());
  }

  Mode mode() const { return mode_; }
  const std::string& body() const { return body_; }
  bool body_cut() const { return body_cut_; }  // the body passed the transport cap and was cut
  // The stream's text passed the cap, or one of its events passed the transport cap.
  bool stream_oversized() const { return text_over_ || sse_.overflowed(); }
  const Status& stream_error() const { return error_; }
  const std::string& bad_event() const { return bad_event_; }
  size_t events() const { return sse_.events(); }
  HttpProvider::StreamDecoder& decoder() { return *decoder_; }

 private:
  // Decides the mode from the first non-blank bytes of an unlabelled 2xx body; false while
  // they are too few to tell (and the body goes on).
  bool Sniff(bool at_end) {
    size_t k = sniffed_.find_first_not_of(" \t\r\n");
    std::string_view head =
        k == std::string::npos ? std::string_view() : std::string_view(sniffed_).substr(k);
    for (std::string_view field : {":", "data:", "event:", "id:", "retry:"}) {
      if (head.substr(0, field.size()) == field) {
        mode_ = Mode::kStream;
        return true;
      }
      if (!at_end && head.size() < field.size() && field.substr(0, head.size()) == head &&
          sniffed_.size() < 4096)
        return false;  // could still become this field
    }
    mode_ = Mode::kBody;
    return true;
  }

  bool Take(std::string_view data) {
    if (mode_ == Mode::kBody) {
      if (body_.size() + data.size() > max_body_) {
        body_.append(data.substr(0, max_body_ - body_.size()));
        body_cut_ = true;
        return false;
      }
      body_.append(data);
      return true;
    }
    return sse_.Feed(data, Handler());
  }

  SseParser::Handler Handler() {
    return [this](const SseEvent& e) {
      Status st = decoder_->OnEvent(e);
      if (!st.ok()) {
        error_ = st;
        bad_event_ = (e.type.empty() ? "" : "event: " + e.type + " ") + "data: " + e.data;
        return false;
      }
      if (decoder_->parsed.text.size() > max_text_) {
        text_over_ = true;
        return false;
      }
      // Nothing follows the terminal event; a server that keeps the body open after it must not
      // run into the idle limit.
      return !decoder_->done;
    };
  }

  std::unique_ptr<HttpProvider::StreamDecoder> decoder_;
  SseParser sse_;
  std::string sniffed_;  // the start of an unlabelled body, until its form is known
  size_t max_text_, max_body_;
  Mode mode_ = Mode::kUndecided;
  std::string body_;
  bool body_cut_ = false;
  bool text_over_ = false;
  Status error_;
  std::string bad_event_;
};

// The transport cap on an unstreamed body (and on one streamed event): room for a reply of
// max_text bytes written with JSON escapes, and the envelope around it.
size_t TransportCap(size_t max_text) { return max_text * 4 + (size_t{64} << 10); }

}  // namespace

Result<ChatResponse> HttpProvider::CompleteWithDetail(const ChatRequest& request,
                                                      FailureDetail* detail) {
  *detail = FailureDetail{};
  detail->attempts = 1;
  auto start = std::chrono::steady_clock::now();
  const std::string key = config_.ApiKey();
  const Redactor redact = SecretsOf(config_);
  const std::string url = config_.Endpoint();
  auto fail = [&](const std::string& what) {
    return Status(StatusCode::kProviderError,
                  redact(fmt::format("{} endpoint {}: {}", name(), url, what)));
  };
  const size_t max_text = static_cast<size_t>(std::max<int64_t>(config_.max_reply_bytes, 1));
  ReplyReader reader(NewStreamDecoder(), max_text, TransportCap(max_text));

  HttpRequest http;
  http.url = url;
  http.body = BuildBody(request, config_.stream)
                  .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  http.connect_timeout_s = config_.connect_timeout_s;
  http.request_timeout_s = config_.request_timeout_s;
  http.first_byte_timeout_s = config_.first_byte_timeout_s;
  http.idle_timeout_s = config_.idle_timeout_s;
  http.streaming = config_.stream;
  http.cancel = request.cancel;
  http.on_body = [&reader](long status, std::string_view content_type, std::string_view data) {
    return reader.OnData(status, content_type, data);
  };
  // "Expect:" stops curl waiting for a 100 Continue that some servers never send.
  http.headers = {"Content-Type: application/json",
                  config_.stream ? "Accept: text/event-stream, application/json"
                                 : "Accept: application/json",
                  "Expect:"};
  for (auto& h : AuthHeaders(key)) http.headers.push_back(std::move(h));
  for (const auto& [n, v] : config_.extra_headers) http.headers.push_back(n + ": " + v);

  auto reply = HttpPost(http, detail);
  // The header strings held the key; wipe them before they are freed.
  for (auto& h : http.headers) std::fill(h.begin(), h.end(), '\0');
  if (!reply.ok()) {
    std::string msg = reply.status().message();
    // A stream that broke after it began is a cut reply: retried like a malformed one.
    if (reader.mode() == ReplyReader::Mode::kStream && detail->retryable && !detail->timed_out) {
      detail->malformed = true;
      msg += fmt::format("; the event stream was cut after {} event{}", reader.events(),
                         reader.events() == 1 ? "" : "s");
    }
    return Status(StatusCode::kProviderError,
                  redact(fmt::format("{} endpoint {}", name(), msg)));
  }
  if (!reply->stopped) reader.Finish();

  const long status = reply->status;
  if (status < 200 || status > 299) {
    detail->http_status = static_cast<int>(status);
    detail->retryable = IsRetryableHttpStatus(status);
    if (status == 429 || status >= 500) detail->retry_after_s = ParseRetryAfter(reply->retry_after);
    std::string hint;
    switch (status) {
      case 401:
        hint = key.empty() ? fmt::format("; no API key is set: put it in ${}", config_.ApiKeyEnv())
                           : fmt::format("; the key in ${} was refused", config_.ApiKeyEnv());
        break;
      case 403:
        hint = "; the key has no access to this model or endpoint";
        break;
      case 404:
        hint = fmt::format("; check base_url ({}) and the model name '{}'",
                           config_.EffectiveBaseUrl(), config_.model) +
               (name() == "openai" ? " (OpenAI-compatible base URLs usually end in /v1)" : "");
        break;
      case 400:
      case 422:
        hint = config_.stream ? "; the endpoint rejected the request (model name, max_tokens, "
                                "temperature? a server that cannot stream: set stream = false)"
                              : "; the endpoint rejected the request (model name, max_tokens, "
                                "temperature?)";
        break;
      case 429:
        hint = "; rate limited";
        break;
      case 301:
      case 302:
      case 303:
      case 307:
      case 308:
        hint =
            "; the endpoint redirects and redirects are not followed: use the final URL as "
            "base_url";
        break;
      default:
        break;
    }
    return fail(fmt::format("HTTP {}: {}{}", status, ErrorMessageFromBody(reader.body()), hint));
  }

  // A 2xx that is not the expected reply: a proxy page, a truncated reply, a different API.
  auto malformed = [&](const std::string& what, std::string_view quoted) {
    detail->http_status = static_cast<int>(status);
    detail->malformed = true;
    detail->retryable = true;
    return fail(fmt::format("HTTP {} with a malformed reply: {} ({}: {})", status, what,
                            reader.mode() == ReplyReader::Mode::kStream ? "event" : "body",
                            Excerpt(quoted)));
  };
  Parsed parsed;
  bool oversized = false;
  if (reader.mode() == ReplyReader::Mode::kStream) {
    const Status& err = reader.stream_error();
    if (err.code() == StatusCode::kInvalidArgument)
      return malformed("a bad event in the stream: " + err.message(), reader.bad_event());
    if (!err.ok()) {
      detail->http_status = static_cast<int>(status);
      detail->retryable = err.code() == StatusCode::kUnavailable;
      return fail(fmt::format("HTTP {}, then an error in the event stream: {}", status,
                              err.message()));
    }
    StreamDecoder& d = reader.decoder();
    oversized = reader.stream_oversized();
    // A stream that closed cleanly after its finish reason is whole even without the terminal
    // event (a server that omits [DONE]); one that closed before it was cut.
    if (!oversized && !d.done && !d.finished)
      return malformed(
          fmt::format("the event stream ended after {} event{} without {} (a cut stream)",
                      reader.events(), reader.events() == 1 ? "" : "s",
                      name() == "anthropic" ? "message_stop" : "[DONE]"),
          d.parsed.text);
    parsed = std::move(d.parsed);
    if (!d.finished) parsed.finish_reason = "other";
  } else if (reader.body_cut()) {
    // Too big to be a reply to parse; keep what text the cut body holds (best effort: the first
    // string of the reply's text field, escapes decoded) and call it oversized.
    parsed.text = SalvageText(reader.body());
    oversized = true;
  } else {
    const std::string& body = reader.body();
    nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return malformed("the body is not JSON", body);
    if (!j.is_object())
      return malformed(fmt::format("the body is a JSON {}, expected an object", TypeName(j)),
                       body);
    if (j.contains("error") && !j["error"].is_null())
      return malformed("the body is an error object: " + ErrorMessageFromBody(body), body);
    auto p = ParseReply(j);
    if (!p.ok()) return malformed(p.status().message(), body);
    parsed = std::move(p).value();
  }

  ChatResponse r;
  // Redact before cutting, so that a key straddling the cut cannot leave half of itself behind.
  r.text = redact(std::move(parsed.text));
  if (oversized || r.text.size() > max_text) {
    r.text = TruncateUtf8(std::move(r.text), max_text);
    r.oversized = true;
    r.finish_reason = "length";
  } else {
    r.finish_reason = parsed.finish_reason;
  }
  r.model = parsed.model.empty() ? config_.model : redact(parsed.model);
  // Tokens the reply reported are used as they are; missing ones are estimated as chars / 4 (of
  // the prompt, and of the text kept, so a reply cut at max_reply_bytes is counted as cut).
  if (parsed.input_tokens) {
    r.usage.input_tokens = *parsed.input_tokens;
  } else {
    size_t in_chars = request.system.size();
    for (const auto& m : request.messages) in_chars += m.content.size();
    r.usage.input_tokens = static_cast<int64_t>((in_chars + 3) / 4);
  }
  r.usage.output_tokens = parsed.output_tokens ? *parsed.output_tokens
                                               : static_cast<int64_t>((r.text.size() + 3) / 4);
  r.usage.estimated = !parsed.input_tokens || !parsed.output_tokens;
  std::optional<Price> price = config_.PriceFor(config_.model);
  if (!price) price = config_.PriceFor(r.model);
  if (price) {
    r.usage.cost_known = true;
    r.usage.cost_usd = (static_cast<double>(r.usage.input_tokens) * price->input_per_mtok +
                        static_cast<double>(r.usage.output_tokens) * price->output_per_mtok) /
                       1e6;
  }
  r.attempts = 1;
  r.endpoint = redact(url);
  r.request_hash = RequestHash(config_, request);
  r.latency_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace evokernel::provider_internal
