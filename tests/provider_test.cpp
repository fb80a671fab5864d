// LLM providers against the scripted loopback server: request shapes, retries, timeouts,
// malformed replies, the cache, the concurrency limit, accounting, secrets, configuration and
// `evokernel llm ping`.
#include "provider/provider.h"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <atomic>
#include <thread>

#include "provider/config.h"
#include "provider/http.h"
#include "provider/ledger.h"
#include "support/scripted_llm_server.h"
#include "test_util.h"

namespace evokernel {
namespace {

namespace fs = std::filesystem;
using provider_internal::SseEvent;
using testing::ScriptedLlmServer;
using testing::ScriptStep;

constexpr const char* kKeyEnv = "EVK_PROVIDER_TEST_KEY";

// No provider settings of the user's may leak into these tests; loopback must not go through a
// proxy.
class CleanEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    for (const auto& v : ProviderEnvVars()) unsetenv(v.env);
    unsetenv("EVOKERNEL_CONFIG");
    unsetenv(kKeyEnv);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    setenv("no_proxy", "127.0.0.1,localhost", 1);
  }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new CleanEnvironment);

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

ChatRequest Hello(std::string text = "hello") {
  ChatRequest r;
  r.system = "You write kernels.";
  r.messages = {{"user", std::move(text)}};
  return r;
}

class ProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = ScriptedLlmServer::Start();
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
    unsetenv(kKeyEnv);
  }
  void TearDown() override { unsetenv(kKeyEnv); }

  ProviderConfig Config(const std::string& kind = "openai") const {
    ProviderConfig c;
    c.kind = kind;
    c.base_url = kind == "openai" ? server_->openai_base_url() : server_->url();
    c.model = "test-model";
    c.api_key_env = kKeyEnv;
    c.max_retries = 3;
    c.backoff_base_s = 0.01;
    c.backoff_max_s = 0.05;
    c.request_timeout_s = 5;
    c.connect_timeout_s = 2;
    return c;
  }

  std::unique_ptr<Provider> Make(const ProviderConfig& c,
                                 std::shared_ptr<UsageLedger> ledger = nullptr) {
    auto p = MakeProvider(c, std::move(ledger));
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? std::move(p).value() : nullptr;
  }

  std::unique_ptr<ScriptedLlmServer> server_;
};

ScriptStep TextWithUsage(std::string text, int64_t in, int64_t out) {
  ScriptStep s = ScriptStep::Text(std::move(text));
  s.usage = std::make_pair(in, out);
  return s;
}

// ------------------------------------------------------------------------- request shapes

TEST_F(ProviderTest, OpenAIHappyPathSendsTheRightRequest) {
  setenv(kKeyEnv, "sk-test-0123456789", 1);
  server_->Push(TextWithUsage("pong", 12, 3));
  ProviderConfig c = Config();
  c.extra_headers["X-Team"] = "kernels";
  c.temperature = 0.3;
  c.max_tokens = 100;
  auto p = Make(c);
  ChatRequest req = Hello();
  req.stop = {"###"};
  req.task_id = "level1/19_relu";
  req.phase = "draft";
  auto r = p->Complete(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->text, "pong");
  EXPECT_EQ(r->finish_reason, "stop");
  EXPECT_EQ(r->model, "test-model");
  EXPECT_EQ(r->usage.input_tokens, 12);
  EXPECT_EQ(r->usage.output_tokens, 3);
  EXPECT_FALSE(r->usage.estimated);
  EXPECT_EQ(r->attempts, 1);
  EXPECT_FALSE(r->from_cache);
  EXPECT_EQ(r->endpoint, server_->openai_base_url() + "/chat/completions");
  EXPECT_EQ(r->request_hash, RequestHash(c, req));
  EXPECT_EQ(r->request_hash.size(), 64u);

  auto reqs = server_->Requests();
  ASSERT_EQ(reqs.size(), 1u);
  const auto& got = reqs[0];
  EXPECT_EQ(got.path, "/v1/chat/completions");
  EXPECT_EQ(got.Header("Authorization"), "Bearer sk-test-0123456789");
  EXPECT_EQ(got.Header("X-Team"), "kernels");
  EXPECT_EQ(got.Header("Content-Type"), "application/json");
  const auto& b = got.json;
  ASSERT_TRUE(b.is_object()) << got.body;
  EXPECT_EQ(b["model"], "test-model");
  ASSERT_EQ(b["messages"].size(), 2u);
  EXPECT_EQ(b["messages"][0],
            (nlohmann::json{{"role", "system"}, {"content", "You write kernels."}}));
  EXPECT_EQ(b["messages"][1], (nlohmann::json{{"role", "user"}, {"content", "hello"}}));
  EXPECT_DOUBLE_EQ(b["temperature"].get<double>(), 0.3);
  EXPECT_EQ(b["max_tokens"], 100);
  EXPECT_EQ(b["stop"], nlohmann::json::array({"###"}));
  // Accounting fields are never sent.
  EXPECT_EQ(got.body.find("level1/19_relu"), std::string::npos);
  EXPECT_FALSE(b.contains("task_id"));
  EXPECT_FALSE(b.contains("phase"));
  EXPECT_FALSE(b.contains("sample_index"));
}

TEST_F(ProviderTest, OpenAIWithoutKeyUsageOrOptionalFields) {
  ScriptStep s = ScriptStep::Text("12345678");  // 8 chars -> 2 estimated tokens
  s.omit_usage = true;
  s.finish_reason = "length";
  server_->Push(s);
  ProviderConfig c = Config();
  c.max_tokens_field = "max_completion_tokens";
  ChatRequest req;
  req.messages = {{"user", "abcdefghijkl"}};  // 12 chars -> 3 estimated tokens
  req.max_tokens = 7;
  auto r = Make(c)->Complete(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->finish_reason, "length");
  EXPECT_TRUE(r->usage.estimated);
  EXPECT_EQ(r->usage.input_tokens, 3);
  EXPECT_EQ(r->usage.output_tokens, 2);
  auto got = server_->Requests().at(0);
  EXPECT_FALSE(got.HasHeader("Authorization"));
  EXPECT_EQ(got.json["messages"].size(), 1u);  // no empty system message
  EXPECT_FALSE(got.json.contains("temperature"));
  EXPECT_FALSE(got.json.contains("stop"));
  EXPECT_FALSE(got.json.contains("max_tokens"));
  EXPECT_EQ(got.json["max_completion_tokens"], 7);
}

TEST_F(ProviderTest, AnthropicHappyPathSendsTheRightRequest) {
  setenv(kKeyEnv, "sk-ant-test-0123456789", 1);
  server_->Push(TextWithUsage("def kernel(): pass", 40, 9));
  ScriptStep cut = ScriptStep::Text("trunc");
  cut.finish_reason = "length";
  server_->Push(cut);
  ProviderConfig c = Config("anthropic");
  auto p = Make(c);
  ChatRequest req = Hello();
  req.stop = {"</kernel>"};
  req.temperature = 0.5;
  auto r = p->Complete(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->text, "def kernel(): pass");
  EXPECT_EQ(r->finish_reason, "stop");
  EXPECT_EQ(r->usage.input_tokens, 40);
  EXPECT_EQ(r->usage.output_tokens, 9);
  EXPECT_EQ(r->endpoint, server_->url() + "/v1/messages");
  auto r2 = p->Complete(Hello("again"));
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  EXPECT_EQ(r2->finish_reason, "length");

  auto got = server_->Requests().at(0);
  EXPECT_EQ(got.path, "/v1/messages");
  EXPECT_EQ(got.Header("x-api-key"), "sk-ant-test-0123456789");
  EXPECT_EQ(got.Header("anthropic-version"), "2023-06-01");
  EXPECT_FALSE(got.HasHeader("Authorization"));
  EXPECT_EQ(got.json["system"], "You write kernels.");
  EXPECT_EQ(got.json["model"], "test-model");
  EXPECT_EQ(got.json["max_tokens"], 4096);  // required by the API: the default applies
  EXPECT_EQ(got.json["messages"],
            nlohmann::json::array({{{"role", "user"}, {"content", "hello"}}}));
  EXPECT_EQ(got.json["stop_sequences"], nlohmann::json::array({"</kernel>"}));
  EXPECT_DOUBLE_EQ(got.json["temperature"].get<double>(), 0.5);
}

TEST_F(ProviderTest, AnthropicJoinsTextBlocksAndSkipsOthers) {
  server_->Push(ScriptStep::Raw(200, R"({"type":"message","model":"claude-x","content":[
      {"type":"thinking","thinking":"hmm"},{"type":"text","text":"part one, "},{"type":"text","text":"part two"}],
      "stop_reason":"stop_sequence","usage":{"input_tokens":5,"output_tokens":4}})"));
  auto r = Make(Config("anthropic"))->Complete(Hello());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->text, "part one, part two");
  EXPECT_EQ(r->finish_reason, "stop");
  EXPECT_EQ(r->model, "claude-x");
}

// ------------------------------------------------------------------------- retries

TEST_F(ProviderTest, HonoursRetryAfterOn429) {
  server_->Push(ScriptStep::Error(429, "slow down", "1"));
  server_->Push(ScriptStep::Text("ok"));
  ProviderConfig c = Config();
  c.backoff_max_s = 1;  // caps Retry-After at 4 s; the jittered delay would be <= 0.01 s
  auto start = std::chrono::steady_clock::now();
  auto r = Make(c)->Complete(Hello());
  double elapsed = Since(start);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->text, "ok");
  EXPECT_EQ(r->attempts, 2);
  // backoff_base_s is 0.01: only the Retry-After can explain a one-second wait.
  EXPECT_GE(elapsed, 1.0);
  EXPECT_GE(r->latency_s, 1.0);
  EXPECT_EQ(server_->RequestCount(), 2u);
}

TEST_F(ProviderTest, RetryAfterIsCappedAtFourTimesBackoffMax) {
  server_->Push(ScriptStep::Error(503, "overloaded", "3600"));
  server_->Push(ScriptStep::Text("ok"));
  ProviderConfig c = Config();
  c.backoff_max_s = 0.1;  // cap: 0.4 s
  auto start = std::chrono::steady_clock::now();
  auto r = Make(c)->Complete(Hello());
  double elapsed = Since(start);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GE(elapsed, 0.4);
  EXPECT_LT(elapsed, 3.0);
}

TEST_F(ProviderTest, Retries500ThenSucceeds) {
  server_->Push(ScriptStep::Error(500, "internal"));
  server_->Push(ScriptStep::Error(502, "bad gateway"));
  server_->Push(ScriptStep::Text("ok"));
  auto r = Make(Config())->Complete(Hello());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->attempts, 3);
  EXPECT_EQ(server_->RequestCount(), 3u);
}

TEST_F(ProviderTest, RequestTimeoutIsRetried) {
  ScriptStep slow = ScriptStep::Text("too late");
  slow.delay_ms = 3000;
  server_->Push(slow);
  server_->Push(ScriptStep::Text("in time"));
  ProviderConfig c = Config();
  c.request_timeout_s = 0.5;
  auto start = std::chrono::steady_clock::now();
  auto r = Make(c)->Complete(Hello());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->text, "in time");
  EXPECT_EQ(r->attempts, 2);
  EXPECT_GE(Since(start), 0.5);
  EXPECT_LT(Since(start), 2.9);  // did not wait for the slow answer
}

TEST_F(ProviderTest, CancellationStopsALongGenerationAndABackoff) {
  ScriptStep slow = ScriptStep::Text("too late");
  slow.delay_ms = 8000;
  server_->SetDefault(slow);
  std::atomic<bool> cancel{false};
  ChatRequest req = Hello();
  req.cancel = &cancel;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel = true;
  });
  auto start = std::chrono::steady_clock::now();
  auto r = Make(Config())->Complete(req);
  stopper.join();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cancelled"), std::string::npos) << r.status().message();
  EXPECT_LT(Since(start), 3.0) << "did not wait for the 8 s generation";
  EXPECT_EQ(server_->RequestCount(), 1u) << "a cancelled call is not retried";

  // During a backoff: a 500 with Retry-After 30 would wait 30 s; cancelling ends the wait.
  server_->Push(ScriptStep::Error(503, "busy", "30"));
  cancel = false;
  ProviderConfig c = Config();
  c.backoff_max_s = 60;
  std::thread stopper2([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    cancel = true;
  });
  start = std::chrono::steady_clock::now();
  auto r2 = Make(c)->Complete(req);
  stopper2.join();
  ASSERT_FALSE(r2.ok());
  EXPECT_LT(Since(start), 3.0) << "the 30 s backoff was not interrupted";
}

TEST_F(ProviderTest, TimeoutMessageNamesThePhaseAndLimit) {
  ScriptStep slow = ScriptStep::Text("too late");
  slow.delay_ms = 3000;
  server_->SetDefault(slow);
  ProviderConfig c = Config();
  c.request_timeout_s = 0.3;
  c.max_retries = 1;
  auto r = Make(c)->Complete(Hello());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kProviderError);
  EXPECT_NE(r.status().message().find("request_timeout_s = 0.3"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("after 2 attempts"), std::string::npos)
      << r.status().message();
}

TEST_F(ProviderTest, ClosedConnectionIsRetried) {
  ScriptStep drop;
  drop.close_connection = true;
  server_->Push(drop);
  server_->Push(ScriptStep::Text("ok"));
  auto r = Make(Config())->Complete(Hello());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->text, "ok");
  EXPECT_EQ(r->attempts, 2);
}

TEST_F(ProviderTest, BrokenConnectionIsExplained) {
  ScriptStep drop;
  drop.close_connection = true;
  server_->SetDefault(drop);
  ProviderConfig c = Config();
  c.max_retries = 1;
  auto r = Make(c)->Complete(Hello());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("the connection broke before the reply was complete"),
            std::string::npos)
      << r.status().message();
  EXPECT_EQ(server_->RequestCount(), 2u);
}

// A malformed 2xx is retried like a 5xx, up to max_retries, and named when they run out; a
// good reply after a few garbled ones is used.
TEST_F(ProviderTest, GarbageBodyIsRetriedLikeA5xxAndNamed) {
  for (int i = 0; i < 4; ++i) server_->Push(ScriptStep::Raw(200, "<html>Bad gateway page</html>"));
  auto r = Make(Config())->Complete(Hello());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kProviderError);
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("the body is not JSON"), std::string::npos) << m;
  EXPECT_NE(m.find("<html>Bad gateway page"), std::string::npos) << m;
  EXPECT_NE(m.find("max_retries = 3 exhausted"), std::string::npos) << m;
  EXPECT_EQ(server_->RequestCount(), 4u);  // the first attempt and 3 retries
  server_->Push(ScriptStep::Raw(200, R"({"object":"chat.completion","choices":[]})"));
  server_->Push(ScriptStep::Raw(200, "<html>Bad gateway page</html>"));
  server_->Push(ScriptStep::Text("the real reply"));
  auto ok = Make(Config())->Complete(Hello());
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->attempts, 3);
}

TEST_F(ProviderTest, UnexpectedJsonNamesTheMissingField) {
  server_->SetDefault(ScriptStep::Raw(200, R"({"object":"chat.completion","choices":[]})"));
  auto r = Make(Config())->Complete(Hello());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("\"choices\" is empty"), std::string::npos)
      << r.status().message();

  server_->SetDefault(ScriptStep::Raw(200, R"({"choices":[{"message":{"content":42}}]})"));
  r = Make(Config())->Complete(Hello());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("choices[0].message.content is a number"), std::string::npos)
      << r.status().message();

  server_->SetDefault(ScriptStep::Raw(200, R"({"type":"message","content":"flat"})"));
  r = Make(Config("anthropic"))->Complete(Hello());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("\"content\" is a string"), std::string::npos)
      << r.status().message();
}

TEST_F(ProviderTest, UnauthorizedIsNotRetried) {
  server_->SetDefault(ScriptStep::Error(401, "Invalid authentication credentials"));
  auto r = Make(Config())->Complete(Hello());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kProviderError);
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("HTTP 401"), std::string::npos) << m;
  EXPECT_NE(m.find("Invalid authentication credentials"), std::string::npos) << m;
  EXPECT_NE(m.find(server_->openai_base_url() + "/chat/completions"), std::string::npos) << m;
  EXPECT_NE(m.find(std::string("$") + kKeyEnv), std::string::npos) << m;  // says where the key goes
  EXPECT_NE(m.find("after 1 attempt;"), std::string::npos) << m;
  EXPECT_EQ(server_->RequestCount(), 1u);
}

TEST_F(ProviderTest, FatalStatusesAreNotRetried) {
  for (int status : {400, 403, 404, 422}) {
    server_->SetDefault(ScriptStep::Error(status, "nope"));
    size_t before = server_->RequestCount();
    auto r = Make(Config())->Complete(Hello());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("HTTP " + std::to_string(status)), std::string::npos);
    EXPECT_EQ(server_->RequestCount(), before + 1) << "status " << status;
    if (status == 400) {  // a server that rejects "stream" / "stream_options" is told what to do
      EXPECT_NE(r.status().message().find("set stream = false"), std::string::npos)
          << r.status().message();
    }
  }
}

TEST_F(ProviderTest, MaxRetriesExhausted) {
  server_->SetDefault(ScriptStep::Error(503, "overloaded"));
  ProviderConfig c = Config();
  c.max_retries = 2;
  auto ledger = std::make_shared<UsageLedger>();
  auto r = Make(c, ledger)->Complete(Hello());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kProviderError);
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("after 3 attempts"), std::string::npos) << m;
  EXPECT_NE(m.find("max_retries = 2 exhausted"), std::string::npos) << m;
  EXPECT_NE(m.find(server_->openai_base_url() + "/chat/completions"), std::string::npos) << m;
  EXPECT_NE(m.find("overloaded"), std::string::npos) << m;
  EXPECT_EQ(server_->RequestCount(), 3u);
  EXPECT_EQ(ledger->Total().errors, 1);
  EXPECT_EQ(ledger->Total().retries, 2);
}

TEST_F(ProviderTest, ConnectionRefusedIsRetriedAndExplained) {
  ProviderConfig c = Config();
  server_->Stop();  // nothing listens on the port any more
  c.max_retries = 1;
  auto r = Make(c)->Complete(Hello());
  ASSERT_FALSE(r.ok());
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("connection refused"), std::string::npos) << m;
  EXPECT_NE(m.find(c.base_url), std::string::npos) << m;
  EXPECT_NE(m.find("after 2 attempts"), std::string::npos) << m;
}

// A fake that fails with kUnavailable twice: the default CompleteWithDetail classification makes
// any Provider retryable, which is what fault-injection wrappers rely on.
class FlakyProvider : public Provider {
 public:
  std::string_view name() const override { return "flaky"; }
  const ProviderConfig& config() const override { return config_; }
  Result<ChatResponse> Complete(const ChatRequest&) override {
    if (++calls_ <= 2) return Unavailable("injected fault");
    ChatResponse r;
    r.text = "recovered";
    return r;
  }
  int calls_ = 0;
  ProviderConfig config_;
};

TEST(RetryWrapper, RetriesInjectedFaultsFromAnyProvider) {
  auto flaky = std::make_unique<FlakyProvider>();
  FlakyProvider* raw = flaky.get();
  RetryOptions o;
  o.backoff_base_s = 0.001;
  o.backoff_max_s = 0.002;
  auto p = NewRetryingProvider(std::move(flaky), o);
  auto r = p->Complete(ChatRequest{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->text, "recovered");
  EXPECT_EQ(r->attempts, 3);
  EXPECT_EQ(raw->calls_, 3);
}

TEST(RetryAfter, ParsesSecondsAndDates) {
  using provider_internal::ParseRetryAfter;
  EXPECT_EQ(ParseRetryAfter("1"), 1.0);
  EXPECT_EQ(ParseRetryAfter("0"), 0.0);
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT"), 0.0);  // in the past: now
  char future[64];
  time_t t = time(nullptr) + 120;
  strftime(future, sizeof future, "%a, %d %b %Y %H:%M:%S GMT", gmtime(&t));
  auto f = ParseRetryAfter(future);
  ASSERT_TRUE(f.has_value()) << future;
  EXPECT_GT(*f, 100);
  EXPECT_LE(*f, 121);
  EXPECT_FALSE(ParseRetryAfter("soon").has_value());
  EXPECT_FALSE(ParseRetryAfter("").has_value());
}

TEST(Redaction, CoversUrlCredentialsAndCredentialHeaders) {
  ProviderConfig c;
  c.base_url = "https://user:pa55word-xyz@gateway.test/v1";
  c.extra_headers = {{"X-Api-Token", "tok-abcdef"}, {"X-Team", "kernels"}};
  auto redact = provider_internal::SecretsOf(c);
  EXPECT_EQ(redact("GET https://user:pa55word-xyz@gateway.test/v1 tok-abcdef kernels"),
            "GET https://<redacted>@gateway.test/v1 <redacted> kernels");
}

TEST(ErrorBodies, ProviderMessagesAreExtracted) {
  using provider_internal::ErrorMessageFromBody;
  EXPECT_EQ(
      ErrorMessageFromBody(R"({"error":{"message":"bad model","type":"invalid_request_error"}})"),
      "bad model (invalid_request_error)");
  EXPECT_EQ(ErrorMessageFromBody(
                R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"),
            "Overloaded (overloaded_error)");
  EXPECT_EQ(ErrorMessageFromBody(R"({"error":"model 'x' not found"})"),
            "model 'x' not found");  // Ollama
  EXPECT_EQ(ErrorMessageFromBody(R"({"object":"error","message":"vllm says no","code":400})"),
            "vllm says no");
  EXPECT_EQ(ErrorMessageFromBody(R"({"detail":"Not Found"})"), "Not Found");  // FastAPI
  EXPECT_EQ(ErrorMessageFromBody("upstream\nfailure"), "body: upstream failure");
  EXPECT_EQ(ErrorMessageFromBody(""), "(empty body)");
}

// ------------------------------------------------------------------------- SSE parsing

std::vector<SseEvent> ParseAll(const std::vector<std::string>& pieces, bool finish = true) {
  provider_internal::SseParser parser;
  std::vector<SseEvent> events;
  auto collect = [&events](const SseEvent& e) {
    events.push_back(e);
    return true;
  };
  for (const auto& p : pieces) EXPECT_TRUE(parser.Feed(p, collect));
  if (finish) {
    EXPECT_TRUE(parser.Finish(collect));
  }
  return events;
}

// Every split of the stream into two reads must give the same events.
TEST(SseParser, LinesSplitAnywhereCrlfCommentsMultiLineDataAndEventsWithoutData) {
  const std::string stream =
      ": keep-alive\r\n\r\n"
      "event: message_start\r\ndata: {\"a\":1}\r\n\r\n"
      "data: first line\ndata:second line\ndata\n\n"  // "data" without a colon: an empty line
      "event: ping\n\n"                                // no data: dropped
      "id: 7\nretry: 100\ndata:  two spaces\r\r"       // \r alone ends lines too
      ": comment in the middle\n"
      "data: [DONE]\n\n";
  const std::vector<std::pair<std::string, std::string>> want = {
      {"message_start", "{\"a\":1}"},
      {"", "first line\nsecond line\n"},
      {"", " two spaces"},
      {"", "[DONE]"}};
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    auto events = ParseAll({stream.substr(0, cut), stream.substr(cut)});
    ASSERT_EQ(events.size(), want.size()) << "cut at " << cut;
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(events[i].type, want[i].first) << "cut at " << cut;
      EXPECT_EQ(events[i].data, want[i].second) << "cut at " << cut;
    }
  }
  // Byte by byte.
  std::vector<std::string> bytes;
  for (char c : stream) bytes.emplace_back(1, c);
  EXPECT_EQ(ParseAll(bytes).size(), want.size());
}

TEST(SseParser, EndOfStreamKeepsAFinishedEventAndDropsACutLine) {
  auto events = ParseAll({"data: whole\n"});  // the blank line never came
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "whole");
  EXPECT_TRUE(ParseAll({"data: cut in the mid"}).empty());
  EXPECT_TRUE(ParseAll({"data: whole\n"}, /*finish=*/false).empty());
}

TEST(SseParser, AnEventLargerThanTheLimitStopsTheParser) {
  provider_internal::SseParser parser(100);
  auto ignore = [](const SseEvent&) { return true; };
  EXPECT_TRUE(parser.Feed("data: " + std::string(50, 'x') + "\n", ignore));
  EXPECT_FALSE(parser.Feed(std::string(60, 'y'), ignore));  // 60 + 51 pending bytes > 100
  EXPECT_TRUE(parser.overflowed());
  provider_internal::SseParser lines(100);
  EXPECT_FALSE(lines.Feed(std::string(101, 'z'), ignore));  // one line without an end
  EXPECT_TRUE(lines.overflowed());
}

TEST(ReplyText, TruncateUtf8NeverSplitsACharacter) {
  using provider_internal::TruncateUtf8;
  EXPECT_EQ(TruncateUtf8("abc", 5), "abc");
  EXPECT_EQ(TruncateUtf8("abcdef", 3), "abc");
  EXPECT_EQ(TruncateUtf8("a\xc3\xa9", 2), "a");                  // é is 2 bytes
  EXPECT_EQ(TruncateUtf8("a\xc3\xa9", 3), "a\xc3\xa9");
  EXPECT_EQ(TruncateUtf8("\xe2\x82\xac\xe2\x82\xac", 5), "\xe2\x82\xac");  // € is 3 bytes
  EXPECT_EQ(TruncateUtf8("\xf0\x9f\x98\x80x", 3), "");                       // 4-byte emoji
}

TEST(ReplyText, JsonStringPrefixDecodesACutBody) {
  using provider_internal::JsonStringPrefix;
  EXPECT_EQ(JsonStringPrefix(R"({"choices":[{"message":{"role":"assistant","content":"a\"b\\c\nd)",
                             "content"),
            "a\"b\\c\nd");
  EXPECT_EQ(JsonStringPrefix(R"({"content" : "whole", "x": 1})", "content"), "whole");
  EXPECT_EQ(JsonStringPrefix(R"({"content":"\u00e9\ud83d\ude00 \u20)", "content"),
            "\xc3\xa9\xf0\x9f\x98\x80 ");  // é, 😀, then a cut \u escape
  // "text" as a value is not the member; the member after it is.
  EXPECT_EQ(JsonStringPrefix(R"({"content":[{"type":"text","text":"kernel)", "text"), "kernel");
  EXPECT_EQ(JsonStringPrefix(R"({"reasoning_content":"x"})", "content"), "");
  EXPECT_EQ(JsonStringPrefix("<html>", "content"), "");
}

TEST(ErrorObjects, RetryableUnlessTheRequestWasWrong) {
  using provider_internal::ErrorObjectStatus;
  auto code = [](const char* json) {
    return ErrorObjectStatus(nlohmann::json::parse(json)).code();
  };
  EXPECT_EQ(code(R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"),
            StatusCode::kUnavailable);
  EXPECT_EQ(code(R"({"error":{"message":"The server had an error","type":"server_error"}})"),
            StatusCode::kUnavailable);
  EXPECT_EQ(code(R"({"error":{"message":"boom","code":500}})"), StatusCode::kUnavailable);
  EXPECT_EQ(code(R"({"error":"something odd"})"), StatusCode::kUnavailable);
  EXPECT_EQ(code(R"({"type":"error","error":{"type":"invalid_request_error","message":"bad"}})"),
            StatusCode::kProviderError);
  EXPECT_EQ(code(R"({"error":{"message":"no such model","code":404}})"),
            StatusCode::kProviderError);
  Status st = ErrorObjectStatus(
      nlohmann::json::parse(R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"));
  EXPECT_EQ(st.message(), "Overloaded (overloaded_error)");
}

// ------------------------------------------------------------------------- streaming

// The same script answered streamed and unstreamed must give the same response.
TEST_F(ProviderTest, StreamedRepliesParseLikeUnstreamedOnes) {
  const std::string text = "__global__ void k(float* x) {\n  x[0] = 1.0f;  // \"é\" ✓\n}\n";
  std::vector<ScriptStep> steps;
  steps.push_back(TextWithUsage(text, 31, 17));
  ScriptStep no_usage = ScriptStep::Text(text);
  no_usage.omit_usage = true;
  no_usage.finish_reason = "length";
  no_usage.chunk_bytes = 3;  // many small events, each split over two writes, \r\n lines
  no_usage.split_writes = true;
  no_usage.crlf = true;
  steps.push_back(no_usage);
  ScriptStep other = TextWithUsage("", 5, 0);  // an empty answer
  other.finish_reason = "content_filter";
  steps.push_back(other);
  for (const std::string kind : {"openai", "anthropic"}) {
    for (const auto& step : steps) {
      server_->Push(step);
      server_->Push(step);
      ProviderConfig streamed = Config(kind);
      ProviderConfig plain = Config(kind);
      plain.stream = false;
      auto a = Make(streamed)->Complete(Hello());
      auto b = Make(plain)->Complete(Hello());
      ASSERT_TRUE(a.ok()) << kind << ": " << a.status().ToString();
      ASSERT_TRUE(b.ok()) << kind << ": " << b.status().ToString();
      SCOPED_TRACE(kind + " finish " + step.finish_reason);
      EXPECT_EQ(a->text, step.text);
      EXPECT_EQ(a->text, b->text);
      EXPECT_EQ(a->finish_reason, b->finish_reason);
      EXPECT_EQ(a->model, b->model);
      EXPECT_EQ(a->usage.input_tokens, b->usage.input_tokens);
      EXPECT_EQ(a->usage.output_tokens, b->usage.output_tokens);
      EXPECT_EQ(a->usage.estimated, b->usage.estimated);
      EXPECT_EQ(a->usage.estimated, step.omit_usage);
      EXPECT_FALSE(a->oversized);
      EXPECT_EQ(a->attempts, 1);
      if (step.usage) {
        EXPECT_EQ(a->usage.output_tokens, step.usage->second);
      }
    }
  }
  // What was asked for: a stream (with usage, for OpenAI) or one body.
  auto reqs = server_->Requests();
  ASSERT_EQ(reqs.size(), 12u);
  EXPECT_EQ(reqs[0].json["stream"], true);
  EXPECT_EQ(reqs[0].json["stream_options"]["include_usage"], true);
  EXPECT_FALSE(reqs[1].json.contains("stream"));
  EXPECT_FALSE(reqs[1].json.contains("stream_options"));
  EXPECT_EQ(reqs[6].path, "/v1/messages");
  EXPECT_EQ(reqs[6].json["stream"], true);
  EXPECT_FALSE(reqs[6].json.contains("stream_options"));
  EXPECT_FALSE(reqs[7].json.contains("stream"));
  EXPECT_NE(reqs[0].Header("Accept").find("text/event-stream"), std::string::npos);
}

TEST_F(ProviderTest, AServerThatIgnoresStreamIsStillUnderstood) {
  ScriptStep s = TextWithUsage("one body after all", 3, 4);
  s.ignore_stream = true;
  server_->Push(s);
  auto r = Make(Config())->Complete(Hello());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->text, "one body after all");
  EXPECT_EQ(r->usage.output_tokens, 4);
  EXPECT_EQ(server_->Requests().at(0).json["stream"], true);
}

// A mislabelled stream (text/plain) is recognised by how it begins.
TEST_F(ProviderTest, AnUnlabelledEventStreamIsRecognised) {
  ScriptStep s = ScriptStep::Raw(
      200,
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"pl\"}}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ain\"},\"finish_reason\":\"stop\"}]}\n\n"
      "data: [DONE]\n\n");
  s.content_type = "text/plain";
  server_->Push(s);
  auto r = Make(Config())->Complete(Hello());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->text, "plain");
  EXPECT_EQ(r->finish_reason, "stop");
}

TEST_F(ProviderTest, ACutStreamIsRetried) {
  for (const std::string kind : {"openai", "anthropic"}) {
    for (bool abrupt : {false, true}) {
      SCOPED_TRACE(kind + (abrupt ? " (connection dropped)" : " (body ended)"));
      ScriptStep cut = ScriptStep::Text("a reply that never ends");
      cut.cut_after_events = 3;
      cut.cut_abruptly = abrupt;
      server_->Push(cut);
      server_->Push(ScriptStep::Text("whole"));
      auto r = Make(Config(kind))->Complete(Hello());
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(r->text, "whole");
      EXPECT_EQ(r->attempts, 2);

      server_->SetDefault(cut);
      ProviderConfig c = Config(kind);
      c.max_retries = 1;
      auto p = Make(c);
      FailureDetail d;
      auto bad = p->CompleteWithDetail(Hello(), &d);
      ASSERT_FALSE(bad.ok());
      EXPECT_TRUE(d.malformed);
      EXPECT_TRUE(d.retryable);
      EXPECT_EQ(d.attempts, 2);
      const std::string& m = bad.status().message();
      if (abrupt) {
        EXPECT_NE(m.find("the event stream was cut after"), std::string::npos) << m;
      } else {
        EXPECT_NE(m.find(kind == "openai" ? "without [DONE] (a cut stream)"
                                          : "without message_stop (a cut stream)"),
                  std::string::npos)
            << m;
      }
      server_->SetDefault(ScriptStep::Error(500, "script exhausted"));
    }
  }
}

TEST_F(ProviderTest, AnErrorEventIsRetriedWhenTheServerIsOverloaded) {
  ScriptStep overloaded = ScriptStep::Text("partial ");
  overloaded.stream_error = "Overloaded";
  server_->Push(overloaded);
  server_->Push(ScriptStep::Text("after the overload"));
  auto r = Make(Config("anthropic"))->Complete(Hello());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->text, "after the overload");
  EXPECT_EQ(r->attempts, 2);

  ScriptStep server_error = overloaded;
  server_error.stream_error_type = "server_error";
  server_->Push(server_error);
  server_->Push(ScriptStep::Text("ok"));
  r = Make(Config("openai"))->Complete(Hello());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->attempts, 2);

  ScriptStep invalid = overloaded;
  invalid.stream_error = "prompt is too long";
  invalid.stream_error_type = "invalid_request_error";
  server_->SetDefault(invalid);
  size_t before = server_->RequestCount();
  auto bad = Make(Config("anthropic"))->Complete(Hello());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("an error in the event stream: prompt is too long"),
            std::string::npos)
      << bad.status().message();
  EXPECT_NE(bad.status().message().find("not retried"), std::string::npos);
  EXPECT_EQ(server_->RequestCount(), before + 1);
}

TEST_F(ProviderTest, ABadEventIsAMalformedReply) {
  ScriptStep bad = ScriptStep::Raw(200, "data: {\"choices\":[{\"delta\":{\"content\":7}}]}\n\n");
  bad.content_type = "text/event-stream";
  server_->SetDefault(bad);
  ProviderConfig c = Config();
  c.max_retries = 1;
  auto r = Make(c)->Complete(Hello());
  ASSERT_FALSE(r.ok());
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("choices[0].delta.content is a number"), std::string::npos) << m;
  EXPECT_NE(m.find("after 2 attempts"), std::string::npos) << m;
}

// ------------------------------------------------------------------------- timeouts

TEST_F(ProviderTest, FirstByteTimeoutFiresAndIsRetried) {
  for (bool stream : {true, false}) {
    SCOPED_TRACE(stream ? "streamed" : "unstreamed");
    ScriptStep hung = ScriptStep::Text("too late");
    hung.first_byte_delay_ms = 8000;  // headers at once, then nothing
    server_->Push(hung);
    server_->Push(ScriptStep::Text("in time"));
    ProviderConfig c = Config();
    c.stream = stream;
    c.first_byte_timeout_s = 1;
    c.request_timeout_s = 30;
    auto start = std::chrono::steady_clock::now();
    auto r = Make(c)->Complete(Hello());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->text, "in time");
    EXPECT_EQ(r->attempts, 2);
    EXPECT_GE(Since(start), 1.0);
    EXPECT_LT(Since(start), 6.0) << "waited for the hung server";

    server_->SetDefault(hung);
    c.max_retries = 0;
    FailureDetail d;
    auto bad = Make(c)->CompleteWithDetail(Hello(), &d);
    ASSERT_FALSE(bad.ok());
    EXPECT_TRUE(d.timed_out);
    EXPECT_TRUE(d.retryable);
    const std::string& m = bad.status().message();
    EXPECT_NE(m.find("first_byte_timeout_s = 1 s"), std::string::npos) << m;
    EXPECT_NE(m.find("raise first_byte_timeout_s"), std::string::npos) << m;
    if (!stream) {
      EXPECT_NE(m.find("with stream = false"), std::string::npos) << m;
    }
    server_->SetDefault(ScriptStep::Error(500, "script exhausted"));
  }
}

TEST_F(ProviderTest, IdleTimeoutFiresWhenAStreamStallsAndIsRetried) {
  ScriptStep stalls = ScriptStep::Text("a stream that stops halfway");
  stalls.stall_after_events = 2;
  stalls.stall_ms = 8000;
  server_->Push(stalls);
  server_->Push(ScriptStep::Text("in time"));
  ProviderConfig c = Config("anthropic");
  c.idle_timeout_s = 1;
  c.request_timeout_s = 30;
  auto start = std::chrono::steady_clock::now();
  auto r = Make(c)->Complete(Hello());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->text, "in time");
  EXPECT_EQ(r->attempts, 2);
  EXPECT_GE(Since(start), 1.0);
  EXPECT_LT(Since(start), 6.0) << "waited out the stall";

  server_->SetDefault(stalls);
  c.max_retries = 0;
  FailureDetail d;
  auto bad = Make(c)->CompleteWithDetail(Hello(), &d);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(d.timed_out);
  EXPECT_TRUE(d.retryable);
  EXPECT_FALSE(d.malformed);
  const std::string& m = bad.status().message();
  EXPECT_NE(m.find("the reply stalled: no data for idle_timeout_s = 1 s"), std::string::npos) << m;
  EXPECT_NE(m.find("raise idle_timeout_s"), std::string::npos) << m;
}

// Bytes that keep coming never trip the idle limit; the total limit still ends the request.
TEST_F(ProviderTest, RequestTimeoutBoundsAStreamThatNeverStalls) {
  ScriptStep slow = ScriptStep::Text(std::string(40, 'x'));
  slow.chunk_bytes = 1;
  slow.chunk_delay_ms = 200;  // 8 s in all, never quiet for more than 0.2 s
  server_->SetDefault(slow);
  ProviderConfig c = Config();
  c.first_byte_timeout_s = 1;
  c.idle_timeout_s = 1;
  c.request_timeout_s = 2;
  c.max_retries = 0;
  auto start = std::chrono::steady_clock::now();
  auto r = Make(c)->Complete(Hello());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("request_timeout_s = 2 s"), std::string::npos)
      << r.status().message();
  EXPECT_LT(Since(start), 6.0);
}

TEST_F(ProviderTest, CancellationStopsAStream) {
  ScriptStep slow = ScriptStep::Text(std::string(40, 'x'));
  slow.chunk_bytes = 1;
  slow.chunk_delay_ms = 200;
  server_->SetDefault(slow);
  std::atomic<bool> cancel{false};
  ChatRequest req = Hello();
  req.cancel = &cancel;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    cancel = true;
  });
  auto start = std::chrono::steady_clock::now();
  auto r = Make(Config())->Complete(req);
  stopper.join();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cancelled"), std::string::npos) << r.status().message();
  EXPECT_LT(Since(start), 4.0) << "did not wait for the 8 s stream";
  EXPECT_EQ(server_->RequestCount(), 1u);
}

// ------------------------------------------------------------------------- the reply cap

TEST_F(ProviderTest, AnOversizedStreamIsCutAtTheCap) {
  ScriptStep huge;
  huge.oversized_bytes = 400'000;
  huge.chunk_bytes = 1000;
  huge.chunk_delay_ms = 10;  // 4 s for the whole stream
  huge.omit_usage = true;
  server_->Push(huge);
  ProviderConfig c = Config();
  c.max_reply_bytes = 4096;
  auto ledger = std::make_shared<UsageLedger>();
  auto start = std::chrono::steady_clock::now();
  auto r = Make(c, ledger)->Complete(Hello());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_LT(Since(start), 3.0) << "read the whole stream";
  EXPECT_TRUE(r->oversized);
  EXPECT_EQ(r->finish_reason, "length");
  EXPECT_EQ(r->text.size(), 4096u);
  std::string fill;
  while (fill.size() < 4096) fill += huge.fill;
  EXPECT_EQ(r->text, fill.substr(0, 4096));
  EXPECT_TRUE(r->usage.estimated);
  EXPECT_EQ(r->usage.output_tokens, 1024);  // from the kept text, not the 400 kB
  EXPECT_EQ(r->attempts, 1);
  EXPECT_EQ(server_->RequestCount(), 1u);
  EXPECT_EQ(ledger->Total().output_tokens, 1024);
  EXPECT_EQ(ledger->Total().oversized, 1);
  EXPECT_EQ(ledger->Total().errors, 0);
}

// Anthropic reports the input tokens before the text: they are used, the output is estimated;
// the cut keeps whole characters.
TEST_F(ProviderTest, AnOversizedAnthropicStreamKeepsReportedTokensAndWholeCharacters) {
  ScriptStep huge = TextWithUsage("", 77, 999'999);
  huge.oversized_bytes = 100'000;
  huge.fill = "\xc3\xa9";  // é, 2 bytes
  huge.chunk_bytes = 999;
  server_->Push(huge);
  ProviderConfig c = Config("anthropic");
  c.max_reply_bytes = 4097;
  auto r = Make(c)->Complete(Hello());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->oversized);
  EXPECT_EQ(r->text.size(), 4096u);  // 2048 é: the 4097th byte would split one
  EXPECT_EQ(r->text.substr(4094), "\xc3\xa9");
  EXPECT_EQ(r->usage.input_tokens, 77);
  EXPECT_EQ(r->usage.output_tokens, 1024);
  EXPECT_TRUE(r->usage.estimated);
}

TEST_F(ProviderTest, AnOversizedUnstreamedReplyIsCutAtTheCap) {
  for (const std::string kind : {"openai", "anthropic"}) {
    SCOPED_TRACE(kind);
    ProviderConfig c = Config(kind);
    c.stream = false;
    c.max_reply_bytes = 4096;
    std::string fill = "a \"quoted\" line\n";
    std::string expect;
    while (expect.size() < 4096) expect += fill;
    expect.resize(4096);

    // The body fits the transport cap (4 * 4096 + 64 KiB): parsed, usage as reported.
    ScriptStep big = TextWithUsage("", 5, 2500);
    big.oversized_bytes = 10'000;
    big.fill = fill;
    server_->Push(big);
    auto r = Make(c)->Complete(Hello());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(r->oversized);
    EXPECT_EQ(r->finish_reason, "length");
    EXPECT_EQ(r->text, expect);
    EXPECT_EQ(r->usage.input_tokens, 5);
    EXPECT_EQ(r->usage.output_tokens, 2500);
    EXPECT_FALSE(r->usage.estimated);

    // Beyond the transport cap: the transfer stops, the text is salvaged from the cut body, the
    // usage (at its end) is lost and the output estimated from the kept text.
    ScriptStep huge = TextWithUsage("", 5, 250'000);
    huge.oversized_bytes = 1'000'000;
    huge.fill = fill;
    server_->Push(huge);
    auto ledger = std::make_shared<UsageLedger>();
    r = Make(c, ledger)->Complete(Hello());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(r->oversized);
    EXPECT_EQ(r->finish_reason, "length");
    EXPECT_EQ(r->text, expect);
    EXPECT_TRUE(r->usage.estimated);
    EXPECT_EQ(r->usage.output_tokens, 1024);
    EXPECT_EQ(ledger->Total().output_tokens, 1024);
    EXPECT_EQ(r->attempts, 1);
  }
}

TEST_F(ProviderTest, AnOversizedReplyIsCachedAsCut) {
  auto dir = MakeTempDir("evk-llm-cache-");
  ASSERT_TRUE(dir.ok());
  ScopedDir cleanup(*dir);
  ScriptStep huge;
  huge.oversized_bytes = 50'000;
  server_->Push(huge);
  ProviderConfig c = Config();
  c.cache_dir = dir->string();
  c.max_reply_bytes = 2048;
  auto first = Make(c)->Complete(Hello());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->oversized);
  server_->Stop();
  auto again = Make(c)->Complete(Hello());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->from_cache);
  EXPECT_TRUE(again->oversized);
  EXPECT_EQ(again->text, first->text);
  EXPECT_EQ(again->finish_reason, "length");
}

TEST_F(ProviderTest, ACachedReplyCutAtAnotherLimitIsAMiss) {
  auto dir = MakeTempDir("evk-llm-cache-");
  ASSERT_TRUE(dir.ok());
  ScopedDir cleanup(*dir);
  ScriptStep huge;
  huge.oversized_bytes = 5'000;
  server_->Push(huge);
  server_->Push(huge);
  server_->Push(huge);
  ProviderConfig c = Config();
  c.cache_dir = dir->string();
  c.max_reply_bytes = 2048;
  auto cut = Make(c)->Complete(Hello());
  ASSERT_TRUE(cut.ok()) << cut.status().ToString();
  EXPECT_TRUE(cut->oversized);
  // A larger limit asks again and gets the whole reply (which replaces the entry) ...
  c.max_reply_bytes = 8192;
  auto whole = Make(c)->Complete(Hello());
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_FALSE(whole->from_cache);
  EXPECT_FALSE(whole->oversized);
  EXPECT_EQ(whole->text.size(), 5000u);
  auto repeat = Make(c)->Complete(Hello());
  ASSERT_TRUE(repeat.ok());
  EXPECT_TRUE(repeat->from_cache);
  EXPECT_EQ(repeat->text, whole->text);
  // ... and a smaller one than the cached reply asks again and gets it cut.
  c.max_reply_bytes = 1024;
  auto recut = Make(c)->Complete(Hello());
  ASSERT_TRUE(recut.ok());
  EXPECT_FALSE(recut->from_cache);
  EXPECT_TRUE(recut->oversized);
  EXPECT_LE(recut->text.size(), 1024u);
  EXPECT_EQ(server_->RequestCount(), 3u);
}

TEST(ChatResponseJson, OversizedRoundTripsAndOldEntriesReadAsNotOversized) {
  ChatResponse r;
  r.text = "t";
  r.finish_reason = "length";
  r.model = "m";
  r.oversized = true;
  nlohmann::json j = r.ToJson();
  EXPECT_EQ(j["oversized"], true);
  auto back = ChatResponse::FromJson(j);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->oversized);
  j.erase("oversized");  // a cache entry written before the field existed
  back = ChatResponse::FromJson(j);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_FALSE(back->oversized);
}

// ------------------------------------------------------------------------- cache

TEST_F(ProviderTest, CacheServesRepeatsOfflineAndMissesOnChanges) {
  auto dir = MakeTempDir("evk-llm-cache-");
  ASSERT_TRUE(dir.ok());
  ScopedDir cleanup(*dir);
  server_->Push(TextWithUsage("cached answer", 100, 20));
  ProviderConfig c = Config();
  c.cache_dir = (*dir / "cache").string();
  c.prices["test-model"] = {1.0, 2.0};
  auto ledger = std::make_shared<UsageLedger>();
  auto p = Make(c, ledger);
  ChatRequest req = Hello();
  req.temperature = 0.2;
  auto first = p->Complete(req);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_FALSE(first->from_cache);
  EXPECT_GT(first->usage.cost_usd, 0);
  fs::path entry =
      fs::path(c.cache_dir) / first->request_hash.substr(0, 2) / (first->request_hash + ".json");
  EXPECT_TRUE(fs::exists(entry)) << entry;

  server_->Stop();               // from here on only the cache can answer
  req.task_id = "another/task";  // accounting fields are not part of the key
  req.phase = "refine";
  auto again = p->Complete(req);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->from_cache);
  EXPECT_EQ(again->text, "cached answer");
  EXPECT_EQ(again->usage.cost_usd, 0);
  EXPECT_EQ(again->attempts, 0);
  EXPECT_EQ(again->request_hash, first->request_hash);

  // A fresh stack on the same directory (a rerun) also reproduces offline.
  auto rerun = Make(c)->Complete(req);
  ASSERT_TRUE(rerun.ok()) << rerun.status().ToString();
  EXPECT_TRUE(rerun->from_cache);

  ChatRequest warmer = req;
  warmer.temperature = 0.9;
  EXPECT_FALSE(p->Complete(warmer).ok());  // a miss: the server is gone
  ChatRequest second_sample = req;
  second_sample.sample_index = 1;
  EXPECT_FALSE(p->Complete(second_sample).ok());
  ChatRequest other_prompt = Hello("different");
  other_prompt.temperature = 0.2;
  EXPECT_FALSE(p->Complete(other_prompt).ok());

  UsageTotals t = ledger->Total();
  EXPECT_EQ(t.requests, 5);
  EXPECT_EQ(t.cache_hits, 1);
  EXPECT_EQ(t.errors, 3);
  EXPECT_EQ(t.input_tokens, 100);  // the hit adds no tokens and no cost
  EXPECT_DOUBLE_EQ(t.cost_usd, first->usage.cost_usd);
}

TEST_F(ProviderTest, CorruptCacheEntryIsIgnoredAndOverwritten) {
  auto dir = MakeTempDir("evk-llm-cache-");
  ASSERT_TRUE(dir.ok());
  ScopedDir cleanup(*dir);
  ProviderConfig c = Config();
  c.cache_dir = dir->string();
  ChatRequest req = Hello();
  std::string hash = RequestHash(c, req);
  fs::path entry = *dir / hash.substr(0, 2) / (hash + ".json");
  ASSERT_TRUE(WriteFileAtomic(entry, "{\"format\": 1, \"trunc").ok());
  server_->Push(ScriptStep::Text("fresh"));
  auto r = Make(c)->Complete(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->from_cache);
  EXPECT_EQ(r->text, "fresh");
  auto text = ReadFile(entry);
  ASSERT_TRUE(text.ok());
  auto j = nlohmann::json::parse(*text, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << *text;
  EXPECT_EQ(j["response"]["text"], "fresh");
  EXPECT_EQ(j["request_hash"], hash);
}

TEST(RequestHashTest, CoversWhatDeterminesTheAnswerOnly) {
  ProviderConfig c;
  c.base_url = "http://localhost:8000/v1";
  c.model = "m";
  ChatRequest a = Hello();
  ChatRequest b = a;
  b.task_id = "t";
  b.phase = "refine";
  EXPECT_EQ(RequestHash(c, a), RequestHash(c, b));
  ProviderConfig keyed = c;
  keyed.api_key_env = "SOME_OTHER_KEY";
  keyed.extra_headers["X-Trace"] = "1";
  keyed.concurrency = 9;
  EXPECT_EQ(RequestHash(c, a), RequestHash(keyed, a));
  ProviderConfig other_model = c;
  other_model.model = "m2";
  EXPECT_NE(RequestHash(c, a), RequestHash(other_model, a));
  ProviderConfig defaults = c;
  defaults.max_tokens = 50;  // the effective value counts
  EXPECT_NE(RequestHash(c, a), RequestHash(defaults, a));
  b = a;
  b.stop = {"x"};
  EXPECT_NE(RequestHash(c, a), RequestHash(c, b));
}

// ------------------------------------------------------------------------- concurrency

TEST_F(ProviderTest, ConcurrencyLimitHoldsUnderLoad) {
  ScriptStep slow = ScriptStep::Text("ok");
  slow.delay_ms = 250;
  server_->SetDefault(slow);
  ProviderConfig c = Config();
  c.concurrency = 2;
  auto p = Make(c);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 6; ++i)
    threads.emplace_back([&, i] {
      if (p->Complete(Hello("request " + std::to_string(i))).ok()) ++ok;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 6);
  EXPECT_EQ(server_->RequestCount(), 6u);
  EXPECT_EQ(server_->MaxInFlight(), 2);
}

// ------------------------------------------------------------------------- accounting

TEST_F(ProviderTest, CostsComeFromThePriceTable) {
  server_->Push(TextWithUsage("a", 1000, 500));
  server_->Push(TextWithUsage("b", 2000, 0));
  server_->Push(TextWithUsage("c", 10, 10));
  ProviderConfig c = Config();
  c.prices["test-model"] = {3.0, 15.0};
  auto ledger = std::make_shared<UsageLedger>();
  auto p = Make(c, ledger);
  ChatRequest r1 = Hello("one");
  r1.task_id = "t1";
  r1.phase = "draft";
  ChatRequest r2 = Hello("two");
  r2.task_id = "t2";
  r2.phase = "refine";
  ChatRequest r3 = Hello("three");
  r3.task_id = "t1";
  r3.phase = "refine";
  auto a = p->Complete(r1);
  auto b = p->Complete(r2);
  auto d = p->Complete(r3);
  ASSERT_TRUE(a.ok() && b.ok() && d.ok());
  EXPECT_TRUE(a->usage.cost_known);
  EXPECT_DOUBLE_EQ(a->usage.cost_usd, 0.0105);   // 1000 * 3 / 1e6 + 500 * 15 / 1e6
  EXPECT_DOUBLE_EQ(b->usage.cost_usd, 0.006);    // 2000 * 3 / 1e6
  EXPECT_DOUBLE_EQ(d->usage.cost_usd, 0.00018);  // 10 * 3 / 1e6 + 10 * 15 / 1e6

  UsageTotals total = ledger->Total();
  EXPECT_EQ(total.requests, 3);
  EXPECT_EQ(total.input_tokens, 3010);
  EXPECT_EQ(total.output_tokens, 510);
  EXPECT_NEAR(total.cost_usd, 0.01668, 1e-12);
  EXPECT_EQ(total.unpriced, 0);
  EXPECT_NEAR(ledger->ForTask("t1").cost_usd, 0.01068, 1e-12);
  EXPECT_EQ(ledger->ForTask("t1").requests, 2);
  EXPECT_NEAR(ledger->ForTask("t2").cost_usd, 0.006, 1e-12);
  EXPECT_NEAR(ledger->ForPhase("draft").cost_usd, 0.0105, 1e-12);
  EXPECT_NEAR(ledger->ForPhase("refine").cost_usd, 0.00618, 1e-12);
  EXPECT_EQ(ledger->ForTask("nope").requests, 0);
  nlohmann::json j = ledger->ToJson();
  EXPECT_EQ(j["total"]["input_tokens"], 3010);
  EXPECT_EQ(j["tasks"]["t1"]["phases"]["refine"]["requests"], 1);
  EXPECT_NEAR(j["phases"]["draft"]["cost_usd"].get<double>(), 0.0105, 1e-12);
}

TEST_F(ProviderTest, UnknownModelCostsZeroAndIsReported) {
  server_->Push(TextWithUsage("a", 1000, 1000));
  ProviderConfig c = Config();
  c.prices["some-other-model"] = {3.0, 15.0};
  auto ledger = std::make_shared<UsageLedger>();
  auto r = Make(c, ledger)->Complete(Hello());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->usage.cost_known);
  EXPECT_EQ(r->usage.cost_usd, 0);
  EXPECT_EQ(ledger->Total().unpriced, 1);
}

// ------------------------------------------------------------------------- secrets

bool FileContains(const fs::path& p, const std::string& needle) {
  auto t = ReadFile(p);
  return t.ok() && t->find(needle) != std::string::npos;
}

TEST_F(ProviderTest, KeyNeverAppearsInErrorsLedgerOrCache) {
  const std::string key = "sk-SENTINEL-7c1e9a4f2b8d6e03";
  setenv(kKeyEnv, key.c_str(), 1);
  auto dir = MakeTempDir("evk-llm-secret-");
  ASSERT_TRUE(dir.ok());
  ScopedDir cleanup(*dir);
  ProviderConfig c = Config();
  c.cache_dir = dir->string();
  c.extra_headers["X-Gateway-Token"] = "gw-SENTINEL-55aa66bb";
  auto ledger = std::make_shared<UsageLedger>();
  auto p = Make(c, ledger);

  // Endpoints echo keys in their errors ("Incorrect API key provided: sk-...").
  server_->Push(
      ScriptStep::Error(401, "Incorrect API key provided: " + key + " via gw-SENTINEL-55aa66bb"));
  auto bad = p->Complete(Hello("first"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().ToString().find(key), std::string::npos) << bad.status().ToString();
  EXPECT_EQ(bad.status().ToString().find("gw-SENTINEL"), std::string::npos)
      << bad.status().ToString();
  EXPECT_NE(bad.status().ToString().find("<redacted>"), std::string::npos)
      << bad.status().ToString();

  server_->Push(ScriptStep::Error(500, "upstream saw key " + key));
  server_->Push(ScriptStep::Text("echo of " + key));
  auto good = p->Complete(Hello("second"));
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(good->text.find(key), std::string::npos);
  EXPECT_EQ(good->ToJson().dump().find(key), std::string::npos);

  // The key was really sent: the sentinel was in play.
  auto reqs = server_->Requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].Header("Authorization"), "Bearer " + key);

  EXPECT_EQ(ledger->ToJson().dump().find(key), std::string::npos);
  EXPECT_EQ(c.ToJson().dump().find(key), std::string::npos);
  EXPECT_EQ(c.ToJson().dump().find("gw-SENTINEL"), std::string::npos);
  EXPECT_TRUE(c.ToJson()["api_key_set"].get<bool>());
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(*dir)) {
    if (!e.is_regular_file()) continue;
    ++files;
    EXPECT_FALSE(FileContains(e.path(), key)) << e.path();
    EXPECT_FALSE(FileContains(e.path(), "gw-SENTINEL")) << e.path();
  }
  EXPECT_EQ(files, 1);
}

// ------------------------------------------------------------------------- configuration

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = MakeTempDir("evk-llm-config-");
    ASSERT_TRUE(d.ok());
    dir_ = std::make_unique<ScopedDir>(*d);
  }
  fs::path Write(const std::string& name, const std::string& text) {
    fs::path p = dir_->path() / name;
    EXPECT_TRUE(WriteFileAtomic(p, text).ok());
    return p;
  }
  static EnvLookup Env(std::map<std::string, std::string> vars) {
    return [vars](const std::string& n) -> std::optional<std::string> {
      auto it = vars.find(n);
      if (it == vars.end()) return std::nullopt;
      return it->second;
    };
  }
  std::unique_ptr<ScopedDir> dir_;
};

TEST_F(ConfigTest, LoadsAFullFile) {
  fs::path prices = Write("prices.toml",
                          "[prices.\"m\"]\ninput_per_mtok = 1.5\noutput_per_mtok = 2\n"
                          "[prices.\"n\"]\ninput_per_mtok = 9\noutput_per_mtok = 9\n");
  fs::path f = Write("evokernel.toml", R"([provider]
kind = "anthropic"
base_url = "https://example.test/"
model = "m"
api_key_env = "MY_KEY"
temperature = 0.7
max_tokens = 2048
connect_timeout_s = 3
request_timeout_s = 120.5
max_retries = 6
backoff_base_s = 0.5
backoff_max_s = 30
concurrency = 8
cache_dir = "llm-cache"
anthropic_version = "2023-06-01"
prices_file = "prices.toml"
[provider.extra_headers]
X-Org = "lab"
[provider.prices."n"]
input_per_mtok = 4
output_per_mtok = 5

[agent]
ignored = true
)");
  auto c = LoadProviderConfig(f, Env({}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->Validate().ok()) << c->Validate().ToString();
  EXPECT_EQ(c->kind, "anthropic");
  EXPECT_EQ(c->Endpoint(), "https://example.test/v1/messages");
  EXPECT_EQ(c->ApiKeyEnv(), "MY_KEY");
  EXPECT_EQ(c->temperature, 0.7);
  EXPECT_EQ(c->max_tokens, 2048);
  EXPECT_EQ(c->request_timeout_s, 120.5);
  EXPECT_EQ(c->max_retries, 6);
  EXPECT_EQ(c->concurrency, 8);
  EXPECT_EQ(c->cache_dir, (dir_->path() / "llm-cache").string());  // relative to the file
  EXPECT_EQ(c->extra_headers.at("X-Org"), "lab");
  ASSERT_TRUE(c->PriceFor("m").has_value());
  EXPECT_EQ(c->PriceFor("m")->input_per_mtok, 1.5);
  EXPECT_EQ(c->PriceFor("n")->input_per_mtok, 4);  // inline entries win over the table file
  EXPECT_EQ(c->origin.at("model"), f.string() + ":4");
}

TEST_F(ConfigTest, EnvironmentOverridesTheFile) {
  fs::path f = Write("c.toml", "[provider]\nbase_url = \"http://a:1/v1\"\nmodel = \"from-file\"\n");
  auto c =
      LoadProviderConfig(f, Env({{"EVOKERNEL_MODEL", "from-env"}, {"EVOKERNEL_MAX_RETRIES", "9"}}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->model, "from-env");
  EXPECT_EQ(c->origin.at("model"), "$EVOKERNEL_MODEL");
  EXPECT_EQ(c->max_retries, 9);
  EXPECT_EQ(c->base_url, "http://a:1/v1");
  EXPECT_TRUE(SetProviderField(*c, "model", "from-flag", "--model").ok());
  EXPECT_EQ(c->model, "from-flag");
}

TEST_F(ConfigTest, BadTomlNamesFileAndLine) {
  fs::path f = Write("bad.toml", "[provider]\nmodel = \"m\"\nbase_url = \n");
  auto c = LoadProviderConfig(f, Env({}));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find(f.string() + ":3"), std::string::npos)
      << c.status().message();
  EXPECT_NE(c.status().message().find("not valid TOML"), std::string::npos) << c.status().message();
}

TEST_F(ConfigTest, UnknownKindNamesWhereAndWhatIsAccepted) {
  fs::path f =
      Write("k.toml", "[provider]\nmodel = \"m\"\nkind = \"gemini\"\nbase_url = \"http://x/v1\"\n");
  auto c = LoadProviderConfig(f, Env({}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Status st = c->Validate();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(f.string() + ":3"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("'gemini'"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("\"openai\""), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("\"anthropic\""), std::string::npos) << st.message();
  EXPECT_FALSE(MakeProvider(*c).ok());

  auto e =
      LoadProviderConfig("", Env({{"EVOKERNEL_PROVIDER", "cohere"}, {"EVOKERNEL_MODEL", "m"}}));
  ASSERT_TRUE(e.ok());
  EXPECT_NE(e->Validate().message().find("$EVOKERNEL_PROVIDER"), std::string::npos)
      << e->Validate().message();
}

TEST_F(ConfigTest, MissingModelOrEndpointSaysWhatToConfigure) {
  fs::path f = Write("m.toml", "[provider]\nbase_url = \"http://localhost:8000/v1\"\n");
  auto c = LoadProviderConfig(f, Env({}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Status st = c->Validate();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("no model is configured"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("EVOKERNEL_MODEL"), std::string::npos) << st.message();

  auto none = LoadProviderConfig("", Env({}));
  ASSERT_TRUE(none.ok());
  st = none->Validate();
  ASSERT_FALSE(st.ok());
  for (const char* needle :
       {"no LLM endpoint is configured", "EVOKERNEL_BASE_URL", "EVOKERNEL_MODEL", "vLLM", "Ollama",
        "llama.cpp", "OpenAI", "Anthropic", "ANTHROPIC_API_KEY"})
    EXPECT_NE(st.message().find(needle), std::string::npos)
        << needle << " missing from: " << st.message();

  // Anthropic has a default base URL; the model is still required.
  auto ant = LoadProviderConfig("", Env({{"EVOKERNEL_PROVIDER", "anthropic"}}));
  ASSERT_TRUE(ant.ok());
  EXPECT_NE(ant->Validate().message().find("no model is configured"), std::string::npos);
  ant->model = "claude-x";
  EXPECT_TRUE(ant->Validate().ok());
  EXPECT_EQ(ant->Endpoint(), "https://api.anthropic.com/v1/messages");
}

TEST_F(ConfigTest, RejectsKeysUnknownKeysAndBadValues) {
  auto key = LoadProviderConfig(Write("a.toml", "[provider]\nmodel = \"m\"\napi_key = \"sk-x\"\n"),
                                Env({}));
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.status().message().find("a.toml:3"), std::string::npos) << key.status().message();
  EXPECT_NE(key.status().message().find("api_key_env"), std::string::npos)
      << key.status().message();
  EXPECT_EQ(key.status().message().find("sk-x"), std::string::npos);

  auto unknown =
      LoadProviderConfig(Write("u.toml", "[provider]\nmodel = \"m\"\nmodle = \"m\"\n"), Env({}));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("u.toml:3: unknown key 'modle'"), std::string::npos)
      << unknown.status().message();

  auto type = LoadProviderConfig(Write("t.toml", "[provider]\nmax_retries = \"three\"\n"), Env({}));
  ASSERT_FALSE(type.ok());
  EXPECT_NE(type.status().message().find("t.toml:2: provider.max_retries must be an integer"),
            std::string::npos)
      << type.status().message();

  auto env = LoadProviderConfig("", Env({{"EVOKERNEL_TEMPERATURE", "warm"}}));
  ASSERT_FALSE(env.ok());
  EXPECT_NE(
      env.status().message().find("$EVOKERNEL_TEMPERATURE: provider.temperature must be a number"),
      std::string::npos)
      << env.status().message();

  auto range = LoadProviderConfig("", Env({{"EVOKERNEL_MODEL", "m"},
                                           {"EVOKERNEL_BASE_URL", "http://x/v1"},
                                           {"EVOKERNEL_CONCURRENCY", "0"}}));
  ASSERT_TRUE(range.ok());
  EXPECT_NE(range->Validate().message().find(
                "$EVOKERNEL_CONCURRENCY: provider.concurrency must be in [1, 1024]"),
            std::string::npos)
      << range->Validate().message();

  auto url = LoadProviderConfig(
      "", Env({{"EVOKERNEL_MODEL", "m"}, {"EVOKERNEL_BASE_URL", "localhost:8000/v1"}}));
  ASSERT_TRUE(url.ok());
  EXPECT_NE(url->Validate().message().find("must start with http:// or https://"),
            std::string::npos);

  auto pasted = LoadProviderConfig("", Env({{"EVOKERNEL_MODEL", "m"},
                                            {"EVOKERNEL_BASE_URL", "http://x/v1"},
                                            {"EVOKERNEL_API_KEY_ENV", "sk-pasted-0123456789"}}));
  ASSERT_TRUE(pasted.ok());
  Status pasted_st = pasted->Validate();
  EXPECT_NE(pasted_st.message().find("NAME of the environment variable"), std::string::npos)
      << pasted_st.message();
  EXPECT_EQ(pasted_st.message().find("sk-pasted"), std::string::npos) << pasted_st.message();

  auto missing = LoadProviderConfig(dir_->path() / "nope.toml", Env({}));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope.toml does not exist"), std::string::npos);

  auto no_section = LoadProviderConfig(Write("n.toml", "[agent]\nx = 1\n"), Env({}));
  ASSERT_FALSE(no_section.ok());
  EXPECT_NE(no_section.status().message().find("no [provider] section"), std::string::npos);

  auto bad_price = LoadProviderConfig(
      Write("p.toml", "[provider]\nmodel = \"m\"\n[provider.prices.\"m\"]\ninput_per_mtok = 1\n"),
      Env({}));
  ASSERT_FALSE(bad_price.ok());
  EXPECT_NE(bad_price.status().message().find("needs both input_per_mtok and output_per_mtok"),
            std::string::npos)
      << bad_price.status().message();
}

TEST_F(ConfigTest, StreamingTimeoutsAndTheReplyCapHaveBoundedDefaults) {
  ProviderConfig d;
  EXPECT_TRUE(d.stream);
  EXPECT_EQ(d.first_byte_timeout_s, 120);
  EXPECT_EQ(d.idle_timeout_s, 60);
  EXPECT_EQ(d.request_timeout_s, 600);
  EXPECT_EQ(d.max_reply_bytes, 1 << 20);

  fs::path f = Write("s.toml", R"([provider]
base_url = "http://x/v1"
model = "m"
stream = false
first_byte_timeout_s = 30
idle_timeout_s = 7.5
max_reply_bytes = 65536
)");
  auto c = LoadProviderConfig(f, Env({}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->Validate().ok()) << c->Validate().ToString();
  EXPECT_FALSE(c->stream);
  EXPECT_EQ(c->first_byte_timeout_s, 30);
  EXPECT_EQ(c->idle_timeout_s, 7.5);
  EXPECT_EQ(c->max_reply_bytes, 65536);
  EXPECT_EQ(c->origin.at("idle_timeout_s"), f.string() + ":6");
  nlohmann::json j = c->ToJson();
  EXPECT_EQ(j["stream"], false);
  EXPECT_EQ(j["first_byte_timeout_s"], 30.0);
  EXPECT_EQ(j["idle_timeout_s"], 7.5);
  EXPECT_EQ(j["max_reply_bytes"], 65536);

  auto e = LoadProviderConfig(f, Env({{"EVOKERNEL_STREAM", "true"},
                                      {"EVOKERNEL_FIRST_BYTE_TIMEOUT", "45"},
                                      {"EVOKERNEL_IDLE_TIMEOUT", "9"},
                                      {"EVOKERNEL_MAX_REPLY_BYTES", "2048"}}));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_TRUE(e->stream);
  EXPECT_EQ(e->first_byte_timeout_s, 45);
  EXPECT_EQ(e->idle_timeout_s, 9);
  EXPECT_EQ(e->max_reply_bytes, 2048);
  EXPECT_EQ(e->origin.at("stream"), "$EVOKERNEL_STREAM");
}

TEST_F(ConfigTest, BadStreamingTimeoutAndCapValuesNameTheKey) {
  auto env = [](const std::map<std::string, std::string>& extra) {
    std::map<std::string, std::string> vars = {{"EVOKERNEL_MODEL", "m"},
                                               {"EVOKERNEL_BASE_URL", "http://x/v1"}};
    vars.insert(extra.begin(), extra.end());
    return Env(vars);
  };
  auto stream = LoadProviderConfig("", env({{"EVOKERNEL_STREAM", "maybe"}}));
  ASSERT_FALSE(stream.ok());
  EXPECT_NE(stream.status().message().find(
                "$EVOKERNEL_STREAM: provider.stream must be true or false, got 'maybe'"),
            std::string::npos)
      << stream.status().message();

  auto quoted = LoadProviderConfig(Write("q.toml", "[provider]\nstream = \"yes\"\n"), Env({}));
  ASSERT_FALSE(quoted.ok());
  EXPECT_NE(quoted.status().message().find("q.toml:2: provider.stream must be true or false"),
            std::string::npos)
      << quoted.status().message();

  auto words = LoadProviderConfig(Write("w.toml", "[provider]\nidle_timeout_s = \"1m\"\n"), Env({}));
  ASSERT_FALSE(words.ok());
  EXPECT_NE(words.status().message().find("w.toml:2: provider.idle_timeout_s must be a number"),
            std::string::npos)
      << words.status().message();

  struct Case {
    const char* var;
    const char* value;
    const char* expect;
  };
  for (const Case& k : {
           Case{"EVOKERNEL_FIRST_BYTE_TIMEOUT", "0",
                "$EVOKERNEL_FIRST_BYTE_TIMEOUT: provider.first_byte_timeout_s must be > 0"},
           Case{"EVOKERNEL_IDLE_TIMEOUT", "-1",
                "$EVOKERNEL_IDLE_TIMEOUT: provider.idle_timeout_s must be > 0"},
           Case{"EVOKERNEL_MAX_REPLY_BYTES", "100",
                "$EVOKERNEL_MAX_REPLY_BYTES: provider.max_reply_bytes = 100 is outside [1024, "},
           Case{"EVOKERNEL_MAX_REPLY_BYTES", "1000000000000",
                "provider.max_reply_bytes = 1000000000000 is outside"},
       }) {
    auto c = LoadProviderConfig("", env({{k.var, k.value}}));
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    Status st = c->Validate();
    EXPECT_NE(st.message().find(k.expect), std::string::npos) << k.var << ": " << st.message();
    EXPECT_FALSE(MakeProvider(*c).ok());
  }
  auto not_int = LoadProviderConfig("", env({{"EVOKERNEL_MAX_REPLY_BYTES", "1MiB"}}));
  ASSERT_FALSE(not_int.ok());
  EXPECT_NE(not_int.status().message().find("provider.max_reply_bytes must be an integer"),
            std::string::npos)
      << not_int.status().message();
}

TEST_F(ConfigTest, ShippedPriceTableParses) {
  std::map<std::string, Price> prices;
  Status st = LoadPriceTable(DefaultPriceTablePath(), prices);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_GE(prices.size(), 4u);
  for (const auto& [model, p] : prices) {
    EXPECT_GT(p.input_per_mtok, 0) << model;
    EXPECT_GE(p.output_per_mtok, p.input_per_mtok) << model;
  }
  // The default config picks it up.
  auto c = LoadProviderConfig("", Env({}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->prices.size(), prices.size());
}

// ------------------------------------------------------------------------- evokernel llm ping

TEST_F(ProviderTest, PingCliReportsWhatTheEndpointSaid) {
  server_->Push(TextWithUsage("pong from the script", 11, 4));
  server_->Push(TextWithUsage("pong again", 11, 2));
  auto r = testing::RunCli(
      {"llm", "ping", "--base-url", server_->openai_base_url(), "--model", "tiny"}, 60);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("\"pong from the script\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(server_->openai_base_url() + "/chat/completions"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("11 in, 4 out"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("finish       stop"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cost         unknown"), std::string::npos) << r.out;
  auto got = server_->Requests().at(0);
  EXPECT_EQ(got.json["model"], "tiny");
  EXPECT_EQ(got.json["max_tokens"], 64);

  auto j = testing::RunCli({"llm", "ping", "--json", "--model", "tiny"}, 60,
                           {{"EVOKERNEL_BASE_URL", server_->openai_base_url()}});
  ASSERT_EQ(j.exit_code, 0) << j.out << j.err;
  ASSERT_TRUE(j.json.is_object()) << j.out;
  EXPECT_EQ(j.json["text"], "pong again");
  EXPECT_EQ(j.json["endpoint"], server_->openai_base_url() + "/chat/completions");
  EXPECT_EQ(j.json["usage"]["output_tokens"], 2);
  EXPECT_EQ(j.json["from_cache"], false);
  EXPECT_EQ(j.json["config"]["model"], "tiny");
}

TEST_F(ProviderTest, PingCliAnthropicFromConfigFile) {
  auto dir = MakeTempDir("evk-llm-ping-");
  ASSERT_TRUE(dir.ok());
  ScopedDir cleanup(*dir);
  fs::path f = *dir / "evk.toml";
  ASSERT_TRUE(
      WriteFileAtomic(f, "[provider]\nkind = \"anthropic\"\nbase_url = \"" + server_->url() +
                             "\"\nmodel = \"claude-test\"\n[provider.prices.\"claude-test\"]\n"
                             "input_per_mtok = 3\noutput_per_mtok = 15\n")
          .ok());
  server_->Push(TextWithUsage("hi", 1000, 1000));
  auto r = testing::RunCli({"llm", "ping", "--config", f.string()}, 60);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(server_->url() + "/v1/messages (anthropic)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("$0.018000"), std::string::npos) << r.out;
  EXPECT_EQ(server_->Requests().at(0).path, "/v1/messages");
}

TEST(PingCli, WithoutConfigurationSaysWhatToConfigure) {
  auto r = testing::RunCli({"llm", "ping"}, 60);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  for (const char* needle :
       {"no LLM endpoint is configured", "EVOKERNEL_BASE_URL", "EVOKERNEL_MODEL", "--config",
        "vLLM", "Ollama", "llama.cpp", "OpenAI", "Anthropic"})
    EXPECT_NE(r.err.find(needle), std::string::npos) << needle << " missing from: " << r.err;
}

TEST_F(ProviderTest, PingCliFailureKeepsTheKeySecret) {
  const std::string key = "sk-SENTINEL-cli-0a1b2c3d4e";
  server_->SetDefault(ScriptStep::Error(401, "Incorrect API key provided: " + key));
  auto r = testing::RunCli(
      {"llm", "ping", "--model", "m"}, 60,
      {{"EVOKERNEL_BASE_URL", server_->openai_base_url()}, {"OPENAI_API_KEY", key}});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("HTTP 401"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(key), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find(key), std::string::npos) << r.out;
  EXPECT_EQ(server_->Requests().at(0).Header("Authorization"), "Bearer " + key);
}

// ------------------------------------------------------------------------- the server executable

TEST(ScriptedServerProcess, ServesAScriptWithMatchRules) {
  auto dir = MakeTempDir("evk-llm-server-");
  ASSERT_TRUE(dir.ok());
  ScopedDir cleanup(*dir);
  nlohmann::json script = {
      {"model", "scripted"},
      {"match",
       {{{"pattern", "wrong_answer"}, {"field", "last_user"}, {"text", "repaired kernel"}}}},
      {"steps", {{{"text", "first draft"}}}},
      {"default", {{"status", 503}, {"error", "no more"}}}};
  ASSERT_TRUE(WriteFileAtomic(*dir / "script.json", script.dump()).ok());
  SpawnOptions so;
  so.argv = {SCRIPTED_LLM_SERVER,      "--script", (*dir / "script.json").string(), "--port-file",
             (*dir / "port").string(), "--log",    (*dir / "log.jsonl").string()};
  so.pipe_stdin = false;
  so.pipe_stdout = false;
  so.stderr_path = (*dir / "stderr.txt").string();
  auto proc = Subprocess::Spawn(so);
  ASSERT_TRUE(proc.ok()) << proc.status().ToString();
  std::string port;
  for (int i = 0; i < 500 && port.empty(); ++i) {
    if (auto t = ReadFile(*dir / "port"); t.ok())
      port = *t;
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(port.empty()) << ReadFileTail(*dir / "stderr.txt", 2000);
  while (!port.empty() && port.back() == '\n') port.pop_back();

  ProviderConfig c;
  c.base_url = "http://127.0.0.1:" + port + "/v1";
  c.model = "m";
  c.max_retries = 0;
  c.api_key_env = kKeyEnv;
  auto p = MakeProvider(c);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto draft = (*p)->Complete(Hello("write the kernel"));
  ASSERT_TRUE(draft.ok()) << draft.status().ToString();
  EXPECT_EQ(draft->text, "first draft");
  EXPECT_EQ(draft->model, "scripted");
  auto repair = (*p)->Complete(Hello("verifier feedback: wrong_answer at output 0"));
  ASSERT_TRUE(repair.ok()) << repair.status().ToString();
  EXPECT_EQ(repair->text, "repaired kernel");
  auto exhausted = (*p)->Complete(Hello("write it again"));
  ASSERT_FALSE(exhausted.ok());
  EXPECT_NE(exhausted.status().message().find("HTTP 503: no more"), std::string::npos)
      << exhausted.status().message();

  kill((*proc)->pid(), SIGTERM);
  auto exit = (*proc)->Wait(std::chrono::seconds(10));
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->ok()) << exit->Describe();
  auto log = ReadFile(*dir / "log.jsonl");
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(std::count(log->begin(), log->end(), '\n'), 3);
  EXPECT_NE(log->find("\"answered_by\":\"match:0\""), std::string::npos) << *log;
}

}  // namespace
}  // namespace evokernel
