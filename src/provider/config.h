// ProviderConfig: which LLM endpoint to call and how (timeouts, retries, concurrency, cache,
// prices), loaded from a TOML file's [provider] section, environment variables and flags.
//
// Precedence, lowest first: built-in defaults, the price table file, the [provider] section of
// the config file, EVOKERNEL_* environment variables, command-line flags (SetProviderField).
// The API key is never part of the configuration: the config names the environment variable
// that holds it (api_key_env) and the key is read from the environment at request time. A key
// written into a config file is rejected. See docs/providers.md.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace evokernel {

// US dollars per million tokens.
struct Price {
  double input_per_mtok = 0;
  double output_per_mtok = 0;
};

struct ProviderConfig {
  // "openai": any OpenAI-compatible Chat Completions endpoint (vLLM, Ollama, llama.cpp server,
  // hosted APIs); "anthropic": the Anthropic Messages API.
  std::string kind = "openai";
  // openai: the URL ending before /chat/completions, e.g. http://localhost:8000/v1 (required).
  // anthropic: the URL before /v1/messages; default https://api.anthropic.com.
  std::string base_url;
  std::string model;        // required
  std::string api_key_env;  // variable holding the key; empty: OPENAI_API_KEY / ANTHROPIC_API_KEY
  std::optional<double> temperature;  // default for requests that set none
  std::optional<int> max_tokens;      // default for requests that set none
  // openai only: the body field for max_tokens ("max_completion_tokens" for OpenAI's
  // reasoning models, which reject "max_tokens").
  std::string max_tokens_field = "max_tokens";
  std::map<std::string, std::string> extra_headers;  // sent with every request
  // Ask for the reply as a Server-Sent Events stream, so that a hung server is noticed within
  // idle_timeout_s; false: one JSON reply, for servers that cannot stream.
  bool stream = true;
  double connect_timeout_s = 10;  // TCP + TLS connect, per attempt
  // No byte of the reply within this long after the request was sent, per attempt. Without
  // streaming the first byte comes after the whole generation, so this bounds the generation.
  double first_byte_timeout_s = 120;
  double idle_timeout_s = 60;  // the reply, once begun, stalls this long between bytes
  double request_timeout_s =
      600;  // the whole request (connect, send, generate, receive), per attempt
  // Replies longer than this many bytes of text are cut here (ChatResponse::oversized).
  int64_t max_reply_bytes = int64_t{1} << 20;
  int max_retries = 4;  // retries after the first attempt
  double backoff_base_s = 1;
  double backoff_max_s = 60;
  int concurrency = 4;  // requests in flight at once, per provider stack
  std::map<std::string, Price>
      prices;             // model name -> price; unknown models cost 0 (cost_known=false)
  std::string cache_dir;  // response cache; empty: off
  std::string anthropic_version = "2023-06-01";  // anthropic-version header
  std::string prices_file;                       // where `prices` came from (informational)

  // Where each key was set: "FILE:LINE", "$EVOKERNEL_MODEL", "--model". For error messages.
  std::map<std::string, std::string> origin;

  std::string ApiKeyEnv() const;
  // The key from the environment; empty when unset (fine for local servers).
  std::string ApiKey() const;
  // base_url with the anthropic default applied and trailing slashes removed.
  std::string EffectiveBaseUrl() const;
  // The URL requests are POSTed to.
  std::string Endpoint() const;
  // The price of `model`, if listed.
  std::optional<Price> PriceFor(std::string_view model) const;
  // Checks required fields and ranges. kInvalidArgument naming the key, where it was set and
  // what to do; when no endpoint or model is configured the message carries
  // ConfigurationHint().
  Status Validate() const;
  // For run records: everything but secrets (extra header values are left out, the key is
  // represented by its variable name and whether it is set).
  nlohmann::json ToJson() const;
};

// The environment variables read by LoadProviderConfig and the config key each sets.
struct ProviderEnvVar {
  const char* env;
  const char* key;
};
const std::vector<ProviderEnvVar>& ProviderEnvVars();

// Multi-line text telling a user exactly what to configure, with examples for vLLM, Ollama,
// llama.cpp server, OpenAI and Anthropic.
std::string ConfigurationHint();

using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
// getenv(); empty values count as unset.
EnvLookup ProcessEnvironment();

// Reads the price table (TOML: [prices."MODEL"] input_per_mtok = X, output_per_mtok = Y) into
// `prices`; listed models replace existing entries, others are kept. kInvalidArgument with
// file:line on malformed input.
Status LoadPriceTable(const std::filesystem::path& file, std::map<std::string, Price>& prices);
// config/prices.toml in DataDir() (the shipped example table).
std::filesystem::path DefaultPriceTablePath();

// Defaults, then the price table ($EVOKERNEL_PRICES_FILE, `prices_file` in the file, else the
// shipped default when present), then `file`'s [provider] section (when `file` is not empty),
// then the environment. Does not Validate(): flags may still follow. Errors name the file and
// line, or the variable, and say what is accepted.
Result<ProviderConfig> LoadProviderConfig(const std::filesystem::path& file,
                                          const EnvLookup& env = ProcessEnvironment());

// Sets one key from its text form (as in an environment variable or a flag); `origin` names
// where it came from. Keys: kind, base_url, model, api_key_env, temperature, max_tokens,
// max_tokens_field, stream, connect_timeout_s, first_byte_timeout_s, idle_timeout_s,
// request_timeout_s, max_reply_bytes, max_retries, backoff_base_s, backoff_max_s, concurrency,
// cache_dir, anthropic_version, prices_file (loads the table).
Status SetProviderField(ProviderConfig& config, std::string_view key, std::string_view value,
                        std::string_view origin);

}  // namespace evokernel
