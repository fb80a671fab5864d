#include "generator/builtin/builtin_generator.h"

#include <algorithm>
#include <charconv>
#include <mutex>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/fs.h"
#include "generator/builtin/expression.h"

namespace evokernel {
namespace builtin {

namespace {

constexpr std::string_view kMarker = "// evokernel-builtin ";

struct Knob {
  const char* name;
  std::vector<int> values;  // the first is the default
};

// Every knob a recipe may have; a recipe renders with the ones that change its kernel for the
// task (RenderX's knobs_used).
// In the order refining tries them: among the neighbours of a start point, those changing an
// earlier knob come first. The knobs that change the work done (an algorithm, an
// approximation) before those that change its schedule, and `parallel` last: with one thread
// (evolve's default) it changes nothing.
const std::vector<Knob>& AllKnobs() {
  static const std::vector<Knob> knobs = {
      {"conv", {1, 0}},   {"fast_math", {0, 1}}, {"nt", {16, 256}},           {"kb", {256, 64, 0}}, {"mr", {4, 1}},
      {"pack", {1, 0}},   {"simd", {1, 0}},      {"block", {0, 16384, 4096}}, {"parallel", {1, 0}}};
  return knobs;
}

// The elementwise recipe's knobs that change the kernel of an expression: fast_math only where
// it calls exp-like functions (elsewhere both settings would be the same kernel).
std::vector<Knob> KnobsFor(const std::string& cpp) {
  std::vector<Knob> knobs;
  for (const Knob& k : AllKnobs()) {
    const std::string_view name = k.name;
    if (name == "parallel" || name == "simd" || name == "block" ||
        (name == "fast_math" && cpp.find("evk_") != std::string::npos))
      knobs.push_back(k);
  }
  return knobs;
}

RecipeSetting DefaultSetting(const std::string& recipe, const std::vector<Knob>& knobs) {
  RecipeSetting s;
  s.recipe = recipe;
  for (const Knob& k : knobs) s.knobs[k.name] = k.values.front();
  return s;
}

// Every setting of the knobs, ordered by how many knobs differ from `from` (then by knob
// order): the neighbours of a start point come first.
std::vector<RecipeSetting> SettingsNear(const RecipeSetting& from, const std::vector<Knob>& knobs) {
  std::vector<RecipeSetting> all = {DefaultSetting(from.recipe, knobs)};
  all.front().knobs.clear();
  // The last knob varies slowest, so that among settings at the same distance those changing
  // an earlier knob come first.
  for (auto it = knobs.rbegin(); it != knobs.rend(); ++it) {
    const Knob& k = *it;
    std::vector<RecipeSetting> next;
    for (const RecipeSetting& s : all)
      for (int v : k.values) {
        RecipeSetting t = s;
        t.knobs[k.name] = v;
        next.push_back(std::move(t));
      }
    all = std::move(next);
  }
  auto distance = [&](const RecipeSetting& s) {
    int d = 0;
    for (const auto& [k, v] : s.knobs) d += !from.knobs.count(k) || from.knobs.at(k) != v;
    return d;
  };
  std::stable_sort(all.begin(), all.end(), [&](const auto& a, const auto& b) { return distance(a) < distance(b); });
  return all;
}

}  // namespace

bool Follows(const RecipeSetting& s, const RecipeSetting& from, const RecipeSetting& guide, bool refining) {
  int moved = 0, toward = 0;
  for (const auto& [k, v] : s.knobs) {
    const bool changed = !from.knobs.count(k) || from.knobs.at(k) != v;
    const bool as_guide = guide.knobs.count(k) && guide.knobs.at(k) == v;
    moved += changed;
    toward += changed && as_guide;
    // Drafting: every knob the guide has is the guide's value; the others stay as in `from`.
    if (!refining && (guide.knobs.count(k) ? !as_guide : changed)) return false;
  }
  return refining ? moved == 1 && toward == 1 : true;
}

// The functions the translated expression calls (expression.h). fast_math 0: the C library's
// (scalar calls the compiler does not vectorise without -ffast-math). fast_math 1: inline
// approximations it vectorises: exp by Cody-Waite range reduction and a degree-6 polynomial
// (Cephes' expf coefficients; about 2 ulp), expm1 and tanh from it (absolute error about
// 1e-7 near 0), erf by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7), log by
// Cephes' logf (about 1 ulp) and log1p from it. The
// verifier's tolerance decides whether that is good enough for the task.
std::string MathPreamble(bool fast, const std::string& cpp) {
  if (cpp.find("evk_") == std::string::npos) return "";
  if (!fast)
    return "static inline float evk_exp(float v) { return std::exp(v); }\n"
           "static inline float evk_expm1(float v) { return std::expm1(v); }\n"
           "static inline float evk_tanh(float v) { return std::tanh(v); }\n"
           "static inline float evk_erf(float v) { return std::erf(v); }\n"
           "static inline float evk_log(float v) { return std::log(v); }\n"
           "static inline float evk_log1p(float v) { return std::log1p(v); }\n\n";
  return R"(static inline float evk_exp(float v) {
  v = v < -87.0f ? -87.0f : (v > 88.0f ? 88.0f : v);
  const float n = (v * 1.44269504f + 12582912.0f) - 12582912.0f;  // round(v / ln 2)
  const float r = (v - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return e * scale;
}
static inline float evk_expm1(float v) { return evk_exp(v) - 1.0f; }
static inline float evk_tanh(float v) {
  const float t = evk_exp(2.0f * v);
  return (t - 1.0f) / (t + 1.0f);
}
static inline float evk_erf(float v) {
  const float a = v < 0.0f ? -v : v;
  const float t = 1.0f / (1.0f + 0.3275911f * a);
  const float poly = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
  const float y = 1.0f - poly * evk_exp(-a * a);
  return v < 0.0f ? -y : y;
}
// log of a positive normal float: v = m * 2^e with m in [sqrt(1/2), sqrt(2)), log m by Cephes'
// logf polynomial (about 1 ulp); zero, negative, infinite and NaN inputs as std::log.
static inline float evk_log(float v) {
  int32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  int32_t e = ((bits >> 23) & 0xff) - 126;
  const int32_t mbits = (bits & 0x807fffff) | 0x3f000000;  // m in [0.5, 1)
  float m;
  std::memcpy(&m, &mbits, sizeof m);
  const bool low = m < 0.70710678f;
  e -= low ? 1 : 0;
  const float x = low ? m + m - 1.0f : m - 1.0f;
  const float z = x * x;
  float p = 7.0376836292e-2f;
  p = p * x - 1.1514610310e-1f;
  p = p * x + 1.1676998740e-1f;
  p = p * x - 1.2420140846e-1f;
  p = p * x + 1.4249322787e-1f;
  p = p * x - 1.6668057665e-1f;
  p = p * x + 2.0000714765e-1f;
  p = p * x - 2.4999993993e-1f;
  p = p * x + 3.3333331174e-1f;
  const float fe = static_cast<float>(e);
  float y = p * x * z - 2.12194440e-4f * fe - 0.5f * z;
  y = x + y + 0.693359375f * fe;
  const bool normal = v >= 1.17549435e-38f && v <= 3.40282347e38f;
  return normal ? y : (v == 0.0f ? -INFINITY : (v > 0.0f ? v : NAN));
}
static inline float evk_log1p(float v) {
  // log(1 + v) loses the low bits of a tiny v: there it is v (absolute error below 6e-8).
  const float a = v < 0.0f ? -v : v;
  return a < 1e-4f ? v - 0.5f * v * v : evk_log(1.0f + v);
}

)";
}

std::string RecipeSetting::Line() const {
  std::string s = std::string(kMarker) + "recipe=" + recipe;
  for (const auto& [k, v] : knobs) s += fmt::format(" {}={}", k, v);
  return s;
}

std::optional<RecipeSetting> RecipeSetting::FromCode(std::string_view code) {
  if (code.rfind(kMarker, 0) != 0) return std::nullopt;
  std::string_view line = code.substr(kMarker.size(), code.find('\n') - kMarker.size());
  RecipeSetting s;
  size_t pos = 0;
  while (pos < line.size()) {
    size_t end = line.find(' ', pos);
    if (end == std::string_view::npos) end = line.size();
    std::string_view kv = line.substr(pos, end - pos);
    pos = end + 1;
    if (kv.empty()) continue;
    const size_t eq = kv.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    std::string_view key = kv.substr(0, eq), value = kv.substr(eq + 1);
    if (key == "recipe") {
      s.recipe = std::string(value);
      continue;
    }
    int v = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || ptr != value.data() + value.size()) return std::nullopt;
    s.knobs[std::string(key)] = v;
  }
  if (s.recipe.empty()) return std::nullopt;
  return s;
}

Result<std::string> RenderElementwise(const TaskSpec& spec, const RecipeSetting& setting,
                                      std::vector<std::string>* knobs_used) {
  std::vector<const TaskArg*> inputs, outputs;
  for (const auto& a : spec.args) {
    if (a.role == ArgRole::kOutput) outputs.push_back(&a);
    else if (a.role == ArgRole::kInput) inputs.push_back(&a);
    else return Unavailable("the task has parameters (" + a.name + "); the elementwise recipe takes inputs only");
  }
  if (outputs.size() != 1 || inputs.empty())
    return Unavailable(fmt::format("the task has {} input(s) and {} output(s); the elementwise recipe makes one "
                                   "output from one or more inputs",
                                   inputs.size(), outputs.size()));
  for (const TaskArg* a : inputs)
    if (a->dtype != DType::kFloat32 || a->shape != outputs[0]->shape)
      return Unavailable("input " + a->name + " is not a float32 tensor of the output's shape (broadcasting and other "
                         "dtypes are not supported by the elementwise recipe)");
  if (outputs[0]->dtype != DType::kFloat32) return Unavailable("the output is not float32");
  EVK_ASSIGN_OR_RETURN(ForwardReturn fr, FindForwardReturn(spec.source));
  if (fr.params.size() != inputs.size())
    return Unavailable(fmt::format("forward() takes {} argument(s) but the contract has {} tensor input(s) (scalar "
                                   "arguments are not supported by the elementwise recipe)",
                                   fr.params.size(), inputs.size()));
  EVK_ASSIGN_OR_RETURN(ElementwiseExpr e, TranslateElementwise(fr.expression, fr.params,
                                                                ExpressionScope(spec.source, spec.init_inputs,
                                                                                spec.constants)));
  if (knobs_used) {
    knobs_used->clear();
    for (const Knob& k : KnobsFor(e.cpp)) knobs_used->push_back(k.name);
  }
  const int parallel = setting.knobs.count("parallel") ? setting.knobs.at("parallel") : 1;
  const int simd = setting.knobs.count("simd") ? setting.knobs.at("simd") : 1;
  const int block = setting.knobs.count("block") ? setting.knobs.at("block") : 0;
  const int fast_math = setting.knobs.count("fast_math") ? setting.knobs.at("fast_math") : 0;
  std::string params;
  for (const std::string& p : fr.params) params += "const float* __restrict " + p + ", ";
  std::string body;
  const std::string assign = "evk_out[evk_i] = " + e.cpp + ";";
  if (parallel && block > 0) {
    body = fmt::format(
        "#pragma omp parallel for schedule(static)\n"
        "  for (int64_t evk_b = 0; evk_b < evk_n; evk_b += {0}) {{\n"
        "    const int64_t evk_e = evk_b + {0} < evk_n ? evk_b + {0} : evk_n;\n"
        "{1}"
        "    for (int64_t evk_i = evk_b; evk_i < evk_e; ++evk_i) {2}\n"
        "  }}\n",
        block, simd ? "#pragma omp simd\n" : "", assign);
  } else {
    const char* pragma = parallel ? (simd ? "#pragma omp parallel for simd schedule(static)\n"
                                          : "#pragma omp parallel for schedule(static)\n")
                                  : (simd ? "#pragma omp simd\n" : "");
    body = fmt::format("{}  for (int64_t evk_i = 0; evk_i < evk_n; ++evk_i) {}\n", pragma, assign);
  }
  return fmt::format(
      "{}\n"
      "// Built-in elementwise kernel (written by evokernel's built-in generator, no model):\n"
      "//   {} = {}\n"
      "#include <cmath>\n"
      "#include <cstdint>\n"
      "#include <cstring>\n\n"
      "// Floating-point exceptions stay masked (the default environment, which the kernel must\n"
      "// not change): without the assumption that compares and divides may trap, the compiler\n"
      "// would not turn this kernel's conditionals into vector selects.\n"
      "#pragma GCC optimize(\"no-trapping-math\")\n\n"
      "{}"
      "extern \"C\" void evokernel_forward({}float* __restrict evk_out) {{\n"
      "  constexpr int64_t evk_n = evokernel_task::{}_numel;\n"
      "{}"
      "}}\n",
      setting.Line(), outputs[0]->name, fr.expression, MathPreamble(fast_math != 0, e.cpp), params, outputs[0]->name,
      body);
}

}  // namespace builtin

namespace {

using builtin::RecipeSetting;

class BuiltinGenerator : public Generator {
 public:
  Method method() const override { return Method::kBuiltin; }
  Traits traits() const override { return Traits{};  // the bank: recipe instances with values guide the search
  }

  Result<Proposal> Propose(const ProposalRequest& rq) override {
    if (!rq.spec) return Internal("the built-in generator needs the task's contract");
    Proposal p;
    p.reply.model = "builtin";
    p.reply.finish_reason = "stop";
    auto no_kernel = [&](std::string failure, std::string feedback) {
      p.kernel.ok = false;
      p.kernel.failure = std::move(failure);
      p.kernel.feedback = std::move(feedback);
      p.reply.text = p.kernel.feedback;
      p.prompt_hash = p.reply.request_hash = Sha256Hex("builtin\n" + rq.task_id + "\n" + p.reply.text);
      return p;
    };
    if (rq.backend != "cpu")
      return no_kernel("unsupported", "the built-in generator's recipes are for the cpu backend, not " + rq.backend);

    std::lock_guard<std::mutex> lock(mu_);
    std::set<RecipeSetting>& tried = tried_[rq.task_id];
    std::optional<RecipeSetting> start;
    if (rq.stage == memory::Stage::kRefine) start = RecipeSetting::FromCode(rq.start_code);
    if (start) tried.insert(*start);
    // The first recipe that applies, and which of its knobs matter for this task.
    using Render = Result<std::string> (*)(const TaskSpec&, const RecipeSetting&, std::vector<std::string>*);
    static const std::vector<std::pair<std::string, Render>> kRecipes = {
        {"elementwise", &builtin::RenderElementwise},
        {"reduction", &builtin::RenderReduction},
        {"graph", &builtin::RenderGraph}};
    std::vector<std::string> names, why;
    const std::pair<std::string, Render>* recipe = nullptr;
    for (const auto& r : kRecipes) {
      RecipeSetting probe;
      probe.recipe = r.first;
      auto matched = r.second(*rq.spec, probe, &names);
      if (matched.ok()) {
        recipe = &r;
        break;
      }
      if (matched.status().code() != StatusCode::kUnavailable && matched.status().code() != StatusCode::kInvalidArgument)
        return matched.status();
      why.push_back(r.first + ": " + matched.status().message());
    }
    if (!recipe)
      return no_kernel("unsupported", fmt::format("the built-in generator has no recipe for this task ({})",
                                                  fmt::join(why, "; ")));
    if (start && start->recipe != recipe->first) start.reset();
    std::vector<builtin::Knob> knobs;
    for (const builtin::Knob& k : builtin::AllKnobs())
      if (std::find(names.begin(), names.end(), k.name) != names.end()) knobs.push_back(k);
    const RecipeSetting from = start ? *start : builtin::DefaultSetting(recipe->first, knobs);
    const std::vector<RecipeSetting> space = builtin::SettingsNear(from, knobs);
    // Recipe instances from the bank guide the choice: the feasible kernels of this recipe in
    // the context, in the order retrieval ranked them (by Q_draft or Q_refine under value
    // retrieval). Drafting takes the first one's setting (its knobs that matter here); refining
    // changes one knob of the start point toward the first one that differs from it. Without
    // such guides (or when all they point to was tried) the neighbours of the start point in
    // knob order.
    std::optional<RecipeSetting> pick;
    std::string guided_by;
    for (const PromptItem& item : rq.context) {
      if (pick) break;
      if (item.kind != "trace" || item.outcome != "feasible") continue;
      auto g = RecipeSetting::FromCode(item.content);
      if (!g || g->recipe != recipe->first) continue;
      for (const RecipeSetting& s : space) {
        if (builtin::Follows(s, from, *g, start.has_value()) && !tried.count(s)) {
          pick = s;
          guided_by = item.id;
          break;
        }
      }
    }
    if (!pick)
      for (const RecipeSetting& s : space)
        if (!tried.count(s)) {
          pick = s;
          break;
        }
    if (!pick)
      return no_kernel("search_exhausted", fmt::format("every setting of the {} recipe's knobs ({}) was tried for "
                                                       "this task",
                                                       recipe->first, space.size()));
    auto code = recipe->second(*rq.spec, *pick, nullptr);
    if (!code.ok()) return code.status();
    tried.insert(*pick);
    if (!guided_by.empty()) {  // say where the setting came from, under the setting line
      const size_t eol = code->find('\n');
      code->insert(eol + 1, fmt::format("// {} from experience {} (a kernel of this recipe the bank ranked first)\n",
                                        start ? "one knob moved toward the setting" : "the setting", guided_by));
    }
    p.kernel.ok = true;
    p.kernel.code = *code;
    p.kernel.blocks = 1;
    p.reply.text = *code;
    p.prompt_hash = p.reply.request_hash = Sha256Hex("builtin\n" + rq.task_id + "\n" + pick->Line() + "\n" + guided_by);
    return p;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::set<RecipeSetting>> tried_;  // per task, this session
};

}  // namespace

std::unique_ptr<Generator> MakeBuiltinGenerator() { return std::make_unique<BuiltinGenerator>(); }

}  // namespace evokernel
