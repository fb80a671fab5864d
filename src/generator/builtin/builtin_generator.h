// The built-in generator: kernels from parametric recipes, no model (method `builtin`).
//
// A recipe matches a task by reading its contract and forward() (the shapes, dtypes and the
// expression it returns), and renders a kernel for a setting of its knobs. Drafting renders
// the recipe's default knobs; refining changes one knob of the start point (read back from
// the first line of its code) to a setting not yet tried for the task, so each refining step
// measures one neighbour, and the loop keeps it when the paired comparison says it is faster.
// A task no recipe matches gets an "unsupported" attempt naming why; the generator never calls
// a library that does the work.
//
// Recipes so far (CPU backend):
//   elementwise  forward() returns one expression of same-shaped float32 inputs, numbers,
//                module constants and elementwise functions (activations: relu, leaky_relu,
//                sigmoid, tanh, gelu, silu, selu, elu, hardtanh, softplus, softsign,
//                hardsigmoid, ...; builtin/expression.h). Knobs: parallel (OpenMP over the
//                elements), simd (omp simd), block (elements per parallel chunk: 0 = one
//                static range per thread), fast_math (vectorisable exp/expm1/tanh/erf instead
//                of the C library's scalar calls).
//   reduction    forward() returns one sum, mean, prod, max/min ([0]), amax/amin, argmax,
//                argmin, softmax or log_softmax of its one float32 input over one dimension (a
//                literal or an attribute __init__ was given), keepdim or not. The input is
//                viewed as [outer, n, inner] with one accumulator per inner position, the inner
//                loop vectorised. Knobs: parallel (OpenMP over outer), fast_math (softmax).
//   graph        forward() as a tensor program: its statements, the modules __init__ builds
//                and the contract's parameters, compiled into one kernel (builtin/graph.cpp):
//                elementwise steps, broadcasts and views stay lazy expressions of a flat index
//                and fuse into the loops that read them; matmul/linear (GEMM), convolutions
//                (also transposed), norms, pooling, reductions, softmax, scans and losses are
//                loop nests over buffers. Knobs: parallel; mr, kb, pack (GEMM); fast_math.
// Memory: the generator uses the shared bank like the LLM method. Its traces are recipe
// instances (the setting line, the code, the verifier's outcome); retrieval ranks them by
// Q_draft / Q_refine for the task and shows them as context, and the generator follows the
// first feasible one of its recipe: drafting takes its setting, refining moves one knob of the
// start point (chosen by Q_refine) toward it. The items shown get the step's reward.
// Not yet: mutation rules ("raise kb") as items of their own.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "generator/generator.h"

namespace evokernel {

std::unique_ptr<Generator> MakeBuiltinGenerator();

namespace builtin {

// The settings of a recipe's knobs, as a kernel's first line records them:
//   // evokernel-builtin recipe=elementwise parallel=1 simd=1 block=0
struct RecipeSetting {
  std::string recipe;
  std::map<std::string, int> knobs;
  std::string Line() const;
  static std::optional<RecipeSetting> FromCode(std::string_view code);
  bool operator<(const RecipeSetting& o) const { return std::tie(recipe, knobs) < std::tie(o.recipe, o.knobs); }
  bool operator==(const RecipeSetting& o) const { return recipe == o.recipe && knobs == o.knobs; }
};

// Whether setting `s` follows `guide` (a recipe instance from the bank) from `from`: when
// refining, it moves exactly one knob of `from`, to the guide's value; when drafting, it is the
// guide's setting over the knobs the guide has, `from`'s over the others.
bool Follows(const RecipeSetting& s, const RecipeSetting& from, const RecipeSetting& guide, bool refining);

// The elementwise recipe's kernel for `spec` (whose forward() returns `expression`-compatible
// code), or why the recipe does not apply (kUnavailable).
// A recipe's kernel for `spec` at `setting`, or why the recipe does not apply (kUnavailable).
// `knobs_used` (when given) receives the names of the knobs that change this task's kernel.
Result<std::string> RenderElementwise(const TaskSpec& spec, const RecipeSetting& setting,
                                      std::vector<std::string>* knobs_used = nullptr);
Result<std::string> RenderReduction(const TaskSpec& spec, const RecipeSetting& setting,
                                    std::vector<std::string>* knobs_used = nullptr);
Result<std::string> RenderGraph(const TaskSpec& spec, const RecipeSetting& setting,
                                std::vector<std::string>* knobs_used = nullptr);

// The definitions of evk_exp, evk_expm1, evk_tanh and evk_erf for code that calls them
// (none when `cpp` calls none): the C library's, or with `fast` vectorisable approximations.
std::string MathPreamble(bool fast, const std::string& cpp);

}  // namespace builtin
}  // namespace evokernel
