// The built-in generator's graph recipe (builtin_generator.h): forward() read as a small tensor
// program and compiled, statement by statement, into one C++ kernel.
//
// Every value is either a number or a tensor. A tensor is a shape and a C++ expression of one
// flat index, written '@' ("x[@]", "(1.0f / (1.0f + evk_exp(-(t0[@]))))"): elementwise
// operations, broadcasting, views, transposes and flips only rewrite that expression, so a
// chain of them costs nothing until an operation needs the values in memory (a matmul, a
// convolution, a norm, a pooling, a reduction) or the output is written. Those operations are
// loop nests over buffers: the kernel's arguments or temporaries it allocates per call (no
// state is kept between calls). The elementwise tail of a program (the fused epilogue) is
// applied in the loop that writes the output.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <numeric>
#include <optional>
#include <regex>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/strings.h"
#include "generator/builtin/builtin_generator.h"
#include "generator/builtin/expression.h"

namespace evokernel::builtin {

namespace {

using Shape = std::vector<int64_t>;

int64_t Numel(const Shape& s) { return std::accumulate(s.begin(), s.end(), int64_t{1}, std::multiplies<>()); }

// `s` split at the commas outside brackets.
std::vector<std::string_view> SplitTopLevel(std::string_view s) {
  std::vector<std::string_view> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || (s[i] == ',' && depth == 0)) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    } else if (s[i] == '(' || s[i] == '[') {
      ++depth;
    } else if (s[i] == ')' || s[i] == ']') {
      --depth;
    }
  }
  return out;
}

std::string ShapeText(const Shape& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

// ------------------------------------------------------------------------------------ syntax

struct Node {
  enum Kind { kNum, kStr, kName, kCall, kBin, kNeg, kIndex, kTuple, kAttr } kind = kName;
  std::string text;  // name, callee, operator or string
  double num = 0;
  bool integer = false;
  // call: arguments; bin: {l, r}; neg: {x}; index: {base, index...}; tuple: items; attr: {base}
  std::vector<Node> args;
  std::vector<std::string> kwnames;  // call: keyword arguments, names and values in order
  std::vector<Node> kwvalues;
};

class AstParser {
 public:
  explicit AstParser(std::vector<Token> t) : t_(std::move(t)) {}
  Result<Node> Parse() {
    EVK_ASSIGN_OR_RETURN(Node n, Expr());
    if (Peek().kind != Token::kEnd) return InvalidArgument("unexpected '" + Peek().text + "'");
    return n;
  }

 private:
  const Token& Peek() const { return t_[pos_]; }
  bool IsOp(const char* op) const { return Peek().kind == Token::kOp && Peek().text == op; }
  static Node Bin(std::string op, Node l, Node r) {
    Node n;
    n.kind = Node::kBin;
    n.text = std::move(op);
    n.args = {std::move(l), std::move(r)};
    return n;
  }
  // Operator chains build left-deep trees that evaluation walks recursively: bounded too.
  Status CountOperator() {
    if (++operators_ > 2000) return Unavailable("forward() has an expression of more than 2000 operations");
    return Status::Ok();
  }
  Result<Node> Expr() {
    EVK_ASSIGN_OR_RETURN(Node l, Term());
    while (IsOp("+") || IsOp("-")) {
      EVK_RETURN_IF_ERROR(CountOperator());
      std::string op = t_[pos_++].text;
      EVK_ASSIGN_OR_RETURN(Node r, Term());
      l = Bin(op, std::move(l), std::move(r));
    }
    return l;
  }
  Result<Node> Term() {
    EVK_ASSIGN_OR_RETURN(Node l, Unary());
    while (IsOp("*") || IsOp("/") || IsOp("@")) {
      EVK_RETURN_IF_ERROR(CountOperator());
      std::string op = t_[pos_++].text;
      if (op == "/" && IsOp("/")) {
        ++pos_;
        op = "//";
      }
      EVK_ASSIGN_OR_RETURN(Node r, Unary());
      l = Bin(op, std::move(l), std::move(r));
    }
    return l;
  }
  // Nesting is bounded so that a hostile task file cannot overflow the stack.
  struct Depth {
    explicit Depth(int& d) : d_(d) { ++d_; }
    ~Depth() { --d_; }
    int& d_;
  };
  static constexpr int kMaxDepth = 200;

  Result<Node> Unary() {
    Depth guard(depth_);
    if (depth_ > kMaxDepth) return Unavailable("forward() nests expressions more than 200 deep");
    if (IsOp("-")) {
      ++pos_;
      EVK_ASSIGN_OR_RETURN(Node e, Unary());
      Node n;
      n.kind = Node::kNeg;
      n.args.push_back(std::move(e));
      return n;
    }
    if (IsOp("+")) {
      ++pos_;
      return Unary();
    }
    EVK_ASSIGN_OR_RETURN(Node base, Postfix());
    if (IsOp("**")) {
      ++pos_;
      EVK_ASSIGN_OR_RETURN(Node e, Unary());
      return Bin("**", std::move(base), std::move(e));
    }
    return base;
  }
  Result<Node> Postfix() {
    EVK_ASSIGN_OR_RETURN(Node n, Primary());
    while (IsOp("[") || IsOp(".")) {
      EVK_RETURN_IF_ERROR(CountOperator());
      if (IsOp(".")) {  // a method of an expression: (a + b).sum(1) -> torch.sum(a + b, 1)
        ++pos_;
        if (Peek().kind != Token::kName) return InvalidArgument("expected a name after '.'");
        if (t_[pos_ + 1].kind != Token::kOp || t_[pos_ + 1].text != "(") {  // an attribute: .values
          Node attr;
          attr.kind = Node::kAttr;
          attr.text = t_[pos_++].text;
          attr.args.push_back(std::move(n));
          n = std::move(attr);
          continue;
        }
        EVK_ASSIGN_OR_RETURN(Node call, Primary());
        call.text = "torch." + call.text;
        call.args.insert(call.args.begin(), std::move(n));
        n = std::move(call);
        continue;
      }
      ++pos_;
      Node idx;
      idx.kind = Node::kIndex;
      idx.args.push_back(std::move(n));
      while (!IsOp("]")) {
        if (IsOp(":")) return Unavailable("forward() slices a tensor");
        EVK_ASSIGN_OR_RETURN(Node i, Expr());
        idx.args.push_back(std::move(i));
        if (IsOp(",")) ++pos_;
        else if (!IsOp("]")) return Unavailable("forward() indexes with '" + Peek().text + "'");
      }
      ++pos_;
      n = std::move(idx);
    }
    return n;
  }
  Result<Node> Primary() {
    const Token tok = Peek();
    if (tok.kind == Token::kEnd) return InvalidArgument("the expression ends early");
    ++pos_;
    Node n;
    if (tok.kind == Token::kNumber) {
      n.kind = Node::kNum;
      n.integer = tok.text.find_first_of(".eE") == std::string::npos;
      try {
        n.num = std::stod(tok.text);
      } catch (const std::exception&) {
        return InvalidArgument("bad number '" + tok.text + "'");
      }
      return n;
    }
    if (tok.kind == Token::kString) {
      n.kind = Node::kStr;
      n.text = tok.text;
      return n;
    }
    if (tok.kind == Token::kOp && (tok.text == "(" || tok.text == "[")) {
      const char* close = tok.text == "(" ? ")" : "]";
      std::vector<Node> items;
      bool comma = tok.text == "[";
      while (!IsOp(close)) {
        EVK_ASSIGN_OR_RETURN(Node e, Expr());
        items.push_back(std::move(e));
        if (IsOp(",")) {
          ++pos_;
          comma = true;
        } else if (!IsOp(close)) {
          return InvalidArgument("unbalanced brackets");
        }
      }
      ++pos_;
      if (!comma && items.size() == 1) return std::move(items[0]);
      n.kind = Node::kTuple;
      n.args = std::move(items);
      return n;
    }
    if (tok.kind != Token::kName) return InvalidArgument("unexpected '" + tok.text + "'");
    n.text = tok.text;
    if (!IsOp("(")) return n;
    ++pos_;
    n.kind = Node::kCall;
    while (!IsOp(")")) {
      if (Peek().kind == Token::kEnd) return InvalidArgument("unbalanced parentheses");
      if (Peek().kind == Token::kName && t_[pos_ + 1].kind == Token::kOp && t_[pos_ + 1].text == "=") {
        std::string key = Peek().text;
        pos_ += 2;
        EVK_ASSIGN_OR_RETURN(Node v, Expr());
        n.kwnames.push_back(std::move(key));
        n.kwvalues.push_back(std::move(v));
      } else {
        EVK_ASSIGN_OR_RETURN(Node v, Expr());
        n.args.push_back(std::move(v));
      }
      if (IsOp(",")) ++pos_;
      else if (!IsOp(")")) return InvalidArgument("expected ',' or ')' in a call");
    }
    ++pos_;
    return n;
  }

  std::vector<Token> t_;
  size_t pos_ = 0;
  int depth_ = 0, operators_ = 0;
};

Result<Node> ParseExpr(std::string_view text) {
  if (text.size() > 100000) return Unavailable("an expression of more than 100000 characters");
  EVK_ASSIGN_OR_RETURN(std::vector<Token> toks, Tokenize(text));
  return AstParser(std::move(toks)).Parse();
}

// -------------------------------------------------------------------------------------- values

struct Val {
  enum Kind { kNone, kNum, kBool, kStr, kTensor, kTuple } kind = kNone;
  double num = 0;
  bool integer = false;
  std::string str;
  Shape shape;
  std::string expr;  // tensor: C++ expression of the flat index '@'
  bool i64 = false;  // tensor of integers or booleans (indices, class targets, masks): read as float through a cast
  std::vector<Val> items;

  static Val Number(double v, bool integer) {
    Val x;
    x.kind = kNum;
    x.num = v;
    // An integer is one the recipe may convert: sizes, dimensions, counts (a task file's 1e20
    // is a number, never a size).
    x.integer = integer && std::fabs(v) <= 1e12;
    return x;
  }
  static Val Tensor(Shape s, std::string e, bool i64 = false) {
    Val x;
    x.kind = kTensor;
    x.shape = std::move(s);
    x.expr = std::move(e);
    x.i64 = i64;
    return x;
  }
  bool tensor() const { return kind == kTensor; }
  bool is_int() const { return kind == kNum && integer; }
};

// The value of a JSON constant (init inputs, module constants).
Val StrVal(std::string text);
Val BoolVal(bool b);

Val FromJson(const nlohmann::json& j) {
  if (j.is_boolean()) return BoolVal(j.get<bool>());
  if (j.is_number_integer()) return Val::Number(j.get<double>(), true);
  if (j.is_number()) return Val::Number(j.get<double>(), false);
  if (j.is_string()) return StrVal(j.get<std::string>());
  if (j.is_array()) {
    Val v;
    v.kind = Val::kTuple;
    for (const auto& e : j) v.items.push_back(FromJson(e));
    return v;
  }
  return Val{};
}

Val StrVal(std::string text) {
  Val v;
  v.kind = Val::kStr;
  v.str = std::move(text);
  return v;
}

Val BoolVal(bool b) {
  Val v;
  v.kind = Val::kBool;
  v.num = b;
  return v;
}

// The value of a literal: a number, a string, True, False or None; nullopt for anything else.
std::optional<Val> Literal(const Node& n) {
  if (n.kind == Node::kNum) return Val::Number(n.num, n.integer);
  if (n.kind == Node::kStr) return StrVal(n.text);
  if (n.kind == Node::kName && (n.text == "True" || n.text == "False")) return BoolVal(n.text == "True");
  if (n.kind == Node::kName && n.text == "None") return Val{};
  return std::nullopt;
}

std::string Sub(const std::string& expr, const std::string& idx) {
  std::string out;
  out.reserve(expr.size() + 16);
  for (char c : expr) {
    if (c == '@') out += "(" + idx + ")";
    else out += c;
  }
  return out;
}

// Row-major strides of `s`.
Shape Strides(const Shape& s) {
  Shape st(s.size(), 1);
  for (int i = static_cast<int>(s.size()) - 2; i >= 0; --i) st[i] = st[i + 1] * s[i + 1];
  return st;
}

// The coordinate of dimension d of flat index '@' in shape s.
std::string Coord(const Shape& s, size_t d) {
  const Shape st = Strides(s);
  std::string c = st[d] == 1 ? "@" : fmt::format("@ / {}", st[d]);
  if (d > 0) c = fmt::format("({}) % {}", c, s[d]);
  return "(" + c + ")";
}

// An index expression (of '@' in shape `out`) from per-dimension coordinate expressions
// `coords` of a tensor of shape `in`.
std::string FlatIndex(const Shape& in, const std::vector<std::string>& coords) {
  const Shape st = Strides(in);
  std::string idx;
  for (size_t d = 0; d < in.size(); ++d) {
    if (in[d] == 1) continue;
    std::string term = st[d] == 1 ? coords[d] : fmt::format("{} * {}", coords[d], st[d]);
    idx += (idx.empty() ? "" : " + ") + term;
  }
  return idx.empty() ? "0" : idx;
}

// ------------------------------------------------------------------------------------ program

// A call's evaluated arguments: positional, then keyword.
struct CallArgs {
  std::vector<Val> pos;
  std::map<std::string, Val> kw;
  // The argument at position i, else the keyword `name`; null when neither was given.
  const Val* Get(size_t i, const std::string& name) const {
    if (i < pos.size()) return &pos[i];
    auto it = kw.find(name);
    return it == kw.end() ? nullptr : &it->second;
  }
};

// A module __init__ builds: nn.TYPE(arguments).
struct ModuleDef : CallArgs {
  std::string type;  // "Linear", "Conv2d", ...
};

class Compiler {
 public:
  Compiler(const TaskSpec& spec, const RecipeSetting& setting) : spec_(spec) {
    auto knob = [&](const char* k, int d) { return setting.knobs.count(k) ? setting.knobs.at(k) : d; };
    parallel_ = knob("parallel", 1);
    mr_ = knob("mr", 4);
    kb_ = knob("kb", 256);
    pack_ = knob("pack", 1);
    nt_ = knob("nt", 16);
    conv_ = knob("conv", 1);
  }

  Result<std::string> Compile() {
    EVK_ASSIGN_OR_RETURN(ForwardBody body, FindForwardBody(spec_.source));
    EVK_RETURN_IF_ERROR(BindArgs(body.params));
    EVK_RETURN_IF_ERROR(ReadInit());
    const TaskArg* out = nullptr;
    for (const auto& a : spec_.args)
      if (a.role == ArgRole::kOutput) {
        if (out) return Unavailable("the task has several outputs; the graph recipe writes one");
        out = &a;
      }
    if (!out) return Unavailable("the task has no output");
    std::optional<Val> result;
    for (const std::string& st : body.statements) {
      if (st.rfind("return ", 0) == 0) {
        EVK_ASSIGN_OR_RETURN(result, Eval(st.substr(7)));
        break;
      }
      // name = expr, name += expr, ...
      static const std::regex kAssign(R"(^([A-Za-z_]\w*)\s*([-+*/]?)=\s*([^=].*)$)");
      std::smatch m;
      // (std::regex recurses per character: a statement of megabytes would overflow the stack.)
      if (st.size() > 100000 || !std::regex_match(st, m, kAssign))
        return Unavailable("forward() has a statement the graph recipe does not read: " + st);
      std::string rhs = m[3].str();
      if (!m[2].str().empty()) rhs = m[1].str() + " " + m[2].str() + " (" + rhs + ")";
      EVK_ASSIGN_OR_RETURN(Val v, Eval(rhs));
      // A lazy expression read several times by later statements is copied into each reader:
      // past a few thousand characters (x = x * torch.sigmoid(x), repeated) it is written to a
      // buffer instead, so the kernel's text grows linearly with the program.
      if (v.tensor() && v.expr.size() > 3000) v = Val::Tensor(v.shape, Ptr(v) + "[@]", v.i64);
      env_[m[1].str()] = std::move(v);
    }
    if (!result) return Unavailable("forward() returns nothing the graph recipe can read");
    if (!result->tensor()) return Unavailable("forward() does not return a tensor");
    if (Numel(result->shape) != Numel(out->shape))
      return Unavailable(fmt::format("forward() computes a {} tensor but the output is {}", ShapeText(result->shape),
                                     ShapeText(out->shape)));
    if (result->i64 != (out->dtype == DType::kInt64) || (out->dtype != DType::kInt64 && out->dtype != DType::kFloat32))
      return Unavailable("the output's dtype is not what the graph recipe computes");
    const int64_t n = Numel(out->shape);
    code_ += fmt::format("{}  for (int64_t i = 0; i < {}; ++i) {}[i] = {};\n", Par(n, true), n, ArgName(out->name),
                         Sub(result->expr, "i"));
    signature_.push_back(fmt::format("{}* __restrict {}", out->dtype == DType::kInt64 ? "int64_t" : "float", ArgName(out->name)));
    return code_;
  }

  const std::vector<std::string>& signature() const { return signature_; }
  bool uses_gemm() const { return uses_gemm_; }
  bool uses_vectors() const { return uses_vectors_; }
  bool uses_conv() const { return uses_conv_; }

 private:
  // ---- set-up

  // The C++ name of an argument: its contract name, unless the generated loops use that name
  // for a local (short names, t0, c1, ...), then arg_NAME.
  static std::string ArgName(const std::string& name) {
    static const std::regex kLocal(R"(^([abcdegijkmnopqrv]|[a-z][a-z0-9]|[tcakoi]\d+|acc|idx|cnt|sum|mean|var|dst|inv|lse|job|grp|icg|off|rd)$)");
    return std::regex_match(name, kLocal) ? "arg_" + name : name;
  }

  Status BindArgs(const std::vector<std::string>& params) {
    size_t input = 0;
    for (const auto& a : spec_.args) {
      if (a.role == ArgRole::kOutput) continue;
      if (a.dtype != DType::kFloat32 && a.dtype != DType::kInt64 && a.dtype != DType::kBool)
        return Unavailable("argument " + a.name + " is not float32, int64 or bool");
      const bool i64 = a.dtype != DType::kFloat32;
      const char* ctype = a.dtype == DType::kFloat32 ? "float" : a.dtype == DType::kInt64 ? "int64_t" : "bool";
      const std::string name = ArgName(a.name);
      signature_.push_back(fmt::format("const {}* __restrict {}", ctype, name));
      Val v = Val::Tensor(a.shape, name + "[@]", i64);
      if (a.role == ArgRole::kInput) {
        if (input >= params.size()) return Unavailable("the contract has more inputs than forward() has parameters");
        env_[params[input++]] = v;
      } else {
        params_[a.source] = v;  // "linear.weight", "bias"
      }
    }
    if (input != params.size())
      return Unavailable("forward() takes non-tensor arguments; the graph recipe reads tensor arguments only");
    return Status::Ok();
  }

  // __init__'s parameters (bound to the task's init inputs), module constants, `self.X = nn.T(...)`
  // modules and `self.X = value` attributes.
  Status ReadInit() {
    for (const auto& [k, v] : spec_.constants.items()) globals_[k] = FromJson(v);
    const std::string& src = spec_.source;
    const size_t def = src.find("def __init__(");
    if (def == std::string::npos) return Status::Ok();
    size_t close = src.find("):", def);
    if (close == std::string::npos) close = src.find(") ->", def);
    if (close == std::string::npos) return Unavailable("__init__'s signature is not one the recipe reads");
    std::map<std::string, Val> scope = globals_;
    size_t k = 0;
    for (std::string_view p : SplitTopLevel(std::string_view(src).substr(def + 13, close - def - 13))) {
      std::string name = Trim(p.substr(0, p.find_first_of(":=")));
      if (name.empty() || name == "self" || name[0] == '*') continue;
      if (k < spec_.init_inputs.size()) scope[name] = FromJson(spec_.init_inputs[k]);
      else if (size_t eq = p.find('='); eq != std::string_view::npos) {
        auto d = EvalIn(std::string(Trim(p.substr(eq + 1))), scope);
        if (d.ok()) scope[name] = *d;
      }
      ++k;
    }
    const size_t end = std::min(src.size(), src.find("\n    def ", close));
    size_t pos = close;
    std::string pending;
    while (pos < end) {
      size_t eol = src.find('\n', pos);
      if (eol == std::string::npos || eol > end) eol = end;
      std::string line = Trim(std::string_view(src).substr(pos, eol - pos));
      pos = eol + 1;
      if (!pending.empty()) line = pending + " " + line;
      if (std::count(line.begin(), line.end(), '(') > std::count(line.begin(), line.end(), ')')) {
        pending = line;
        continue;
      }
      pending.clear();
      static const std::regex kAttr(R"(^self\.(\w+)\s*=\s*(.+)$)");
      std::smatch m;
      if (line.size() > 100000 || !std::regex_match(line, m, kAttr)) continue;
      const std::string attr = m[1].str(), rhs = m[2].str();
      static const std::regex kModule(R"(^(?:torch\.)?nn\.(\w+)\((.*)\)$)");
      std::smatch mm;
      if (std::regex_match(rhs, mm, kModule) && mm[1].str() != "Parameter") {
        auto node = ParseExpr("f(" + mm[2].str() + ")");
        if (!node.ok()) continue;
        ModuleDef md;
        md.type = mm[1].str();
        bool ok = true;
        for (const Node& a : node->args) {
          auto v = EvalNodeIn(a, scope);
          if (!v.ok()) ok = false;
          else md.pos.push_back(*v);
        }
        for (size_t i = 0; i < node->kwnames.size(); ++i) {
          auto v = EvalNodeIn(node->kwvalues[i], scope);
          if (!v.ok()) ok = false;
          else md.kw[node->kwnames[i]] = *v;
        }
        if (ok) modules_[attr] = std::move(md);
        else unreadable_.insert(attr);
        continue;
      }
      auto v = EvalIn(rhs, scope);
      if (v.ok() && v->kind != Val::kTensor) {
        attrs_[attr] = *v;
        scope["self." + attr] = *v;
      }
    }
    return Status::Ok();
  }

  // A constant expression of __init__ (numbers, tuples, names in `scope`).
  Result<Val> EvalIn(const std::string& text, const std::map<std::string, Val>& scope) {
    EVK_ASSIGN_OR_RETURN(Node n, ParseExpr(text));
    return EvalNodeIn(n, scope);
  }
  Result<Val> EvalNodeIn(const Node& n, const std::map<std::string, Val>& scope) {
    if (auto lit = Literal(n)) return *lit;
    switch (n.kind) {
      case Node::kName: {
        auto it = scope.find(n.text);
        if (it == scope.end()) return Unavailable("unknown name " + n.text);
        return it->second;
      }
      case Node::kTuple: {
        Val v;
        v.kind = Val::kTuple;
        for (const Node& a : n.args) {
          EVK_ASSIGN_OR_RETURN(Val e, EvalNodeIn(a, scope));
          v.items.push_back(e);
        }
        return v;
      }
      case Node::kNeg: {
        EVK_ASSIGN_OR_RETURN(Val e, EvalNodeIn(n.args[0], scope));
        if (e.kind != Val::kNum) return Unavailable("not a number");
        e.num = -e.num;
        return e;
      }
      case Node::kBin: {
        EVK_ASSIGN_OR_RETURN(Val a, EvalNodeIn(n.args[0], scope));
        EVK_ASSIGN_OR_RETURN(Val b, EvalNodeIn(n.args[1], scope));
        if (a.kind != Val::kNum || b.kind != Val::kNum) return Unavailable("not a number");
        return ScalarBin(n.text, a, b);
      }
      default: return Unavailable("not a constant");
    }
  }

  static Result<Val> ScalarBin(const std::string& op, const Val& a, const Val& b) {
    const bool integer = a.integer && b.integer && op != "/";
    if (op == "//" && b.num == 0) return Unavailable("division by zero");
    double r = 0;
    if (op == "+") r = a.num + b.num;
    else if (op == "-") r = a.num - b.num;
    else if (op == "*") r = a.num * b.num;
    else if (op == "/") r = a.num / b.num;
    else if (op == "//") r = std::floor(a.num / b.num);
    else if (op == "**") r = std::pow(a.num, b.num);
    else return Unavailable("operator " + op + " on numbers");
    return Val::Number(r, integer);
  }

  // ---- evaluation of forward()

  Result<Val> Eval(const std::string& text) {
    auto n = ParseExpr(text);
    if (!n.ok()) return Unavailable("forward() has an expression the graph recipe does not read (" +
                                    n.status().message() + "): " + text);
    return EvalNode(*n);
  }

  Result<Val> EvalNode(const Node& n) {
    if (auto lit = Literal(n)) return *lit;
    switch (n.kind) {
      case Node::kNum:
      case Node::kStr: break;  // literals, above
      case Node::kName: return Name(n.text);
      case Node::kTuple: {
        Val v;
        v.kind = Val::kTuple;
        for (const Node& a : n.args) {
          EVK_ASSIGN_OR_RETURN(Val e, EvalNode(a));
          v.items.push_back(std::move(e));
        }
        return v;
      }
      case Node::kNeg: {
        EVK_ASSIGN_OR_RETURN(Val e, EvalNode(n.args[0]));
        if (e.kind == Val::kNum) return Val::Number(-e.num, e.integer);
        if (!e.tensor()) return Unavailable("negation of a non-number");
        e.expr = "(-" + e.expr + ")";
        return e;
      }
      case Node::kBin: {
        EVK_ASSIGN_OR_RETURN(Val a, EvalNode(n.args[0]));
        EVK_ASSIGN_OR_RETURN(Val b, EvalNode(n.args[1]));
        if (n.text == "@") return Matmul(a, b);
        if (a.kind == Val::kNum && b.kind == Val::kNum) return ScalarBin(n.text, a, b);
        if (n.text == "**") {
          if (!b.tensor() && b.kind == Val::kNum && b.num == 2) return Elementwise("square", {a}, {});
          return Elementwise("pow", {a, b}, {});
        }
        return Arith(n.text, a, b);
      }
      case Node::kIndex: {
        EVK_ASSIGN_OR_RETURN(Val base, EvalNode(n.args[0]));
        if (n.args.size() != 2) return Unavailable("forward() indexes with several subscripts");
        EVK_ASSIGN_OR_RETURN(Val i, EvalNode(n.args[1]));
        if (i.kind != Val::kNum || !i.integer) return Unavailable("forward() indexes with a non-integer");
        if (base.kind == Val::kTuple) {
          int64_t k = static_cast<int64_t>(i.num);
          if (k < 0) k += static_cast<int64_t>(base.items.size());
          if (k < 0 || k >= static_cast<int64_t>(base.items.size())) return Unavailable("index out of range");
          return base.items[static_cast<size_t>(k)];
        }
        return Unavailable("forward() indexes a tensor");
      }
      case Node::kCall: return CallNode(n);
      case Node::kAttr: {
        EVK_ASSIGN_OR_RETURN(Val base, EvalNode(n.args[0]));
        // torch.max(x, dim).values / .indices
        if (base.kind == Val::kTuple && base.items.size() == 2 && (n.text == "values" || n.text == "indices"))
          return base.items[n.text == "values" ? 0 : 1];
        if (base.tensor()) {
          const std::string tmp = fmt::format("evk_attr{}", attr_temps_++);
          env_[tmp] = base;
          return Name(tmp + "." + n.text);
        }
        return Unavailable("forward() reads ." + n.text + " of an expression");
      }
    }
    return Internal("unreachable");
  }

  Result<Val> Name(const std::string& name) {
    if (auto it = env_.find(name); it != env_.end()) return it->second;
    if (name.rfind("self.", 0) == 0) {
      const std::string attr = name.substr(5);
      if (auto it = attrs_.find(attr); it != attrs_.end()) return it->second;
      if (auto it = params_.find(attr); it != params_.end()) return it->second;
      return Unavailable("forward() reads self." + attr + ", whose value the graph recipe cannot find");
    }
    // x.shape, x.T, x.device, torch.float32, or a module constant
    if (size_t dot = name.rfind('.'); dot != std::string::npos) {
      auto base = env_.find(name.substr(0, dot));
      const std::string field = name.substr(dot + 1);
      if (base != env_.end() && base->second.tensor()) {
        const Val& x = base->second;
        if (field == "shape") {
          Val t;
          t.kind = Val::kTuple;
          for (int64_t d : x.shape) t.items.push_back(Val::Number(static_cast<double>(d), true));
          return t;
        }
        if (field == "device" || field == "dtype") return Val{};
        if ((field == "T" || field == "mT") && x.shape.size() >= 2) {
          std::vector<int> perm(x.shape.size());
          std::iota(perm.begin(), perm.end(), 0);
          if (field == "T") std::reverse(perm.begin(), perm.end());
          else std::swap(perm[perm.size() - 1], perm[perm.size() - 2]);
          return Permute(x, perm);
        }
      }
      if (name.rfind("torch.", 0) == 0 && !globals_.count(name)) return StrVal(name.substr(6));  // torch.bool: a dtype
    }
    if (auto it = globals_.find(name); it != globals_.end()) return it->second;
    return Unavailable("forward() reads " + name + ", which the graph recipe cannot resolve");
  }

  Result<Val> CallNode(const Node& n) {
    CallArgs a;
    std::string callee = n.text;
    // A method: x.sum(1) -> sum(x, 1).
    if (size_t dot = callee.rfind('.'); dot != std::string::npos && callee.rfind("self.", 0) != 0) {
      const std::string object = callee.substr(0, dot);
      if (env_.count(object)) {
        a.pos.push_back(env_.at(object));
        callee = "torch." + callee.substr(dot + 1);
      }
    }
    for (const Node& x : n.args) {
      EVK_ASSIGN_OR_RETURN(Val v, EvalNode(x));
      a.pos.push_back(std::move(v));
    }
    for (size_t i = 0; i < n.kwnames.size(); ++i) {
      EVK_ASSIGN_OR_RETURN(Val v, EvalNode(n.kwvalues[i]));
      a.kw[n.kwnames[i]] = std::move(v);
    }
    if (callee.rfind("self.", 0) == 0) {
      const std::string attr = callee.substr(5);
      auto it = modules_.find(attr);
      if (it == modules_.end()) {
        if (unreadable_.count(attr)) return Unavailable("the graph recipe cannot read how __init__ builds self." + attr);
        return Unavailable("forward() calls self." + attr + ", which is not a module the graph recipe knows");
      }
      return Module(attr, it->second, a);
    }
    auto fn = FunctionName(callee);
    if (!fn && callee == "float") fn = callee;  // float("-inf")
    if (!fn) return Unavailable("forward() calls " + callee + ", which the graph recipe does not know");
    return Function(*fn, a);
  }

  // ---- tensors

  static Result<Shape> BroadcastShape(const Shape& a, const Shape& b) {
    const size_t r = std::max(a.size(), b.size());
    Shape out(r, 1);
    for (size_t i = 0; i < r; ++i) {
      const int64_t x = i < r - a.size() ? 1 : a[i - (r - a.size())];
      const int64_t y = i < r - b.size() ? 1 : b[i - (r - b.size())];
      if (x != y && x != 1 && y != 1)
        return Unavailable("shapes " + ShapeText(a) + " and " + ShapeText(b) + " do not broadcast");
      out[i] = x == 1 ? y : x;
    }
    return out;
  }

  // v's expression as a tensor of shape `to` (v broadcast to it).
  static std::string BroadcastTo(const Val& v, const Shape& to) {
    if (!v.tensor()) return FloatLiteral(v.num);
    if (v.shape == to) return v.expr;
    const size_t off = to.size() - v.shape.size();
    std::vector<std::string> coords;
    for (size_t d = 0; d < v.shape.size(); ++d) coords.push_back(v.shape[d] == 1 ? "0" : Coord(to, d + off));
    return Sub(v.expr, FlatIndex(v.shape, coords));
  }

  Result<Val> Arith(const std::string& op, const Val& a, const Val& b) {
    if ((!a.tensor() && a.kind != Val::kNum) || (!b.tensor() && b.kind != Val::kNum))
      return Unavailable("arithmetic on a value that is not a number or a tensor");
    Shape s = a.tensor() ? a.shape : b.shape;
    if (a.tensor() && b.tensor()) {
      EVK_ASSIGN_OR_RETURN(s, BroadcastShape(a.shape, b.shape));
    }
    if (op != "+" && op != "-" && op != "*" && op != "/") return Unavailable("operator " + op + " on tensors");
    return Val::Tensor(s, "(" + AsFloat(a, s) + " " + op + " " + AsFloat(b, s) + ")");
  }

  static std::string AsFloat(const Val& v, const Shape& s) {
    std::string e = BroadcastTo(v, s);
    return v.tensor() && v.i64 ? "static_cast<float>(" + e + ")" : e;
  }

  Result<Val> Elementwise(const std::string& fn, const std::vector<Val>& tensors_and_numbers,
                          const std::map<std::string, Val>& kw) {
    Shape s;
    bool any = false;
    for (const Val& v : tensors_and_numbers)
      if (v.tensor()) {
        if (!any) s = v.shape;
        else { EVK_ASSIGN_OR_RETURN(s, BroadcastShape(s, v.shape)); }
        any = true;
      }
    if (!any) return Unavailable(fn + " of numbers only");
    Args args;
    for (const Val& v : tensors_and_numbers) {
      if (!v.tensor() && v.kind != Val::kNum) return Unavailable(fn + " with an argument that is not a number");
      args.pos.push_back(AsFloat(v, s));
    }
    for (const auto& [k, v] : kw) {
      if (v.kind == Val::kStr) args.kw_string[k] = v.str;
      else if (v.kind == Val::kNum) args.kw[k] = FloatLiteral(v.num);
      else if (v.tensor()) args.kw[k] = AsFloat(v, s);
      else if (v.kind == Val::kNone || k == "inplace") continue;
      else return Unavailable(fn + " with keyword " + k);
    }
    auto e = ElementwiseCall(fn, args);
    if (!e.ok()) {
      if (e.status().code() == StatusCode::kNotFound)
        return Unavailable("forward() calls " + fn + ", which the graph recipe does not know");
      return Unavailable(e.status().message());
    }
    return Val::Tensor(s, *e);
  }

  // ---- code

  std::string Par(int64_t work, bool simd = false) const {
    if (!parallel_ || work < 2) return simd ? "#pragma omp simd\n" : "";
    return simd ? "#pragma omp parallel for simd schedule(static)\n" : "#pragma omp parallel for schedule(static)\n";
  }

  std::string Temp(int64_t n, bool i64 = false) {
    const std::string name = fmt::format("t{}", temps_++);
    code_ += fmt::format("  std::unique_ptr<{0}[]> {1}_mem(new {0}[{2}]);\n  {0}* __restrict {1} = {1}_mem.get();\n",
                         i64 ? "int64_t" : "float", name, std::max<int64_t>(n, 1));
    return name;
  }

  // A buffer holding v's values (v's own when it is a buffer already).
  std::string Ptr(const Val& v) {
    // "NAME[@]": the values are in buffer NAME already.
    const std::string& e = v.expr;
    if (e.size() > 3 && e.compare(e.size() - 3, 3, "[@]") == 0 &&
        std::all_of(e.begin(), e.end() - 3, [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }))
      return e.substr(0, e.size() - 3);
    const int64_t n = Numel(v.shape);
    const std::string t = Temp(n, v.i64);
    code_ += fmt::format("{}  for (int64_t i = 0; i < {}; ++i) {}[i] = {};\n", Par(n, true), n, t, Sub(v.expr, "i"));
    return t;
  }

  static Result<int> Dim(const Val* v, size_t rank, const std::string& what) {
    if (!v || v->kind != Val::kNum || !v->integer) return Unavailable(what + ": the dimension is not an integer");
    int d = static_cast<int>(v->num);
    if (d < 0) d += static_cast<int>(rank);
    if (d < 0 || d >= static_cast<int>(rank)) return Unavailable(what + ": dimension out of range");
    return d;
  }
  static bool Truthy(const Val* v) { return v && (v->kind == Val::kBool || v->kind == Val::kNum) && v->num != 0; }
  static Result<std::vector<int64_t>> Ints(const Val* v, size_t n, const std::string& what) {
    if (!v) return Unavailable(what + " is missing");
    constexpr double kMax = 1 << 20;  // kernel sizes, strides, paddings: far below any overflow
    if (v->is_int() && std::fabs(v->num) <= kMax) return std::vector<int64_t>(n, static_cast<int64_t>(v->num));
    if (v->kind == Val::kTuple && v->items.size() == n) {
      std::vector<int64_t> out;
      for (const Val& i : v->items) {
        if (!i.is_int() || std::fabs(i.num) > kMax) return Unavailable(what + " is not integers");
        out.push_back(static_cast<int64_t>(i.num));
      }
      return out;
    }
    return Unavailable(what + " is not an integer or a tuple of " + std::to_string(n));
  }

  // ---- reductions over one dimension: the input viewed as [outer, len, inner]

  struct Split3 {
    int64_t outer = 1, len = 1, inner = 1;
  };
  static Split3 SplitAt(const Shape& s, int d) {
    Split3 r;
    for (int i = 0; i < d; ++i) r.outer *= s[i];
    r.len = s[d];
    for (size_t i = d + 1; i < s.size(); ++i) r.inner *= s[i];
    return r;
  }
  // A loop over the [outer, inner] positions of a [outer, len, inner] view (o and i in scope,
  // OpenMP over all of them) around `body`, which loops over the len axis itself.
  std::string PerPosition(const Split3& s, const std::string& body) const {
    return fmt::format(
        "{}  for (int64_t oi = 0; oi < {}; ++oi) {{\n"
        "    const int64_t o = oi / {}, i = oi % {};\n"
        "{}"
        "  }}\n",
        Par(s.outer * s.inner), s.outer * s.inner, s.inner, s.inner, body);
  }
  static Shape Reduced(Shape s, int d, bool keepdim) {
    if (keepdim) s[d] = 1;
    else s.erase(s.begin() + d);
    return s;
  }

  Result<Val> Reduce(const std::string& op, const Val& x, const Val* dim, bool keepdim) {
    if (!x.tensor()) return Unavailable(op + " of a non-tensor");
    Val in = x;
    int d = 0;
    Shape out_shape;
    if (!dim || dim->kind == Val::kNone) {  // over every element
      in.shape = {Numel(x.shape)};
      out_shape = keepdim ? Shape(x.shape.size(), 1) : Shape{};
    } else if (dim->kind == Val::kTuple) {  // several dimensions: adjacent ones merge
      std::vector<int> ds;
      for (const Val& v : dim->items) {
        EVK_ASSIGN_OR_RETURN(int k, Dim(&v, x.shape.size(), op));
        ds.push_back(k);
      }
      std::sort(ds.begin(), ds.end());
      for (size_t i = 1; i < ds.size(); ++i)
        if (ds[i] != ds[i - 1] + 1) return Unavailable(op + " over dimensions that are not adjacent");
      Shape merged(x.shape.begin(), x.shape.begin() + ds.front());
      int64_t len = 1;
      for (int k : ds) len *= x.shape[k];
      merged.push_back(len);
      merged.insert(merged.end(), x.shape.begin() + ds.back() + 1, x.shape.end());
      in.shape = merged;
      d = ds.front();
      out_shape = x.shape;
      for (int k = ds.back(); k >= ds.front(); --k) {
        if (keepdim) out_shape[k] = 1;
        else out_shape.erase(out_shape.begin() + k);
      }
    } else {
      EVK_ASSIGN_OR_RETURN(d, Dim(dim, x.shape.size(), op));
      out_shape = Reduced(x.shape, d, keepdim);
    }
    const Split3 s = SplitAt(in.shape, d);
    const bool arg = op == "argmax" || op == "argmin";
    const std::string t = Temp(s.outer * s.inner, arg);
    const std::string rd = Sub(AsFloat(in, in.shape), fmt::format("(o * {} + r) * {} + i", s.len, s.inner));
    std::string init, step, fin = "acc";
    if (op == "sum" || op == "mean") init = "0.0f", step = "acc += v;";
    else if (op == "prod") init = "1.0f", step = "acc *= v;";
    else if (op == "max" || op == "amax") init = "-INFINITY", step = "acc = v > acc || v != v ? v : acc;";
    else if (op == "min" || op == "amin") init = "INFINITY", step = "acc = v < acc || v != v ? v : acc;";
    else if (op == "argmax") init = "-INFINITY", step = "if (v > acc) { acc = v; idx = r; }", fin = "idx";
    else if (op == "argmin") init = "INFINITY", step = "if (v < acc) { acc = v; idx = r; }", fin = "idx";
    else if (op == "logsumexp") init = "0.0f";
    else return Unavailable("reduction " + op);
    if (op == "mean") fin = fmt::format("acc / {}.0f", s.len);
    if (op == "logsumexp") {
      code_ += PerPosition(s, fmt::format(
          "    float mx = -INFINITY;\n"
          "    for (int64_t r = 0; r < {len}; ++r) {{ const float v = {rd}; mx = v > mx ? v : mx; }}\n"
          "    float acc = 0.0f;\n"
          "    for (int64_t r = 0; r < {len}; ++r) acc += evk_exp({rd} - mx);\n"
          "    {t}[oi] = mx + std::log(acc);\n",
          fmt::arg("len", s.len), fmt::arg("rd", rd), fmt::arg("t", t)));
      return Val::Tensor(out_shape, t + "[@]");
    }
    if (s.inner == 1 && s.outer == 1 && (op == "sum" || op == "mean")) {
      // One sum of every element: the threads share it.
      code_ += fmt::format(
          "  {{\n"
          "    const int64_t o = 0, i = 0;\n"
          "    double acc = 0.0;\n"
          "{par}"
          "    for (int64_t r = 0; r < {len}; ++r) acc += {rd};\n"
          "    {t}[0] = static_cast<float>({fin});\n"
          "  }}\n",
          fmt::arg("par", parallel_ ? "#pragma omp parallel for simd reduction(+:acc) schedule(static)\n"
                                    : "#pragma omp simd reduction(+:acc)\n"),
          fmt::arg("len", s.len), fmt::arg("rd", rd), fmt::arg("t", t),
          fmt::arg("fin", op == "mean" ? fmt::format("acc / {}.0", s.len) : "acc"));
    } else if (s.inner == 1 && (op == "sum" || op == "mean")) {
      // A contiguous row: a vectorised sum.
      code_ += fmt::format(
          "{par}  for (int64_t o = 0; o < {outer}; ++o) {{\n"
          "    const int64_t i = 0;\n"
          "    float acc = 0.0f;\n"
          "#pragma omp simd reduction(+:acc)\n"
          "    for (int64_t r = 0; r < {len}; ++r) acc += {rd};\n"
          "    {t}[o] = {fin};\n"
          "  }}\n",
          fmt::arg("par", Par(s.outer)), fmt::arg("outer", s.outer), fmt::arg("len", s.len), fmt::arg("rd", rd),
          fmt::arg("t", t), fmt::arg("fin", fin));
    } else {
      code_ += PerPosition(s, fmt::format(
          "    float acc = {init};\n"
          "    int64_t idx = 0;\n"
          "    (void)idx;\n"
          "    for (int64_t r = 0; r < {len}; ++r) {{ const float v = {rd}; {step} }}\n"
          "    {t}[oi] = {fin};\n",
          fmt::arg("len", s.len), fmt::arg("rd", rd), fmt::arg("t", t), fmt::arg("init", init),
          fmt::arg("step", step), fmt::arg("fin", fin)));
    }
    return Val::Tensor(out_shape, t + "[@]", arg);
  }

  // softmax / log_softmax / cumsum / cumprod over one dimension: same shape out.
  Result<Val> AlongDim(const std::string& op, const Val& x, const Val* dim, bool reverse = false) {
    if (!x.tensor()) return Unavailable(op + " of a non-tensor");
    EVK_ASSIGN_OR_RETURN(int d, Dim(dim, x.shape.size(), op));
    const Split3 s = SplitAt(x.shape, d);
    const std::string src = Ptr(x);
    const std::string t = Temp(Numel(x.shape));
    const std::string at = fmt::format("(o * {} + r) * {} + i", s.len, s.inner);
    if (op == "softmax" || op == "log_softmax") {
      const bool log = op == "log_softmax";
      code_ += PerPosition(s, fmt::format(
          "    float mx = -INFINITY, sum = 0.0f;\n"
          "    for (int64_t r = 0; r < {len}; ++r) mx = {src}[{at}] > mx ? {src}[{at}] : mx;\n"
          "    for (int64_t r = 0; r < {len}; ++r) {{ const float e = evk_exp({src}[{at}] - mx); {keep}sum += e; }}\n"
          "    {norm}\n"
          "    for (int64_t r = 0; r < {len}; ++r) {t}[{at}] = {fin};\n",
          fmt::arg("len", s.len), fmt::arg("src", src), fmt::arg("at", at), fmt::arg("t", t),
          fmt::arg("keep", log ? "" : fmt::format("{}[{}] = e; ", t, at)),
          fmt::arg("norm", log ? "const float lse = mx + std::log(sum);" : "const float inv = 1.0f / sum;"),
          fmt::arg("fin", log ? fmt::format("{}[{}] - lse", src, at) : fmt::format("{}[{}] * inv", t, at))));
    } else {  // cumsum / cumprod
      const bool prod = op == "cumprod";
      code_ += PerPosition(s, fmt::format(
          "    float acc = {init};\n"
          "    for (int64_t rr = 0; rr < {len}; ++rr) {{\n"
          "      const int64_t r = {r};\n"
          "      acc {op}= {src}[{at}];\n"
          "      {t}[{at}] = acc;\n"
          "    }}\n",
          fmt::arg("len", s.len), fmt::arg("src", src), fmt::arg("at", at), fmt::arg("t", t),
          fmt::arg("init", prod ? "1.0f" : "0.0f"), fmt::arg("op", prod ? "*" : "+"),
          fmt::arg("r", reverse ? fmt::format("{} - 1 - rr", s.len) : "rr")));
    }
    return Val::Tensor(x.shape, t + "[@]");
  }

  // ---- views

  Result<Val> Reshape(const Val& x, std::vector<Val> dims) {
    if (!x.tensor()) return Unavailable("view of a non-tensor");
    if (dims.size() == 1 && dims[0].kind == Val::kTuple) dims = dims[0].items;
    Shape s;
    int infer = -1;
    int64_t known = 1;
    for (const Val& v : dims) {
      if (v.kind != Val::kNum || !v.integer) return Unavailable("view with a non-integer size");
      if (v.num == -1) {
        if (infer >= 0) return Unavailable("view with two -1 sizes");
        infer = static_cast<int>(s.size());
        s.push_back(1);
      } else {
        if (v.num < 0 || v.num > (1LL << 40)) return Unavailable("view with a size out of range");
        s.push_back(static_cast<int64_t>(v.num));
        known *= s.back();
        if (known > (1LL << 40)) return Unavailable("view to more elements than the recipe handles");
      }
    }
    if (infer >= 0) s[static_cast<size_t>(infer)] = known ? Numel(x.shape) / known : 0;
    if (Numel(s) != Numel(x.shape)) return Unavailable("view to " + ShapeText(s) + " of a " + ShapeText(x.shape) + " tensor");
    return Val::Tensor(s, x.expr, x.i64);
  }

  // A tensor whose dimension i is x's dimension perm[i].
  Result<Val> Permute(const Val& x, const std::vector<int>& perm) {
    Shape s;
    for (int p : perm) s.push_back(x.shape[static_cast<size_t>(p)]);
    std::vector<std::string> coords(x.shape.size());
    for (size_t i = 0; i < perm.size(); ++i) coords[static_cast<size_t>(perm[i])] = Coord(s, i);
    return Val::Tensor(s, Sub(x.expr, FlatIndex(x.shape, coords)), x.i64);
  }

  Result<Val> Flip(const Val& x, const Val* dims) {
    std::vector<Val> ds = dims && dims->kind == Val::kTuple ? dims->items : std::vector<Val>{dims ? *dims : Val{}};
    std::vector<std::string> coords;
    for (size_t d = 0; d < x.shape.size(); ++d) coords.push_back(Coord(x.shape, d));
    for (const Val& v : ds) {
      EVK_ASSIGN_OR_RETURN(int d, Dim(&v, x.shape.size(), "flip"));
      coords[static_cast<size_t>(d)] = fmt::format("({} - 1 - {})", x.shape[static_cast<size_t>(d)], coords[static_cast<size_t>(d)]);
    }
    return Val::Tensor(x.shape, Sub(x.expr, FlatIndex(x.shape, coords)), x.i64);
  }

  // ---- matmul family

  // C[b] = op(A[b]) op(B[b]) for every batch b; A's rows are M x K (or K x M when ta), B's
  // K x N (or N x K when tb). Batch strides of 0 broadcast an operand.
  Result<Val> Gemm(const Val& a, bool ta, int64_t a_bstride, const Val& b, bool tb, int64_t b_bstride, int64_t batch,
                   int64_t M, int64_t N, int64_t K, Shape out_shape, const std::string& bias = "") {
    uses_gemm_ = true;
    std::string A = Ptr(a), B = Ptr(b);
    if (tb && pack_) {  // B as K x N rows so the inner loop runs along contiguous rows of C and B
      const int64_t bn = b_bstride ? batch : 1;
      const std::string p = Temp(bn * K * N);
      code_ += fmt::format(
          "{par}  for (int64_t bn = 0; bn < {bn}; ++bn)\n"
          "    for (int64_t n = 0; n < {N}; ++n)\n"
          "      for (int64_t k = 0; k < {K}; ++k) {p}[bn * {KN} + k * {N} + n] = {B}[bn * {KN} + n * {K} + k];\n",
          fmt::arg("par", Par(bn * N)), fmt::arg("bn", bn), fmt::arg("N", N), fmt::arg("K", K),
          fmt::arg("KN", K * N), fmt::arg("p", p), fmt::arg("B", B));
      B = p;
      tb = false;
    }
    const std::string C = Temp(batch * M * N);
    const int mr = std::max(1, static_cast<int>(std::min<int64_t>(mr_, M)));
    const int64_t kb = kb_ > 0 ? kb_ : K;
    const std::string a_at = ta ? "{A}[ab + ({k}) * {M} + ({m})]" : "{A}[ab + ({m}) * {K} + ({k})]";
    auto A_ = [&](const std::string& m, const std::string& k) {
      return fmt::format(fmt::runtime(a_at), fmt::arg("A", A), fmt::arg("M", M), fmt::arg("K", K), fmt::arg("m", m),
                         fmt::arg("k", k));
    };
    std::string body;
    if (!tb) {
      // Rows of C accumulate a * (row k of B): `rows` rows at once share each load of B's row.
      // Each block of kb values of k sums into a small local tile first, added to C after the
      // block: a sum of block sums, whose rounding error grows with kb and K / kb rather than
      // with K (a K of 65536 summed straight in float missed PyTorch's tolerance).
      auto rows_body = [&](int rows, const std::string& first) {
        std::string decl, loads, fma, zero, flush;
        for (int r = 0; r < rows; ++r) {
          decl += fmt::format("        float* __restrict c{0} = {1} + cb + ({2} + {0}) * {3};\n", r, C, first, N);
          loads += fmt::format("              const float a{0} = {1};\n", r, A_(fmt::format("{} + {}", first, r), "k"));
          fma += fmt::format(" p{0}[n] += a{0} * bk[n];", r);
          zero += fmt::format(" p{0}[n] = 0.0f;", r);
          flush += fmt::format(" c{0}[n0 + n] += p{0}[n];", r);
        }
        std::string tiles;
        for (int r = 0; r < rows; ++r) tiles += fmt::format("p{}[256]{}", r, r + 1 < rows ? ", " : "");
        // With nt = 16, full 16-wide column tiles keep their rows x 16 partial sums in vector
        // registers (two 8-float vectors per row) across the k block: a register-blocked
        // micro-kernel. The columns left over, and every column with nt = 256, use tiles in memory.
        std::string vec;
        if (nt_ == 16) {
          std::string vdecl, vloads, vfma, vflush;
          for (int r = 0; r < rows; ++r) {
            vdecl += fmt::format("            evk_v8 s{0}a = {{}}, s{0}b = {{}};\n", r);
            vfma += fmt::format("              {{ const float a{0} = {1}; s{0}a += a{0} * b0; s{0}b += a{0} * b1; }}\n", r,
                                A_(fmt::format("{} + {}", first, r), "k"));
            vflush += fmt::format(
                "            {{ evk_v8 c; std::memcpy(&c, c{0} + n0, 32); c += s{0}a; std::memcpy(c{0} + n0, &c, 32);\n"
                "              std::memcpy(&c, c{0} + n0 + 8, 32); c += s{0}b; std::memcpy(c{0} + n0 + 8, &c, 32); }}\n",
                r);
          }
          vec = fmt::format(
              "          for (; n0 + 16 <= npe; n0 += 16) {{\n"
              "{vdecl}"
              "            for (int64_t k = k0; k < k1; ++k) {{\n"
              "              const float* __restrict bk = {B} + bb + k * {N} + n0;\n"
              "              evk_v8 b0, b1;\n"
              "              std::memcpy(&b0, bk, 32);\n"
              "              std::memcpy(&b1, bk + 8, 32);\n"
              "{vfma}"
              "            }}\n"
              "{vflush}"
              "          }}\n",
              fmt::arg("N", N), fmt::arg("vdecl", vdecl), fmt::arg("B", B), fmt::arg("vfma", vfma),
              fmt::arg("vflush", vflush));
          uses_vectors_ = true;
        }
        return fmt::format(
            "{decl}"
            "        for (int64_t n = np; n < npe; ++n) {{{czero} }}\n"
            "        for (int64_t k0 = 0; k0 < {K}; k0 += {kb}) {{\n"
            "          const int64_t k1 = k0 + {kb} < {K} ? k0 + {kb} : {K};\n"
            "          int64_t n0 = np;\n"
            "{vec}"
            "          for (; n0 < npe; n0 += 256) {{\n"
            "            const int64_t nn = n0 + 256 < npe ? 256 : npe - n0;\n"
            "            alignas(64) float {tiles};\n"
            "            for (int64_t n = 0; n < nn; ++n) {{{zero} }}\n"
            "            for (int64_t k = k0; k < k1; ++k) {{\n"
            "{loads}"
            "              const float* __restrict bk = {B} + bb + k * {N} + n0;\n"
            "#pragma omp simd\n"
            "              for (int64_t n = 0; n < nn; ++n) {{{fma} }}\n"
            "            }}\n"
            "            for (int64_t n = 0; n < nn; ++n) {{{flush} }}\n"
            "          }}\n"
            "        }}\n",
            fmt::arg("decl", decl), fmt::arg("N", N), fmt::arg("K", K), fmt::arg("kb", kb), fmt::arg("tiles", tiles),
            fmt::arg("zero", zero), fmt::arg("loads", loads), fmt::arg("B", B), fmt::arg("fma", fma),
            fmt::arg("flush", flush), fmt::arg("vec", vec), fmt::arg("czero", [&] {
              std::string z;
              for (int r = 0; r < rows; ++r) z += fmt::format(" c{}[n] = 0.0f;", r);
              return z;
            }()));
      };
      // Columns in panels of 512: the panel of B a block of k reads (kb x 512 floats) stays in
      // cache while every row of the job uses it, however wide B is.
      body = fmt::format(
          "      for (int64_t np = 0; np < {N}; np += 512) {{\n"
          "      const int64_t npe = np + 512 < {N} ? np + 512 : {N};\n"
          "      int64_t m0 = mb;\n"
          "      for (; m0 + {mr} <= me; m0 += {mr}) {{\n"
          "{main}"
          "      }}\n"
          "      for (; m0 < me; ++m0) {{\n"
          "{rest}"
          "      }}\n"
          "      }}\n",
          fmt::arg("N", N), fmt::arg("mr", mr), fmt::arg("main", rows_body(mr, "m0")), fmt::arg("rest", rows_body(1, "m0")));
    } else {
      // Dot products of A's rows with B's rows (B is N x K).
      body = fmt::format(
          "      for (int64_t m = mb; m < me; ++m)\n"
          "        for (int64_t n = 0; n < {N}; ++n) {{\n"
          "          float acc = 0.0f;\n"
          "#pragma omp simd reduction(+:acc)\n"
          "          for (int64_t k = 0; k < {K}; ++k) acc += {am} * {B}[bb + n * {K} + k];\n"
          "          {C}[cb + m * {N} + n] = acc;\n"
          "        }}\n",
          fmt::arg("N", N), fmt::arg("K", K), fmt::arg("am", A_("m", "k")), fmt::arg("B", B), fmt::arg("C", C));
    }
    // Work split: batches x row blocks, rows in blocks of 16 (a multiple of mr).
    const int64_t rb = 16;
    const int64_t blocks = (M + rb - 1) / rb;
    code_ += fmt::format(
        "{par}  for (int64_t job = 0; job < {jobs}; ++job) {{\n"
        "    const int64_t bi = job / {blocks}, mb = (job % {blocks}) * {rb};\n"
        "    const int64_t me = mb + {rb} < {M} ? mb + {rb} : {M};\n"
        "    const int64_t ab = bi * {abs}, bb = bi * {bbs}, cb = bi * {MN};\n"
        "    (void)ab;\n"
        "    {{\n"
        "{body}"
        "    }}\n"
        "  }}\n",
        fmt::arg("par", Par(batch * blocks)), fmt::arg("jobs", batch * blocks), fmt::arg("blocks", blocks),
        fmt::arg("rb", rb), fmt::arg("M", M), fmt::arg("abs", a_bstride),
        fmt::arg("bbs", tb ? b_bstride : (b_bstride ? K * N : 0)), fmt::arg("MN", M * N), fmt::arg("body", body));
    std::string e = C + "[@]";
    if (!bias.empty()) e = fmt::format("({} + {}[(@) % {}])", e, bias, N);
    return Val::Tensor(std::move(out_shape), e);
  }

  Result<Val> Matmul(const Val& a, const Val& b, bool transpose_b = false) {
    if (!a.tensor() || !b.tensor() || a.i64 || b.i64) return Unavailable("matmul of non-float tensors");
    if (a.shape.size() < 1 || b.shape.size() < 1) return Unavailable("matmul of scalars");
    Shape as = a.shape, bs = b.shape;
    if (as.size() == 1) as.insert(as.begin(), 1);
    if (bs.size() == 1) bs.push_back(1);
    if (transpose_b) std::swap(bs[bs.size() - 1], bs[bs.size() - 2]);
    int64_t M = as[as.size() - 2];
    const int64_t K = as.back(), N = bs.back();
    if (bs[bs.size() - 2] != K) return Unavailable("matmul of " + ShapeText(a.shape) + " and " + ShapeText(b.shape));
    Shape abatch(as.begin(), as.end() - 2), bbatch(bs.begin(), bs.end() - 2);
    Shape out;
    int64_t batch = 1, abst = 0, bbst = 0;
    Val av = a;
    if (bbatch.empty()) {  // (..., M, K) x (K, N): one tall matrix
      out = abatch;
      M *= Numel(abatch);
      av.shape = {M, K};
    } else {
      EVK_ASSIGN_OR_RETURN(Shape bt, BroadcastShape(abatch, bbatch));
      if (abatch != bt && !abatch.empty()) return Unavailable("matmul with partly broadcast batches");
      if (bbatch != bt) return Unavailable("matmul with a broadcast right operand");
      batch = Numel(bt);
      out = bt;
      abst = abatch.empty() ? 0 : as[as.size() - 2] * K;
      bbst = K * N;
    }
    if (a.shape.size() > 1) out.push_back(bbatch.empty() ? as[as.size() - 2] : M);
    if (b.shape.size() > 1) out.push_back(N);
    return Gemm(av, false, abst, b, transpose_b, bbst, batch, M, N, K, out);
  }

  // ---- modules

  const Val* Param(const std::string& module, const std::string& name) const {
    auto it = params_.find(module + "." + name);
    return it == params_.end() ? nullptr : &it->second;
  }

  Result<Val> Module(const std::string& attr, const ModuleDef& md, const CallArgs& a) {
    const std::string& t = md.type;
    if (a.pos.empty() || !a.pos[0].tensor()) return Unavailable("self." + attr + " is called without a tensor");
    const Val& x = a.pos[0];
    // Activation modules.
    static const std::map<std::string, std::string> kActivations = {
        {"ReLU", "relu"},         {"Sigmoid", "sigmoid"},       {"Tanh", "tanh"},         {"GELU", "gelu"},
        {"SiLU", "silu"},         {"Mish", "mish"},             {"Hardswish", "hardswish"}, {"Hardtanh", "hardtanh"},
        {"LeakyReLU", "leaky_relu"}, {"ELU", "elu"},            {"SELU", "selu"},         {"Softplus", "softplus"},
        {"Softsign", "softsign"}, {"Hardsigmoid", "hardsigmoid"}, {"ReLU6", "relu6"}};
    if (auto it = kActivations.find(t); it != kActivations.end()) {
      std::vector<Val> args = {x};
      for (const Val& v : md.pos) args.push_back(v);
      return Elementwise(it->second, args, md.kw);
    }
    if (t == "Identity") return x;
    if (t == "Dropout" || t == "Dropout2d") {
      const Val* p = md.Get(0, "p");
      if (p && p->num == 0) return x;
      return Unavailable("self." + attr + " is a dropout with p > 0 (random in training mode)");
    }
    if (t == "Softmax" || t == "LogSoftmax") return AlongDim(t == "Softmax" ? "softmax" : "log_softmax", x, md.Get(0, "dim"));
    if (t == "Flatten") return Reshape(x, {Val::Number(static_cast<double>(x.shape[0]), true), Val::Number(-1, true)});
    if (t == "Linear") {
      const Val* w = Param(attr, "weight");
      const Val* b = Param(attr, "bias");
      if (!w || w->shape.size() != 2) return Unavailable("self." + attr + "'s weight is not in the contract");
      if (x.shape.empty() || x.shape.back() != w->shape[1]) return Unavailable("self." + attr + " gets a tensor of the wrong width");
      Shape out = x.shape;
      out.back() = w->shape[0];
      Val xv = x;
      const int64_t M = Numel(x.shape) / w->shape[1];
      xv.shape = {M, w->shape[1]};
      return Gemm(xv, false, 0, *w, true, 0, 1, M, w->shape[0], w->shape[1], out, b ? Ptr(*b) : "");
    }
    static const std::regex kConv(R"(^(Conv|ConvTranspose)([123])d$)");
    std::smatch m;
    if (std::regex_match(t, m, kConv)) return Conv(attr, md, x, m[1].str() == "ConvTranspose", std::stoi(m[2].str()));
    static const std::regex kPool(R"(^(Max|Avg)Pool([123])d$)");
    if (std::regex_match(t, m, kPool)) return Pool(md, x, m[1].str() == "Max", std::stoi(m[2].str()));
    static const std::regex kAdaptive(R"(^Adaptive(Avg|Max)Pool([123])d$)");
    if (std::regex_match(t, m, kAdaptive)) return AdaptivePool(md, x, m[1].str() == "Avg", std::stoi(m[2].str()));
    if (t == "LayerNorm" || t == "GroupNorm" || t == "InstanceNorm1d" || t == "InstanceNorm2d" ||
        t == "InstanceNorm3d" || t == "BatchNorm1d" || t == "BatchNorm2d" || t == "BatchNorm3d")
      return Norm(attr, md, x);
    if (t == "TripletMarginLoss") {
      if (a.pos.size() != 3) return Unavailable("self." + attr + " is called with other than three tensors");
      const Val* mv = md.Get(0, "margin");
      const Val* pv = md.Get(1, "p");
      const Val* ev = md.Get(2, "eps");
      if (pv && pv->kind == Val::kNum && pv->num != 2) return Unavailable("a triplet loss with p other than 2");
      if (Truthy(md.Get(3, "swap"))) return Unavailable("a triplet loss with swap");
      const double margin = mv && mv->kind == Val::kNum ? mv->num : 1.0, eps = ev && ev->kind == Val::kNum ? ev->num : 1e-6;
      // || x - y + eps ||_2 over the last dimension (torch.pairwise_distance).
      auto dist = [&](const Val& p, const Val& q) -> Result<Val> {
        EVK_ASSIGN_OR_RETURN(Val d, Arith("-", p, q));
        d.expr = fmt::format("({} + {})", d.expr, FloatLiteral(eps));
        EVK_ASSIGN_OR_RETURN(Val sq, Arith("*", d, d));
        Val last = Val::Number(-1, true);
        EVK_ASSIGN_OR_RETURN(Val sum, Reduce("sum", sq, &last, false));
        sum.expr = "std::sqrt(" + sum.expr + ")";
        return sum;
      };
      EVK_ASSIGN_OR_RETURN(Val dp, dist(a.pos[0], a.pos[1]));
      EVK_ASSIGN_OR_RETURN(Val dn, dist(a.pos[0], a.pos[2]));
      EVK_ASSIGN_OR_RETURN(Val diff, Arith("-", dp, dn));
      diff.expr = fmt::format("({0} + {1} > 0.0f ? {0} + {1} : 0.0f)", diff.expr, FloatLiteral(margin));
      return LossReduction("triplet_margin_loss", diff, md.Get(99, "reduction"));
    }
    return Unavailable("self." + attr + " is an nn." + t + ", which the graph recipe does not know");
  }

  Result<Val> AdaptivePool(const ModuleDef& md, const Val& x, bool avg, int r) {
    {
      auto size = Ints(md.Get(0, "output_size"), static_cast<size_t>(r), "output_size");
      if (!size.ok() || std::any_of(size->begin(), size->end(), [](int64_t v) { return v != 1; }))
        return Unavailable("adaptive pooling to a size other than 1");
      if (x.shape.size() != static_cast<size_t>(r) + 2) return Unavailable("adaptive pooling of the wrong rank");
      Val xv = x;
      xv.shape = {x.shape[0], x.shape[1], Numel(x.shape) / x.shape[0] / x.shape[1]};
      Val dim = Val::Number(2, true);
      EVK_ASSIGN_OR_RETURN(Val red, Reduce(avg ? "mean" : "max", xv, &dim, false));
      Shape s = {x.shape[0], x.shape[1]};
      for (int i = 0; i < r; ++i) s.push_back(1);
      red.shape = s;
      return red;
    }
  }

  Result<Val> Norm(const std::string& attr, const ModuleDef& md, const Val& x) {
    const std::string& t = md.type;
    const Shape& s = x.shape;
    const Val* epsv = md.Get(t == "GroupNorm" ? 2 : 1, "eps");
    const double eps = epsv && epsv->kind == Val::kNum ? epsv->num : 1e-5;
    const Val* w = Param(attr, "weight");
    const Val* b = Param(attr, "bias");
    // Statistics groups: `groups` sets of `count` elements; element j of group g sits at
    // g_base + j_offset, written as index expressions.
    int64_t groups = 0, count = 0;
    std::string elem;        // flat index of element j of group g
    std::string channel;     // the affine parameter's index for flat index '@'
    if (t == "LayerNorm") {
      auto ns = Ints(md.Get(0, "normalized_shape"), 1, "normalized_shape");
      int64_t d = 0;
      if (ns.ok()) d = (*ns)[0];
      else if (const Val* v = md.Get(0, "normalized_shape"); v && v->kind == Val::kTuple) {
        d = 1;
        for (const Val& i : v->items) {
          if (!i.is_int() || i.num <= 0 || i.num > (1 << 30)) return Unavailable("self." + attr + "'s normalized_shape is not positive integers");
          d *= static_cast<int64_t>(i.num);
        }
      }
      if (d <= 0 || Numel(s) % d != 0) return Unavailable("self." + attr + "'s normalized_shape does not fit the input");
      groups = Numel(s) / d;
      count = d;
      elem = fmt::format("g * {} + j", d);
      channel = fmt::format("(@) % {}", d);
    } else {
      if (s.size() < 2) return Unavailable("self." + attr + " gets a tensor without channels");
      const int64_t N = s[0], C = s[1], S = Numel(s) / N / C;
      channel = fmt::format("((@) / {}) % {}", S, C);
      if (t == "GroupNorm") {
        auto g = Ints(md.Get(0, "num_groups"), 1, "num_groups");
        if (!g.ok() || (*g)[0] <= 0 || C % (*g)[0] != 0) return Unavailable("self." + attr + "'s groups do not divide the channels");
        groups = N * (*g)[0];
        count = C / (*g)[0] * S;
        elem = fmt::format("g * {} + j", count);
      } else if (t.rfind("InstanceNorm", 0) == 0) {
        groups = N * C;
        count = S;
        elem = fmt::format("g * {} + j", S);
      } else {  // BatchNorm in training mode: batch statistics per channel over N and space
        groups = C;
        count = N * S;
        elem = fmt::format("(j / {S}) * {CS} + g * {S} + j % {S}", fmt::arg("S", S), fmt::arg("CS", C * S));
      }
    }
    const bool affine = t.rfind("InstanceNorm", 0) != 0 || Truthy(md.Get(99, "affine"));
    const std::string src = Ptr(x);
    const std::string stats = Temp(2 * groups);
    code_ += fmt::format(
        "{par}  for (int64_t g = 0; g < {groups}; ++g) {{\n"
        "    float sum = 0.0f;\n"
        "#pragma omp simd reduction(+:sum)\n"
        "    for (int64_t j = 0; j < {count}; ++j) sum += {src}[{elem}];\n"
        "    const float mean = sum / {count}.0f;\n"
        "    float var = 0.0f;\n"
        "#pragma omp simd reduction(+:var)\n"
        "    for (int64_t j = 0; j < {count}; ++j) {{ const float d = {src}[{elem}] - mean; var += d * d; }}\n"
        "    {st}[2 * g] = mean;\n"
        "    {st}[2 * g + 1] = 1.0f / std::sqrt(var / {count}.0f + {eps});\n"
        "  }}\n",
        fmt::arg("par", Par(groups)), fmt::arg("groups", groups), fmt::arg("count", count), fmt::arg("src", src),
        fmt::arg("elem", elem), fmt::arg("st", stats), fmt::arg("eps", FloatLiteral(eps)));
    // The group of flat index '@'.
    std::string group;
    if (t == "LayerNorm" || t == "GroupNorm" || t.rfind("InstanceNorm", 0) == 0) group = fmt::format("(@) / {}", count);
    else group = channel;
    std::string e = fmt::format("(({src}[@] - {st}[2 * ({g})]) * {st}[2 * ({g}) + 1])", fmt::arg("src", src),
                                fmt::arg("st", stats), fmt::arg("g", group));
    if (affine && w) e = fmt::format("({} * {}[{}])", e, Ptr(*w), channel);
    if (affine && b) e = fmt::format("({} + {}[{}])", e, Ptr(*b), channel);
    return Val::Tensor(s, e);
  }

  Result<Val> Pool(const ModuleDef& md, const Val& x, bool max, int r) {
    if (x.shape.size() != static_cast<size_t>(r) + 2 && x.shape.size() != static_cast<size_t>(r) + 1)
      return Unavailable(fmt::format("a {}d pooling of a rank-{} tensor", r, x.shape.size()));
    EVK_ASSIGN_OR_RETURN(auto k, Ints(md.Get(0, "kernel_size"), static_cast<size_t>(r), "kernel_size"));
    const Val* sv = md.Get(1, "stride");
    auto st = sv && sv->kind != Val::kNone ? Ints(sv, static_cast<size_t>(r), "stride") : Result<std::vector<int64_t>>(k);
    if (!st.ok()) return st.status();
    const Val* pv = md.Get(2, "padding");
    std::vector<int64_t> pad(static_cast<size_t>(r), 0), dil(static_cast<size_t>(r), 1);
    if (pv) { EVK_ASSIGN_OR_RETURN(pad, Ints(pv, static_cast<size_t>(r), "padding")); }
    if (max)
      if (const Val* dv = md.Get(3, "dilation")) { EVK_ASSIGN_OR_RETURN(dil, Ints(dv, static_cast<size_t>(r), "dilation")); }
    for (int d = 0; d < r; ++d)
      if (k[d] < 1 || (*st)[d] < 1 || pad[d] < 0 || dil[d] < 1 || 2 * pad[d] > k[d])
        return Unavailable("pooling with a kernel, stride, padding or dilation out of range");
    if (Truthy(md.Get(max ? 5 : 3, "ceil_mode"))) return Unavailable("pooling with ceil_mode");
    if (max && Truthy(md.Get(4, "return_indices"))) return Unavailable("pooling that returns indices");
    const bool include_pad = max || !md.Get(4, "count_include_pad") || Truthy(md.Get(4, "count_include_pad"));
    if (!max && md.Get(5, "divisor_override") && md.Get(5, "divisor_override")->kind != Val::kNone)
      return Unavailable("pooling with divisor_override");
    const size_t lead = x.shape.size() - static_cast<size_t>(r);
    Shape in_sp(x.shape.begin() + lead, x.shape.end()), out_sp;
    for (int d = 0; d < r; ++d) {
      const int64_t o = (in_sp[d] + 2 * pad[d] - dil[d] * (k[d] - 1) - 1) / (*st)[d] + 1;
      if (o <= 0) return Unavailable("pooling window larger than the input");
      out_sp.push_back(o);
    }
    int64_t planes = 1;
    for (size_t i = 0; i < lead; ++i) planes *= x.shape[i];
    Shape out(x.shape.begin(), x.shape.begin() + lead);
    out.insert(out.end(), out_sp.begin(), out_sp.end());
    const std::string src = Ptr(x);
    const std::string t = Temp(Numel(out));
    // One loop per output dimension, one per window dimension.
    std::string open, wopen, wclose, in_idx = "0", out_idx = "0";
    for (int d = 0; d < r; ++d) {
      open += fmt::format("    for (int64_t o{0} = 0; o{0} < {1}; ++o{0})\n", d, out_sp[d]);
      out_idx = fmt::format("({}) * {} + o{}", out_idx, out_sp[d], d);
      wopen += fmt::format(
          "      for (int64_t k{0} = 0; k{0} < {1}; ++k{0}) {{\n"
          "        const int64_t i{0} = o{0} * {2} - {3} + k{0} * {4};\n"
          "        if (i{0} < 0 || i{0} >= {5}) continue;\n",
          d, k[d], (*st)[d], pad[d], dil[d], in_sp[d]);
      wclose += "      }\n";
      in_idx = fmt::format("({}) * {} + i{}", in_idx, in_sp[d], d);
    }
    int64_t window = 1;
    for (int64_t v : k) window *= v;
    code_ += fmt::format(
        "{par}  for (int64_t p = 0; p < {planes}; ++p) {{\n"
        "    const float* __restrict in = {src} + p * {in_plane};\n"
        "    float* __restrict out = {t} + p * {out_plane};\n"
        "{open}"
        "    {{\n"
        "      float acc = {init};\n"
        "      int64_t cnt = 0;\n"
        "      (void)cnt;\n"
        "{wopen}"
        "        const float v = in[{in_idx}];\n"
        "        {step}\n"
        "{wclose}"
        "      out[{out_idx}] = {fin};\n"
        "    }}\n"
        "  }}\n",
        fmt::arg("par", Par(planes)), fmt::arg("planes", planes), fmt::arg("src", src), fmt::arg("t", t),
        fmt::arg("in_plane", Numel(in_sp)), fmt::arg("out_plane", Numel(out_sp)), fmt::arg("open", open),
        fmt::arg("init", max ? "-INFINITY" : "0.0f"), fmt::arg("wopen", wopen), fmt::arg("wclose", wclose),
        fmt::arg("in_idx", in_idx), fmt::arg("out_idx", out_idx),
        fmt::arg("step", max ? "acc = v > acc || v != v ? v : acc;" : "acc += v; ++cnt;"),
        fmt::arg("fin", max ? "acc" : include_pad ? fmt::format("acc / {}.0f", window) : "acc / (float)cnt"));
    // With count_include_pad, PyTorch divides by the window clipped to the padded input; with
    // ceil_mode off a window never passes the padding, so that is the whole window.
    return Val::Tensor(out, t + "[@]");
  }

  Result<Val> Conv(const std::string& attr, const ModuleDef& md, const Val& x, bool transpose, int r) {
    const Val* w = Param(attr, "weight");
    const Val* b = Param(attr, "bias");
    if (!w) return Unavailable("self." + attr + "'s weight is not in the contract");
    if (x.shape.size() != static_cast<size_t>(r) + 2) return Unavailable("a convolution of a tensor without a batch");
    EVK_ASSIGN_OR_RETURN(auto k, Ints(md.Get(2, "kernel_size"), static_cast<size_t>(r), "kernel_size"));
    std::vector<int64_t> st(static_cast<size_t>(r), 1), pad(static_cast<size_t>(r), 0), dil(static_cast<size_t>(r), 1),
        opad(static_cast<size_t>(r), 0);
    if (const Val* v = md.Get(3, "stride")) { EVK_ASSIGN_OR_RETURN(st, Ints(v, static_cast<size_t>(r), "stride")); }
    if (const Val* v = md.Get(4, "padding")) {
      if (v->kind == Val::kStr) return Unavailable("padding='" + v->str + "'");
      EVK_ASSIGN_OR_RETURN(pad, Ints(v, static_cast<size_t>(r), "padding"));
    }
    int64_t groups = 1;
    if (transpose) {
      if (const Val* v = md.Get(5, "output_padding")) { EVK_ASSIGN_OR_RETURN(opad, Ints(v, static_cast<size_t>(r), "output_padding")); }
      if (const Val* v = md.Get(6, "groups")) groups = v->is_int() ? static_cast<int64_t>(v->num) : 0;
      if (const Val* v = md.Get(8, "dilation")) { EVK_ASSIGN_OR_RETURN(dil, Ints(v, static_cast<size_t>(r), "dilation")); }
    } else {
      if (const Val* v = md.Get(5, "dilation")) { EVK_ASSIGN_OR_RETURN(dil, Ints(v, static_cast<size_t>(r), "dilation")); }
      if (const Val* v = md.Get(6, "groups")) groups = v->is_int() ? static_cast<int64_t>(v->num) : 0;
    }
    if (const Val* v = md.Get(transpose ? 99 : 8, "padding_mode"); v && v->kind == Val::kStr && v->str != "zeros")
      return Unavailable("padding_mode='" + v->str + "'");
    for (int d = 0; d < r; ++d)
      if (k[d] < 1 || st[d] < 1 || pad[d] < 0 || dil[d] < 1 || opad[d] < 0)
        return Unavailable("a convolution with a kernel, stride, padding or dilation out of range");
    if (w->shape.size() != static_cast<size_t>(r) + 2) return Unavailable("self." + attr + "'s weight has the wrong rank");
    const int64_t N = x.shape[0], IC = x.shape[1];
    const int64_t OC = transpose ? w->shape[1] * groups : w->shape[0];
    if (groups <= 0 || IC % groups || OC % groups) return Unavailable("groups do not divide the channels");
    const int64_t ICg = IC / groups, OCg = OC / groups;
    Shape in_sp(x.shape.begin() + 2, x.shape.end()), out_sp;
    for (int d = 0; d < r; ++d) {
      int64_t o = transpose ? (in_sp[d] - 1) * st[d] - 2 * pad[d] + dil[d] * (k[d] - 1) + opad[d] + 1
                            : (in_sp[d] + 2 * pad[d] - dil[d] * (k[d] - 1) - 1) / st[d] + 1;
      if (o <= 0) return Unavailable("the convolution's output would be empty");
      out_sp.push_back(o);
    }
    Shape out = {N, OC};
    out.insert(out.end(), out_sp.begin(), out_sp.end());
    const int64_t in_plane = Numel(in_sp), out_plane = Numel(out_sp), kvol = Numel(k);
    uses_conv_ = true;
    if (conv_ == 1 && !transpose && groups == 1 && N * IC * kvol * out_plane <= (int64_t{1} << 26)) {
      // im2col + GEMM: the columns [N][IC * kvol][P] (P output positions; zero where the window
      // hangs over the padding), then out[n] = W [OC x IC*kvol] x columns[n] on the GEMM.
      const std::string src = Ptr(x);
      const int64_t K = IC * kvol;
      const std::string col = Temp(N * K * out_plane);
      std::string loops, close, in_idx = "0", k_idx = "0", p_idx = "0", ok = "true";
      for (int d = 0; d < r; ++d) {
        loops += fmt::format("      for (int64_t k{0} = 0; k{0} < {1}; ++k{0})\n", d, k[d]);
        k_idx = fmt::format("({}) * {} + k{}", k_idx, k[d], d);
      }
      loops += "      {\n";
      for (int d = 0; d < r; ++d) {
        loops += fmt::format(
            "        for (int64_t o{0} = 0; o{0} < {1}; ++o{0}) {{\n"
            "          const int64_t i{0} = o{0} * {2} - {3} + k{0} * {4};\n",
            d, out_sp[d], st[d], pad[d], dil[d]);
        close += "        }\n";
        in_idx = fmt::format("({}) * {} + i{}", in_idx, in_sp[d], d);
        p_idx = fmt::format("({}) * {} + o{}", p_idx, out_sp[d], d);
        ok += fmt::format(" && i{0} >= 0 && i{0} < {1}", d, in_sp[d]);
      }
      code_ += fmt::format(
          "{par}  for (int64_t job = 0; job < {jobs}; ++job) {{\n"
          "    const int64_t n = job / {IC}, ic = job % {IC};\n"
          "    const float* __restrict in = {src} + job * {in_plane};\n"
          "{loops}"
          "        float* __restrict c = {col} + (n * {K} + ic * {kvol} + ({k_idx})) * {P};\n"
          "{inner}"
          "{close}"
          "      }}\n"
          "  }}\n",
          fmt::arg("par", Par(N * IC)), fmt::arg("jobs", N * IC), fmt::arg("IC", IC), fmt::arg("src", src),
          fmt::arg("in_plane", in_plane), fmt::arg("loops", loops), fmt::arg("col", col), fmt::arg("K", K),
          fmt::arg("kvol", kvol), fmt::arg("k_idx", k_idx), fmt::arg("P", out_plane), fmt::arg("close", close),
          fmt::arg("inner", fmt::format("          c[{}] = {} ? in[{}] : 0.0f;\n", p_idx, ok, in_idx)));
      Val wv = *w;
      wv.shape = {OC, K};
      EVK_ASSIGN_OR_RETURN(Val c, Gemm(wv, false, 0, Val::Tensor({N, K, out_plane}, col + "[@]"), false, K * out_plane, N,
                                       OC, out_plane, K, out));
      if (b) c.expr = fmt::format("({} + {}[((@) / {}) % {}])", c.expr, Ptr(*b), out_plane, OC);
      return c;
    }
    const std::string src = Ptr(x), W = Ptr(*w), B = b ? Ptr(*b) : "";
    const std::string t = Temp(Numel(out));
    // Output plane (n, oc) accumulates, for each input channel of its group and each kernel
    // position, a shifted and strided copy of an input plane times one weight: the innermost
    // loop runs along the last dimension, its range clipped so that no bound check is left in it.
    std::string loops, close, in_idx = "0", out_idx = "0", k_idx = "0";
    const int last = r - 1;
    for (int d = 0; d < r; ++d) {
      loops += fmt::format("          for (int64_t k{0} = 0; k{0} < {1}; ++k{0}) {{\n", d, k[d]);
      k_idx = fmt::format("({}) * {} + k{}", k_idx, k[d], d);
    }
    for (int d = 0; d < last; ++d) {
      if (!transpose) {
        loops += fmt::format(
            "          for (int64_t o{0} = 0; o{0} < {1}; ++o{0}) {{\n"
            "            const int64_t i{0} = o{0} * {2} - {3} + k{0} * {4};\n"
            "            if (i{0} < 0 || i{0} >= {5}) continue;\n",
            d, out_sp[d], st[d], pad[d], dil[d], in_sp[d]);
      } else {
        loops += fmt::format(
            "          for (int64_t i{0} = 0; i{0} < {5}; ++i{0}) {{\n"
            "            const int64_t o{0} = i{0} * {2} - {3} + k{0} * {4};\n"
            "            if (o{0} < 0 || o{0} >= {1}) continue;\n",
            d, out_sp[d], st[d], pad[d], dil[d], in_sp[d]);
      }
      in_idx = fmt::format("({}) * {} + i{}", in_idx, in_sp[d], d);
      out_idx = fmt::format("({}) * {} + o{}", out_idx, out_sp[d], d);
    }
    const int64_t S = st[last], P = pad[last], D = dil[last], L = in_sp[last], O = out_sp[last];
    std::string inner;
    if (!transpose) {
      // i = o*S - P + k*D in [0, L)  <=>  o in [lo, hi)
      inner = fmt::format(
          "          {{\n"
          "            const int64_t off = k{last} * {D} - {P};\n"
          "            int64_t lo = off >= 0 ? 0 : (-off + {S} - 1) / {S};\n"
          "            int64_t hi = ({L} - off + {S} - 1) / {S};\n"
          "            if (hi > {O}) hi = {O};\n"
          "            const float* __restrict ip = in + ({in_idx}) * {L};\n"
          "            float* __restrict op = dst + ({out_idx}) * {O};\n"
          "#pragma omp simd\n"
          "            for (int64_t o = lo; o < hi; ++o) op[o] += wv * ip[o * {S} + off];\n"
          "          }}\n",
          fmt::arg("last", last), fmt::arg("D", D), fmt::arg("P", P), fmt::arg("S", S), fmt::arg("L", L),
          fmt::arg("O", O), fmt::arg("in_idx", in_idx), fmt::arg("out_idx", out_idx));
    } else {
      // o = i*S - P + k*D in [0, O)  <=>  i in [lo, hi)
      inner = fmt::format(
          "          {{\n"
          "            const int64_t off = k{last} * {D} - {P};\n"
          "            int64_t lo = off >= 0 ? 0 : (-off + {S} - 1) / {S};\n"
          "            int64_t hi = ({O} - off + {S} - 1) / {S};\n"
          "            if (hi > {L}) hi = {L};\n"
          "            const float* __restrict ip = in + ({in_idx}) * {L};\n"
          "            float* __restrict op = dst + ({out_idx}) * {O};\n"
          "            for (int64_t i = lo; i < hi; ++i) op[i * {S} + off] += wv * ip[i];\n"
          "          }}\n",
          fmt::arg("last", last), fmt::arg("D", D), fmt::arg("P", P), fmt::arg("S", S), fmt::arg("L", L),
          fmt::arg("O", O), fmt::arg("in_idx", in_idx), fmt::arg("out_idx", out_idx));
    }
    for (int d = 0; d < last; ++d) close += "          }\n";
    for (int d = 0; d < r; ++d) close += "          }\n";
    // Weight layout: conv [OC, ICg, k...]; transposed [IC, OCg, k...].
    const std::string w_at = transpose ? fmt::format("{}[((ic) * {} + (oc % {})) * {} + ({})]", W, OCg, OCg, kvol, k_idx)
                                       : fmt::format("{}[((oc) * {} + (icg)) * {} + ({})]", W, ICg, kvol, k_idx);
    // The weight is read inside the innermost kernel loop: w_at names k0..k{r-1}, so it is
    // loaded where they are all defined: wrap `inner` with the load.
    const std::string load = fmt::format("          const float wv = {};\n", w_at);
    // Move the load to after the kernel loops open (they are the first r loops).
    std::string kernel_loops, space_loops;
    {
      size_t cut = 0;
      for (int d = 0; d < r; ++d) cut = loops.find('\n', cut) + 1;
      kernel_loops = loops.substr(0, cut);
      space_loops = loops.substr(cut);
    }
    code_ += fmt::format(
        "{par}  for (int64_t job = 0; job < {jobs}; ++job) {{\n"
        "    const int64_t n = job / {OC}, oc = job % {OC};\n"
        "    const int64_t grp = oc / {OCg};\n"
        "    float* __restrict dst = {t} + job * {out_plane};\n"
        "    const float bv = {bias};\n"
        "    for (int64_t o = 0; o < {out_plane}; ++o) dst[o] = bv;\n"
        "    for (int64_t icg = 0; icg < {ICg}; ++icg) {{\n"
        "      const int64_t ic = grp * {ICg} + icg;\n"
        "      (void)ic;\n"
        "      const float* __restrict in = {src} + (n * {IC} + ic) * {in_plane};\n"
        "      {{\n"
        "{kernel_loops}"
        "{load}"
        "{space_loops}"
        "{inner}"
        "{close}"
        "      }}\n"
        "    }}\n"
        "  }}\n",
        fmt::arg("par", Par(N * OC)), fmt::arg("jobs", N * OC), fmt::arg("OC", OC), fmt::arg("OCg", OCg),
        fmt::arg("t", t), fmt::arg("out_plane", out_plane), fmt::arg("bias", B.empty() ? "0.0f" : B + "[oc]"),
        fmt::arg("ICg", ICg), fmt::arg("src", src), fmt::arg("IC", IC), fmt::arg("in_plane", in_plane),
        fmt::arg("kernel_loops", kernel_loops), fmt::arg("load", load), fmt::arg("space_loops", space_loops),
        fmt::arg("inner", inner), fmt::arg("close", close));
    return Val::Tensor(out, t + "[@]");
  }

  // ---- functions

  Result<Val> Function(const std::string& fn, const CallArgs& a) {
    const Val* x = a.Get(0, "input");
    static const std::set<std::string> kReductions = {"sum", "mean", "prod", "amax", "amin", "argmax", "argmin",
                                                      "logsumexp"};
    if (kReductions.count(fn) || ((fn == "max" || fn == "min") && !(a.pos.size() > 1 && a.pos[1].tensor()))) {
      if (!x) return Unavailable(fn + " without an input");
      const Val* dim = a.Get(1, "dim");
      const bool keepdim = Truthy(a.Get(2, "keepdim"));
      if ((fn == "max" || fn == "min") && dim && dim->kind != Val::kNone) {
        // torch.max(x, dim) returns (values, indices).
        EVK_ASSIGN_OR_RETURN(Val values, Reduce(fn, *x, dim, keepdim));
        EVK_ASSIGN_OR_RETURN(Val indices, Reduce(fn == "max" ? "argmax" : "argmin", *x, dim, keepdim));
        Val t;
        t.kind = Val::kTuple;
        t.items = {values, indices};
        return t;
      }
      return Reduce(fn, *x, dim, keepdim);
    }
    if (fn == "softmax" || fn == "log_softmax" || fn == "cumsum" || fn == "cumprod") {
      if (!x) return Unavailable(fn + " without an input");
      return AlongDim(fn, *x, a.Get(1, "dim"));
    }
    if (fn == "matmul" || fn == "mm" || fn == "bmm") {
      if (a.pos.size() != 2) return Unavailable(fn + " with other than two arguments");
      return Matmul(a.pos[0], a.pos[1]);
    }
    if (fn == "view" || fn == "reshape") {
      if (!x) return Unavailable(fn + " without an input");
      std::vector<Val> dims(a.pos.begin() + 1, a.pos.end());
      if (auto it = a.kw.find("shape"); it != a.kw.end()) dims = {it->second};
      return Reshape(*x, dims);
    }
    if (fn == "contiguous" || fn == "clone" || (fn == "float" && x && x->tensor())) {
      if (!x) return Unavailable(fn + " without an input");
      return *x;
    }
    if (fn == "size") {
      if (!x || !x->tensor()) return Unavailable("size of a non-tensor");
      EVK_ASSIGN_OR_RETURN(int d, Dim(a.Get(1, "dim"), x->shape.size(), "size"));
      return Val::Number(static_cast<double>(x->shape[static_cast<size_t>(d)]), true);
    }
    if (fn == "flatten") {
      if (!x || !x->tensor()) return Unavailable("flatten of a non-tensor");
      const Val* sd = a.Get(1, "start_dim");
      int s = 0;
      if (sd) { EVK_ASSIGN_OR_RETURN(s, Dim(sd, x->shape.size(), "flatten")); }
      std::vector<Val> dims;
      for (int i = 0; i < s; ++i) dims.push_back(Val::Number(static_cast<double>(x->shape[static_cast<size_t>(i)]), true));
      dims.push_back(Val::Number(-1, true));
      return Reshape(*x, dims);
    }
    if (fn == "squeeze" || fn == "unsqueeze") {
      if (!x || !x->tensor()) return Unavailable(fn + " of a non-tensor");
      Shape s = x->shape;
      const Val* dv = a.Get(1, "dim");
      if (fn == "unsqueeze") {
        if (!dv || !dv->is_int()) return Unavailable("unsqueeze without an integer dimension");
        int d = static_cast<int>(dv->num);
        if (d < 0) d += static_cast<int>(s.size()) + 1;
        if (d < 0 || d > static_cast<int>(s.size())) return Unavailable("unsqueeze: dimension out of range");
        s.insert(s.begin() + d, 1);
      } else if (!dv) {
        s.erase(std::remove(s.begin(), s.end(), 1), s.end());
      } else {
        EVK_ASSIGN_OR_RETURN(int d, Dim(dv, s.size(), "squeeze"));
        if (s[static_cast<size_t>(d)] == 1) s.erase(s.begin() + d);
      }
      return Val::Tensor(s, x->expr, x->i64);
    }
    if (fn == "transpose" || fn == "t" || fn == "permute") {
      if (!x || !x->tensor()) return Unavailable(fn + " of a non-tensor");
      std::vector<int> perm(x->shape.size());
      std::iota(perm.begin(), perm.end(), 0);
      if (fn == "t") {
        if (perm.size() != 2) return Unavailable("t() of a tensor that is not a matrix");
        std::swap(perm[0], perm[1]);
      } else if (fn == "transpose") {
        EVK_ASSIGN_OR_RETURN(int d0, Dim(a.Get(1, "dim0"), perm.size(), "transpose"));
        EVK_ASSIGN_OR_RETURN(int d1, Dim(a.Get(2, "dim1"), perm.size(), "transpose"));
        std::swap(perm[static_cast<size_t>(d0)], perm[static_cast<size_t>(d1)]);
      } else {
        std::vector<Val> ds(a.pos.begin() + 1, a.pos.end());
        if (ds.size() == 1 && ds[0].kind == Val::kTuple) ds = ds[0].items;
        if (ds.size() != perm.size()) return Unavailable("permute with the wrong number of dimensions");
        for (size_t i = 0; i < ds.size(); ++i) { EVK_ASSIGN_OR_RETURN(perm[i], Dim(&ds[i], perm.size(), "permute")); }
      }
      return Permute(*x, perm);
    }
    if (fn == "flip") {
      if (!x || !x->tensor()) return Unavailable("flip of a non-tensor");
      return Flip(*x, a.Get(1, "dims"));
    }
    if (fn == "diag") {
      if (!x || !x->tensor() || x->shape.size() != 1) return Unavailable("diag of a tensor that is not a vector");
      const int64_t n = x->shape[0];
      return Val::Tensor({n, n}, fmt::format("((@) / {0} == (@) % {0} ? {1} : 0.0f)", n, Sub(x->expr, fmt::format("(@) % {}", n))));
    }
    if (fn == "triu" || fn == "tril") {
      if (!x || !x->tensor() || x->shape.size() < 2) return Unavailable(fn + " of a tensor that is not a matrix");
      const Val* dg = a.Get(1, "diagonal");
      const int64_t k = dg && dg->is_int() ? static_cast<int64_t>(dg->num) : 0;
      const size_t r = x->shape.size();
      const std::string row = Coord(x->shape, r - 2), col = Coord(x->shape, r - 1);
      return Val::Tensor(x->shape, fmt::format("({} {} {} + {} ? {} : 0.0f)", col, fn == "triu" ? ">=" : "<=", row, k,
                                               x->expr));
    }
    if (fn == "maximum" || fn == "minimum" || fn == "max" || fn == "min") {
      if (a.pos.size() != 2) return Unavailable(fn + " with other than two arguments");
      const bool mx = fn == "maximum" || fn == "max";
      EVK_ASSIGN_OR_RETURN(Val d, Arith("-", a.pos[0], a.pos[1]));
      Shape s = d.shape;
      const std::string l = AsFloat(a.pos[0], s), r = AsFloat(a.pos[1], s);
      return Val::Tensor(s, fmt::format("(({0}) {2} ({1}) ? ({0}) : ({1}))", l, r, mx ? ">" : "<"));
    }
    if (fn == "smooth_l1_loss" || fn == "mse_loss" || fn == "l1_loss") {
      if (a.pos.size() < 2) return Unavailable(fn + " needs predictions and targets");
      EVK_ASSIGN_OR_RETURN(Val d, Arith("-", a.pos[0], a.pos[1]));
      const Val* beta = a.Get(3, "beta");
      const double bt = beta && beta->kind == Val::kNum ? beta->num : 1.0;
      if (fn == "mse_loss") d.expr = fmt::format("({0} * {0})", d.expr);
      else if (fn == "l1_loss") d.expr = fmt::format("std::fabs({})", d.expr);
      else
        d.expr = fmt::format("(std::fabs({0}) < {1} ? 0.5f * {0} * {0} / {1} : std::fabs({0}) - 0.5f * {1})", d.expr,
                             FloatLiteral(bt));
      return LossReduction(fn, d, a.Get(99, "reduction"));
    }
    if (fn == "kl_div") {
      if (a.pos.size() < 2) return Unavailable("kl_div needs input and target");
      Shape s;
      EVK_ASSIGN_OR_RETURN(s, BroadcastShape(a.pos[0].shape, a.pos[1].shape));
      const std::string in = AsFloat(a.pos[0], s), tg = AsFloat(a.pos[1], s);
      Val d = Val::Tensor(s, fmt::format("({1} > 0.0f ? {1} * (std::log({1}) - {0}) : 0.0f)", in, tg));
      const Val* red = a.Get(2, "reduction");
      if (red && red->kind == Val::kStr && red->str == "batchmean") {
        EVK_ASSIGN_OR_RETURN(Val sum, Reduce("sum", d, nullptr, false));
        sum.expr = fmt::format("({} / {}.0f)", sum.expr, s.empty() ? 1 : s[0]);
        return sum;
      }
      return LossReduction(fn, d, red);
    }
    if (fn == "cross_entropy") {
      if (a.pos.size() < 2 || !a.pos[1].i64 || a.pos[0].shape.size() != 2) return Unavailable("cross_entropy other than [N, C] logits and class indices");
      Val dim = Val::Number(1, true);
      EVK_ASSIGN_OR_RETURN(Val ls, AlongDim("log_softmax", a.pos[0], &dim));
      const int64_t N = a.pos[0].shape[0], C = a.pos[0].shape[1];
      Val picked = Val::Tensor({N}, fmt::format("(-{})", Sub(ls.expr, fmt::format("(@) * {} + {}", C, Sub(a.pos[1].expr, "@")))));
      return LossReduction(fn, picked, a.Get(99, "reduction"));
    }
    if (fn == "cosine_similarity") {
      if (a.pos.size() < 2) return Unavailable("cosine_similarity needs two tensors");
      const Val* dim = a.Get(2, "dim");
      Val one = Val::Number(1, true);
      if (!dim) dim = &one;
      EVK_ASSIGN_OR_RETURN(Val xy, Arith("*", a.pos[0], a.pos[1]));
      EVK_ASSIGN_OR_RETURN(Val xx, Arith("*", a.pos[0], a.pos[0]));
      EVK_ASSIGN_OR_RETURN(Val yy, Arith("*", a.pos[1], a.pos[1]));
      EVK_ASSIGN_OR_RETURN(Val sxy, Reduce("sum", xy, dim, false));
      EVK_ASSIGN_OR_RETURN(Val sxx, Reduce("sum", xx, dim, false));
      EVK_ASSIGN_OR_RETURN(Val syy, Reduce("sum", yy, dim, false));
      const Val* epsv = a.Get(3, "eps");
      const std::string eps = FloatLiteral(epsv && epsv->kind == Val::kNum ? epsv->num : 1e-8);
      return Val::Tensor(sxy.shape, fmt::format("({0} / (std::sqrt({1}) > {3} ? std::sqrt({1}) : {3}) / (std::sqrt({2}) > {3} ? std::sqrt({2}) : {3}))",
                                                sxy.expr, sxx.expr, syy.expr, eps));
    }
    if (fn == "norm") {
      if (!x) return Unavailable("norm without an input");
      const Val* p = a.Get(1, "p");
      if (p && p->kind == Val::kNum && p->num != 2) return Unavailable("norm other than p=2");
      EVK_ASSIGN_OR_RETURN(Val sq, Arith("*", *x, *x));
      EVK_ASSIGN_OR_RETURN(Val s, Reduce("sum", sq, a.Get(2, "dim"), Truthy(a.Get(3, "keepdim"))));
      s.expr = "std::sqrt(" + s.expr + ")";
      return s;
    }
    if (fn == "linear") {
      if (a.pos.size() < 2) return Unavailable("linear needs an input and a weight");
      const Val& w = a.pos[1];
      const Val* b = a.Get(2, "bias");
      const Val& in = a.pos[0];
      if (w.shape.size() != 2 || in.shape.empty() || in.shape.back() != w.shape[1]) return Unavailable("linear of mismatched shapes");
      Shape out = in.shape;
      out.back() = w.shape[0];
      Val xv = in;
      const int64_t M = Numel(in.shape) / w.shape[1];
      xv.shape = {M, w.shape[1]};
      return Gemm(xv, false, 0, w, true, 0, 1, M, w.shape[0], w.shape[1], out, b && b->tensor() ? Ptr(*b) : "");
    }
    // Functional pooling: the module's arguments, by name.
    static const std::regex kPoolFn(R"(^(max|avg|adaptive_avg|adaptive_max)_pool([123])d$)");
    std::smatch pm;
    if (std::regex_match(fn, pm, kPoolFn)) {
      if (!x || !x->tensor()) return Unavailable(fn + " of a non-tensor");
      const std::string kind = pm[1].str();
      static const std::map<std::string, std::vector<std::string>> kNames = {
          {"max", {"kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"}},
          {"avg", {"kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"}},
          {"adaptive_avg", {"output_size"}},
          {"adaptive_max", {"output_size", "return_indices"}}};
      ModuleDef md;
      const auto& names = kNames.at(kind);
      for (size_t i = 1; i < a.pos.size(); ++i) {
        if (i - 1 >= names.size()) return Unavailable(fn + " with too many arguments");
        md.kw[names[i - 1]] = a.pos[i];
      }
      for (const auto& [k, v] : a.kw)
        if (k != "input") md.kw[k] = v;
      const int r = std::stoi(pm[2].str());
      if (kind == "adaptive_avg" || kind == "adaptive_max") return AdaptivePool(md, *x, kind == "adaptive_avg", r);
      return Pool(md, *x, kind == "max", r);
    }
    if (fn == "float" && x && x->kind == Val::kStr) {
      try {
        return Val::Number(std::stod(x->str), false);
      } catch (const std::exception&) {
        return Unavailable("float('" + x->str + "')");
      }
    }
    if (fn == "zeros_like" || fn == "ones_like") {
      if (!x || !x->tensor()) return Unavailable(fn + " of a non-tensor");
      return Val::Tensor(x->shape, fn == "zeros_like" ? "0.0f" : "1.0f");
    }
    if (fn == "zeros" || fn == "ones") {
      std::vector<Val> dims = a.pos;
      if (dims.size() == 1 && dims[0].kind == Val::kTuple) dims = dims[0].items;
      Shape sh;
      for (const Val& v : dims) {
        if (!v.is_int() || v.num < 0 || v.num > (1 << 30)) return Unavailable(fn + " with a size that is not an integer");
        sh.push_back(static_cast<int64_t>(v.num));
        if (Numel(sh) > (1LL << 40)) return Unavailable(fn + " of more elements than the recipe handles");
      }
      const Val* dt = a.Get(99, "dtype");
      const bool boolean = dt && dt->kind == Val::kStr && dt->str == "bool";
      return Val::Tensor(sh, fn == "zeros" ? (boolean ? "false" : "0.0f") : (boolean ? "true" : "1.0f"), boolean);
    }
    if (fn == "narrow") {
      if (!x || !x->tensor()) return Unavailable("narrow of a non-tensor");
      EVK_ASSIGN_OR_RETURN(int d, Dim(a.Get(1, "dim"), x->shape.size(), "narrow"));
      const Val* st = a.Get(2, "start");
      const Val* len = a.Get(3, "length");
      if (!st || !len || !st->is_int() || !len->is_int()) return Unavailable("narrow without integers");
      const int64_t start = static_cast<int64_t>(st->num), length = static_cast<int64_t>(len->num);
      if (start < 0 || length < 0 || start + length > x->shape[static_cast<size_t>(d)]) return Unavailable("narrow out of range");
      Shape sh = x->shape;
      sh[static_cast<size_t>(d)] = length;
      std::vector<std::string> coords;
      for (size_t i = 0; i < sh.size(); ++i)
        coords.push_back(static_cast<int>(i) == d ? fmt::format("({} + {})", Coord(sh, i), start) : Coord(sh, i));
      return Val::Tensor(sh, Sub(x->expr, FlatIndex(x->shape, coords)), x->i64);
    }
    if (fn == "cat" || fn == "concat") {
      if (!x || x->kind != Val::kTuple || x->items.empty()) return Unavailable(fn + " of something other than a list of tensors");
      const Val& first = x->items[0];
      if (!first.tensor()) return Unavailable(fn + " of non-tensors");
      const Val* dv = a.Get(1, "dim");
      Val zero = Val::Number(0, true);
      EVK_ASSIGN_OR_RETURN(int d, Dim(dv ? dv : &zero, first.shape.size(), fn));
      Shape sh = first.shape;
      sh[static_cast<size_t>(d)] = 0;
      for (const Val& v : x->items) {
        if (!v.tensor() || v.shape.size() != sh.size() || v.i64 != first.i64) return Unavailable(fn + " of mismatched tensors");
        for (size_t i = 0; i < sh.size(); ++i)
          if (static_cast<int>(i) != d && v.shape[i] != first.shape[i]) return Unavailable(fn + " of mismatched shapes");
        sh[static_cast<size_t>(d)] += v.shape[static_cast<size_t>(d)];
      }
      const std::string c = Coord(sh, static_cast<size_t>(d));
      std::string e;
      int64_t off = 0;
      for (size_t k = 0; k < x->items.size(); ++k) {
        const Val& v = x->items[k];
        std::vector<std::string> coords;
        for (size_t i = 0; i < sh.size(); ++i)
          coords.push_back(static_cast<int>(i) == d ? fmt::format("({} - {})", c, off) : Coord(sh, i));
        const std::string part = Sub(v.expr, FlatIndex(v.shape, coords));
        off += v.shape[static_cast<size_t>(d)];
        e += k + 1 < x->items.size() ? fmt::format("({} < {} ? {} : ", c, off, part) : part;
      }
      e += std::string(x->items.size() - 1, ')');
      return Val::Tensor(sh, e, first.i64);
    }
    if (fn == "masked_fill" || fn == "where") {
      // masked_fill(x, mask, value): value where mask; where(cond, a, b): a where cond, else b.
      if (a.pos.size() != 3) return Unavailable(fn + " with other than three arguments");
      const Val& cond = fn == "where" ? a.pos[0] : a.pos[1];
      const Val& yes = fn == "where" ? a.pos[1] : a.pos[2];
      const Val& no = fn == "where" ? a.pos[2] : a.pos[0];
      if (!cond.tensor()) return Unavailable(fn + " with a condition that is not a tensor");
      Shape sh = cond.shape;
      for (const Val* v : {&yes, &no})
        if (v->tensor()) {
          EVK_ASSIGN_OR_RETURN(sh, BroadcastShape(sh, v->shape));
        }
      return Val::Tensor(sh, fmt::format("({} ? {} : {})", BroadcastTo(cond, sh), AsFloat(yes, sh), AsFloat(no, sh)));
    }
    // Elementwise functions.
    std::vector<Val> pos = a.pos;
    std::map<std::string, Val> kw = a.kw;
    return Elementwise(fn, pos, kw);
  }

  Result<Val> LossReduction(const std::string& fn, const Val& d, const Val* reduction) {
    const std::string r = reduction && reduction->kind == Val::kStr ? reduction->str : "mean";
    if (r == "none") return d;
    if (r != "mean" && r != "sum") return Unavailable(fn + " with reduction='" + r + "'");
    return Reduce(r, d, nullptr, false);
  }

  const TaskSpec& spec_;
  int parallel_ = 1, mr_ = 4, kb_ = 256, pack_ = 1, nt_ = 16, conv_ = 1;
  bool uses_gemm_ = false, uses_vectors_ = false, uses_conv_ = false;
  std::map<std::string, Val> env_, globals_, attrs_, params_;
  std::map<std::string, ModuleDef> modules_;
  std::set<std::string> unreadable_;
  std::vector<std::string> signature_;
  std::string code_;
  int temps_ = 0, attr_temps_ = 0;
};

}  // namespace

Result<std::string> RenderGraph(const TaskSpec& spec, const RecipeSetting& setting,
                                std::vector<std::string>* knobs_used) {
  Compiler c(spec, setting);
  EVK_ASSIGN_OR_RETURN(std::string body, c.Compile());
  const bool fast = setting.knobs.count("fast_math") && setting.knobs.at("fast_math");
  if (knobs_used) {
    *knobs_used = {"parallel"};
    if (c.uses_conv()) knobs_used->push_back("conv");
    if (c.uses_gemm()) {
      knobs_used->push_back("mr");
      knobs_used->push_back("kb");
      knobs_used->push_back("pack");
      knobs_used->push_back("nt");
    }
    if (body.find("evk_") != std::string::npos) knobs_used->push_back("fast_math");
  }
  std::string doc;
  if (auto fb = FindForwardBody(spec.source); fb.ok())
    for (const std::string& st : fb->statements) doc += "//   " + st + "\n";
  return fmt::format(
      "{}\n"
      "// Built-in graph kernel (written by evokernel's built-in generator, no model): forward()\n"
      "{}"
      "// compiled statement by statement; elementwise steps are fused into the loops that read them.\n"
      "#include <cmath>\n"
      "#include <cstdint>\n"
      "#include <cstring>\n"
      "#include <memory>\n\n"
      "#pragma GCC optimize(\"no-trapping-math\")\n\n"
      "{}{}"
      "extern \"C\" void evokernel_forward({}) {{\n"
      "{}"
      "}}\n",
      setting.Line(), doc,
      c.uses_vectors() ? "// Eight floats (GCC/Clang vector extension); unaligned loads and stores go through memcpy.\n"
                         "typedef float evk_v8 __attribute__((vector_size(32)));\n\n"
                       : "",
      MathPreamble(fast, body), fmt::join(c.signature(), ", "), body);
}

}  // namespace evokernel::builtin
