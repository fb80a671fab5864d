// The built-in generator's parts that need no task run: reading forward()'s return
// expression, translating it into C++ for the elementwise recipe (and refusing what it does
// not cover, with the reason), the graph recipe's compilation of forward()'s statements, and
// the knob settings a kernel's first line records.
#include <algorithm>

#include <gtest/gtest.h>

#include "generator/builtin/builtin_generator.h"
#include "generator/builtin/expression.h"

namespace evokernel::builtin {
namespace {

const char* kLeakyRelu = R"(import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 224
negative_slope = 0.05


class Model(nn.Module):
    """Leaky ReLU."""

    def __init__(self, negative_slope: float):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Applies it.

        Elementwise.
        """
        # the whole body is one return
        return F.leaky_relu(
            x, negative_slope=self.negative_slope)


def get_inputs():
    return [torch.randn(batch_size, 16)]
)";

TEST(BuiltinExpression, ReadsTheReturnOfForwardAcrossLinesAndDocstrings) {
  auto fr = FindForwardReturn(kLeakyRelu);
  ASSERT_TRUE(fr.ok()) << fr.status().ToString();
  EXPECT_EQ(fr->params, std::vector<std::string>{"x"});
  EXPECT_EQ(fr->expression, "F.leaky_relu( x, negative_slope=self.negative_slope)");
  // self.negative_slope is __init__'s first parameter: the task's first init input (0.07 here,
  // to tell it from the module constant of the same name).
  const nlohmann::json scope = ExpressionScope(kLeakyRelu, nlohmann::json::array({0.07}),
                                               {{"negative_slope", 0.05}, {"batch_size", 224}});
  EXPECT_EQ(scope["self.negative_slope"], 0.07) << scope.dump();
  EXPECT_EQ(scope["batch_size"], 224);
  auto e = TranslateElementwise(fr->expression, fr->params, scope);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->cpp, "((x[evk_i]) > 0.0f ? (x[evk_i]) : (0.07f) * (x[evk_i]))");
  EXPECT_EQ(e->functions, std::vector<std::string>{"leaky_relu"});

  auto two = FindForwardReturn("class M:\n    def forward(self, a, b):\n        y = a + b\n        return y\n");
  ASSERT_FALSE(two.ok());
  EXPECT_EQ(two.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(two.status().message().find("2 statement(s)"), std::string::npos) << two.status().message();
}

TEST(BuiltinExpression, TranslatesArithmeticMethodsAndKeywordDefaults) {
  const nlohmann::json consts = {{"self.max_val", 1.5}, {"self.alpha", 0.8}};
  auto t = [&](const std::string& src, std::vector<std::string> inputs = {"x"}) {
    auto e = TranslateElementwise(src, inputs, consts);
    EXPECT_TRUE(e.ok()) << src << ": " << e.status().ToString();
    return e.ok() ? e->cpp : std::string();
  };
  EXPECT_EQ(t("x * torch.sigmoid(x)"), "(x[evk_i] * (1.0f / (1.0f + evk_exp(-(x[evk_i])))))");
  EXPECT_EQ(t("x / (1 + torch.abs(x))"), "(x[evk_i] / ((1.0f + std::fabs(x[evk_i]))))");
  EXPECT_EQ(t("F.hardtanh(x, min_val=-self.max_val, max_val=self.max_val)"),
            "((x[evk_i]) < ((-1.5f)) ? ((-1.5f)) : (x[evk_i]) > (1.5f) ? (1.5f) : (x[evk_i]))");
  EXPECT_EQ(t("F.elu(x, alpha=self.alpha)"), "((x[evk_i]) > 0.0f ? (x[evk_i]) : (0.8f) * evk_expm1(x[evk_i]))");
  EXPECT_EQ(t("x.clamp(min=0)"), "((x[evk_i]) < (0.0f) ? (0.0f) : (x[evk_i]))");
  EXPECT_EQ(t("a - 2 * b ** 2", {"a", "b"}), "(a[evk_i] - (2.0f * std::pow(b[evk_i], 2.0f)))");
  EXPECT_NE(t("F.gelu(x, approximate='tanh')").find("evk_tanh"), std::string::npos);
  EXPECT_NE(t("F.gelu(x)").find("evk_erf"), std::string::npos);
}

TEST(BuiltinExpression, RefusesWhatItDoesNotCoverAndSaysWhat) {
  auto refuse = [](const std::string& src) {
    auto e = TranslateElementwise(src, {"a", "b"}, nlohmann::json::object());
    EXPECT_FALSE(e.ok()) << src;
    return e.ok() ? std::string() : e.status().message();
  };
  EXPECT_NE(refuse("torch.matmul(a, b)").find("forward calls matmul"), std::string::npos);
  EXPECT_NE(refuse("a * self.scale").find("self.scale"), std::string::npos);
  // A module constant is not an attribute: self.dim is whatever __init__ was given.
  auto dim = TranslateElementwise("a * self.dim", {"a"}, {{"dim", 4096}});
  ASSERT_FALSE(dim.ok());
  EXPECT_NE(dim.status().message().find("self.dim"), std::string::npos);
  const char* kInit = "class M(nn.Module):\n    def __init__(self, scale: float, bias=2):\n        super().__init__()\n"
                      "        self.scale = scale\n        self.shift = 0.5\n        self.b = bias\n"
                      "        self.k = batch\n        self.lin = nn.Linear(4, 4)\n"
                      "    def forward(self, x):\n        return x * self.scale\n";
  const nlohmann::json scope = ExpressionScope(kInit, nlohmann::json::array({3.0, 4.0}), {{"batch", 16}});
  EXPECT_EQ(scope["self.scale"], 3.0);
  EXPECT_EQ(scope["self.shift"], 0.5);
  EXPECT_EQ(scope["self.b"], 4.0);
  EXPECT_EQ(scope["self.k"], 16);
  EXPECT_FALSE(scope.contains("self.lin"));
  EXPECT_NE(refuse("torch.sum(a, dim=1)").find("sum"), std::string::npos);
  EXPECT_NE(refuse("a[0] + b").find("'['"), std::string::npos);
  EXPECT_NE(refuse("F.relu(a, approximate=True)").find("approximate=True"), std::string::npos);
  EXPECT_TRUE(TranslateElementwise("F.relu(a, inplace=True)", {"a"}, {}).ok()) << "inplace is accepted (and ignored)";
  EXPECT_EQ(TranslateElementwise("(a + b", {"a", "b"}, {}).status().code(), StatusCode::kInvalidArgument);
}

// The reduction recipe reads the dimension from what __init__ was given (not from a module
// constant of the same name), checks that the contract's output is what it computes, and says
// what it does not do.
TaskSpec ReductionSpec(const std::string& forward, std::vector<int64_t> out_shape, DType out_dtype = DType::kFloat32) {
  TaskSpec spec;
  spec.source = "class Model(nn.Module):\n    def __init__(self, dim: int):\n        super().__init__()\n"
                "        self.dim = dim\n\n    def forward(self, x: torch.Tensor) -> torch.Tensor:\n        return " +
                forward + "\n";
  spec.init_inputs = nlohmann::json::array({1});
  spec.constants = {{"dim", 4096}, {"batch_size", 8}};
  spec.args.push_back({"x", ArgRole::kInput, DType::kFloat32, {8, 16, 4}, "forward argument 0"});
  spec.args.push_back({"out", ArgRole::kOutput, out_dtype, std::move(out_shape), "forward() output 0"});
  return spec;
}

TEST(BuiltinRecipe, ReductionsOverOneDimension) {
  RecipeSetting s;
  s.recipe = "reduction";
  s.knobs = {{"parallel", 1}};
  std::vector<std::string> knobs;
  auto sum = RenderReduction(ReductionSpec("torch.sum(x, dim=self.dim, keepdim=True)", {8, 1, 4}), s, &knobs);
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  EXPECT_NE(sum->find("([8, 16, 4] over the middle dimension)"), std::string::npos) << *sum;
  EXPECT_NE(sum->find("acc[i] += v;"), std::string::npos);
  EXPECT_EQ(knobs, std::vector<std::string>{"parallel"});
  auto mean = RenderReduction(ReductionSpec("x.mean(dim=-1)", {8, 16}), s);
  ASSERT_TRUE(mean.ok()) << mean.status().ToString();
  EXPECT_NE(mean->find("([128, 4, 1] over the middle dimension)"), std::string::npos) << *mean;
  EXPECT_NE(mean->find("acc[i] / 4.0f"), std::string::npos);
  auto am = RenderReduction(ReductionSpec("torch.argmax(x, dim=self.dim)", {8, 4}, DType::kInt64), s);
  ASSERT_TRUE(am.ok()) << am.status().ToString();
  EXPECT_NE(am->find("int64_t* __restrict y_"), std::string::npos);
  auto sm = RenderReduction(ReductionSpec("torch.softmax(x, dim=2)", {8, 16, 4}), s, &knobs);
  ASSERT_TRUE(sm.ok()) << sm.status().ToString();
  EXPECT_EQ(knobs, (std::vector<std::string>{"parallel", "fast_math"}));
  EXPECT_NE(sm->find("evk_exp"), std::string::npos);

  auto refused = [&](const std::string& fwd, std::vector<int64_t> shape, const std::string& why) {
    auto r = RenderReduction(ReductionSpec(fwd, std::move(shape)), s);
    ASSERT_FALSE(r.ok()) << fwd;
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(r.status().message().find(why), std::string::npos) << r.status().message();
  };
  refused("torch.max(x, dim=1)", {8, 4}, "takes [0]");
  refused("torch.sum(x, dim=1)", {8, 1, 4}, "output's shape or dtype");
  refused("torch.sum(x)", {}, "every dimension");
  refused("torch.sum(x, dim=3)", {8, 16, 4}, "out of range");
  refused("torch.matmul(x, x)", {8, 16, 4}, "does not return one reduction");
}

// The graph recipe reads __init__'s modules (with arguments computed from what Model() was
// given, `kernel_size // 2` included) and forward()'s statements, and compiles them: a GEMM
// whose bias and elementwise tail are applied in the loop that writes the output, a
// convolution, batch-statistics BatchNorm, pooling; it says what it does not read.
TaskSpec GraphSpec(const std::string& init, const std::string& forward, std::vector<TaskArg> args,
                   nlohmann::json init_inputs = nlohmann::json::array()) {
  TaskSpec spec;
  spec.source = "class Model(nn.Module):\n    def __init__(self, c_in, c_out, k, p):\n        super().__init__()\n" + init +
                "\n    def forward(self, x):\n" + forward + "\n\ndef get_inputs():\n    return []\n";
  spec.init_inputs = init_inputs.empty() ? nlohmann::json::array({64, 32, 3, 0.5}) : init_inputs;
  spec.constants = {{"batch_size", 8}};
  spec.args = std::move(args);
  return spec;
}

TEST(BuiltinRecipe, GraphCompilesAGemmWithItsEpilogueFused) {
  RecipeSetting s;
  s.recipe = "graph";
  std::vector<std::string> knobs;
  auto k = RenderGraph(GraphSpec("        self.linear = nn.Linear(c_in, c_out)\n        self.scale = p\n",
                                 "        x = self.linear(x)\n        x = torch.sigmoid(x) * self.scale\n"
                                 "        return torch.sum(x, dim=1, keepdim=True)",
                                 {{"x", ArgRole::kInput, DType::kFloat32, {8, 64}, "forward argument 0"},
                                  {"linear_weight", ArgRole::kParam, DType::kFloat32, {32, 64}, "linear.weight"},
                                  {"linear_bias", ArgRole::kParam, DType::kFloat32, {32}, "linear.bias"},
                                  {"out", ArgRole::kOutput, DType::kFloat32, {8, 1}, "forward() output 0"}}),
                       s, &knobs);
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  EXPECT_EQ(knobs, (std::vector<std::string>{"parallel", "mr", "kb", "pack", "nt", "fast_math"}));
  EXPECT_NE(k->find("extern \"C\" void evokernel_forward(const float* __restrict x, const float* __restrict "
                    "linear_weight, const float* __restrict linear_bias, float* __restrict out)"),
            std::string::npos)
      << *k;
  // The weight is packed to K x N, the GEMM accumulates block sums, and the sum over the
  // row reads sigmoid(C + bias) * 0.5 straight from C: no pass writes the activation.
  EXPECT_NE(k->find("t0[bn * 2048 + k * 32 + n] = linear_weight[bn * 2048 + n * 64 + k]"), std::string::npos) << *k;
  // 16-column tiles of 4 rows keep their sums in vector registers (nt = 16, the default).
  EXPECT_NE(k->find("typedef float evk_v8 __attribute__((vector_size(32)));"), std::string::npos) << *k;
  EXPECT_NE(k->find("s3a += a3 * b0; s3b += a3 * b1;"), std::string::npos) << *k;
  EXPECT_NE(k->find("(1.0f / (1.0f + evk_exp(-((t1[((o * 32 + r) * 1 + i)] + linear_bias[(((o * 32 + r) * 1 + i)) % 32])))))"
                    " * 0.5f"),
            std::string::npos)
      << *k;
  // Knobs change the kernel: no packing reads B's rows as dot products.
  s.knobs = {{"pack", 0}, {"parallel", 0}};
  auto dot = RenderGraph(GraphSpec("        self.linear = nn.Linear(c_in, c_out)\n",
                                   "        return self.linear(x)",
                                   {{"x", ArgRole::kInput, DType::kFloat32, {8, 64}, "forward argument 0"},
                                    {"linear_weight", ArgRole::kParam, DType::kFloat32, {32, 64}, "linear.weight"},
                                    {"linear_bias", ArgRole::kParam, DType::kFloat32, {32}, "linear.bias"},
                                    {"out", ArgRole::kOutput, DType::kFloat32, {8, 32}, "forward() output 0"}}),
                         s);
  ASSERT_TRUE(dot.ok()) << dot.status().ToString();
  EXPECT_NE(dot->find("acc += x[ab + (m) * 64 + (k)] * linear_weight[bb + n * 64 + k];"), std::string::npos) << *dot;
  EXPECT_EQ(dot->find("#pragma omp parallel"), std::string::npos) << *dot;
}

TEST(BuiltinRecipe, GraphReadsModulesConvolutionNormAndPooling) {
  RecipeSetting s;
  s.recipe = "graph";
  auto k = RenderGraph(
      GraphSpec("        self.conv = nn.Conv2d(c_in, c_out, k, padding=k // 2)\n        self.bn = nn.BatchNorm2d(c_out)\n"
                "        self.pool = nn.MaxPool2d(2)\n",
                "        y = self.conv(x)\n        y = torch.relu(self.bn(y))\n        return self.pool(y) + 1.0",
                {{"x", ArgRole::kInput, DType::kFloat32, {2, 64, 8, 8}, "forward argument 0"},
                 {"conv_weight", ArgRole::kParam, DType::kFloat32, {32, 64, 3, 3}, "conv.weight"},
                 {"conv_bias", ArgRole::kParam, DType::kFloat32, {32}, "conv.bias"},
                 {"bn_weight", ArgRole::kParam, DType::kFloat32, {32}, "bn.weight"},
                 {"bn_bias", ArgRole::kParam, DType::kFloat32, {32}, "bn.bias"},
                 {"out", ArgRole::kOutput, DType::kFloat32, {2, 32, 4, 4}, "forward() output 0"}}),
      s);
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  // By default an ungrouped convolution is im2col + GEMM (the columns read the input at
  // o * stride - padding + k * dilation, padding k // 2 = 1).
  EXPECT_NE(k->find("const int64_t i1 = o1 * 1 - 1 + k1 * 1;"), std::string::npos) << *k;
  EXPECT_NE(k->find("s3a += a3 * b0;"), std::string::npos) << "the GEMM\n" << *k;
  EXPECT_NE(k->find("(j / 64) * 2048 + g * 64 + j % 64"), std::string::npos) << "batch statistics per channel\n" << *k;
  EXPECT_NE(k->find("for (int64_t k1 = 0; k1 < 2; ++k1)"), std::string::npos) << "a 2 x 2 window\n" << *k;
  // conv = 0: direct, the innermost loop's range clipped to the input.
  RecipeSetting direct = s;
  direct.knobs = {{"conv", 0}};
  auto d = RenderGraph(
      GraphSpec("        self.conv = nn.Conv2d(c_in, c_out, k, padding=k // 2)\n",
                "        return self.conv(x)",
                {{"x", ArgRole::kInput, DType::kFloat32, {2, 64, 8, 8}, "forward argument 0"},
                 {"conv_weight", ArgRole::kParam, DType::kFloat32, {32, 64, 3, 3}, "conv.weight"},
                 {"conv_bias", ArgRole::kParam, DType::kFloat32, {32}, "conv.bias"},
                 {"out", ArgRole::kOutput, DType::kFloat32, {2, 32, 8, 8}, "forward() output 0"}}),
      direct);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_NE(d->find("const int64_t off = k1 * 1 - 1;"), std::string::npos) << *d;

  auto refused = [&](const std::string& init, const std::string& fwd, const std::string& why) {
    auto r = RenderGraph(GraphSpec(init, fwd,
                                   {{"x", ArgRole::kInput, DType::kFloat32, {8, 64}, "forward argument 0"},
                                    {"out", ArgRole::kOutput, DType::kFloat32, {8, 64}, "forward() output 0"}}),
                         s);
    ASSERT_FALSE(r.ok()) << fwd;
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(r.status().message().find(why), std::string::npos) << r.status().message();
  };
  refused("        self.drop = nn.Dropout(p)\n", "        return self.drop(x)", "dropout with p > 0");
  refused("", "        return x[:, 1:]", "slices a tensor");
  refused("", "        return torch.fft.fft(x)", "calls fft.fft, which the graph recipe does not know");
  refused("", "        return x + self.missing", "self.missing, whose value the graph recipe cannot find");
  refused("", "        for i in range(3):\n            x = x + 1\n        return x", "statement the graph recipe does not read");
  refused("", "        return x @ x", "matmul of [8, 64] and [8, 64]");
  // Hostile input is refused, not followed: a stride of 0 (no division by it), nesting and
  // operator chains that would exhaust the stack.
  refused("        self.pool = nn.MaxPool1d(2, stride=0)\n", "        return self.pool(x)", "out of range");
  refused("", "        return " + std::string(300, '(') + "x" + std::string(300, ')'), "more than 200 deep");
  std::string chain = "x";
  for (int i = 0; i < 2500; ++i) chain += " + x";
  refused("", "        return " + chain, "more than 2000 operations");
}

TEST(BuiltinRecipe, SettingsRoundTripThroughTheKernelsFirstLine) {
  RecipeSetting s;
  s.recipe = "elementwise";
  s.knobs = {{"parallel", 1}, {"simd", 0}, {"block", 4096}};
  EXPECT_EQ(s.Line(), "// evokernel-builtin recipe=elementwise block=4096 parallel=1 simd=0");
  auto back = RecipeSetting::FromCode(s.Line() + "\n#include <cmath>\n");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, s);
  EXPECT_FALSE(RecipeSetting::FromCode("// a model's kernel\n").has_value());
  EXPECT_FALSE(RecipeSetting::FromCode("// evokernel-builtin recipe=elementwise simd=x\n").has_value());
  EXPECT_FALSE(RecipeSetting::FromCode("// evokernel-builtin simd=1\n").has_value());
}

}  // namespace
}  // namespace evokernel::builtin
