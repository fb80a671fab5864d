#include "memory/signature.h"

#include <curl/curl.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <mutex>
#include <unordered_set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace evokernel::memory {

Result<std::vector<std::vector<float>>> Embedder::EmbedBatch(
    const std::vector<EmbedRequest>& requests) const {
  std::vector<std::vector<float>> out;
  out.reserve(requests.size());
  for (const auto& r : requests) {
    EVK_ASSIGN_OR_RETURN(auto v, Embed(*r.signature, r.text));
    out.push_back(std::move(v));
  }
  return out;
}

std::string EmbeddingText(const MemoryItem& item) {
  constexpr size_t kContentBytes = 512;
  std::string t = item.title;
  if (!item.feedback.empty()) t += "\n" + item.feedback.substr(0, kContentBytes);
  if (!item.content.empty()) t += "\n" + item.content.substr(0, kContentBytes);
  return t;
}

std::string OpFamily(std::string_view op) {
  if (op.size() > 2 && op[op.size() - 1] == 'd' &&
      (op[op.size() - 2] == '1' || op[op.size() - 2] == '2' || op[op.size() - 2] == '3'))
    return std::string(op.substr(0, op.size() - 2));
  return std::string(op);
}

float Dot(const std::vector<float>& a, const std::vector<float>& b) {
  float s = 0;
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

namespace {

// FNV-1a: stable across compilers, runs and machines (std::hash is not), which matters because
// vectors are stored in the bank.
uint64_t Fnv1a(std::string_view s, uint64_t salt) {
  uint64_t h = 1469598103934665603ull ^ (salt * 1099511628211ull);
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  // Final avalanche so that low bits (the bucket) depend on every byte.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

struct Block {
  const char* name;
  int offset, size;
  double weight;
};

// Layout and weights of structural-v1 (see signature.h for the reasons). Changing anything here
// changes the vectors: bump the embedder's name.
constexpr int kDim = 64;
constexpr Block kOps{"ops", 0, 24, 0.45};
constexpr Block kCategory{"category", 24, 8, 0.15};
constexpr Block kShapes{"shapes", 32, 8, 0.10};
constexpr Block kText{"text", 40, 16, 0.15};
constexpr Block kBackend{"backend", 56, 4, 0.10};
constexpr Block kLevel{"level", 60, 4, 0.05};

class BlockBuilder {
 public:
  explicit BlockBuilder(const Block& b) : b_(b), v_(b.size, 0.0) {}
  void Add(std::string_view token, double weight) {
    uint64_t h = Fnv1a(token, static_cast<uint64_t>(b_.offset) + 1);
    v_[h % b_.size] += ((h >> 40) & 1) ? weight : -weight;
  }
  // Writes sqrt(weight) * unit(v) into out.
  void WriteTo(std::vector<float>& out) const {
    double n = 0;
    for (double x : v_) n += x * x;
    if (n <= 0) return;
    double scale = std::sqrt(b_.weight / n);
    for (int i = 0; i < b_.size; ++i) out[b_.offset + i] = static_cast<float>(v_[i] * scale);
  }

 private:
  const Block& b_;
  std::vector<double> v_;
};

bool Contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

std::string OpClass(const std::string& op) {
  static const std::map<std::string, std::string, std::less<>> kExact = {
      {"matmul", "gemm"}, {"mm", "gemm"}, {"bmm", "gemm"}, {"linear", "gemm"}, {"einsum", "gemm"},
      {"addmm", "gemm"}, {"baddbmm", "gemm"}, {"mv", "gemm"}, {"dot", "gemm"}, {"tensordot", "gemm"},
      {"bilinear", "gemm"}, {"outer", "gemm"}, {"diag", "gemm"}, {"tril", "gemm"}, {"triu", "gemm"},
      {"sum", "reduction"}, {"mean", "reduction"}, {"max", "reduction"}, {"min", "reduction"},
      {"amax", "reduction"}, {"amin", "reduction"}, {"argmax", "reduction"}, {"argmin", "reduction"},
      {"prod", "reduction"}, {"std", "reduction"}, {"var", "reduction"}, {"logsumexp", "reduction"},
      {"softmax", "reduction"}, {"logsoftmax", "reduction"}, {"softmin", "reduction"},
      {"cumsum", "scan"}, {"cumprod", "scan"}, {"cummax", "scan"}, {"cummin", "scan"},
      {"logcumsumexp", "scan"},
      {"relu", "activation"}, {"relu6", "activation"}, {"leakyrelu", "activation"},
      {"gelu", "activation"}, {"sigmoid", "activation"}, {"tanh", "activation"},
      {"silu", "activation"}, {"swish", "activation"}, {"selu", "activation"},
      {"elu", "activation"}, {"celu", "activation"}, {"hardtanh", "activation"},
      {"softplus", "activation"}, {"softsign", "activation"}, {"hardsigmoid", "activation"},
      {"hardswish", "activation"}, {"mish", "activation"}, {"logsigmoid", "activation"},
      {"prelu", "activation"}, {"threshold", "activation"}, {"tanhshrink", "activation"},
      {"softshrink", "activation"}, {"hardshrink", "activation"},
      {"add", "elementwise"}, {"sub", "elementwise"}, {"mul", "elementwise"},
      {"div", "elementwise"}, {"pow", "elementwise"}, {"exp", "elementwise"},
      {"log", "elementwise"}, {"sqrt", "elementwise"}, {"rsqrt", "elementwise"},
      {"abs", "elementwise"}, {"neg", "elementwise"}, {"clamp", "elementwise"},
      {"clip", "elementwise"}, {"where", "elementwise"}, {"maximum", "elementwise"},
      {"minimum", "elementwise"}, {"sign", "elementwise"}, {"sin", "elementwise"},
      {"cos", "elementwise"}, {"reciprocal", "elementwise"}, {"square", "elementwise"},
      {"addcmul", "elementwise"}, {"lerp", "elementwise"}, {"erf", "elementwise"},
      {"scaleddotproductattention", "attention"}, {"multiheadattention", "attention"},
      {"crossentropy", "loss"}, {"kldiv", "loss"}, {"cosinesimilarity", "loss"}};
  if (auto it = kExact.find(op); it != kExact.end()) return it->second;
  if (op.rfind("conv", 0) == 0) return "conv";
  if (Contains(op, "pool")) return "pool";
  if (Contains(op, "norm")) return "norm";
  if (Contains(op, "loss")) return "loss";
  if (Contains(op, "attention")) return "attention";
  return "";
}

const std::unordered_set<std::string>& StopWords() {
  static const std::unordered_set<std::string> kStop = {
      "the", "and", "for", "with", "then", "that", "this", "from", "into", "are", "was", "each",
      "per", "its", "over", "use", "uses", "using", "not", "but", "can", "all", "any", "one",
      "two", "new", "has", "have", "out", "via", "which", "when", "where", "than", "also", "only",
      "your", "you", "will", "must", "should", "does", "may", "more", "most", "very", "such",
      // kernel source boilerplate
      "include", "int", "float", "const", "void", "return", "size_t", "extern", "std", "auto",
      "int64_t", "static", "inline", "define", "pragma", "unsigned", "double", "struct"};
  return kStop;
}

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> out;
  std::string w;
  auto flush = [&] {
    if (w.size() >= 3 && !std::all_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
        !StopWords().count(w))
      out.push_back(w);
    w.clear();
  };
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '_')
      w += static_cast<char>(std::tolower(u));
    else
      flush();
  }
  flush();
  return out;
}

// log4 bucket of an element count: 1, 4, 16, ... elements share a bucket per factor of 4.
int NumelBucket(const std::vector<int64_t>& shape) {
  double numel = 1;
  for (int64_t d : shape) numel *= static_cast<double>(std::max<int64_t>(d, 1));
  return static_cast<int>(std::floor(std::log2(numel) / 2));
}

class StructuralEmbedder final : public Embedder {
 public:
  std::string name() const override { return "structural-v1"; }
  int dim() const override { return kDim; }

  Result<std::vector<float>> Embed(const TaskSignature& s, std::string_view text) const override {
    std::vector<float> v(kDim, 0.0f);

    BlockBuilder ops(kOps);
    for (const auto& raw : s.ops) {
      std::string op = NormaliseOpName(raw);
      if (op.empty()) continue;
      ops.Add("op:" + op, 1.0);
      if (std::string fam = OpFamily(op); fam != op) ops.Add("family:" + fam, 0.5);
      if (std::string cls = OpClass(op); !cls.empty()) ops.Add("class:" + cls, 0.5);
    }
    ops.WriteTo(v);

    BlockBuilder cat(kCategory);
    for (const auto& c : s.Categories()) cat.Add("cat:" + c, 1.0);
    cat.WriteTo(v);

    BlockBuilder shapes(kShapes);
    for (size_t i = 0; i < s.shapes.size(); ++i) {
      const char* side = i < s.num_inputs ? "in" : "out";
      shapes.Add(fmt::format("{}rank:{}", side, s.shapes[i].size()), 1.0);
      shapes.Add(fmt::format("{}numel:{}", side, NumelBucket(s.shapes[i])), 1.0);
    }
    if (!s.shapes.empty()) shapes.Add(fmt::format("inputs:{}", s.num_inputs), 0.5);
    shapes.WriteTo(v);

    BlockBuilder words(kText);
    std::map<std::string, int> tf;
    for (auto& w : Words(s.text)) ++tf[w];
    for (auto& w : Words(text)) ++tf[w];
    for (const auto& [w, n] : tf) words.Add(w, 1.0 + std::log(static_cast<double>(n)));
    words.WriteTo(v);

    BlockBuilder backend(kBackend);
    if (!s.backend.empty()) backend.Add("backend:" + s.backend, 1.0);
    backend.WriteTo(v);

    BlockBuilder level(kLevel);
    if (s.level > 0) level.Add(fmt::format("level:{}", s.level), 1.0);
    level.WriteTo(v);

    double n = 0;
    for (float x : v) n += double(x) * x;
    if (n > 0) {
      float inv = static_cast<float>(1.0 / std::sqrt(n));
      for (float& x : v) x *= inv;
    }
    return v;
  }
};

// ------------------------------------------------------------------------------- HTTP

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

size_t AppendBody(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  constexpr size_t kMaxBody = 256u << 20;  // a reply larger than this is not an embedding reply
  if (body->size() + size * n > kMaxBody) return 0;
  body->append(data, size * n);
  return size * n;
}

class HttpEmbedder final : public Embedder {
 public:
  HttpEmbedder(HttpEmbedderOptions o, std::string key) : o_(std::move(o)), key_(std::move(key)) {
    while (!o_.base_url.empty() && o_.base_url.back() == '/') o_.base_url.pop_back();
    url_ = o_.base_url + "/embeddings";
  }

  std::string name() const override { return "http:" + o_.model; }
  int dim() const override { return o_.dim; }

  Result<std::vector<float>> Embed(const TaskSignature& s, std::string_view text) const override {
    EVK_ASSIGN_OR_RETURN(auto vs, Post({RenderForEmbedding(s, text)}));
    return std::move(vs[0]);
  }

  Result<std::vector<std::vector<float>>> EmbedBatch(
      const std::vector<EmbedRequest>& requests) const override {
    std::vector<std::vector<float>> out;
    out.reserve(requests.size());
    size_t batch = static_cast<size_t>(std::max(1, o_.max_batch));
    for (size_t i = 0; i < requests.size(); i += batch) {
      std::vector<std::string> texts;
      for (size_t j = i; j < std::min(requests.size(), i + batch); ++j)
        texts.push_back(RenderForEmbedding(*requests[j].signature, requests[j].text));
      EVK_ASSIGN_OR_RETURN(auto vs, Post(texts));
      for (auto& v : vs) out.push_back(std::move(v));
    }
    return out;
  }

 private:
  // Never lets the key into a message, even if a server echoes it back.
  std::string Redact(std::string s) const {
    if (key_.empty()) return s;
    for (size_t p; (p = s.find(key_)) != std::string::npos;) s.replace(p, key_.size(), "<redacted>");
    return s;
  }

  std::string Excerpt(const std::string& body) const {
    std::string e = body.substr(0, 200);
    for (char& c : e)
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    return Redact(e) + (body.size() > 200 ? "..." : "");
  }

  Status ProviderError(const std::string& what) const {
    return Status(StatusCode::kProviderError, "embeddings endpoint " + url_ + ": " + Redact(what));
  }

  Result<std::vector<std::vector<float>>> Post(const std::vector<std::string>& texts) const {
    static std::once_flag init;
    std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    nlohmann::json req = {{"model", o_.model}, {"input", texts}};
    std::string payload = req.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);

    CURL* curl = curl_easy_init();
    if (!curl) return Internal("curl_easy_init failed");
    struct curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    std::string auth;
    if (!key_.empty()) {
      auth = "Authorization: Bearer " + key_;
      headers = curl_slist_append(headers, auth.c_str());
    }
    std::string body;
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(o_.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(curl);
    long http = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    // The header string held the key; wipe it before it is freed.
    std::fill(auth.begin(), auth.end(), '\0');

    if (rc == CURLE_OPERATION_TIMEDOUT)
      return TimeoutError("embeddings endpoint " + url_ + " did not answer within " +
                          std::to_string(o_.timeout.count()) + " ms");
    if (rc != CURLE_OK)
      return ProviderError(std::string("request failed: ") + (errbuf[0] ? errbuf : curl_easy_strerror(rc)));
    if (http != 200)
      return ProviderError(fmt::format("HTTP {} (body: {})", http, Excerpt(body)));

    nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return ProviderError("reply is not JSON (body: " + Excerpt(body) + ")");
    if (!j.is_object() || !j.contains("data") || !j["data"].is_array())
      return ProviderError("reply has no \"data\" array (body: " + Excerpt(body) + ")");
    const auto& data = j["data"];
    if (data.size() != texts.size())
      return ProviderError(fmt::format("reply has {} embeddings for {} inputs", data.size(), texts.size()));
    std::vector<std::vector<float>> out(texts.size());
    std::vector<bool> filled(texts.size(), false);
    for (size_t i = 0; i < data.size(); ++i) {
      const auto& d = data[i];
      size_t index = i;
      if (d.is_object() && d.contains("index")) {
        if (!d["index"].is_number_unsigned() || d["index"].get<uint64_t>() >= texts.size())
          return ProviderError(fmt::format("data[{}].index is not an input index", i));
        index = d["index"].get<size_t>();
      }
      if (!d.is_object() || !d.contains("embedding") || !d["embedding"].is_array())
        return ProviderError(fmt::format("data[{}] has no \"embedding\" array", i));
      const auto& e = d["embedding"];
      if (static_cast<int>(e.size()) != o_.dim)
        return ProviderError(fmt::format("data[{}].embedding has {} dimensions, expected {} "
                                         "(check --embed-dim and the model)", i, e.size(), o_.dim));
      if (filled[index]) return ProviderError(fmt::format("data[{}] repeats index {}", i, index));
      filled[index] = true;
      std::vector<float> v(o_.dim);
      double n = 0;
      for (int k = 0; k < o_.dim; ++k) {
        if (!e[k].is_number()) return ProviderError(fmt::format("data[{}].embedding[{}] is not a number", i, k));
        double x = e[k].get<double>();
        if (!std::isfinite(x)) return ProviderError(fmt::format("data[{}].embedding[{}] is not finite", i, k));
        v[k] = static_cast<float>(x);
        n += x * x;
      }
      if (n > 0) {
        float inv = static_cast<float>(1.0 / std::sqrt(n));
        for (float& x : v) x *= inv;
      }
      out[index] = std::move(v);
    }
    return out;
  }

  HttpEmbedderOptions o_;
  std::string key_;
  std::string url_;
};

}  // namespace

std::shared_ptr<const Embedder> MakeStructuralEmbedder() {
  static const std::shared_ptr<const Embedder> kInstance = std::make_shared<StructuralEmbedder>();
  return kInstance;
}

std::string RenderForEmbedding(const TaskSignature& s, std::string_view text) {
  std::string out;
  if (!s.backend.empty()) out += "backend: " + s.backend + "\n";
  if (!s.category.empty()) out += "category: " + s.category + "\n";
  if (s.level > 0) out += "level: " + std::to_string(s.level) + "\n";
  if (!s.ops.empty()) {
    out += "operators:";
    for (const auto& op : s.ops) out += " " + op;
    out += "\n";
  }
  if (!s.shapes.empty()) {
    out += "shapes:";
    for (size_t i = 0; i < s.shapes.size(); ++i)
      out += (i == s.num_inputs ? " ->" : "") + std::string(" ") + ShapeText(s.shapes[i]);
    out += "\n";
  }
  if (!s.text.empty()) out += s.text + "\n";
  if (!text.empty()) out += std::string(text) + "\n";
  return out;
}

Result<std::shared_ptr<const Embedder>> MakeHttpEmbedder(const HttpEmbedderOptions& o) {
  if (o.base_url.empty()) return InvalidArgument("HTTP embedder: the endpoint URL is empty");
  if (o.model.empty()) return InvalidArgument("HTTP embedder: the model name is empty");
  if (o.dim < 1) return InvalidArgument("HTTP embedder: the dimension must be given and >= 1 (got " +
                                        std::to_string(o.dim) + ")");
  if (o.timeout.count() < 1) return InvalidArgument("HTTP embedder: the timeout must be >= 1 ms");
  std::string key;
  if (!o.api_key_env.empty()) {
    const char* k = std::getenv(o.api_key_env.c_str());
    if (!k || !*k)
      return InvalidArgument("HTTP embedder: environment variable " + o.api_key_env +
                             " (the API key) is not set");
    key = k;
  }
  return std::shared_ptr<const Embedder>(std::make_shared<HttpEmbedder>(o, std::move(key)));
}

}  // namespace evokernel::memory
