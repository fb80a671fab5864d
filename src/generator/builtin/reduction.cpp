// The built-in generator's reduction recipe (builtin_generator.h): a forward() that returns
// one reduction, arg-reduction or softmax of its one float32 input over one dimension.
#include <regex>

#include <fmt/format.h>

#include "common/strings.h"
#include "generator/builtin/builtin_generator.h"
#include "generator/builtin/expression.h"

namespace evokernel::builtin {

namespace {

struct Reduction {
  std::string op;  // sum mean prod max min argmax argmin softmax log_softmax
  int dim = 0;
  bool keepdim = false;
};

// Parses forward()'s expression as one reduction of `input`; kUnavailable when it is not one.
Result<Reduction> ParseReduction(const std::string& expr, const std::string& input, const nlohmann::json& scope) {
  // torch.sum(x, dim=1, keepdim=True), torch.max(x, dim=1)[0], F.softmax(x, dim=-1), x.sum(1), ...
  static const std::regex kCall(
      R"(^(?:torch\.nn\.functional\.|torch\.|F\.|(\w+)\.)(sum|mean|prod|max|min|amax|amin|argmax|argmin|softmax|log_softmax)\s*\(\s*(\w*)\s*,?\s*(?:dim\s*=\s*)?([\w.\-]+)\s*(?:,\s*keepdim\s*=\s*(True|False)\s*)?\)\s*(\[\s*0\s*\])?$)");
  std::smatch m;
  // (std::regex recurses per character: bound what a hostile task file can make it read.)
  if (expr.size() > 4096 || !std::regex_match(expr, m, kCall))
    return Unavailable("forward() does not return one reduction over a dimension");
  const std::string object = m[1].str(), first = m[3].str();
  // A method call (x.sum(dim=1)) names the tensor before the dot; a function, as its first argument.
  std::string tensor = object.empty() ? first : object;
  std::string dim_text = m[4].str();
  if (!object.empty() && !first.empty()) return Unavailable("forward() calls " + m[2].str() + " with two arguments");
  if (tensor.empty()) return Unavailable("forward() reduces over every dimension; the recipe reduces one");
  if (tensor != input) return Unavailable("forward() reduces " + tensor + ", not its input " + input);
  Reduction r;
  r.op = m[2].str();
  if (r.op == "amax") r.op = "max";
  if (r.op == "amin") r.op = "min";
  r.keepdim = m[5].str() == "True";
  const bool indexed = m[6].matched;
  if ((r.op == "max" || r.op == "min") && m[2].str().size() == 3 && !indexed)
    return Unavailable("torch." + r.op + " over a dimension returns values and indices; the recipe takes [0]");
  if (indexed && r.op != "max" && r.op != "min") return Unavailable("forward() indexes the result of " + r.op);
  if ((r.op == "softmax" || r.op == "log_softmax") && m[5].matched)
    return Unavailable(r.op + " takes no keepdim");
  // The dimension: a literal, or an attribute or constant.
  try {
    size_t used = 0;
    r.dim = std::stoi(dim_text, &used);
    if (used != dim_text.size()) throw std::invalid_argument(dim_text);
  } catch (const std::exception&) {
    if (!scope.contains(dim_text) || !scope[dim_text].is_number_integer())
      return Unavailable("the reduction's dimension " + dim_text + " is not an integer the recipe can resolve");
    r.dim = scope[dim_text].get<int>();
  }
  return r;
}

}  // namespace

Result<std::string> RenderReduction(const TaskSpec& spec, const RecipeSetting& setting,
                                    std::vector<std::string>* knobs_used) {
  const TaskArg* in = nullptr;
  const TaskArg* out = nullptr;
  for (const auto& a : spec.args) {
    if (a.role == ArgRole::kOutput) {
      if (out) return Unavailable("the task has several outputs");
      out = &a;
    } else if (a.role == ArgRole::kInput && !in) {
      in = &a;
    } else {
      return Unavailable("the reduction recipe takes one input and no parameters");
    }
  }
  if (!in || !out) return Unavailable("the task has no input or no output");
  if (in->dtype != DType::kFloat32) return Unavailable("the input is not float32");
  EVK_ASSIGN_OR_RETURN(ForwardReturn fr, FindForwardReturn(spec.source));
  if (fr.params.size() != 1) return Unavailable("forward() takes more than one argument");
  EVK_ASSIGN_OR_RETURN(Reduction red, ParseReduction(fr.expression, fr.params[0],
                                                     ExpressionScope(spec.source, spec.init_inputs, spec.constants)));
  const int rank = static_cast<int>(in->shape.size());
  int d = red.dim < 0 ? red.dim + rank : red.dim;
  if (d < 0 || d >= rank) return Unavailable(fmt::format("dimension {} is out of range for rank {}", red.dim, rank));
  int64_t outer = 1, len = in->shape[static_cast<size_t>(d)], inner = 1;
  for (int i = 0; i < d; ++i) outer *= in->shape[static_cast<size_t>(i)];
  for (int i = d + 1; i < rank; ++i) inner *= in->shape[static_cast<size_t>(i)];
  // The output must be what the recipe computes: the input's shape (softmax), or without the
  // dimension (or with it as 1 under keepdim).
  std::vector<int64_t> want = in->shape;
  const bool softmax = red.op == "softmax" || red.op == "log_softmax";
  if (!softmax) {
    if (red.keepdim) want[static_cast<size_t>(d)] = 1;
    else want.erase(want.begin() + d);
  }
  if (inner > 65536)
    return Unavailable(fmt::format("{} positions after the reduced dimension: more accumulators than the recipe keeps "
                                   "on the stack",
                                   inner));
  const bool arg = red.op == "argmax" || red.op == "argmin";
  if (out->shape != want || out->dtype != (arg ? DType::kInt64 : DType::kFloat32))
    return Unavailable("the output's shape or dtype is not that of a " + red.op + " over dimension " + std::to_string(d));
  const bool uses_exp = softmax;
  if (knobs_used) {
    *knobs_used = {"parallel"};
    if (uses_exp) knobs_used->push_back("fast_math");
  }
  const int parallel = setting.knobs.count("parallel") ? setting.knobs.at("parallel") : 1;
  const int fast_math = uses_exp && setting.knobs.count("fast_math") ? setting.knobs.at("fast_math") : 0;

  // [outer, len, inner]: one accumulator per inner position, the inner loop vectorised.
  std::string body;
  const std::string x = "x_", y = "y_";
  if (!softmax) {
    std::string init, step, fin;
    if (red.op == "sum" || red.op == "mean") {
      init = "0.0f";
      step = "acc[i] += v;";
      fin = red.op == "mean" ? fmt::format("acc[i] / {}.0f", len) : "acc[i]";
    } else if (red.op == "prod") {
      init = "1.0f";
      step = "acc[i] *= v;";
      fin = "acc[i]";
    } else if (red.op == "max" || red.op == "min") {
      init = fmt::format("{}[o * {} * {} + i]", x, len, inner);
      step = red.op == "max" ? "acc[i] = v > acc[i] ? v : acc[i];" : "acc[i] = v < acc[i] ? v : acc[i];";
      fin = "acc[i]";
    } else {  // argmax / argmin: the first index of the extreme value
      init = fmt::format("{}[o * {} * {} + i]", x, len, inner);
      step = fmt::format("if (v {} acc[i]) {{ acc[i] = v; idx[i] = r; }}", red.op == "argmax" ? ">" : "<");
      fin = "idx[i]";
    }
    body = fmt::format(
        "{par}"
        "  for (int64_t o = 0; o < {outer}; ++o) {{\n"
        "    float acc[{inner}];\n"
        "{idx_decl}"
        "    for (int64_t i = 0; i < {inner}; ++i) {{ acc[i] = {init};{idx_init} }}\n"
        "    for (int64_t r = {r0}; r < {len}; ++r) {{\n"
        "      const float* row = {x} + (o * {len} + r) * {inner};\n"
        "{simd}"
        "      for (int64_t i = 0; i < {inner}; ++i) {{ const float v = row[i]; {step} }}\n"
        "    }}\n"
        "    for (int64_t i = 0; i < {inner}; ++i) {y}[o * {inner} + i] = {fin};\n"
        "  }}\n",
        fmt::arg("par", parallel ? "#pragma omp parallel for schedule(static)\n" : ""), fmt::arg("outer", outer),
        fmt::arg("inner", inner), fmt::arg("len", len), fmt::arg("x", x), fmt::arg("y", y), fmt::arg("init", init),
        fmt::arg("step", step), fmt::arg("fin", fin), fmt::arg("r0", red.op == "sum" || red.op == "mean" || red.op == "prod" ? 0 : 1),
        fmt::arg("idx_decl", arg ? fmt::format("    int64_t idx[{}];\n", inner) : ""),
        fmt::arg("idx_init", arg ? " idx[i] = 0;" : ""), fmt::arg("simd", arg ? "" : "#pragma omp simd\n"));
  } else {
    const bool log = red.op == "log_softmax";
    body = fmt::format(
        "{par}"
        "  for (int64_t o = 0; o < {outer}; ++o) {{\n"
        "    float mx[{inner}], sum[{inner}];\n"
        "    for (int64_t i = 0; i < {inner}; ++i) {{ mx[i] = {x}[o * {len} * {inner} + i]; sum[i] = 0.0f; }}\n"
        "    for (int64_t r = 1; r < {len}; ++r) {{\n"
        "      const float* row = {x} + (o * {len} + r) * {inner};\n"
        "#pragma omp simd\n"
        "      for (int64_t i = 0; i < {inner}; ++i) mx[i] = row[i] > mx[i] ? row[i] : mx[i];\n"
        "    }}\n"
        "    for (int64_t r = 0; r < {len}; ++r) {{\n"
        "      const float* row = {x} + (o * {len} + r) * {inner};\n"
        "#pragma omp simd\n"
        "      for (int64_t i = 0; i < {inner}; ++i) sum[i] += evk_exp(row[i] - mx[i]);\n"
        "    }}\n"
        "    for (int64_t i = 0; i < {inner}; ++i) sum[i] = {norm};\n"
        "    for (int64_t r = 0; r < {len}; ++r) {{\n"
        "      const float* row = {x} + (o * {len} + r) * {inner};\n"
        "      float* dst = {y} + (o * {len} + r) * {inner};\n"
        "#pragma omp simd\n"
        "      for (int64_t i = 0; i < {inner}; ++i) dst[i] = {out};\n"
        "    }}\n"
        "  }}\n",
        fmt::arg("par", parallel ? "#pragma omp parallel for schedule(static)\n" : ""), fmt::arg("outer", outer),
        fmt::arg("inner", inner), fmt::arg("len", len), fmt::arg("x", x), fmt::arg("y", y),
        fmt::arg("norm", log ? "std::log(sum[i])" : "1.0f / sum[i]"),
        fmt::arg("out", log ? "row[i] - mx[i] - sum[i]" : "evk_exp(row[i] - mx[i]) * sum[i]"));
  }
  return fmt::format(
      "{}\n"
      "// Built-in reduction kernel (written by evokernel's built-in generator, no model):\n"
      "//   {} = {}   ([{}, {}, {}] over the middle dimension)\n"
      "#include <cmath>\n"
      "#include <cstdint>\n"
      "#include <cstring>\n\n"
      "#pragma GCC optimize(\"no-trapping-math\")\n\n"
      "{}"
      "extern \"C\" void evokernel_forward(const float* __restrict {}, {}* __restrict {}) {{\n"
      "{}"
      "}}\n",
      setting.Line(), out->name, fr.expression, outer, len, inner,
      MathPreamble(fast_math != 0, body), x, arg ? "int64_t" : "float", y, body);
}

}  // namespace evokernel::builtin
