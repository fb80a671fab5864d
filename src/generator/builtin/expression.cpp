#include "generator/builtin/expression.h"

#include <cctype>
#include <cmath>
#include <algorithm>
#include <functional>
#include <optional>

#include <fmt/format.h>

#include "common/strings.h"

namespace evokernel::builtin {

namespace {

// What the translator does not cover (kUnavailable): the generator reports it as unsupported.
Status Unimplemented(std::string m) { return Unavailable(std::move(m)); }

std::vector<std::string_view> SplitString(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  return out;
}

}  // namespace

Result<std::vector<Token>> Tokenize(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c)) || c == '\\') {
      ++i;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_' || s[j] == '.')) ++j;
      out.push_back({Token::kName, std::string(s.substr(i, j - i))});
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c)) || (c == '.' && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      size_t j = i;
      while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
      if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
        ++j;
        if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
        while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      }
      out.push_back({Token::kNumber, std::string(s.substr(i, j - i))});
      i = j;
    } else if (c == '\'' || c == '"') {
      size_t j = s.find(c, i + 1);
      if (j == std::string_view::npos) return InvalidArgument("unterminated string in the forward expression");
      out.push_back({Token::kString, std::string(s.substr(i + 1, j - i - 1))});
      i = j + 1;
    } else if (c == '.' && !out.empty() && out.back().kind == Token::kOp &&
               (out.back().text == ")" || out.back().text == "]")) {
      out.push_back({Token::kOp, "."});  // a method of an expression: (a + b).sum()
      ++i;
    } else if (c == '*' && i + 1 < s.size() && s[i + 1] == '*') {
      out.push_back({Token::kOp, "**"});
      i += 2;
    } else if (std::string_view("+-*/(),=[]@:").find(c) != std::string_view::npos) {
      out.push_back({Token::kOp, std::string(1, c)});
      ++i;
    } else {
      return Unimplemented(fmt::format("the forward expression uses '{}', which the elementwise recipe does not read", c));
    }
  }
  out.push_back({Token::kEnd, ""});
  return out;
}

std::string FloatLiteral(double v) {
  if (std::isnan(v)) return "NAN";
  if (std::isinf(v)) return v > 0 ? "INFINITY" : "(-INFINITY)";
  std::string s = fmt::format("{:.9g}", v);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s + "f";
}

namespace {

// The argument at `index` or named `name`, else `fallback` (a C++ expression); "" when required
// and missing.
std::string Arg(const Args& a, size_t index, const std::string& name, const std::string& fallback) {
  if (index < a.pos.size()) return a.pos[index];
  if (auto it = a.kw.find(name); it != a.kw.end()) return it->second;
  return fallback;
}

using Fn = std::function<Result<std::string>(const Args&)>;

// exp, expm1, tanh and erf are written as evk_exp, ... : the kernel defines them (the C
// library's, or vectorisable approximations: the recipe's fast_math knob).
// Comparisons are written as conditionals, not std::fmin/std::fmax: without -ffast-math those
// are library calls per element that the compiler does not vectorise (a ReLU took 6x as long as
// PyTorch's), and a conditional keeps PyTorch's NaN propagation (NaN < 0 is false).
const std::map<std::string, Fn>& Functions() {
  static const std::map<std::string, Fn> fns = [] {
    std::map<std::string, Fn> m;
    auto unary = [](std::string fmt_text) {
      return Fn([fmt_text](const Args& a) -> Result<std::string> {
        if (a.pos.empty()) return InvalidArgument("missing argument");
        return fmt::format(fmt::runtime(fmt_text), fmt::arg("x", a.pos[0]));
      });
    };
    m["relu"] = unary("(({x}) < 0.0f ? 0.0f : ({x}))");
    m["relu6"] = unary("(({x}) < 0.0f ? 0.0f : ({x}) > 6.0f ? 6.0f : ({x}))");
    m["sigmoid"] = unary("(1.0f / (1.0f + evk_exp(-({x}))))");
    m["tanh"] = unary("evk_tanh({x})");
    m["exp"] = unary("evk_exp({x})");
    m["log"] = unary("evk_log({x})");
    m["log1p"] = unary("evk_log1p({x})");
    m["sqrt"] = unary("std::sqrt({x})");
    m["rsqrt"] = unary("(1.0f / std::sqrt({x}))");
    m["abs"] = unary("std::fabs({x})");
    m["sin"] = unary("std::sin({x})");
    m["cos"] = unary("std::cos({x})");
    m["neg"] = unary("(-({x}))");
    m["square"] = unary("(({x}) * ({x}))");
    m["silu"] = unary("(({x}) / (1.0f + evk_exp(-({x}))))");
    m["softsign"] = unary("(({x}) / (1.0f + std::fabs({x})))");
    m["hardsigmoid"] = unary("(({x}) <= -3.0f ? 0.0f : ({x}) >= 3.0f ? 1.0f : ({x}) / 6.0f + 0.5f)");
    m["hardswish"] = unary("(({x}) <= -3.0f ? 0.0f : ({x}) >= 3.0f ? ({x}) : ({x}) * (({x}) + 3.0f) / 6.0f)");
    m["mish"] = unary("(({x}) * evk_tanh(evk_log1p(evk_exp({x}))))");
    m["selu"] = unary("(1.05070098f * (({x}) > 0.0f ? ({x}) : 1.67326324f * evk_expm1({x})))");
    m["leaky_relu"] = [](const Args& a) -> Result<std::string> {
      if (a.pos.empty()) return InvalidArgument("missing argument");
      std::string s = Arg(a, 1, "negative_slope", "0.01f");
      return fmt::format("(({0}) > 0.0f ? ({0}) : ({1}) * ({0}))", a.pos[0], s);
    };
    m["elu"] = [](const Args& a) -> Result<std::string> {
      if (a.pos.empty()) return InvalidArgument("missing argument");
      return fmt::format("(({0}) > 0.0f ? ({0}) : ({1}) * evk_expm1({0}))", a.pos[0], Arg(a, 1, "alpha", "1.0f"));
    };
    m["hardtanh"] = [](const Args& a) -> Result<std::string> {
      if (a.pos.empty()) return InvalidArgument("missing argument");
      return fmt::format("(({0}) < ({1}) ? ({1}) : ({0}) > ({2}) ? ({2}) : ({0}))", a.pos[0],
                         Arg(a, 1, "min_val", "-1.0f"), Arg(a, 2, "max_val", "1.0f"));
    };
    m["clamp"] = [](const Args& a) -> Result<std::string> {
      if (a.pos.empty()) return InvalidArgument("missing argument");
      std::string r = a.pos[0];
      if (std::string lo = Arg(a, 1, "min", ""); !lo.empty()) r = fmt::format("(({0}) < ({1}) ? ({1}) : ({0}))", r, lo);
      if (std::string hi = Arg(a, 2, "max", ""); !hi.empty()) r = fmt::format("(({0}) > ({1}) ? ({1}) : ({0}))", r, hi);
      return r;
    };
    m["softplus"] = [](const Args& a) -> Result<std::string> {
      if (a.pos.empty()) return InvalidArgument("missing argument");
      std::string beta = Arg(a, 1, "beta", "1.0f"), threshold = Arg(a, 2, "threshold", "20.0f");
      return fmt::format("((({1}) * ({0})) > ({2}) ? ({0}) : evk_log1p(evk_exp(({1}) * ({0}))) / ({1}))", a.pos[0],
                         beta, threshold);
    };
    m["gelu"] = [](const Args& a) -> Result<std::string> {
      if (a.pos.empty()) return InvalidArgument("missing argument");
      auto it = a.kw_string.find("approximate");
      if (it == a.kw_string.end() || it->second == "none")
        return fmt::format("(0.5f * ({0}) * (1.0f + evk_erf(({0}) * 0.70710678f)))", a.pos[0]);
      if (it->second == "tanh")
        return fmt::format("(0.5f * ({0}) * (1.0f + evk_tanh(0.79788456f * (({0}) + 0.044715f * ({0}) * ({0}) * ({0})))))",
                           a.pos[0]);
      return Unimplemented("gelu with approximate='" + it->second + "'");
    };
    m["pow"] = [](const Args& a) -> Result<std::string> {
      if (a.pos.size() < 2) return InvalidArgument("pow needs two arguments");
      return fmt::format("std::pow({}, {})", a.pos[0], a.pos[1]);
    };
    return m;
  }();
  return fns;
}

}  // namespace

std::optional<std::string> FunctionName(const std::string& dotted) {
  for (std::string_view prefix : {"torch.nn.functional.", "nn.functional.", "F.", "torch."})
    if (dotted.rfind(prefix, 0) == 0) return dotted.substr(prefix.size());
  return std::nullopt;
}

Result<std::string> ElementwiseCall(const std::string& fn, const Args& args) {
  auto it = Functions().find(fn);
  if (it == Functions().end()) return NotFound(fn + " is not an elementwise function the recipes know");
  auto r = it->second(args);
  if (!r.ok()) return Status(r.status().code(), fn + ": " + r.status().message());
  return r;
}

namespace {

class Parser {
 public:
  Parser(std::vector<Token> toks, const std::vector<std::string>& inputs, const nlohmann::json& constants,
         ElementwiseExpr& out)
      : t_(std::move(toks)), inputs_(inputs), constants_(constants), out_(out) {}

  Result<std::string> Parse() {
    EVK_ASSIGN_OR_RETURN(std::string e, Expr());
    if (Peek().kind != Token::kEnd) return InvalidArgument("unexpected '" + Peek().text + "' in the forward expression");
    return e;
  }

 private:
  const Token& Peek() const { return t_[pos_]; }
  bool IsOp(const char* op) const { return Peek().kind == Token::kOp && Peek().text == op; }

  Result<std::string> Expr() {
    EVK_ASSIGN_OR_RETURN(std::string l, Term());
    while (IsOp("+") || IsOp("-")) {
      std::string op = t_[pos_++].text;
      EVK_ASSIGN_OR_RETURN(std::string r, Term());
      l = "(" + l + " " + op + " " + r + ")";
    }
    return l;
  }
  Result<std::string> Term() {
    EVK_ASSIGN_OR_RETURN(std::string l, Unary());
    while (IsOp("*") || IsOp("/")) {
      std::string op = t_[pos_++].text;
      EVK_ASSIGN_OR_RETURN(std::string r, Unary());
      l = "(" + l + " " + op + " " + r + ")";
    }
    return l;
  }
  Result<std::string> Unary() {
    // Nesting is bounded so that a hostile task file cannot overflow the stack.
    struct Depth {
      explicit Depth(int& d) : d_(d) { ++d_; }
      ~Depth() { --d_; }
      int& d_;
    } guard(depth_);
    if (depth_ > 200) return Unimplemented("the forward expression nests more than 200 deep");
    if (IsOp("-")) {
      ++pos_;
      EVK_ASSIGN_OR_RETURN(std::string e, Unary());
      return "(-" + e + ")";
    }
    if (IsOp("+")) {
      ++pos_;
      return Unary();
    }
    EVK_ASSIGN_OR_RETURN(std::string base, Primary());
    if (IsOp("**")) {
      ++pos_;
      EVK_ASSIGN_OR_RETURN(std::string exp, Unary());
      return "std::pow(" + base + ", " + exp + ")";
    }
    return base;
  }
  Result<Args> CallArgs() {
    Args a;
    ++pos_;  // (
    while (!IsOp(")")) {
      if (Peek().kind == Token::kEnd) return InvalidArgument("unbalanced parentheses in the forward expression");
      if (Peek().kind == Token::kName && t_[pos_ + 1].kind == Token::kOp && t_[pos_ + 1].text == "=") {
        std::string key = Peek().text;
        pos_ += 2;
        if (Peek().kind == Token::kString) {
          a.kw_string[key] = t_[pos_++].text;
        } else if (Peek().kind == Token::kName && (Peek().text == "True" || Peek().text == "False" || Peek().text == "None")) {
          if (key != "inplace" && Peek().text != "None")
            return Unimplemented("keyword " + key + "=" + Peek().text);
          ++pos_;
        } else {
          EVK_ASSIGN_OR_RETURN(a.kw[key], Expr());
        }
      } else {
        EVK_ASSIGN_OR_RETURN(std::string e, Expr());
        a.pos.push_back(std::move(e));
      }
      if (IsOp(",")) ++pos_;
      else if (!IsOp(")")) return InvalidArgument("expected ',' or ')' in a call in the forward expression");
    }
    ++pos_;  // )
    return a;
  }
  Result<std::string> Call(const std::string& fn, Args a) {
    auto it = Functions().find(fn);
    if (it == Functions().end())
      return Unimplemented("forward calls " + fn + ", which the elementwise recipe does not know");
    out_.functions.push_back(fn);
    auto r = it->second(a);
    if (!r.ok()) return Status(r.status().code(), fn + ": " + r.status().message());
    return r;
  }
  Result<std::string> Primary() {
    const Token tok = Peek();
    if (tok.kind == Token::kNumber) {
      ++pos_;
      try {
        return FloatLiteral(std::stod(tok.text));
      } catch (const std::exception&) {
        return InvalidArgument("bad number '" + tok.text + "' in the forward expression");
      }
    }
    if (IsOp("(")) {
      ++pos_;
      EVK_ASSIGN_OR_RETURN(std::string e, Expr());
      if (!IsOp(")")) return InvalidArgument("unbalanced parentheses in the forward expression");
      ++pos_;
      return "(" + e + ")";
    }
    if (tok.kind != Token::kName) return InvalidArgument("unexpected '" + tok.text + "' in the forward expression");
    ++pos_;
    const bool on_input = std::find(inputs_.begin(), inputs_.end(), tok.text.substr(0, tok.text.find('.'))) !=
                          inputs_.end();
    if (IsOp("(") && !on_input) {  // a function: torch.sigmoid(x), F.gelu(x)
      auto fn = FunctionName(tok.text);
      if (!fn) return Unimplemented("forward calls " + tok.text + ", which the elementwise recipe does not know");
      EVK_ASSIGN_OR_RETURN(Args a, CallArgs());
      return Call(*fn, std::move(a));
    }
    // A method of an input: x.sigmoid(), x.clamp(min=0).
    std::string name = tok.text, method;
    if (size_t dot = name.find('.'); dot != std::string::npos && name.rfind("self.", 0) != 0) {
      method = name.substr(dot + 1);
      name = name.substr(0, dot);
    }
    std::string value;
    if (std::find(inputs_.begin(), inputs_.end(), name) != inputs_.end()) {
      value = name + "[evk_i]";
    } else {
      const std::string& key = name;
      if (!constants_.is_object() || !constants_.contains(key) || !constants_[key].is_number())
        return Unimplemented(fmt::format("forward reads {}, which is neither a tensor argument nor a numeric module "
                                         "constant of the task file",
                                         name));
      value = FloatLiteral(constants_[key].get<double>());
    }
    if (method.empty()) return value;
    if (!IsOp("(")) return Unimplemented("forward reads the attribute " + tok.text);
    EVK_ASSIGN_OR_RETURN(Args a, CallArgs());
    a.pos.insert(a.pos.begin(), value);
    return Call(method, std::move(a));
  }

  std::vector<Token> t_;
  size_t pos_ = 0;
  int depth_ = 0;
  const std::vector<std::string>& inputs_;
  const nlohmann::json& constants_;
  ElementwiseExpr& out_;
};

}  // namespace

Result<ElementwiseExpr> TranslateElementwise(std::string_view source, const std::vector<std::string>& inputs,
                                             const nlohmann::json& constants) {
  EVK_ASSIGN_OR_RETURN(std::vector<Token> toks, Tokenize(source));
  ElementwiseExpr out;
  Parser p(std::move(toks), inputs, constants, out);
  EVK_ASSIGN_OR_RETURN(out.cpp, p.Parse());
  return out;
}

nlohmann::json ExpressionScope(std::string_view src, const nlohmann::json& init_inputs,
                               const nlohmann::json& constants) {
  nlohmann::json scope = nlohmann::json::object();
  if (constants.is_object())
    for (const auto& [k, v] : constants.items())
      if (v.is_number()) scope[k] = v;
  const size_t def = src.find("def __init__(");
  if (def == std::string_view::npos) return scope;
  const size_t close = src.find(')', def);
  if (close == std::string_view::npos) return scope;
  std::vector<std::string> params;
  for (std::string_view p : SplitString(src.substr(def + 13, close - def - 13), ',')) {
    std::string name = Trim(p.substr(0, p.find_first_of(":=")));
    if (!name.empty() && name != "self" && name[0] != '*') params.push_back(name);
  }
  // `self.A = B` lines of __init__'s body (up to the next def).
  const size_t end = std::min(src.size(), src.find("\n    def ", close));
  size_t pos = close;
  while (pos < end) {
    size_t eol = src.find('\n', pos);
    if (eol == std::string_view::npos || eol > end) eol = end;
    std::string_view line = TrimView(src.substr(pos, eol - pos));
    pos = eol + 1;
    if (line.rfind("self.", 0) != 0) continue;
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos || (eq + 1 < line.size() && line[eq + 1] == '=')) continue;
    const std::string attr = Trim(line.substr(0, eq));
    const std::string value = Trim(line.substr(eq + 1));
    if (attr.find_first_of(" ([") != std::string::npos) continue;
    if (auto it = std::find(params.begin(), params.end(), value); it != params.end()) {
      const size_t k = static_cast<size_t>(it - params.begin());
      if (init_inputs.is_array() && k < init_inputs.size() && init_inputs[k].is_number()) scope[attr] = init_inputs[k];
    } else if (scope.contains(value)) {
      scope[attr] = scope[value];
    } else {
      try {
        size_t used = 0;
        double d = std::stod(value, &used);
        if (used == value.size()) scope[attr] = d;
      } catch (const std::exception&) {
      }
    }
  }
  return scope;
}

Result<ForwardBody> FindForwardBody(std::string_view src) {
  const size_t def = src.find("def forward(");
  if (def == std::string_view::npos) return Unimplemented("the task file has no forward()");
  const size_t close = src.find(')', def);
  const size_t colon = close == std::string_view::npos ? close : src.find(":\n", close);
  if (colon == std::string_view::npos) return Unimplemented("forward()'s signature spans lines");
  ForwardBody fr;
  std::string params(src.substr(def + 12, close - def - 12));
  for (std::string_view p : SplitString(params, ',')) {
    std::string name = Trim(p.substr(0, p.find(':')));
    if (size_t eq = name.find('='); eq != std::string::npos) name = Trim(std::string_view(name).substr(0, eq));
    if (!name.empty() && name != "self") fr.params.push_back(name);
  }
  // The body: the lines after the signature indented deeper than `def`.
  const size_t line_start = src.rfind('\n', def) == std::string_view::npos ? 0 : src.rfind('\n', def) + 1;
  const size_t def_indent = def - line_start;
  std::vector<std::string> statements;
  size_t pos = colon + 2;
  int depth = 0;
  bool in_doc = false;
  while (pos < src.size()) {
    size_t end = src.find('\n', pos);
    if (end == std::string_view::npos) end = src.size();
    std::string_view line = src.substr(pos, end - pos);
    pos = end + 1;
    std::string_view t = TrimView(line);
    if (t.empty() || t[0] == '#') continue;
    const size_t indent = line.find_first_not_of(" \t");
    if (depth == 0 && !in_doc && indent <= def_indent) break;
    if (t.rfind("\"\"\"", 0) == 0 || in_doc) {  // a docstring
      const bool closes = in_doc ? t.find("\"\"\"") != std::string_view::npos
                                 : t.size() >= 6 && t.find("\"\"\"", 3) != std::string_view::npos;
      in_doc = !closes;
      continue;
    }
    std::string_view code = t.substr(0, t.find(" #"));
    if (depth > 0) statements.back().append(1, ' ').append(code);
    else statements.emplace_back(code);
    for (char c : code) depth += c == '(' ? 1 : c == ')' ? -1 : 0;
  }
  fr.statements = std::move(statements);
  return fr;
}

Result<ForwardReturn> FindForwardReturn(std::string_view src) {
  EVK_ASSIGN_OR_RETURN(ForwardBody body, FindForwardBody(src));
  const auto& statements = body.statements;
  if (statements.size() != 1 || statements[0].rfind("return ", 0) != 0)
    return Unimplemented(fmt::format("forward() has {} statement(s); the elementwise recipe reads a forward that only "
                                     "returns one expression",
                                     statements.size()));
  ForwardReturn fr;
  fr.params = std::move(body.params);
  fr.expression = Trim(std::string_view(statements[0]).substr(7));
  return fr;
}

}  // namespace evokernel::builtin
