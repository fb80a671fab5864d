// OpenAI-compatible Chat Completions: POST {base_url}/chat/completions. Served by OpenAI and by
// vLLM, Ollama (/v1), llama.cpp server, SGLang, LM Studio and most gateways.
#include <fmt/format.h>

#include "provider/http.h"

namespace evokernel {
namespace provider_internal {
namespace {

class OpenAIProvider final : public HttpProvider {
 public:
  using HttpProvider::HttpProvider;
  std::string_view name() const override { return "openai"; }

 protected:
  nlohmann::json BuildBody(const ChatRequest& request) const override {
    nlohmann::json messages = nlohmann::json::array();
    if (!request.system.empty())
      messages.push_back({{"role", "system"}, {"content", request.system}});
    for (const auto& m : request.messages)
      messages.push_back({{"role", m.role}, {"content", m.content}});
    nlohmann::json body = {{"model", config_.model}, {"messages", std::move(messages)}};
    if (auto t = Temperature(request)) body["temperature"] = *t;
    if (auto n = MaxTokens(request)) body[config_.max_tokens_field] = *n;
    if (!request.stop.empty()) body["stop"] = request.stop;
    return body;
  }

  std::vector<std::string> AuthHeaders(const std::string& key) const override {
    if (key.empty()) return {};
    return {"Authorization: Bearer " + key};
  }

  Result<Parsed> ParseReply(const nlohmann::json& j) const override {
    Parsed p;
    auto choices = j.find("choices");
    if (choices == j.end()) return InvalidArgument("no \"choices\" field");
    if (!choices->is_array() || choices->empty())
      return InvalidArgument(
          fmt::format("\"choices\" is {}, expected a non-empty array",
                      choices->is_array() ? "empty" : "a " + TypeName(*choices)));
    const auto& c0 = (*choices)[0];
    if (!c0.is_object() || !c0.contains("message") || !c0["message"].is_object())
      return InvalidArgument("choices[0] has no \"message\" object");
    const auto& msg = c0["message"];
    auto content = msg.find("content");
    if (content == msg.end() || content->is_null()) {
      p.text.clear();  // e.g. a refusal or a reasoning-only reply: empty, not malformed
    } else if (content->is_string()) {
      p.text = content->get<std::string>();
    } else if (content->is_array()) {  // content parts
      for (const auto& part : *content)
        if (part.is_object() && part.value("type", "") == "text" && part.contains("text") &&
            part["text"].is_string())
          p.text += part["text"].get<std::string>();
    } else {
      return InvalidArgument(
          fmt::format("choices[0].message.content is a {}, expected a string", TypeName(*content)));
    }
    std::string fr = c0.contains("finish_reason") && c0["finish_reason"].is_string()
                         ? c0["finish_reason"].get<std::string>()
                         : "";
    p.finish_reason = fr == "stop" ? "stop" : fr == "length" ? "length" : "other";
    if (j.contains("model") && j["model"].is_string()) p.model = j["model"].get<std::string>();
    auto usage = j.find("usage");
    if (usage != j.end() && usage->is_object() && usage->contains("prompt_tokens") &&
        usage->contains("completion_tokens") && (*usage)["prompt_tokens"].is_number_integer() &&
        (*usage)["completion_tokens"].is_number_integer()) {
      p.has_usage = true;
      p.input_tokens = (*usage)["prompt_tokens"].get<int64_t>();
      p.output_tokens = (*usage)["completion_tokens"].get<int64_t>();
    }
    return p;
  }
};

}  // namespace

std::unique_ptr<Provider> NewOpenAIProvider(const ProviderConfig& config) {
  return std::make_unique<OpenAIProvider>(config);
}

}  // namespace provider_internal
}  // namespace evokernel
