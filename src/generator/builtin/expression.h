// Elementwise expressions of a task's forward(), as the built-in generator reads them.
//
// A KernelBench forward() that returns one expression of its tensor arguments, numbers,
// module constants (`self.alpha` bound through __init__ from the file's constants) and
// elementwise functions (torch.sigmoid, F.gelu, x * y, ...) is translated into one C++
// expression of float scalars: the body of an elementwise kernel. Anything else (statements
// before the return, a reduction, an unknown function, an attribute without a constant) is
// refused with the reason, which the generator reports as an "unsupported" attempt.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace evokernel::builtin {

struct ElementwiseExpr {
  // C++ float expression of the inputs' elements; exp, expm1, tanh and erf appear as
  // evk_exp, evk_expm1, evk_tanh and evk_erf, which the kernel must define.
  std::string cpp;
  std::vector<std::string> functions;   // the functions it uses, in order of appearance
};

// Translates `source`, the text of a forward() return expression, where `inputs` names the
// tensor arguments (each becomes `<name>[evk_i]`) and `constants` holds the values of the other
// names (ExpressionScope: "self.NAME" keys for attributes, bare keys for module constants). kUnavailable with the reason for what the translator does not
// cover; kInvalidArgument for text that is not an expression.
Result<ElementwiseExpr> TranslateElementwise(std::string_view source, const std::vector<std::string>& inputs,
                                             const nlohmann::json& constants);

// The names a forward() expression may read besides its tensors: "self.NAME" for attributes
// __init__ sets from its parameters (bound to the task's init inputs, in order), from numbers or
// from module constants; bare NAME for the file's numeric module constants. An attribute
// __init__ sets in any other way is left out (reading it is then refused).
nlohmann::json ExpressionScope(std::string_view task_source, const nlohmann::json& init_inputs,
                               const nlohmann::json& constants);

// forward()'s parameters after self and the statements of its body (a statement spanning lines
// is joined; comments and the docstring are left out).
struct ForwardBody {
  std::vector<std::string> params;
  std::vector<std::string> statements;
};
Result<ForwardBody> FindForwardBody(std::string_view task_source);

// Python expression tokens, as the recipes read forward(): names keep their dots
// ("torch.sigmoid", "self.scale"); ops are + - * / ** ( ) , = [ ] @ :.
struct Token {
  enum Kind { kName, kNumber, kString, kOp, kEnd } kind = kEnd;
  std::string text;
};
// kUnavailable for a character the recipes do not read; kInvalidArgument for an unterminated string.
Result<std::vector<Token>> Tokenize(std::string_view s);

// A C++ float literal of `v` ("0.5f", "3.0f").
std::string FloatLiteral(double v);

// A call's arguments as C++ expressions: positional, then keyword.
struct Args {
  std::vector<std::string> pos;
  std::map<std::string, std::string> kw;
  std::map<std::string, std::string> kw_string;  // string-valued keywords (gelu's approximate)
};
// The C++ expression of elementwise function `fn` (relu, sigmoid, gelu, clamp, ...: the names
// of torch / torch.nn.functional, without the prefix) applied to `args`; kNotFound when `fn`
// is not one the recipes know.
Result<std::string> ElementwiseCall(const std::string& fn, const Args& args);
// The function a dotted name calls: "torch.sigmoid", "F.gelu", "torch.nn.functional.elu" ->
// "sigmoid", "gelu", "elu"; nullopt for other names.
std::optional<std::string> FunctionName(const std::string& dotted);

// The expression forward() returns in a KernelBench task file, and its tensor parameter names;
// kUnavailable when forward() does more than return one expression.
struct ForwardReturn {
  std::vector<std::string> params;  // forward's parameters after self
  std::string expression;
};
Result<ForwardReturn> FindForwardReturn(std::string_view task_source);

}  // namespace evokernel::builtin
