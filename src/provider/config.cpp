#include "provider/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "common/strings.h"
#include "common/fs.h"

namespace evokernel {
namespace fs = std::filesystem;

namespace {

// max_reply_bytes: at least a short kernel; at most what four copies of (the transport cap on a
// reply is four times this) comfortably fit in memory per request in flight.
constexpr int64_t kMinReplyBytes = 1024;
constexpr int64_t kMaxReplyBytes = int64_t{256} << 20;

constexpr const char* kAllowedKinds =
    "\"openai\" (any OpenAI-compatible Chat Completions endpoint: vLLM, "
    "Ollama, llama.cpp server, OpenAI and other hosted APIs) or "
    "\"anthropic\" (the Anthropic Messages API)";

const std::vector<std::string>& FileKeys() {
  static const std::vector<std::string> kKeys = {"kind",
                                                 "base_url",
                                                 "model",
                                                 "api_key_env",
                                                 "temperature",
                                                 "max_tokens",
                                                 "max_tokens_field",
                                                 "extra_headers",
                                                 "stream",
                                                 "connect_timeout_s",
                                                 "first_byte_timeout_s",
                                                 "idle_timeout_s",
                                                 "request_timeout_s",
                                                 "max_reply_bytes",
                                                 "max_retries",
                                                 "backoff_base_s",
                                                 "backoff_max_s",
                                                 "concurrency",
                                                 "cache_dir",
                                                 "anthropic_version",
                                                 "prices_file",
                                                 "prices"};
  return kKeys;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}


Result<double> ParseDouble(std::string_view text, std::string_view origin, std::string_view key) {
  std::string t = Trim(text);
  double v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || p != t.data() + t.size() || !std::isfinite(v))
    return InvalidArgument(
        fmt::format("{}: provider.{} must be a number, got '{}'", origin, key, t));
  return v;
}

Result<int64_t> ParseInt(std::string_view text, std::string_view origin, std::string_view key) {
  std::string t = Trim(text);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || p != t.data() + t.size())
    return InvalidArgument(
        fmt::format("{}: provider.{} must be an integer, got '{}'", origin, key, t));
  return v;
}

Result<bool> ParseBool(std::string_view text, std::string_view origin, std::string_view key) {
  std::string t = Trim(text);
  std::string l = t;
  for (char& ch : l) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (l == "true" || l == "1" || l == "yes" || l == "on") return true;
  if (l == "false" || l == "0" || l == "no" || l == "off") return false;
  return InvalidArgument(
      fmt::format("{}: provider.{} must be true or false, got '{}'", origin, key, t));
}

std::string Where(const fs::path& file, const toml::node& n) {
  return file.string() + ":" + std::to_string(n.source().begin.line);
}

Result<toml::table> ParseTomlFile(const fs::path& file, std::string_view what) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec))
    return InvalidArgument(
        fmt::format("{} {} does not exist or is not a file", what, file.string()));
  try {
    return toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    return InvalidArgument(fmt::format("{}:{}:{}: {} is not valid TOML: {}", file.string(),
                                       e.source().begin.line, e.source().begin.column, what,
                                       std::string(e.description())));
  } catch (const std::exception& e) {
    return InvalidArgument(fmt::format("{}: cannot read {}: {}", file.string(), what, e.what()));
  }
}

// A relative path written in a file is relative to that file's directory.
std::string ResolveAgainst(const fs::path& file, const std::string& p) {
  if (p.empty() || fs::path(p).is_absolute() || file.empty()) return p;
  return (file.parent_path() / p).lexically_normal().string();
}

Result<double> TomlDouble(const toml::node& n, const fs::path& file, const std::string& key) {
  if (auto v = n.as_floating_point()) return v->get();
  if (auto v = n.as_integer()) return static_cast<double>(v->get());
  return InvalidArgument(fmt::format("{}: {} must be a number", Where(file, n), key));
}

Result<int64_t> TomlInt(const toml::node& n, const fs::path& file, const std::string& key) {
  if (auto v = n.as_integer()) return v->get();
  return InvalidArgument(fmt::format("{}: {} must be an integer", Where(file, n), key));
}

Result<bool> TomlBool(const toml::node& n, const fs::path& file, const std::string& key) {
  if (auto v = n.as_boolean()) return v->get();
  return InvalidArgument(
      fmt::format("{}: {} must be true or false (without quotes)", Where(file, n), key));
}

Result<std::string> TomlString(const toml::node& n, const fs::path& file, const std::string& key) {
  if (auto v = n.as_string()) return v->get();
  return InvalidArgument(
      fmt::format("{}: {} must be a string (in double quotes)", Where(file, n), key));
}

// Applies one price table (`[prices."MODEL"]` or `[provider.prices."MODEL"]`).
Status ApplyPrices(const toml::table& table, const fs::path& file, const std::string& prefix,
                   std::map<std::string, Price>& prices) {
  for (const auto& [model_key, node] : table) {
    std::string model(model_key.str());
    std::string name = prefix + ".\"" + model + "\"";
    const toml::table* t = node.as_table();
    if (!t)
      return InvalidArgument(fmt::format(
          "{}: {} must be a table like {{ input_per_mtok = 3.0, output_per_mtok = 15.0 }} (USD per "
          "million tokens)",
          Where(file, node), name));
    Price price;
    bool have_in = false, have_out = false;
    for (const auto& [k, v] : *t) {
      std::string key(k.str());
      if (key == "input_per_mtok" || key == "output_per_mtok") {
        EVK_ASSIGN_OR_RETURN(double d, TomlDouble(v, file, name + "." + key));
        if (d < 0)
          return InvalidArgument(fmt::format("{}: {}.{} must be >= 0", Where(file, v), name, key));
        (key == "input_per_mtok" ? price.input_per_mtok : price.output_per_mtok) = d;
        (key == "input_per_mtok" ? have_in : have_out) = true;
      } else {
        return InvalidArgument(
            fmt::format("{}: unknown key '{}' in {} (allowed: input_per_mtok, "
                        "output_per_mtok)",
                        Where(file, v), key, name));
      }
    }
    if (!have_in || !have_out)
      return InvalidArgument(fmt::format("{}: {} needs both input_per_mtok and output_per_mtok",
                                         Where(file, node), name));
    prices[model] = price;
  }
  return Status::Ok();
}

Status ApplyProviderTable(const toml::table& p, const fs::path& file, ProviderConfig& c) {
  for (const auto& [k, node] : p) {
    std::string key(k.str());
    std::string where = Where(file, node);
    std::string name = "provider." + key;
    if (key == "api_key" || key == "key" || key == "apikey") {
      return InvalidArgument(fmt::format(
          "{}: {} is not accepted: API keys are never read from config files (they end up in "
          "backups and run records). Put the key in an environment variable and name it with "
          "api_key_env (default OPENAI_API_KEY or ANTHROPIC_API_KEY)",
          where, name));
    }
    if (std::find(FileKeys().begin(), FileKeys().end(), key) == FileKeys().end())
      return InvalidArgument(fmt::format("{}: unknown key '{}' in [provider] (allowed: {})", where,
                                         key, Join(FileKeys())));
    if (key == "extra_headers") {
      const toml::table* t = node.as_table();
      if (!t)
        return InvalidArgument(where +
                               ": provider.extra_headers must be a table of header = \"value\"");
      for (const auto& [hk, hv] : *t) {
        EVK_ASSIGN_OR_RETURN(std::string v,
                             TomlString(hv, file, name + "." + std::string(hk.str())));
        c.extra_headers[std::string(hk.str())] = v;
      }
      c.origin[key] = where;
      continue;
    }
    if (key == "prices") {
      const toml::table* t = node.as_table();
      if (!t)
        return InvalidArgument(where +
                               ": provider.prices must be a table of [provider.prices.\"MODEL\"]");
      EVK_RETURN_IF_ERROR(ApplyPrices(*t, file, "provider.prices", c.prices));
      continue;
    }
    if (key == "prices_file") continue;  // handled before the table is applied
    std::string text;
    if (key == "temperature" || key == "connect_timeout_s" || key == "request_timeout_s" ||
        key == "first_byte_timeout_s" || key == "idle_timeout_s" || key == "backoff_base_s" ||
        key == "backoff_max_s") {
      EVK_ASSIGN_OR_RETURN(double d, TomlDouble(node, file, name));
      text = fmt::format("{}", d);
    } else if (key == "stream") {
      EVK_ASSIGN_OR_RETURN(bool b, TomlBool(node, file, name));
      text = b ? "true" : "false";
    } else if (key == "max_tokens" || key == "max_retries" || key == "concurrency" ||
               key == "max_reply_bytes") {
      EVK_ASSIGN_OR_RETURN(int64_t i, TomlInt(node, file, name));
      text = std::to_string(i);
    } else {
      EVK_ASSIGN_OR_RETURN(text, TomlString(node, file, name));
      if (key == "cache_dir") text = ResolveAgainst(file, text);
    }
    EVK_RETURN_IF_ERROR(SetProviderField(c, key, text, where));
  }
  return Status::Ok();
}

bool HasHeaderBreak(const std::string& s) { return s.find_first_of("\r\n") != std::string::npos; }

std::string OriginOf(const ProviderConfig& c, const std::string& key) {
  auto it = c.origin.find(key);
  return it == c.origin.end() ? "default" : it->second;
}

}  // namespace

const std::vector<ProviderEnvVar>& ProviderEnvVars() {
  static const std::vector<ProviderEnvVar> kVars = {
      {"EVOKERNEL_PROVIDER", "kind"},
      {"EVOKERNEL_BASE_URL", "base_url"},
      {"EVOKERNEL_MODEL", "model"},
      {"EVOKERNEL_API_KEY_ENV", "api_key_env"},
      {"EVOKERNEL_TEMPERATURE", "temperature"},
      {"EVOKERNEL_MAX_TOKENS", "max_tokens"},
      {"EVOKERNEL_STREAM", "stream"},
      {"EVOKERNEL_CONNECT_TIMEOUT", "connect_timeout_s"},
      {"EVOKERNEL_FIRST_BYTE_TIMEOUT", "first_byte_timeout_s"},
      {"EVOKERNEL_IDLE_TIMEOUT", "idle_timeout_s"},
      {"EVOKERNEL_REQUEST_TIMEOUT", "request_timeout_s"},
      {"EVOKERNEL_MAX_REPLY_BYTES", "max_reply_bytes"},
      {"EVOKERNEL_MAX_RETRIES", "max_retries"},
      {"EVOKERNEL_CONCURRENCY", "concurrency"},
      {"EVOKERNEL_LLM_CACHE", "cache_dir"},
      {"EVOKERNEL_ANTHROPIC_VERSION", "anthropic_version"},
      {"EVOKERNEL_PRICES_FILE", "prices_file"},
  };
  return kVars;
}

std::string ConfigurationHint() {
  return "Configure an LLM endpoint with environment variables, or with a TOML file passed as "
         "--config FILE (or $EVOKERNEL_CONFIG) holding a [provider] section:\n"
         "  EVOKERNEL_PROVIDER  openai | anthropic   ([provider] kind; default openai = any "
         "OpenAI-compatible server)\n"
         "  EVOKERNEL_BASE_URL  the server's base URL ([provider] base_url; required for openai)\n"
         "  EVOKERNEL_MODEL     the model name       ([provider] model; required)\n"
         "  API key             $OPENAI_API_KEY or $ANTHROPIC_API_KEY, or the variable named by "
         "EVOKERNEL_API_KEY_ENV ([provider] api_key_env); local servers need none\n"
         "Examples:\n"
         "  vLLM       EVOKERNEL_BASE_URL=http://localhost:8000/v1  "
         "EVOKERNEL_MODEL=Qwen/Qwen2.5-Coder-32B-Instruct\n"
         "  Ollama     EVOKERNEL_BASE_URL=http://localhost:11434/v1 "
         "EVOKERNEL_MODEL=qwen2.5-coder:7b\n"
         "  llama.cpp  EVOKERNEL_BASE_URL=http://localhost:8080/v1  EVOKERNEL_MODEL=local (any "
         "name)\n"
         "  OpenAI     EVOKERNEL_BASE_URL=https://api.openai.com/v1 EVOKERNEL_MODEL=gpt-4o  "
         "OPENAI_API_KEY=...\n"
         "  Anthropic  EVOKERNEL_PROVIDER=anthropic EVOKERNEL_MODEL=claude-sonnet-4-20250514  "
         "ANTHROPIC_API_KEY=...\n"
         "Then check it with `evokernel llm ping`. See docs/providers.md.";
}

EnvLookup ProcessEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v || !*v) return std::nullopt;
    return std::string(v);
  };
}

fs::path DefaultPriceTablePath() { return DataDir() / "config" / "prices.toml"; }

Status LoadPriceTable(const fs::path& file, std::map<std::string, Price>& prices) {
  EVK_ASSIGN_OR_RETURN(toml::table t, ParseTomlFile(file, "price table"));
  for (const auto& [k, node] : t) {
    if (k.str() != "prices")
      return InvalidArgument(
          fmt::format("{}: unknown key '{}' in the price table (expected "
                      "[prices.\"MODEL\"] tables)",
                      Where(file, node), k.str()));
    const toml::table* pt = node.as_table();
    if (!pt)
      return InvalidArgument(Where(file, node) +
                             ": 'prices' must be a table of [prices.\"MODEL\"]");
    EVK_RETURN_IF_ERROR(ApplyPrices(*pt, file, "prices", prices));
  }
  return Status::Ok();
}

Status SetProviderField(ProviderConfig& c, std::string_view key_view, std::string_view value,
                        std::string_view origin_view) {
  std::string key(key_view), origin(origin_view);
  std::string v(value);
  if (key == "kind") {
    c.kind = Trim(v);
  } else if (key == "base_url") {
    c.base_url = Trim(v);
  } else if (key == "model") {
    c.model = Trim(v);
  } else if (key == "api_key_env") {
    c.api_key_env = Trim(v);
  } else if (key == "max_tokens_field") {
    c.max_tokens_field = Trim(v);
  } else if (key == "cache_dir") {
    c.cache_dir = Trim(v);
  } else if (key == "anthropic_version") {
    c.anthropic_version = Trim(v);
  } else if (key == "temperature") {
    EVK_ASSIGN_OR_RETURN(double d, ParseDouble(v, origin, key));
    c.temperature = d;
  } else if (key == "stream") {
    EVK_ASSIGN_OR_RETURN(c.stream, ParseBool(v, origin, key));
  } else if (key == "connect_timeout_s" || key == "request_timeout_s" ||
             key == "first_byte_timeout_s" || key == "idle_timeout_s" ||
             key == "backoff_base_s" || key == "backoff_max_s") {
    EVK_ASSIGN_OR_RETURN(double d, ParseDouble(v, origin, key));
    (key == "connect_timeout_s"      ? c.connect_timeout_s
     : key == "request_timeout_s"    ? c.request_timeout_s
     : key == "first_byte_timeout_s" ? c.first_byte_timeout_s
     : key == "idle_timeout_s"       ? c.idle_timeout_s
     : key == "backoff_base_s"       ? c.backoff_base_s
                                     : c.backoff_max_s) = d;
  } else if (key == "max_reply_bytes") {
    EVK_ASSIGN_OR_RETURN(c.max_reply_bytes, ParseInt(v, origin, key));
  } else if (key == "max_tokens" || key == "max_retries" || key == "concurrency") {
    EVK_ASSIGN_OR_RETURN(int64_t i, ParseInt(v, origin, key));
    if (i < -1'000'000'000 || i > 1'000'000'000)
      return InvalidArgument(fmt::format("{}: provider.{} = {} is out of range", origin, key, i));
    if (key == "max_tokens")
      c.max_tokens = static_cast<int>(i);
    else if (key == "max_retries")
      c.max_retries = static_cast<int>(i);
    else
      c.concurrency = static_cast<int>(i);
  } else if (key == "prices_file") {
    std::string path = Trim(v);
    Status st = LoadPriceTable(path, c.prices);
    if (!st.ok()) return st.WithContext(origin + ": provider.prices_file");
    c.prices_file = path;
  } else {
    std::vector<std::string> keys;
    for (const auto& k : FileKeys())
      if (k != "extra_headers" && k != "prices") keys.push_back(k);
    return InvalidArgument(
        fmt::format("{}: unknown provider setting '{}' (allowed: {})", origin, key, Join(keys)));
  }
  c.origin[key] = origin;
  return Status::Ok();
}

Result<ProviderConfig> LoadProviderConfig(const fs::path& file, const EnvLookup& env) {
  ProviderConfig c;
  toml::table root;
  const toml::table* provider = nullptr;
  if (!file.empty()) {
    EVK_ASSIGN_OR_RETURN(root, ParseTomlFile(file, "config file"));
    if (const toml::node* n = root.get("provider")) {
      provider = n->as_table();
      if (!provider)
        return InvalidArgument(Where(file, *n) + ": 'provider' must be a table ([provider])");
    } else {
      return InvalidArgument(file.string() +
                             ": no [provider] section (it holds kind, base_url, model, ...; "
                             "see docs/providers.md)");
    }
  }

  // The price table first, so that inline [provider.prices] entries win over it.
  std::optional<std::string> env_prices = env ? env("EVOKERNEL_PRICES_FILE") : std::nullopt;
  if (env_prices) {
    EVK_RETURN_IF_ERROR(SetProviderField(c, "prices_file", *env_prices, "$EVOKERNEL_PRICES_FILE"));
  } else if (const toml::node* pf = provider ? provider->get("prices_file") : nullptr) {
    EVK_ASSIGN_OR_RETURN(std::string p, TomlString(*pf, file, "provider.prices_file"));
    EVK_RETURN_IF_ERROR(
        SetProviderField(c, "prices_file", ResolveAgainst(file, p), Where(file, *pf)));
  } else {
    fs::path def = DefaultPriceTablePath();
    std::error_code ec;
    if (fs::is_regular_file(def, ec)) {
      EVK_RETURN_IF_ERROR(LoadPriceTable(def, c.prices));
      c.prices_file = def.string();
    }
  }

  if (provider) EVK_RETURN_IF_ERROR(ApplyProviderTable(*provider, file, c));

  if (env) {
    for (const auto& var : ProviderEnvVars()) {
      if (std::string_view(var.key) == "prices_file") continue;
      if (auto v = env(var.env))
        EVK_RETURN_IF_ERROR(SetProviderField(c, var.key, *v, std::string("$") + var.env));
    }
  }
  return c;
}

std::string ProviderConfig::ApiKeyEnv() const {
  if (!api_key_env.empty()) return api_key_env;
  return kind == "anthropic" ? "ANTHROPIC_API_KEY" : "OPENAI_API_KEY";
}

std::string ProviderConfig::ApiKey() const {
  const char* v = std::getenv(ApiKeyEnv().c_str());
  return v ? std::string(v) : std::string();
}

std::string ProviderConfig::EffectiveBaseUrl() const {
  std::string b = base_url;
  if (b.empty() && kind == "anthropic") b = "https://api.anthropic.com";
  while (!b.empty() && b.back() == '/') b.pop_back();
  // Tolerate a full endpoint or Anthropic's /v1 in base_url.
  auto strip = [&b](std::string_view suffix) {
    if (b.size() >= suffix.size() &&
        b.compare(b.size() - suffix.size(), suffix.size(), suffix) == 0)
      b.resize(b.size() - suffix.size());
  };
  if (kind == "anthropic") {
    strip("/v1/messages");
    strip("/v1");
  } else {
    strip("/chat/completions");
  }
  return b;
}

std::string ProviderConfig::Endpoint() const {
  return EffectiveBaseUrl() + (kind == "anthropic" ? "/v1/messages" : "/chat/completions");
}

std::optional<Price> ProviderConfig::PriceFor(std::string_view m) const {
  auto it = prices.find(std::string(m));
  if (it == prices.end()) return std::nullopt;
  return it->second;
}

Status ProviderConfig::Validate() const {
  auto bad = [this](const std::string& key, const std::string& what) {
    return InvalidArgument(fmt::format("{}: provider.{} {}", OriginOf(*this, key), key, what));
  };
  if (kind != "openai" && kind != "anthropic")
    return bad("kind", fmt::format("'{}' is not supported; use {}", kind, kAllowedKinds));
  bool no_url = kind == "openai" && base_url.empty();
  if (no_url && model.empty())
    return InvalidArgument("no LLM endpoint is configured (no base URL and no model).\n" +
                           ConfigurationHint());
  if (no_url)
    return InvalidArgument(
        "no base URL is configured for the OpenAI-compatible endpoint: set "
        "EVOKERNEL_BASE_URL or [provider] base_url (e.g. http://localhost:8000/v1 "
        "for vLLM).\n" +
        ConfigurationHint());
  if (model.empty())
    return InvalidArgument(
        "no model is configured: set EVOKERNEL_MODEL or [provider] model (the name "
        "the server serves, e.g. the vLLM --model, the Ollama tag).\n" +
        ConfigurationHint());
  std::string url = EffectiveBaseUrl();
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
    return bad("base_url", fmt::format("'{}' must start with http:// or https://", base_url));
  if (HasHeaderBreak(url) || url.find(' ') != std::string::npos)
    return bad("base_url", "must not contain spaces or line breaks");
  if (temperature && (*temperature < 0 || *temperature > 2))
    return bad("temperature", fmt::format("= {} is outside [0, 2]", *temperature));
  if (max_tokens && *max_tokens < 1) return bad("max_tokens", "must be >= 1 (or unset)");
  if (max_tokens_field != "max_tokens" && max_tokens_field != "max_completion_tokens")
    return bad("max_tokens_field", "must be \"max_tokens\" or \"max_completion_tokens\"");
  if (!(connect_timeout_s > 0)) return bad("connect_timeout_s", "must be > 0 seconds");
  if (!(first_byte_timeout_s > 0))
    return bad("first_byte_timeout_s",
               "must be > 0 seconds (the longest wait for the first byte of a reply)");
  if (!(idle_timeout_s > 0))
    return bad("idle_timeout_s", "must be > 0 seconds (the longest pause within a reply)");
  if (!(request_timeout_s > 0)) return bad("request_timeout_s", "must be > 0 seconds");
  if (max_reply_bytes < kMinReplyBytes || max_reply_bytes > kMaxReplyBytes)
    return bad("max_reply_bytes",
               fmt::format("= {} is outside [{}, {}] (bytes of reply text; default {} = 1 MiB)",
                           max_reply_bytes, kMinReplyBytes, kMaxReplyBytes, int64_t{1} << 20));
  if (max_retries < 0 || max_retries > 100) return bad("max_retries", "must be in [0, 100]");
  if (backoff_base_s < 0) return bad("backoff_base_s", "must be >= 0 seconds");
  if (backoff_max_s < backoff_base_s) return bad("backoff_max_s", "must be >= backoff_base_s");
  if (concurrency < 1 || concurrency > 1024) return bad("concurrency", "must be in [1, 1024]");
  if (kind == "anthropic" && anthropic_version.empty())
    return bad("anthropic_version", "must not be empty");
  if (HasHeaderBreak(anthropic_version))
    return bad("anthropic_version", "must not contain line breaks");
  // Never echo the value: a common slip is pasting the key itself here.
  const std::string key_env = ApiKeyEnv();
  bool env_name = !key_env.empty() && !std::isdigit(static_cast<unsigned char>(key_env[0])) &&
                  std::all_of(key_env.begin(), key_env.end(), [](char ch) {
                    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
                  });
  if (!env_name)
    return bad("api_key_env",
               "must be the NAME of the environment variable holding the key (letters, digits "
               "and _, e.g. OPENAI_API_KEY), not the key itself");
  for (const auto& [name, value] : extra_headers) {
    bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
      return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_';
    });
    if (!token) return bad("extra_headers", fmt::format("has an invalid header name '{}'", name));
    if (HasHeaderBreak(value))
      return bad("extra_headers", fmt::format("value of '{}' must not contain line breaks", name));
  }
  return Status::Ok();
}

nlohmann::json ProviderConfig::ToJson() const {
  nlohmann::json headers = nlohmann::json::array();
  for (const auto& [name, value] : extra_headers) headers.push_back(name);
  nlohmann::json j = {
      {"kind", kind},
      {"base_url", EffectiveBaseUrl()},
      {"endpoint", Endpoint()},
      {"model", model},
      {"api_key_env", ApiKeyEnv()},
      {"api_key_set", !ApiKey().empty()},
      {"temperature", temperature ? nlohmann::json(*temperature) : nlohmann::json()},
      {"max_tokens", max_tokens ? nlohmann::json(*max_tokens) : nlohmann::json()},
      {"extra_headers", headers},
      {"stream", stream},
      {"connect_timeout_s", connect_timeout_s},
      {"first_byte_timeout_s", first_byte_timeout_s},
      {"idle_timeout_s", idle_timeout_s},
      {"request_timeout_s", request_timeout_s},
      {"max_reply_bytes", max_reply_bytes},
      {"max_retries", max_retries},
      {"backoff_base_s", backoff_base_s},
      {"backoff_max_s", backoff_max_s},
      {"concurrency", concurrency},
      {"cache_dir", cache_dir},
      {"prices_file", prices_file}};
  if (kind == "openai") j["max_tokens_field"] = max_tokens_field;
  if (kind == "anthropic") j["anthropic_version"] = anthropic_version;
  if (auto p = PriceFor(model))
    j["price"] = {{"input_per_mtok", p->input_per_mtok}, {"output_per_mtok", p->output_per_mtok}};
  else
    j["price"] = nullptr;
  return j;
}

}  // namespace evokernel
