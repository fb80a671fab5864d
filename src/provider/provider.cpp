#include "provider/provider.h"

#include <fmt/format.h>

#include "common/fs.h"
#include "provider/http.h"
#include "provider/ledger.h"

namespace evokernel {

nlohmann::json ChatResponse::ToJson() const {
  return {{"text", text},
          {"finish_reason", finish_reason},
          {"model", model},
          {"usage",
           {{"input_tokens", usage.input_tokens},
            {"output_tokens", usage.output_tokens},
            {"cost_usd", usage.cost_usd},
            {"estimated", usage.estimated},
            {"cost_known", usage.cost_known}}},
          {"latency_s", latency_s},
          {"attempts", attempts},
          {"from_cache", from_cache},
          {"request_hash", request_hash},
          {"endpoint", endpoint},
          {"oversized", oversized}};
}

Result<ChatResponse> ChatResponse::FromJson(const nlohmann::json& j) {
  if (!j.is_object()) return InvalidArgument("chat response: expected a JSON object");
  ChatResponse r;
  auto str = [&j](const char* key, std::string& out) -> Status {
    if (!j.contains(key) || !j[key].is_string())
      return InvalidArgument(fmt::format("chat response: \"{}\" missing or not a string", key));
    out = j[key].get<std::string>();
    return Status::Ok();
  };
  EVK_RETURN_IF_ERROR(str("text", r.text));
  EVK_RETURN_IF_ERROR(str("finish_reason", r.finish_reason));
  EVK_RETURN_IF_ERROR(str("model", r.model));
  if (!j.contains("usage") || !j["usage"].is_object())
    return InvalidArgument("chat response: \"usage\" missing or not an object");
  const auto& u = j["usage"];
  if (!u.contains("input_tokens") || !u["input_tokens"].is_number_integer() ||
      !u.contains("output_tokens") || !u["output_tokens"].is_number_integer())
    return InvalidArgument(
        "chat response: usage.input_tokens / usage.output_tokens missing or not integers");
  r.usage.input_tokens = u["input_tokens"].get<int64_t>();
  r.usage.output_tokens = u["output_tokens"].get<int64_t>();
  r.usage.cost_usd = u.value("cost_usd", 0.0);
  r.usage.estimated = u.value("estimated", false);
  r.usage.cost_known = u.value("cost_known", false);
  r.latency_s = j.value("latency_s", 0.0);
  r.attempts = j.value("attempts", 0);
  r.from_cache = j.value("from_cache", false);
  r.request_hash = j.value("request_hash", "");
  r.endpoint = j.value("endpoint", "");
  r.oversized = j.value("oversized", false);  // absent in entries written before the cap existed
  return r;
}

Result<ChatResponse> Provider::CompleteWithDetail(const ChatRequest& request,
                                                  FailureDetail* detail) {
  *detail = FailureDetail{};
  auto r = Complete(request);
  detail->attempts = 1;
  if (!r.ok()) {
    StatusCode c = r.status().code();
    detail->retryable = c == StatusCode::kTimeout || c == StatusCode::kUnavailable;
    detail->timed_out = c == StatusCode::kTimeout;
  }
  return r;
}

Result<ChatResponse> ProviderWrapper::Complete(const ChatRequest& request) {
  FailureDetail detail;
  return CompleteWithDetail(request, &detail);
}

nlohmann::json CanonicalRequest(const ProviderConfig& config, const ChatRequest& request) {
  nlohmann::json messages = nlohmann::json::array();
  for (const auto& m : request.messages)
    messages.push_back({{"role", m.role}, {"content", m.content}});
  std::optional<double> temperature =
      request.temperature ? request.temperature : config.temperature;
  std::optional<int> max_tokens = request.max_tokens ? request.max_tokens : config.max_tokens;
  return {{"v", 1},
          {"kind", config.kind},
          {"base_url", config.EffectiveBaseUrl()},
          {"model", config.model},
          {"system", request.system},
          {"messages", std::move(messages)},
          {"temperature", temperature ? nlohmann::json(*temperature) : nlohmann::json()},
          {"max_tokens", max_tokens ? nlohmann::json(*max_tokens) : nlohmann::json()},
          {"stop", request.stop},
          {"sample_index", request.sample_index}};
}

std::string RequestHash(const ProviderConfig& config, const ChatRequest& request) {
  // nlohmann::json objects are key-sorted, so dump() is canonical.
  return Sha256Hex(CanonicalRequest(config, request)
                       .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

Result<std::unique_ptr<Provider>> MakeHttpProvider(const ProviderConfig& config) {
  if (config.kind == "openai") return provider_internal::NewOpenAIProvider(config);
  if (config.kind == "anthropic") return provider_internal::NewAnthropicProvider(config);
  return InvalidArgument(fmt::format(
      "provider.kind '{}' is not supported; use \"openai\" or \"anthropic\"", config.kind));
}

Result<std::unique_ptr<Provider>> MakeProvider(const ProviderConfig& config,
                                               std::shared_ptr<UsageLedger> ledger) {
  EVK_RETURN_IF_ERROR(config.Validate());
  EVK_ASSIGN_OR_RETURN(std::unique_ptr<Provider> p, MakeHttpProvider(config));
  p = NewConcurrencyLimitedProvider(std::move(p), config.concurrency);
  RetryOptions ro;
  ro.max_retries = config.max_retries;
  ro.backoff_base_s = config.backoff_base_s;
  ro.backoff_max_s = config.backoff_max_s;
  p = NewRetryingProvider(std::move(p), ro);
  if (!config.cache_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(config.cache_dir, ec);
    if (ec || !std::filesystem::is_directory(config.cache_dir))
      return IoError(fmt::format(
          "cannot create the response cache directory {} (provider.cache_dir, set at {}): {}",
          config.cache_dir,
          config.origin.count("cache_dir") ? config.origin.at("cache_dir") : "default",
          ec ? ec.message() : "not a directory"));
    p = NewCachingProvider(std::move(p), config.cache_dir);
  }
  return NewAccountingProvider(std::move(p), std::move(ledger));
}

}  // namespace evokernel
