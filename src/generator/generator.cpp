#include "generator/generator.h"

namespace evokernel {

std::string_view MethodName(Method m) {
  switch (m) {
    case Method::kEvoKernel: return "evokernel";
    case Method::kPassK: return "passk";
    case Method::kRefine: return "refine";
    case Method::kBuiltin: return "builtin";
  }
  return "?";
}

Result<Method> ParseMethod(std::string_view name) {
  if (name == "evokernel") return Method::kEvoKernel;
  if (name == "passk") return Method::kPassK;
  if (name == "refine") return Method::kRefine;
  if (name == "builtin") return Method::kBuiltin;
  return InvalidArgument("unknown method '" + std::string(name) + "' (expected evokernel, passk, refine or builtin)");
}

}  // namespace evokernel
