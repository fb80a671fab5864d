#include "backend/opencl/plan_parser.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <optional>
#include <sstream>
#include <vector>

#include "common/strings.h"

namespace evokernel::opencl {
namespace {

// Limits of a plan: what the runner allocates for it must stay within reason.
constexpr uint64_t kMaxScratchBytes = uint64_t{2} << 30;
constexpr uint64_t kMaxLocalBytes = uint64_t{1} << 20;
constexpr size_t kMaxLaunches = 64;
constexpr size_t kMaxArgs = 64;

struct PlanError {
  std::string message;
};

// ---- expressions ----

struct Tok {
  enum Kind { kNum, kName, kOp, kEnd } kind = kEnd;
  std::string text;
  PlanValue value;
};

class Expr {
 public:
  Expr(std::string_view text, const std::map<std::string, PlanValue>& names) : s_(text), names_(names) { Next(); }

  PlanValue Parse() {
    PlanValue v = Sum();
    if (tok_.kind != Tok::kEnd) throw PlanError{"unexpected '" + tok_.text + "' in expression '" + std::string(s_) + "'"};
    return v;
  }

 private:
  void Next() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    tok_ = Tok{};
    if (pos_ >= s_.size()) return;
    const char c = s_[pos_];
    if (std::isdigit(static_cast<unsigned char>(c)) || (c == '.' && pos_ + 1 < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_ + 1])))) {
      size_t start = pos_;
      bool is_float = false;
      while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '.' ||
                                  ((s_[pos_] == '+' || s_[pos_] == '-') && (s_[pos_ - 1] == 'e' || s_[pos_ - 1] == 'E')))) {
        if (s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E') is_float = true;
        ++pos_;
      }
      std::string t(s_.substr(start, pos_ - start));
      tok_.kind = Tok::kNum;
      tok_.text = t;
      std::string digits = t;
      if (!digits.empty() && (digits.back() == 'f' || digits.back() == 'F') && is_float) digits.pop_back();
      try {
        size_t used = 0;
        if (is_float) {
          tok_.value = {false, 0, std::stod(digits, &used)};
        } else {
          long long v = std::stoll(digits, &used, 10);
          tok_.value = {true, v, static_cast<double>(v)};
        }
        if (used != digits.size()) throw PlanError{""};
      } catch (...) {
        throw PlanError{"'" + t + "' is not a number"};
      }
      return;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t start = pos_;
      while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) ++pos_;
      tok_.kind = Tok::kName;
      tok_.text = std::string(s_.substr(start, pos_ - start));
      return;
    }
    tok_.kind = Tok::kOp;
    tok_.text = std::string(1, c);
    ++pos_;
  }

  bool IsOp(char c) const { return tok_.kind == Tok::kOp && tok_.text[0] == c; }
  void Expect(char c) {
    if (!IsOp(c)) throw PlanError{std::string("expected '") + c + "' in expression '" + std::string(s_) + "'"};
    Next();
  }

  static PlanValue Arith(char op, PlanValue a, PlanValue b) {
    if (a.is_int && b.is_int) {
      __int128 x = a.i, y = b.i, r = 0;
      switch (op) {
        case '+': r = x + y; break;
        case '-': r = x - y; break;
        case '*': r = x * y; break;
        case '/':
        case '%':
          if (y == 0) throw PlanError{"division by zero"};
          r = op == '/' ? x / y : x % y;
          break;
      }
      if (r > std::numeric_limits<int64_t>::max() || r < std::numeric_limits<int64_t>::min())
        throw PlanError{"integer overflow"};
      return {true, static_cast<int64_t>(r), static_cast<double>(r)};
    }
    double x = a.is_int ? double(a.i) : a.f, y = b.is_int ? double(b.i) : b.f;
    double r = 0;
    switch (op) {
      case '+': r = x + y; break;
      case '-': r = x - y; break;
      case '*': r = x * y; break;
      case '/': r = x / y; break;
      case '%': throw PlanError{"% needs integers"};
    }
    return {false, 0, r};
  }

  PlanValue Sum() {
    PlanValue v = Product();
    while (IsOp('+') || IsOp('-')) {
      char op = tok_.text[0];
      Next();
      v = Arith(op, v, Product());
    }
    return v;
  }

  PlanValue Product() {
    PlanValue v = Unary();
    while (IsOp('*') || IsOp('/') || IsOp('%')) {
      char op = tok_.text[0];
      Next();
      v = Arith(op, v, Unary());
    }
    return v;
  }

  PlanValue Unary() {
    if (IsOp('-')) {
      Next();
      return Arith('-', {true, 0, 0}, Unary());
    }
    if (IsOp('+')) {
      Next();
      return Unary();
    }
    return Primary();
  }

  PlanValue Primary() {
    if (tok_.kind == Tok::kNum) {
      PlanValue v = tok_.value;
      Next();
      return v;
    }
    if (IsOp('(')) {
      Next();
      PlanValue v = Sum();
      Expect(')');
      return v;
    }
    if (tok_.kind == Tok::kName) {
      std::string name = tok_.text;
      Next();
      if (IsOp('(')) {
        Next();
        std::vector<PlanValue> args{Sum()};
        while (IsOp(',')) {
          Next();
          args.push_back(Sum());
        }
        Expect(')');
        return Call(name, args);
      }
      auto it = names_.find(name);
      if (it == names_.end()) {
        std::string known;
        for (const auto& [k, v] : names_) known += (known.empty() ? "" : ", ") + k;
        throw PlanError{"unknown name '" + name + "' (known: " + known + ")"};
      }
      return it->second;
    }
    throw PlanError{tok_.kind == Tok::kEnd ? "expression '" + std::string(s_) + "' ends too early"
                                           : "unexpected '" + tok_.text + "' in expression '" + std::string(s_) + "'"};
  }

  static PlanValue Call(const std::string& f, const std::vector<PlanValue>& a) {
    auto need_ints = [&](size_t n) {
      if (a.size() != n) throw PlanError{f + "() takes " + std::to_string(n) + " arguments"};
      for (const auto& v : a)
        if (!v.is_int) throw PlanError{f + "() takes integers"};
    };
    if (f == "min" || f == "max") {
      if (a.size() != 2) throw PlanError{f + "() takes 2 arguments"};
      if (a[0].is_int && a[1].is_int) {
        int64_t r = f == "min" ? std::min(a[0].i, a[1].i) : std::max(a[0].i, a[1].i);
        return {true, r, double(r)};
      }
      double x = a[0].is_int ? double(a[0].i) : a[0].f, y = a[1].is_int ? double(a[1].i) : a[1].f;
      return {false, 0, f == "min" ? std::min(x, y) : std::max(x, y)};
    }
    if (f == "ceil_div" || f == "round_up") {
      need_ints(2);
      if (a[1].i <= 0) throw PlanError{f + "() needs a positive divisor"};
      int64_t q = a[0].i / a[1].i + (a[0].i % a[1].i != 0 && a[0].i > 0 ? 1 : 0);
      int64_t r = f == "ceil_div" ? q : q * a[1].i;
      return {true, r, double(r)};
    }
    throw PlanError{"unknown function '" + f + "' (known: min, max, ceil_div, round_up)"};
  }

  std::string_view s_;
  const std::map<std::string, PlanValue>& names_;
  size_t pos_ = 0;
  Tok tok_;
};

// ---- lines ----

// Splits "a, f(b, c), d" at top-level commas.
std::vector<std::string> SplitTopLevel(std::string_view s) {
  std::vector<std::string> out;
  int depth = 0;
  std::string cur;
  for (char c : s) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(Trim(cur));
      cur.clear();
      continue;
    }
    cur.push_back(c);
  }
  if (!Trim(cur).empty() || !out.empty()) out.push_back(Trim(cur));
  return out;
}

// "key=(...)" fields of a //@launch line: the text inside the parentheses, by key.
std::map<std::string, std::string> Fields(std::string_view rest) {
  std::map<std::string, std::string> f;
  size_t i = 0;
  while (i < rest.size()) {
    while (i < rest.size() && std::isspace(static_cast<unsigned char>(rest[i]))) ++i;
    if (i >= rest.size()) break;
    size_t k = i;
    while (i < rest.size() && (std::isalnum(static_cast<unsigned char>(rest[i])) || rest[i] == '_')) ++i;
    std::string key(rest.substr(k, i - k));
    while (i < rest.size() && std::isspace(static_cast<unsigned char>(rest[i]))) ++i;
    if (key.empty() || i >= rest.size() || rest[i] != '=')
      throw PlanError{"expected KEY=(...) fields (global=, local=, args=), found '" + Trim(rest.substr(k)) + "'"};
    ++i;
    while (i < rest.size() && std::isspace(static_cast<unsigned char>(rest[i]))) ++i;
    if (i >= rest.size() || rest[i] != '(') throw PlanError{key + "= must be followed by a parenthesised list"};
    int depth = 0;
    size_t start = i + 1;
    for (; i < rest.size(); ++i) {
      if (rest[i] == '(') ++depth;
      if (rest[i] == ')' && --depth == 0) break;
    }
    if (i >= rest.size()) throw PlanError{key + "=( is never closed"};
    if (f.count(key)) throw PlanError{key + "= is given twice"};
    f[key] = std::string(rest.substr(start, i - start));
    ++i;
  }
  return f;
}

bool IsName(std::string_view s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

// "fn(inner)" -> inner, when s has exactly that form.
std::optional<std::string> CallOf(std::string_view s, std::string_view fn) {
  s = TrimView(s);
  if (s.size() < fn.size() + 2 || s.substr(0, fn.size()) != fn) return std::nullopt;
  std::string_view rest = TrimView(s.substr(fn.size()));
  if (rest.empty() || rest.front() != '(' || rest.back() != ')') return std::nullopt;
  int depth = 0;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '(') ++depth;
    if (rest[i] == ')' && --depth == 0 && i + 1 != rest.size()) return std::nullopt;
  }
  return std::string(rest.substr(1, rest.size() - 2));
}

class Resolver {
 public:
  Resolver(const TaskSpec& spec) : spec_(spec), names_(PlanNames(spec)) {}

  int64_t Int(std::string_view text, const char* what) {
    PlanValue v = Expr(text, names_).Parse();
    if (!v.is_int) throw PlanError{std::string(what) + " '" + Trim(text) + "' is not an integer"};
    return v.i;
  }

  void Buffer(std::string_view rest) {
    std::istringstream in{std::string(rest)};
    std::string name, type;
    in >> name >> type;
    std::string count;
    std::getline(in, count);
    if (!IsName(name) || type.empty() || Trim(count).empty())
      throw PlanError{"//@buffer needs NAME TYPE COUNT, e.g. //@buffer partial float ceil_div(x_numel, 256)"};
    for (const auto& a : spec_.args)
      if (a.name == name) throw PlanError{"scratch buffer '" + name + "' has the name of a contract argument"};
    for (const auto& s : plan_.scratch)
      if (s.name == name) throw PlanError{"scratch buffer '" + name + "' is declared twice"};
    const size_t elem = OpenClTypeSize(type);
    if (elem == 0) throw PlanError{"'" + type + "' is not an OpenCL C type (float, int, float4, ...)"};
    int64_t n = Int(count, "the element count");
    if (n <= 0) throw PlanError{"scratch buffer '" + name + "' needs a positive element count, got " + std::to_string(n)};
    const uint64_t bytes = static_cast<uint64_t>(n) * elem;
    scratch_bytes_ += bytes;
    if (bytes / elem != static_cast<uint64_t>(n) || scratch_bytes_ > kMaxScratchBytes)
      throw PlanError{"scratch buffers may take at most 2 GiB in all"};
    plan_.scratch.push_back({name, bytes});
  }

  void Options(std::string_view rest) {
    std::istringstream in{std::string(rest)};
    std::string o;
    while (in >> o) {
      const auto& ok = AllowedBuildOptions();
      if (std::find(ok.begin(), ok.end(), o) == ok.end()) {
        std::string list;
        for (const auto& a : ok) list += (list.empty() ? "" : ", ") + a;
        throw PlanError{"build option '" + o + "' is not allowed (allowed: " + list + ")"};
      }
      plan_.options += (plan_.options.empty() ? "" : " ") + o;
    }
  }

  void Launch(std::string_view rest, int line) {
    rest = TrimView(rest);
    size_t sp = 0;
    while (sp < rest.size() && !std::isspace(static_cast<unsigned char>(rest[sp]))) ++sp;
    PlanLaunch l;
    l.kernel = std::string(rest.substr(0, sp));
    l.line = line;
    if (!IsName(l.kernel)) throw PlanError{"//@launch must start with the kernel's name, found '" + l.kernel + "'"};
    auto f = Fields(rest.substr(sp));
    for (const auto& [k, v] : f)
      if (k != "global" && k != "local" && k != "args") throw PlanError{"unknown field " + k + "= (known: global, local, args)"};
    if (!f.count("global") || !f.count("local") || !f.count("args"))
      throw PlanError{"//@launch needs global=(...), local=(...) and args=(...)"};
    for (const auto& e : SplitTopLevel(f["global"])) {
      int64_t v = Int(e, "global size");
      if (v <= 0) throw PlanError{"global size '" + e + "' is " + std::to_string(v) + "; it must be positive"};
      l.global.push_back(static_cast<uint64_t>(v));
    }
    for (const auto& e : SplitTopLevel(f["local"])) {
      int64_t v = Int(e, "local size");
      if (v <= 0) throw PlanError{"local size '" + e + "' is " + std::to_string(v) + "; it must be positive"};
      l.local.push_back(static_cast<uint64_t>(v));
    }
    if (l.global.empty() || l.global.size() > 3) throw PlanError{"global=( ) needs 1 to 3 sizes"};
    if (l.local.size() != l.global.size())
      throw PlanError{"local=( ) needs as many sizes as global=( ) (" + std::to_string(l.global.size()) +
                      "); evokernel needs explicit work-group sizes"};
    uint64_t wg = 1;
    for (size_t d = 0; d < l.global.size(); ++d) {
      wg *= l.local[d];
      if (l.global[d] % l.local[d] != 0)
        throw PlanError{"global size " + std::to_string(l.global[d]) + " is not a multiple of local size " +
                        std::to_string(l.local[d]) + " in dimension " + std::to_string(d) +
                        " (OpenCL 1.2): use round_up(n, " + std::to_string(l.local[d]) +
                        ") and skip the extra work-items with an if"};
    }
    if (wg > 4096) throw PlanError{"a work-group of " + std::to_string(wg) + " work-items is too large (at most 4096)"};
    const std::string args_text = Trim(f["args"]);
    if (!args_text.empty())
      for (const auto& a : SplitTopLevel(args_text)) l.args.push_back(Arg(a));
    if (l.args.size() > kMaxArgs) throw PlanError{"too many kernel arguments"};
    plan_.launches.push_back(std::move(l));
    if (plan_.launches.size() > kMaxLaunches) throw PlanError{"a plan may have at most 64 launches"};
  }

  LaunchPlan Take() { return std::move(plan_); }

 private:
  PlanArg Arg(const std::string& text) {
    PlanArg a;
    a.text = text;
    if (text.empty()) throw PlanError{"an empty argument in args=( )"};
    if (IsName(text)) {
      for (size_t i = 0; i < spec_.args.size(); ++i)
        if (spec_.args[i].name == text) {
          a.kind = PlanArg::Kind::kTensor;
          a.index = static_cast<int>(i);
          return a;
        }
      for (size_t i = 0; i < plan_.scratch.size(); ++i)
        if (plan_.scratch[i].name == text) {
          a.kind = PlanArg::Kind::kScratch;
          a.index = static_cast<int>(i);
          return a;
        }
    }
    if (auto in = CallOf(text, "local")) {
      auto parts = SplitTopLevel(*in);
      if (parts.size() != 2) throw PlanError{"local(TYPE, COUNT) takes a type and an element count"};
      const size_t elem = OpenClTypeSize(parts[0]);
      if (elem == 0) throw PlanError{"'" + parts[0] + "' is not an OpenCL C type (float, int, float4, ...)"};
      int64_t n = Int(parts[1], "the element count");
      if (n <= 0) throw PlanError{"local memory needs a positive element count"};
      a.kind = PlanArg::Kind::kLocal;
      a.bytes = static_cast<uint64_t>(n) * elem;
      if (a.bytes > kMaxLocalBytes) throw PlanError{"local memory of " + std::to_string(a.bytes) + " bytes is too much"};
      return a;
    }
    if (auto in = CallOf(text, "float")) {
      PlanValue v = Expr(*in, names_).Parse();
      a.kind = PlanArg::Kind::kFloat;
      a.f = v.is_int ? double(v.i) : v.f;
      return a;
    }
    if (auto in = CallOf(text, "long")) {
      a.kind = PlanArg::Kind::kLong;
      a.i = Int(*in, "long argument");
      return a;
    }
    std::string inner = text;
    if (auto in = CallOf(text, "int")) inner = *in;
    PlanValue v;
    try {
      v = Expr(inner, names_).Parse();
    } catch (const PlanError& e) {
      std::string known;
      for (const auto& arg : spec_.args) known += (known.empty() ? "" : ", ") + arg.name;
      for (const auto& s : plan_.scratch) known += ", " + s.name;
      throw PlanError{"argument '" + text + "' is neither a tensor (" + known + "), local(TYPE, COUNT), nor a valid "
                      "scalar expression: " + e.message};
    }
    if (!v.is_int) throw PlanError{"argument '" + text + "' is not an integer: write float(" + text + ") for a float"};
    if (v.i > std::numeric_limits<int32_t>::max() || v.i < std::numeric_limits<int32_t>::min())
      throw PlanError{"argument '" + text + "' = " + std::to_string(v.i) + " does not fit an int: write long(" + text +
                      ") and take a long parameter"};
    a.kind = PlanArg::Kind::kInt;
    a.i = v.i;
    return a;
  }

  const TaskSpec& spec_;
  std::map<std::string, PlanValue> names_;
  LaunchPlan plan_;
  uint64_t scratch_bytes_ = 0;
};

}  // namespace

std::map<std::string, PlanValue> PlanNames(const TaskSpec& spec) {
  std::map<std::string, PlanValue> n;
  auto add = [&](const std::string& name, const nlohmann::json& v) {
    if (!IsName(name)) return;
    if (v.is_boolean()) n[name] = {true, v.get<bool>() ? 1 : 0, v.get<bool>() ? 1.0 : 0.0};
    else if (v.is_number_integer()) n[name] = {true, v.get<int64_t>(), double(v.get<int64_t>())};
    else if (v.is_number()) n[name] = {false, 0, v.get<double>()};
  };
  for (const auto& [k, v] : spec.constants.items()) add(k, v);
  for (const auto& s : spec.scalar_args) add(s.value("name", ""), s.value("value", nlohmann::json()));
  for (const auto& a : spec.args) {
    const int64_t numel = NumElements(a.shape);
    n[a.name + "_numel"] = {true, numel, double(numel)};
    n[a.name + "_ndim"] = {true, int64_t(a.shape.size()), double(a.shape.size())};
    for (size_t d = 0; d < a.shape.size(); ++d) n[a.name + "_shape" + std::to_string(d)] = {true, a.shape[d], double(a.shape[d])};
  }
  return n;
}

const std::vector<std::string>& AllowedBuildOptions() {
  static const std::vector<std::string> opts = {"-cl-mad-enable", "-cl-no-signed-zeros", "-cl-unsafe-math-optimizations",
                                                "-cl-finite-math-only", "-cl-fast-relaxed-math",
                                                "-cl-single-precision-constant"};
  return opts;
}

size_t OpenClTypeSize(std::string_view type) {
  static const std::map<std::string, size_t, std::less<>> base = {
      {"char", 1}, {"uchar", 1}, {"short", 2}, {"ushort", 2}, {"half", 2}, {"int", 4},
      {"uint", 4}, {"float", 4}, {"long", 8},  {"ulong", 8},  {"double", 8}};
  type = TrimView(type);
  if (auto it = base.find(type); it != base.end()) return it->second;
  for (int w : {2, 3, 4, 8, 16}) {
    std::string suffix = std::to_string(w);
    if (type.size() > suffix.size() && type.substr(type.size() - suffix.size()) == suffix) {
      if (auto it = base.find(type.substr(0, type.size() - suffix.size())); it != base.end())
        return it->second * static_cast<size_t>(w == 3 ? 4 : w);
    }
  }
  return 0;
}

Result<LaunchPlan> ResolvePlan(std::string_view source, const TaskSpec& spec, std::string_view kernel_file) {
  Resolver r(spec);
  std::string errors;
  int line_no = 0;
  bool any_launch = false;
  size_t pos = 0;
  // Scratch buffers are declared before launches use them, wherever they stand in the file.
  std::vector<std::pair<int, std::string>> buffers, others;
  while (pos <= source.size()) {
    size_t nl = source.find('\n', pos);
    if (nl == std::string_view::npos) nl = source.size();
    std::string_view line = TrimView(source.substr(pos, nl - pos));
    ++line_no;
    pos = nl + 1;
    if (line.substr(0, 3) != "//@") continue;
    std::string text(line.substr(3));
    if (text.rfind("buffer", 0) == 0) buffers.emplace_back(line_no, text);
    else others.emplace_back(line_no, text);
  }
  auto fail = [&](int line, const std::string& msg) {
    errors += std::string(kernel_file) + ":" + std::to_string(line) + ": " + msg + "\n";
  };
  for (const auto& [line, text] : buffers) {
    try {
      r.Buffer(text.substr(6));
    } catch (const PlanError& e) {
      fail(line, "//@buffer: " + e.message);
    }
  }
  for (const auto& [line, text] : others) {
    try {
      if (text.rfind("launch", 0) == 0 && (text.size() == 6 || std::isspace(static_cast<unsigned char>(text[6])))) {
        any_launch = true;
        r.Launch(text.substr(6), line);
      } else if (text.rfind("options", 0) == 0) {
        r.Options(text.substr(7));
      } else {
        throw PlanError{"unknown directive //@" + text.substr(0, text.find(' ')) + " (known: //@launch, //@buffer, //@options)"};
      }
    } catch (const PlanError& e) {
      fail(line, e.message);
    }
  }
  if (!any_launch && errors.empty())
    errors = std::string(kernel_file) +
             ":1: no //@launch line: say which kernel runs, e.g. //@launch my_kernel global=(round_up(out_numel, 256)) "
             "local=(256) args=(x, out, out_numel)\n";
  if (!errors.empty()) return Status(StatusCode::kCompileError, errors);
  return r.Take();
}

}  // namespace evokernel::opencl
