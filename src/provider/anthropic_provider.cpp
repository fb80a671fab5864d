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
  nlohmann::json BuildBody(const ChatRequest& request) const override {
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
    p.finish_reason = (sr == "end_turn" || sr == "stop_sequence") ? "stop"
                      : sr == "max_tokens"                        ? "length"
                                                                  : "other";
    if (j.contains("model") && j["model"].is_string()) p.model = j["model"].get<std::string>();
    auto usage = j.find("usage");
    if (usage != j.end() && usage->is_object() && usage->contains("input_tokens") &&
        usage->contains("output_tokens") && (*usage)["input_tokens"].is_number_integer() &&
        (*usage)["output_tokens"].is_number_integer()) {
      p.has_usage = true;
      p.input_tokens = (*usage)["input_tokens"].get<int64_t>();
      p.output_tokens = (*usage)["output_tokens"].get<int64_t>();
    }
    return p;
  }
};

}  // namespace

std::unique_ptr<Provider> NewAnthropicProvider(const ProviderConfig& config) {
  return std::make_unique<AnthropicProvider>(config);
}

}  // namespace provider_internal
}  // namespace evokernel
