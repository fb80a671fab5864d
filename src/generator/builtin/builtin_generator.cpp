#include "generator/builtin/builtin_generator.h"

#include <algorithm>
#include <charconv>
#include <mutex>
#include <set>

#include <fmt/format.h>

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

const std::vector<Knob>& ElementwiseKnobs() {
  static const std::vector<Knob> knobs = {{"parallel", {1, 0}}, {"simd", {1, 0}}, {"block", {0, 16384, 4096}}};
  return knobs;
}

RecipeSetting ElementwiseDefault() {
  RecipeSetting s;
  s.recipe = "elementwise";
  for (const Knob& k : ElementwiseKnobs()) s.knobs[k.name] = k.values.front();
  return s;
}

// Every setting of the recipe's knobs, ordered by how many knobs differ from `from` (then by
// knob order): the neighbours of a start point come first.
std::vector<RecipeSetting> SettingsNear(const RecipeSetting& from) {
  std::vector<RecipeSetting> all = {ElementwiseDefault()};
  all.front().knobs.clear();
  for (const Knob& k : ElementwiseKnobs()) {
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

Result<std::string> RenderElementwise(const TaskSpec& spec, const RecipeSetting& setting) {
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
  EVK_ASSIGN_OR_RETURN(ElementwiseExpr e, TranslateElementwise(fr.expression, fr.params, spec.constants));
  const int parallel = setting.knobs.count("parallel") ? setting.knobs.at("parallel") : 1;
  const int simd = setting.knobs.count("simd") ? setting.knobs.at("simd") : 1;
  const int block = setting.knobs.count("block") ? setting.knobs.at("block") : 0;
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
      "#include <cstdint>\n\n"
      "extern \"C\" void evokernel_forward({}float* __restrict evk_out) {{\n"
      "  constexpr int64_t evk_n = evokernel_task::{}_numel;\n"
      "{}"
      "}}\n",
      setting.Line(), outputs[0]->name, fr.expression, params, outputs[0]->name, body);
}

}  // namespace builtin

namespace {

using builtin::RecipeSetting;

class BuiltinGenerator : public Generator {
 public:
  Method method() const override { return Method::kBuiltin; }
  Traits traits() const override {
    Traits t;
    t.uses_bank = false;  // recipe items with values are not built yet
    return t;
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
    std::optional<RecipeSetting> pick;
    for (const RecipeSetting& s : builtin::SettingsNear(start ? *start : builtin::ElementwiseDefault()))
      if (!tried.count(s)) {
        pick = s;
        break;
      }
    if (!pick)
      return no_kernel("search_exhausted", fmt::format("every setting of the elementwise recipe's knobs ({}) was "
                                                       "tried for this task",
                                                       builtin::SettingsNear(builtin::ElementwiseDefault()).size()));
    auto code = builtin::RenderElementwise(*rq.spec, *pick);
    if (!code.ok()) {
      if (code.status().code() != StatusCode::kUnavailable && code.status().code() != StatusCode::kInvalidArgument)
        return code.status();
      return no_kernel("unsupported", "the built-in generator has no recipe for this task: " + code.status().message());
    }
    tried.insert(*pick);
    p.kernel.ok = true;
    p.kernel.code = *code;
    p.kernel.blocks = 1;
    p.reply.text = *code;
    p.prompt_hash = p.reply.request_hash = Sha256Hex("builtin\n" + rq.task_id + "\n" + pick->Line());
    return p;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::set<RecipeSetting>> tried_;  // per task, this session
};

}  // namespace

std::unique_ptr<Generator> MakeBuiltinGenerator() { return std::make_unique<BuiltinGenerator>(); }

}  // namespace evokernel
