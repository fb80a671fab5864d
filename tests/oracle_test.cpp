// The PyTorch oracle: task loading, overrides, contract derivation, trials, baseline timing.
#include "task/oracle.h"

#include <cstring>

#include <gtest/gtest.h>

#include "test_util.h"

namespace evokernel {
namespace {

using testing::FixturesDir;

Result<std::unique_ptr<Oracle>> StartFixture(const std::string& file, nlohmann::json overrides = nlohmann::json::object()) {
  TaskRef ref;
  ref.id = file;
  ref.file = FixturesDir() / file;
  ref.overrides = std::move(overrides);
  return Oracle::Start(ref, OracleOptions{});
}

const TaskArg* Arg(const TaskSpec& s, const std::string& name) {
  for (const auto& a : s.args)
    if (a.name == name) return &a;
  return nullptr;
}

TEST(Oracle, DescribesInputsParamsOutputsAndScalars) {
  auto o = StartFixture("scaled.py");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  auto spec = (*o)->Describe();
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  ASSERT_EQ(spec->args.size(), 4u);
  EXPECT_EQ(spec->args[0].name, "x");
  EXPECT_EQ(spec->args[0].role, ArgRole::kInput);
  EXPECT_EQ(spec->args[0].shape, (std::vector<int64_t>{4, 8}));
  EXPECT_EQ(spec->args[1].name, "fc_weight");
  EXPECT_EQ(spec->args[1].role, ArgRole::kParam);
  EXPECT_EQ(spec->args[1].source, "fc.weight");
  EXPECT_EQ(spec->args[2].name, "fc_bias");
  EXPECT_EQ(spec->args[3].name, "out");
  EXPECT_EQ(spec->args[3].role, ArgRole::kOutput);
  ASSERT_EQ(spec->scalar_args.size(), 1u);
  EXPECT_EQ(spec->scalar_args[0]["name"], "factor");
  EXPECT_DOUBLE_EQ(spec->scalar_args[0]["value"].get<double>(), 3.0);
  EXPECT_EQ(spec->constants["dim"], 8);
  EXPECT_NE(std::find(spec->modules.begin(), spec->modules.end(), "Linear"), spec->modules.end());
  EXPECT_FALSE(spec->env.value("torch", "").empty());
}

TEST(Oracle, OverridesReachDefaultArgumentsToo) {
  // `def __init__(self, dim: int = dim)` captures the constant at definition time: only a
  // source-level rewrite changes it.
  auto o = StartFixture("scaled.py", {{"dim", 16}, {"batch_size", 2}});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  auto spec = (*o)->Describe();
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(Arg(*spec, "x")->shape, (std::vector<int64_t>{2, 16}));
  EXPECT_EQ(Arg(*spec, "fc_weight")->shape, (std::vector<int64_t>{16, 16}));
}

TEST(Oracle, UnknownOverrideNamesTheConstantAndListsKnownOnes) {
  auto o = StartFixture("scaled.py", {{"batchsize", 2}});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), StatusCode::kInvalidTask);
  EXPECT_NE(o.status().message().find("override 'batchsize'"), std::string::npos) << o.status().message();
  EXPECT_NE(o.status().message().find("batch_size, dim, scale"), std::string::npos) << o.status().message();
}

TEST(Oracle, OverrideOfWrongTypeIsRejected) {
  auto o = StartFixture("scaled.py", {{"dim", 1.5}});
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("expected an integer"), std::string::npos) << o.status().message();
}

TEST(Oracle, SyntaxErrorNamesFileAndLine) {
  auto o = StartFixture("bad_syntax.py");
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), StatusCode::kInvalidTask);
  EXPECT_NE(o.status().message().find("bad_syntax.py:5"), std::string::npos) << o.status().message();
}

TEST(Oracle, MissingFunctionIsNamed) {
  auto o = StartFixture("missing_get_inputs.py");
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("missing 'get_inputs'"), std::string::npos) << o.status().message();
}

TEST(Oracle, ErrorInForwardPointsAtTheLine) {
  auto o = StartFixture("raises_in_forward.py");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  auto spec = (*o)->Describe();
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidTask);
  EXPECT_NE(spec.status().message().find("raises_in_forward.py:6"), std::string::npos) << spec.status().message();
  EXPECT_NE(spec.status().message().find("RuntimeError"), std::string::npos);
}

TEST(Oracle, MissingFileIsInvalidTask) {
  auto o = StartFixture("does_not_exist.py");
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("cannot read task file"), std::string::npos) << o.status().message();
}

TEST(Oracle, TrialsAreDeterministicPerSeedAndDifferAcrossSeeds) {
  auto o = StartFixture("scaled.py");
  ASSERT_TRUE(o.ok());
  auto a = (*o)->MakeTrial(5), b = (*o)->MakeTrial(5), c = (*o)->MakeTrial(6);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  ASSERT_EQ(a->inputs.size(), 3u);  // x, fc.weight, fc.bias (the scalar is a constant)
  ASSERT_EQ(a->outputs.size(), 1u);
  EXPECT_EQ(0, std::memcmp(a->outputs[0].data(), b->outputs[0].data(), a->outputs[0].nbytes()));
  EXPECT_NE(0, std::memcmp(a->outputs[0].data(), c->outputs[0].data(), a->outputs[0].nbytes()));
  // Weights are drawn from the seed too, so a kernel cannot bake them in.
  EXPECT_NE(0, std::memcmp(a->inputs[1].data(), c->inputs[1].data(), a->inputs[1].nbytes()));
}

TEST(Oracle, MultipleOutputsWithTheirDtypes) {
  auto o = StartFixture("two_outputs.py");
  ASSERT_TRUE(o.ok());
  auto spec = (*o)->Describe();
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  ASSERT_EQ(spec->num_outputs(), 2u);
  EXPECT_EQ(Arg(*spec, "out0")->dtype, DType::kFloat32);
  EXPECT_EQ(Arg(*spec, "out1")->dtype, DType::kInt64);
  auto t = (*o)->MakeTrial(1);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->outputs[1].dtype(), DType::kInt64);
  for (int64_t i = 0; i < t->outputs[1].numel(); ++i) {
    EXPECT_GE(t->outputs[1].as<int64_t>()[i], 0);
    EXPECT_LT(t->outputs[1].as<int64_t>()[i], 32);
  }
}

TEST(Oracle, TimesTheBaseline) {
  auto o = StartFixture("scaled.py");
  ASSERT_TRUE(o.ok());
  auto t = (*o)->TimeBaseline(1, 1, 7, 1 << 16);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_EQ(t->times_ns.size(), 7u);
  for (double ns : t->times_ns) EXPECT_GT(ns, 0);
  EXPECT_GT(t->overhead_ns, 0) << "the 64 KiB flush takes time outside the measured interval";
}

TEST(Oracle, MissingInterpreterIsUnavailable) {
  TaskRef ref;
  ref.id = "scaled";
  ref.file = FixturesDir() / "scaled.py";
  OracleOptions oo;
  oo.python = "/nonexistent/python3";
  auto o = Oracle::Start(ref, oo);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(o.status().message().find("EVOKERNEL_PYTHON"), std::string::npos) << o.status().message();
}

}  // namespace
}  // namespace evokernel
