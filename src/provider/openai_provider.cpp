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
  nlohmann::json BuildBody(const ChatRequest& request, bool stream) const override {
    nlohmann::json messages = nlohmann::json::array();
    if (!request.system.empty())
      messages.push_back({{"role", "system"}, {"content", request.system}});
    for (const auto& m : request.messages)
      messages.push_back({{"role", m.role}, {"content", m.content}});
    nlohmann::json body = {{"model", config_.model}, {"messages", std::move(messages)}};
    if (auto t = Temperature(request)) body["temperature"] = *t;
    if (auto n = MaxTokens(request)) body[config_.max_tokens_field] = *n;
    if (!request.stop.empty()) body["stop"] = request.stop;
    if (stream) {
      body["stream"] = true;
      // Without it the stream carries no token counts.
      body["stream_options"] = {{"include_usage", true}};
    }
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
    p.finish_reason = NormalisedFinish(fr);
    if (j.contains("model") && j["model"].is_string()) p.model = j["model"].get<std::string>();
    ReadUsage(j, p);
    return p;
  }

  std::unique_ptr<StreamDecoder> NewStreamDecoder() const override {
    return std::make_unique<Decoder>();
  }

  std::string SalvageText(std::string_view cut_body) const override {
    return JsonStringPrefix(cut_body, "content");  // choices[0].message.content
  }

 private:
  static std::string NormalisedFinish(const std::string& fr) {
    return fr == "stop" ? "stop" : fr == "length" ? "length" : "other";
  }

  // usage.prompt_tokens / completion_tokens, when both are there.
  static void ReadUsage(const nlohmann::json& j, Parsed& p) {
    auto usage = j.find("usage");
    if (usage != j.end() && usage->is_object() && usage->contains("prompt_tokens") &&
        usage->contains("completion_tokens") && (*usage)["prompt_tokens"].is_number_integer() &&
        (*usage)["completion_tokens"].is_number_integer()) {
      p.input_tokens = (*usage)["prompt_tokens"].get<int64_t>();
      p.output_tokens = (*usage)["completion_tokens"].get<int64_t>();
    }
  }

  // Chat Completions streaming: each event is a chat.completion.chunk whose
  // choices[0].delta.content extends the text; one carries finish_reason; with include_usage a
  // last chunk with empty "choices" carries "usage"; "data: [DONE]" ends the stream. An
  // {"error": ...} chunk is the server failing mid-stream.
  class Decoder final : public StreamDecoder {
   public:
    Status OnEvent(const SseEvent& e) override {
      if (e.data == "[DONE]") {
        done = true;
        return Status::Ok();
      }
      nlohmann::json j = nlohmann::json::parse(e.data, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded()) return InvalidArgument("a data line is not JSON");
      if (!j.is_object())
        return InvalidArgument(fmt::format("a chunk is a JSON {}, expected an object", TypeName(j)));
      if (j.contains("error") && !j["error"].is_null()) return ErrorObjectStatus(j);
      if (j.contains("model") && j["model"].is_string() && parsed.model.empty())
        parsed.model = j["model"].get<std::string>();
      ReadUsage(j, parsed);  // the include_usage chunk; some servers repeat it on every chunk
      auto choices = j.find("choices");
      if (choices == j.end() || choices->is_null()) return Status::Ok();
      if (!choices->is_array())
        return InvalidArgument(
            fmt::format("a chunk's \"choices\" is a {}, expected an array", TypeName(*choices)));
      for (const auto& c : *choices) {
        if (!c.is_object()) return InvalidArgument("a chunk's choice is not an object");
        if (c.contains("index") && c["index"] != 0) continue;  // only the first choice is asked for
        if (auto delta = c.find("delta"); delta != c.end() && delta->is_object()) {
          auto content = delta->find("content");
          if (content != delta->end() && !content->is_null()) {
            if (!content->is_string())
              return InvalidArgument(fmt::format(
                  "choices[0].delta.content is a {}, expected a string", TypeName(*content)));
            parsed.text += content->get_ref<const std::string&>();
          }
        }
        if (c.contains("finish_reason") && c["finish_reason"].is_string()) {
          parsed.finish_reason = NormalisedFinish(c["finish_reason"].get<std::string>());
          finished = true;
        }
      }
      return Status::Ok();
    }
  };
};

}  // namespace

std::unique_ptr<Provider> NewOpenAIProvider(const ProviderConfig& config) {
  return std::make_unique<OpenAIProvider>(config);
}

}  // namespace provider_internal
}  // namespace evokernel
