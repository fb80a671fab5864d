#include "cli/llm_cmd.h"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "provider/ledger.h"
#include "provider/provider.h"

namespace evokernel {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 2;

int Fail(const Status& st) {
  std::cerr << "evokernel: error: " << st.ToString() << "\n";
  return kExitFailure;
}

struct PingArgs {
  ProviderCliOptions provider;
  std::string prompt = "Reply with the single word: pong";
  int max_tokens = 0;
  bool json = false;
};

int RunPing(const PingArgs& a) {
  auto config = ResolveProviderConfig(a.provider);
  if (!config.ok()) return Fail(config.status());
  config->cache_dir.clear();  // a ping must reach the endpoint, never a cached answer
  ChatRequest request;
  request.messages = {{"user", a.prompt}};
  if (a.max_tokens > 0)
    request.max_tokens = a.max_tokens;
  else if (!config->max_tokens)
    request.max_tokens = 64;
  request.phase = "ping";

  auto ledger = std::make_shared<UsageLedger>();
  auto provider = MakeProvider(*config, ledger);
  if (!provider.ok()) return Fail(provider.status());
  if (!a.json && isatty(2)) std::cerr << "asking " << config->Endpoint() << " ...\n";
  auto r = (*provider)->Complete(request);
  if (!r.ok()) return Fail(r.status());

  if (a.json) {
    nlohmann::json j = r->ToJson();
    j["kind"] = config->kind;
    j["model_requested"] = config->model;
    j["prompt"] = a.prompt;
    j["config"] = config->ToJson();
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  const Usage& u = r->usage;
  std::cout << fmt::format("endpoint     {} ({})\n", r->endpoint, config->kind);
  std::cout << fmt::format(
      "model        {}{}\n", r->model,
      r->model == config->model ? "" : fmt::format(" (requested {})", config->model));
  std::cout << fmt::format("reply        {}\n", nlohmann::json(r->text).dump());
  std::cout << fmt::format("finish       {}{}\n", r->finish_reason,
                           r->oversized ? fmt::format(" (the reply passed max_reply_bytes = {} and was cut there)",
                                                      config->max_reply_bytes)
                                        : "");
  std::cout << fmt::format("latency      {:.3f} s ({} attempt{})\n", r->latency_s, r->attempts,
                           r->attempts == 1 ? "" : "s");
  std::cout << fmt::format(
      "tokens       {} in, {} out{}\n", u.input_tokens, u.output_tokens,
      u.estimated ? " (estimated as chars/4: the endpoint reported no usage)" : "");
  if (u.cost_known)
    std::cout << fmt::format("cost         ${:.6f} (price table {})\n", u.cost_usd,
                             config->prices_file.empty() ? "from the config" : config->prices_file);
  else
    std::cout << fmt::format(
        "cost         unknown: model '{}' is not in the price table{} (counted as $0)\n",
        config->model, config->prices_file.empty() ? "" : " " + config->prices_file);
  std::cout << "(the reply is shown as received from the endpoint above; an API key in it would "
               "read <redacted>)\n";
  return kExitOk;
}

class LlmCommandImpl final : public LlmCommand {
 public:
  explicit LlmCommandImpl(CLI::App& app) {
    llm_ = app.add_subcommand("llm", "Check the LLM endpoint (configuration: docs/providers.md)");
    llm_->require_subcommand(1);
    ping_ = llm_->add_subcommand(
        "ping",
        "Send a one-line prompt to the configured endpoint and show the reply, "
        "latency, tokens and cost");
    AddProviderOptions(ping_, ping_args_.provider);
    ping_->add_option("--prompt", ping_args_.prompt, "The prompt to send")
        ->default_val(ping_args_.prompt);
    ping_
        ->add_option("--max-tokens", ping_args_.max_tokens,
                     "Output token limit (default: the config's, else 64)")
        ->check(CLI::Range(0, 1 << 20));
    ping_->add_flag("--json", ping_args_.json, "Machine-readable JSON on stdout");
  }

  bool parsed() const override { return llm_->parsed(); }
  int Run() override {
    if (ping_->parsed()) return RunPing(ping_args_);
    return kExitFailure;
  }

 private:
  CLI::App* llm_ = nullptr;
  CLI::App* ping_ = nullptr;
  PingArgs ping_args_;
};

}  // namespace

void AddProviderOptions(CLI::App* app, ProviderCliOptions& o) {
  app->add_option("--config", o.config_file, "TOML file with a [provider] section (default: none)")
      ->envname("EVOKERNEL_CONFIG")
      ->check(CLI::ExistingFile);
  app->add_option(
      "--provider", o.provider,
      "openai (any OpenAI-compatible server: vLLM, Ollama, llama.cpp, OpenAI) or anthropic "
      "(default: $EVOKERNEL_PROVIDER, else the config's, else openai)");
  app->add_option(
      "--base-url", o.base_url,
      "Endpoint base URL, e.g. http://localhost:8000/v1 (default: $EVOKERNEL_BASE_URL, else the "
      "config's; anthropic: https://api.anthropic.com)");
  app->add_option("--model", o.model, "Model name (default: $EVOKERNEL_MODEL, else the config's)");
}

namespace {

// The config file, then EVOKERNEL_* variables, then the flags; not yet validated.
Result<ProviderConfig> MergeProviderConfig(const ProviderCliOptions& o) {
  EVK_ASSIGN_OR_RETURN(ProviderConfig c, LoadProviderConfig(o.config_file));
  if (!o.provider.empty())
    EVK_RETURN_IF_ERROR(SetProviderField(c, "kind", o.provider, "--provider"));
  if (!o.base_url.empty())
    EVK_RETURN_IF_ERROR(SetProviderField(c, "base_url", o.base_url, "--base-url"));
  if (!o.model.empty()) EVK_RETURN_IF_ERROR(SetProviderField(c, "model", o.model, "--model"));
  return c;
}

}  // namespace

Result<ProviderConfig> ResolveProviderConfig(const ProviderCliOptions& o) {
  EVK_ASSIGN_OR_RETURN(ProviderConfig c, MergeProviderConfig(o));
  EVK_RETURN_IF_ERROR(c.Validate());
  return c;
}

Result<bool> EndpointConfigured(const ProviderCliOptions& o) {
  if (!o.config_file.empty() || !o.provider.empty() || !o.base_url.empty() || !o.model.empty()) return true;
  EVK_ASSIGN_OR_RETURN(ProviderConfig c, MergeProviderConfig(o));
  return !(c.kind == "openai" && c.base_url.empty() && c.model.empty());
}

std::unique_ptr<LlmCommand> LlmCommand::Add(CLI::App& app) {
  return std::make_unique<LlmCommandImpl>(app);
}

}  // namespace evokernel
