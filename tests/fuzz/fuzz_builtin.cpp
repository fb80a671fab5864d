// Fuzz target: the built-in generator's recipes reading a task file (generator/builtin/), the
// first thing `evolve` does with a task when no model is configured. A task file is user input:
// hand-written, downloaded, or generated.
//
// Input: the task file's text. Each input is read against four fixed contracts (an
// elementwise [4, 8] tensor; a linear layer; a convolution with a BatchNorm; attention over Q,
// K, V) by every recipe, at the default setting and at one other. Checked: no recipe throws or
// crashes; a refusal is kUnavailable or kInvalidArgument with a reason; a kernel starts with
// its setting line and defines the entry point.

#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "generator/builtin/builtin_generator.h"

namespace {

using namespace evokernel;

TaskArg Arg(const char* name, ArgRole role, std::vector<int64_t> shape, const char* source) {
  return TaskArg{name, role, DType::kFloat32, std::move(shape), source};
}

const std::vector<std::vector<TaskArg>>& Contracts() {
  static const std::vector<std::vector<TaskArg>> c = {
      {Arg("x", ArgRole::kInput, {4, 8}, "forward argument 0"), Arg("out", ArgRole::kOutput, {4, 8}, "forward() output 0")},
      {Arg("x", ArgRole::kInput, {4, 8}, "forward argument 0"),
       Arg("linear_weight", ArgRole::kParam, {16, 8}, "linear.weight"),
       Arg("linear_bias", ArgRole::kParam, {16}, "linear.bias"),
       Arg("out", ArgRole::kOutput, {4, 1}, "forward() output 0")},
      {Arg("x", ArgRole::kInput, {2, 3, 8, 8}, "forward argument 0"),
       Arg("conv_weight", ArgRole::kParam, {4, 3, 3, 3}, "conv.weight"),
       Arg("conv_bias", ArgRole::kParam, {4}, "conv.bias"), Arg("bn_weight", ArgRole::kParam, {4}, "bn.weight"),
       Arg("bn_bias", ArgRole::kParam, {4}, "bn.bias"), Arg("out", ArgRole::kOutput, {2, 4, 8, 8}, "forward() output 0")},
      {Arg("Q", ArgRole::kInput, {2, 4, 8}, "forward argument 0"), Arg("K", ArgRole::kInput, {2, 4, 8}, "forward argument 1"),
       Arg("V", ArgRole::kInput, {2, 4, 8}, "forward argument 2"), Arg("out", ArgRole::kOutput, {2, 4, 8}, "forward() output 0")},
  };
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace evokernel::fuzz;
  using Render = Result<std::string> (*)(const TaskSpec&, const builtin::RecipeSetting&, std::vector<std::string>*);
  static const std::pair<const char*, Render> kRecipes[] = {{"elementwise", &builtin::RenderElementwise},
                                                            {"reduction", &builtin::RenderReduction},
                                                            {"graph", &builtin::RenderGraph}};
  TaskSpec spec;
  spec.source = std::string(AsText(data, size));
  spec.init_inputs = nlohmann::json::array({8, 16, 3, 1});
  spec.constants = {{"batch_size", 4}, {"dim", 1}};
  int made = 0;
  for (const auto& args : Contracts()) {
    spec.args = args;
    for (const auto& [name, render] : kRecipes) {
      for (int variant = 0; variant < 2; ++variant) {
        builtin::RecipeSetting setting;
        setting.recipe = name;
        if (variant) setting.knobs = {{"parallel", 0}, {"fast_math", 1}, {"mr", 1}, {"kb", 0}, {"pack", 0}, {"nt", 256}};
        std::vector<std::string> knobs;
        auto r = render(spec, setting, &knobs);
        if (!r.ok()) {
          EVK_FUZZ_CHECK(r.status().code() == StatusCode::kUnavailable || r.status().code() == StatusCode::kInvalidArgument,
                         std::string(name) + " refused with " + r.status().ToString());
          EVK_FUZZ_CHECK(!r.status().message().empty(), std::string(name) + " refused without a reason");
          continue;
        }
        ++made;
        EVK_FUZZ_CHECK(r->rfind(setting.Line(), 0) == 0, std::string(name) + ": the kernel does not start with its setting");
        EVK_FUZZ_CHECK(r->find("extern \"C\" void evokernel_forward(") != std::string::npos,
                       std::string(name) + ": no entry point");
        EVK_FUZZ_CHECK(!knobs.empty(), std::string(name) + ": a kernel without knobs");
      }
    }
  }
  Note(std::to_string(made) + " kernel(s)");
  return 0;
}
