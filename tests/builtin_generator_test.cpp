// The built-in generator's parts that need no task run: reading forward()'s return
// expression, translating it into C++ for the elementwise recipe (and refusing what it does
// not cover, with the reason), and the knob settings a kernel's first line records.
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
  auto e = TranslateElementwise(fr->expression, fr->params, {{"negative_slope", 0.05}, {"batch_size", 224}});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->cpp, "((x[evk_i]) > 0.0f ? (x[evk_i]) : (0.05f) * (x[evk_i]))");
  EXPECT_EQ(e->functions, std::vector<std::string>{"leaky_relu"});

  auto two = FindForwardReturn("class M:\n    def forward(self, a, b):\n        y = a + b\n        return y\n");
  ASSERT_FALSE(two.ok());
  EXPECT_EQ(two.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(two.status().message().find("2 statement(s)"), std::string::npos) << two.status().message();
}

TEST(BuiltinExpression, TranslatesArithmeticMethodsAndKeywordDefaults) {
  const nlohmann::json consts = {{"max_val", 1.5}, {"alpha", 0.8}};
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
  EXPECT_NE(refuse("torch.sum(a, dim=1)").find("sum"), std::string::npos);
  EXPECT_NE(refuse("a[0] + b").find("'['"), std::string::npos);
  EXPECT_NE(refuse("F.relu(a, approximate=True)").find("approximate=True"), std::string::npos);
  EXPECT_TRUE(TranslateElementwise("F.relu(a, inplace=True)", {"a"}, {}).ok()) << "inplace is accepted (and ignored)";
  EXPECT_EQ(TranslateElementwise("(a + b", {"a", "b"}, {}).status().code(), StatusCode::kInvalidArgument);
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
