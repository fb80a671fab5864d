// `evokernel llm ping`: checks that the configured LLM endpoint answers, and the provider
// options (--config, --provider, --base-url, --model) that every command talking to a model
// shares (see llm_cmd.cpp and docs/providers.md).
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "provider/config.h"

namespace CLI {
class App;
}

namespace evokernel {

struct ProviderCliOptions {
  std::string config_file;  // --config / $EVOKERNEL_CONFIG
  std::string provider;     // --provider
  std::string base_url;     // --base-url
  std::string model;        // --model
};

// Registers --config, --provider, --base-url and --model on `app`; `o` must outlive parsing.
void AddProviderOptions(CLI::App* app, ProviderCliOptions& o);

// The config file's [provider] section, then EVOKERNEL_* variables, then the flags; validated.
// kInvalidArgument saying exactly what to configure when no endpoint or model is set.
Result<ProviderConfig> ResolveProviderConfig(const ProviderCliOptions& o);

// Whether the user configured a model endpoint at all (a config file, a provider flag, or an
// EVOKERNEL_PROVIDER / _BASE_URL / _MODEL variable): false means nothing names one, so a
// command may fall back to what needs no model. A broken configuration is an error, never false.
Result<bool> EndpointConfigured(const ProviderCliOptions& o);

class LlmCommand {
 public:
  // Registers `llm` and its subcommands on `app`; the result holds the parsed options and must
  // outlive app.parse().
  static std::unique_ptr<LlmCommand> Add(CLI::App& app);
  virtual ~LlmCommand() = default;

  virtual bool parsed() const = 0;
  // Runs the parsed subcommand; returns the exit code (0 success, 2 failure).
  virtual int Run() = 0;
};

}  // namespace evokernel
