// The OpenCL launch plan (src/backend/opencl/plan_parser): expressions over the task's names,
// argument kinds, scratch buffers, options, and errors that name the kernel line and say what
// to write instead. Pure parsing: no OpenCL device needed.
#include "backend/opencl/plan_parser.h"

#include <gtest/gtest.h>

namespace evokernel::opencl {
namespace {

TaskSpec ReluSpec() {
  TaskSpec s;
  s.ref.id = "test/relu";
  s.args = {{"x", ArgRole::kInput, DType::kFloat32, {16, 1000}, "forward argument 0"},
            {"out", ArgRole::kOutput, DType::kFloat32, {16, 1000}, "forward() output 0"}};
  s.constants = {{"batch_size", 16}, {"dim", 1000}, {"eps", 1e-5}, {"affine", true}};
  s.scalar_args = nlohmann::json::array({{{"name", "alpha"}, {"value", 0.5}}});
  return s;
}

std::string Errors(const std::string& src) {
  auto r = ResolvePlan(src, ReluSpec(), "kernel.cl");
  EXPECT_FALSE(r.ok()) << "expected an error for:\n" << src;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kCompileError);
  return r.status().message();
}

TEST(OpenClPlan, NamesCoverConstantsScalarsAndTensorShapes) {
  auto n = PlanNames(ReluSpec());
  EXPECT_EQ(n.at("batch_size").i, 16);
  EXPECT_TRUE(n.at("batch_size").is_int);
  EXPECT_FALSE(n.at("eps").is_int);
  EXPECT_DOUBLE_EQ(n.at("eps").f, 1e-5);
  EXPECT_EQ(n.at("affine").i, 1);
  EXPECT_DOUBLE_EQ(n.at("alpha").f, 0.5);
  EXPECT_EQ(n.at("x_numel").i, 16000);
  EXPECT_EQ(n.at("x_ndim").i, 2);
  EXPECT_EQ(n.at("out_shape1").i, 1000);
  EXPECT_EQ(n.count("out_shape2"), 0u);
}

TEST(OpenClPlan, ResolvesLaunchesInOrderWithEveryArgumentKind) {
  const std::string src =
      "__kernel void a(...) {}\n"
      "//@buffer partial float batch_size * 4\n"
      "//@options -cl-mad-enable\n"
      "//@launch a global=(round_up(x_numel, 256)) local=(256) args=(x, partial, x_numel, local(float4, 64), "
      "long(x_numel * 1000000), float(eps * 2))\n"
      "//@launch b global=(ceil_div(dim, 64) * 64, batch_size) local=(64, 1) args=(partial, out, max(dim, 7) % 9)\n";
  auto r = ResolvePlan(src, ReluSpec(), "kernel.cl");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const LaunchPlan& p = *r;
  ASSERT_EQ(p.launches.size(), 2u);
  EXPECT_EQ(p.options, "-cl-mad-enable");
  ASSERT_EQ(p.scratch.size(), 1u);
  EXPECT_EQ(p.scratch[0].name, "partial");
  EXPECT_EQ(p.scratch[0].bytes, 16u * 4 * 4);
  const auto& a = p.launches[0];
  EXPECT_EQ(a.kernel, "a");
  EXPECT_EQ(a.line, 4);
  EXPECT_EQ(a.global, std::vector<uint64_t>{16128});
  EXPECT_EQ(a.local, std::vector<uint64_t>{256});
  ASSERT_EQ(a.args.size(), 6u);
  EXPECT_EQ(a.args[0].kind, PlanArg::Kind::kTensor);
  EXPECT_EQ(a.args[0].index, 0);
  EXPECT_EQ(a.args[1].kind, PlanArg::Kind::kScratch);
  EXPECT_EQ(a.args[2].kind, PlanArg::Kind::kInt);
  EXPECT_EQ(a.args[2].i, 16000);
  EXPECT_EQ(a.args[3].kind, PlanArg::Kind::kLocal);
  EXPECT_EQ(a.args[3].bytes, 64u * 16);
  EXPECT_EQ(a.args[4].kind, PlanArg::Kind::kLong);
  EXPECT_EQ(a.args[4].i, 16000LL * 1000000);
  EXPECT_EQ(a.args[5].kind, PlanArg::Kind::kFloat);
  EXPECT_DOUBLE_EQ(a.args[5].f, 2e-5);
  const auto& b = p.launches[1];
  EXPECT_EQ(b.global, (std::vector<uint64_t>{1024, 16}));
  EXPECT_EQ(b.args[1].index, 1);  // out is the task's second argument
  EXPECT_EQ(b.args[2].i, 1000 % 9);
  // The resolved plan survives plan.json.
  auto back = LaunchPlan::FromJson(p.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->ToJson(), p.ToJson());
}

TEST(OpenClPlan, ErrorsNameTheLineAndSayWhatToWrite) {

  EXPECT_NE(Errors("__kernel void a() {}\n").find("kernel.cl:1: no //@launch line"), std::string::npos);
  EXPECT_NE(Errors("\n\n//@launch a global=(100) local=(64) args=(x)\n").find("kernel.cl:3:"), std::string::npos);
  EXPECT_NE(Errors("//@launch a global=(128) local=(64) args=(nosuch)\n").find("neither a tensor (x, out"),
            std::string::npos);
  EXPECT_NE(Errors("//@launch a global=(128) local=(64) args=(eps)\n").find("write float(eps)"), std::string::npos);
  EXPECT_NE(Errors("//@launch a global=(128) local=(64) args=(x_numel * 1000000)\n").find("write long("),
            std::string::npos);
  EXPECT_NE(Errors("//@launch a global=(128) local=(64) args=(local(vec9, 4))\n").find("not an OpenCL C type"),
            std::string::npos);
  EXPECT_NE(Errors("//@options -cl-std=CL2.0\n//@launch a global=(64) local=(64) args=(x)\n")
                .find("kernel.cl:1: build option '-cl-std=CL2.0' is not allowed"),
            std::string::npos);
  EXPECT_NE(Errors("//@buffer big float x_numel * 1000000\n//@launch a global=(64) local=(64) args=(big)\n")
                .find("kernel.cl:1: //@buffer: scratch buffers may take at most"),
            std::string::npos);
  EXPECT_NE(Errors("//@frobnicate\n//@launch a global=(64) local=(64) args=(x)\n").find("unknown directive //@frobnicate"),
            std::string::npos);
  EXPECT_NE(Errors("//@launch a global=(1 << 4) local=(1) args=(x)\n").find("unexpected '<'"), std::string::npos);
  // Every bad line is reported, not only the first.
  std::string two = Errors("//@launch a global=(64) local=(64) args=(nosuch)\n//@launch b global=(64) local=(64) args=(eps)\n");
  EXPECT_NE(two.find("kernel.cl:1:"), std::string::npos) << two;
  EXPECT_NE(two.find("kernel.cl:2:"), std::string::npos) << two;
}

TEST(OpenClPlan, RejectsBadNdRanges) {
  // A global size that is not a multiple of the local size (OpenCL 1.2), mismatched dimensions,
  // zero or negative sizes, and more than three dimensions.
  for (const char* bad : {"//@launch a global=(100) local=(64) args=(x)\n",
                          "//@launch a global=(128, 2) local=(64) args=(x)\n",
                          "//@launch a global=(0) local=(1) args=(x)\n",
                          "//@launch a global=(dim - 2000) local=(1) args=(x)\n",
                          "//@launch a global=(1, 1, 1, 1) local=(1, 1, 1, 1) args=(x)\n"}) {
    std::string e = Errors(bad);
    EXPECT_EQ(e.rfind("kernel.cl:1:", 0), 0u) << bad << " -> " << e;
  }
}

TEST(OpenClPlan, TypeSizes) {
  EXPECT_EQ(OpenClTypeSize("float"), 4u);
  EXPECT_EQ(OpenClTypeSize("float4"), 16u);
  EXPECT_EQ(OpenClTypeSize("float3"), 16u);  // 3-vectors take the room of 4
  EXPECT_EQ(OpenClTypeSize("half8"), 16u);
  EXPECT_EQ(OpenClTypeSize("double16"), 128u);
  EXPECT_EQ(OpenClTypeSize("float5"), 0u);
  EXPECT_EQ(OpenClTypeSize("struct"), 0u);
}

}  // namespace
}  // namespace evokernel::opencl
