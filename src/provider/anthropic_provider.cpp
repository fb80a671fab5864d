// Anthropic Messages API: POST {base_url}/v1/messages.
#include <fmt/format.h>

#include "provider/http.h"

namespace evokernel {
namespace provider_internal {
namespace {

// The Messages API requires max_tokens; this is used when neither request nor config sets one.
constexpr int kDefaultMaxTokens = 4096;

class AnthropicProvider final : public HttpProvider {
 public:
  using HttpProvider::HttpProvider;
  std::string_view name() const override { return "anthropic"; }

 protected:
  nlohmann::json BuildBody(const ChatRequest& request, bool stream) const override {
    std::string system = request.system;
    nlohmann::json messages = nlohmann::json::array();
    for (const auto& m : request.messages) {
      if (m.role == "system") {  // the Messages API takes the system prompt as a field
        system += (system.empty() ? "" : "\n\n") + m.content;
        continue;
      }
      messages.push_back({{"role", m.role}, {"content", m.content}});
    }
    nlohmann::json body = {{"model", config_.model},
                           {"max_tokens", MaxTokens(request).value_or(kDefaultMaxTokens)},
                           {"messages", std::move(messages)}};
    if (!system.empty()) body["system"] = system;
    if (auto t = Temperature(request))
      body["temperature"] = std::min(*t, 1.0);  // Anthropic's range is [0, 1]
    if (!request.stop.empty()) body["stop_sequences"] = request.stop;
    if (stream) body["stream"] = true;
    return body;
  }

  std::vector<std::string> AuthHeaders(const std::string& key) const override {
    std::vector<std::string> h = {"anthropic-version: " + config_.anthropic_version};
    if (!key.empty()) h.push_back("x-api-key: " + key);
    return h;
  }

  Result<Parsed> ParseReply(const nlohmann::json& j) const override {
    Parsed p;
    if (j.contains("type") && j["type"].is_string() && j["type"] != "message")
      return InvalidArgument(
          fmt::format("\"type\" is \"{}\", expected \"message\"", j["type"].get<std::string>()));
    auto content = j.find("content");
    if (content == j.end()) return InvalidArgument("no \"content\" field");
    if (!content->is_array())
      return InvalidArgument(
          fmt::format("\"content\" is a {}, expected an array of blocks", TypeName(*content)));
    for (const auto& block : *content) {
      if (!block.is_object()) return InvalidArgument("a \"content\" block is not an object");
      // Thinking and tool-use blocks are not part of the answer.
      if (block.value("type", "") == "text") {
        if (!block.contains("text") || !block["text"].is_string())
          return InvalidArgument("a text block of \"content\" has no \"text\" string");
        p.text += block["text"].get<std::string>();
      }
    }
    std::string sr = j.contains("stop_reason") && j["stop_reason"].is_string()
                         ? j["stop_reason"].get<std::string>()
                         : "";
    p.finish_reason = NormalisedStop(sr);
    if (j.contains("model") && j["model"].is_string()) p.model = j["model"].get<std::string>();
    auto usage = j.find("usage");
    if (usage != j.end() && usage->is_object() && usage->contains("input_tokens") &&
        usage->contains("output_tokens") && (*usage)["input_tokens"].is_number_integer() &&
        (*usage)["output_tokens"].is_number_integer()) {
      p.input_tokens = (*usage)["input_tokens"].get<int64_t>();
      p.output_tokens = (*usage)["output_tokens"].get<int64_t>();
    }
    return p;
  }

  std::unique_ptr<StreamDecoder> NewStreamDecoder() const override {
    return std::make_unique<Decoder>();
  }

  std::string SalvageText(std::string_view cut_body) const override {
    return JsonStringPrefix(cut_body, "text");  // the first text block
  }

 private:
  static std::string NormalisedStop(const std::string& sr) {
    return (sr == "end_turn" || sr == "stop_sequence") ? "stop"
           : sr == "max_tokens"                        ? "length"
                                                       : "other";
  }

  // Messages streaming: message_start (model, usage.input_tokens), content_block_start / _delta /
  // _stop (text_delta extends the text; thinking and tool deltas are skipped), message_delta
  // (stop_reason, usage.output_tokens), message_stop; ping events; an error event is the API
  // failing mid-stream (overloaded_error, ...). The event's own "type" decides, the SSE event
  // name being the same.
  class Decoder final : public StreamDecoder {
   public:
    Status OnEvent(const SseEvent& e) override {
      nlohmann::json j = nlohmann::json::parse(e.data, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded())
        return InvalidArgument(
            fmt::format("the data of a{} event is not JSON", e.type.empty() ? "n" : " " + e.type));
      if (!j.is_object())
        return InvalidArgument(fmt::format("an event is a JSON {}, expected an object", TypeName(j)));
      std::string type = j.contains("type") && j["type"].is_string() ? j["type"].get<std::string>()
                                                                      : e.type;
      if (type == "error" || (j.contains("error") && !j["error"].is_null()))
        return ErrorObjectStatus(j);
      if (type == "message_start") {
        const auto& m = j.contains("message") ? j["message"] : nlohmann::json();
        if (!m.is_object()) return InvalidArgument("message_start has no \"message\" object");
        if (m.contains("model") && m["model"].is_string())
          parsed.model = m["model"].get<std::string>();
        ReadUsage(m, /*final=*/false);
      } else if (type == "content_block_start") {
        const auto& b = j.contains("content_block") ? j["content_block"] : nlohmann::json();
        if (b.is_object() && b.value("type", "") == "text" && b.contains("text") &&
            b["text"].is_string())
          parsed.text += b["text"].get_ref<const std::string&>();
      } else if (type == "content_block_delta") {
        const auto& d = j.contains("delta") ? j["delta"] : nlohmann::json();
        if (!d.is_object()) return InvalidArgument("content_block_delta has no \"delta\" object");
        if (d.value("type", "") == "text_delta") {
          if (!d.contains("text") || !d["text"].is_string())
            return InvalidArgument("a text_delta has no \"text\" string");
          parsed.text += d["text"].get_ref<const std::string&>();
        }
      } else if (type == "message_delta") {
        if (j.contains("delta") && j["delta"].is_object() && j["delta"].contains("stop_reason") &&
            j["delta"]["stop_reason"].is_string()) {
          parsed.finish_reason = NormalisedStop(j["delta"]["stop_reason"].get<std::string>());
          finished = true;
        }
        ReadUsage(j, /*final=*/true);
      } else if (type == "message_stop") {
        done = true;
      }
      // ping, content_block_stop and event types added later: nothing to do.
      return Status::Ok();
    }

   private:
    // message_start's usage has the input tokens (and a provisional output count);
    // message_delta's has the final output count (and, in newer versions, the input again).
    void ReadUsage(const nlohmann::json& holder, bool final) {
      if (!holder.contains("usage") || !holder["usage"].is_object()) return;
      const auto& u = holder["usage"];
      if (u.contains("input_tokens") && u["input_tokens"].is_number_integer())
        parsed.input_tokens = u["input_tokens"].get<int64_t>();
      if (final && u.contains("output_tokens") && u["output_tokens"].is_number_integer())
        parsed.output_tokens = u["output_tokens"].get<int64_t>();
    }
  };
};

}  // namespace

std::unique_ptr<Provider> NewAnthropicProvider(const ProviderConfig& config) {
  return std::make_unique<AnthropicProvider>(config);
}

}  // namespace provider_internal
}  // namespace evokernel
