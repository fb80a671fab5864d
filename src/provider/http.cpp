#include "provider/http.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <ctime>
#include <mutex>

namespace evokernel::provider_internal {

namespace {

constexpr size_t kMaxReplyBytes = size_t{64} << 20;

struct Transfer {
  std::string body;
  std::string retry_after;
  bool too_large = false;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t bytes = size * n;
  if (t->body.size() + bytes > kMaxReplyBytes) {
    t->too_large = true;
    return 0;  // makes curl fail with CURLE_WRITE_ERROR
  }
  t->body.append(data, bytes);
  return bytes;
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
  if (req.cancel) {
    // libcurl calls this about every second while idle and more often while data flows;
    // returning non-zero aborts the transfer.
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(req.cancel));
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION,
                     +[](void* flag, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> int {
                       return static_cast<std::atomic<bool>*>(flag)->load() ? 1 : 0;
                     });
  }

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
  if (rc != CURLE_OK) {
    detail->retryable = RetryableTransport(rc);
    detail->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
    std::string what;
    if (t.too_large) {
      what = fmt::format("the reply exceeds {} MiB; this is not a chat completion endpoint",
                         kMaxReplyBytes >> 20);
    } else if (rc == CURLE_OPERATION_TIMEDOUT && connect_us == 0) {
      what = fmt::format(
          "could not connect within connect_timeout_s = {:g} s; check that the server is "
          "running and reachable",
          req.connect_timeout_s);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
      what = fmt::format(
          "no complete reply within request_timeout_s = {:g} s (raise it for slow models "
          "or long outputs)",
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

Result<ChatResponse> HttpProvider::Complete(const ChatRequest& request) {
  FailureDetail detail;
  return CompleteWithDetail(request, &detail);
}

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

  HttpRequest http;
  http.url = url;
  http.body = BuildBody(request).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  http.connect_timeout_s = config_.connect_timeout_s;
  http.request_timeout_s = config_.request_timeout_s;
  http.cancel = request.cancel;
  // "Expect:" stops curl waiting for a 100 Continue that some servers never send.
  http.headers = {"Content-Type: application/json", "Accept: application/json", "Expect:"};
  for (auto& h : AuthHeaders(key)) http.headers.push_back(std::move(h));
  for (const auto& [n, v] : config_.extra_headers) http.headers.push_back(n + ": " + v);

  auto reply = HttpPost(http, detail);
  // The header strings held the key; wipe them before they are freed.
  for (auto& h : http.headers) std::fill(h.begin(), h.end(), '\0');
  if (!reply.ok())
    return Status(StatusCode::kProviderError,
                  redact(fmt::format("{} endpoint {}", name(), reply.status().message())));

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
        hint = "; the endpoint rejected the request (model name, max_tokens, temperature?)";
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
    return fail(fmt::format("HTTP {}: {}{}", status, ErrorMessageFromBody(reply->body), hint));
  }

  // A 2xx that is not the expected JSON: a proxy page, a truncated reply, a different API.
  auto malformed = [&](const std::string& what) {
    detail->http_status = static_cast<int>(status);
    detail->malformed = true;
    detail->retryable = true;
    return fail(fmt::format("HTTP {} with a malformed reply: {} (body: {})", status, what,
                            Excerpt(reply->body)));
  };
  nlohmann::json j = nlohmann::json::parse(reply->body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return malformed("the body is not JSON");
  if (!j.is_object())
    return malformed(fmt::format("the body is a JSON {}, expected an object", TypeName(j)));
  if (j.contains("error") && !j["error"].is_null())
    return malformed("the body is an error object: " + ErrorMessageFromBody(reply->body));
  auto parsed = ParseReply(j);
  if (!parsed.ok()) return malformed(parsed.status().message());

  ChatResponse r;
  r.text = redact(std::move(parsed->text));
  r.finish_reason = parsed->finish_reason;
  r.model = parsed->model.empty() ? config_.model : redact(parsed->model);
  if (parsed->has_usage) {
    r.usage.input_tokens = parsed->input_tokens;
    r.usage.output_tokens = parsed->output_tokens;
  } else {
    size_t in_chars = request.system.size();
    for (const auto& m : request.messages) in_chars += m.content.size();
    r.usage.input_tokens = static_cast<int64_t>((in_chars + 3) / 4);
    r.usage.output_tokens = static_cast<int64_t>((r.text.size() + 3) / 4);
    r.usage.estimated = true;
  }
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
