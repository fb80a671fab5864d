// Prompt rendering (golden files) and kernel extraction from real-looking model replies.
#include <gtest/gtest.h>

#include "generator/extract.h"
#include "generator/prompt.h"
#include "test_util.h"

namespace evokernel {
namespace {
namespace fs = std::filesystem;

// ----------------------------------------------------------------------------- extraction

constexpr const char* kKernel =
    "#include <cmath>\n"
    "extern \"C\" void evokernel_forward(const float* __restrict x, float* __restrict out) {\n"
    "  for (int64_t i = 0; i < evokernel_task::x_numel; ++i) out[i] = x[i] > 0 ? x[i] : 0;\n"
    "}\n";

TEST(Extract, OneFencedBlockWithProseAround) {
  auto x = ExtractKernel(std::string("Here is the kernel:\n\n```cpp\n") + kKernel + "```\n\nIt is vectorisable.");
  ASSERT_TRUE(x.ok) << x.feedback;
  EXPECT_EQ(x.code, kKernel);
  EXPECT_EQ(x.blocks, 1);
}

TEST(Extract, LastBlockDefiningTheEntryPointWins) {
  std::string reply = std::string("First attempt:\n```c++\n") + kKernel +
                      "```\nA helper on its own:\n```\nstatic inline float relu(float v) { return v > 0 ? v : 0; }\n```\n"
                      "Final version:\n~~~cpp\n// final\n" + kKernel + "~~~\n";
  auto x = ExtractKernel(reply);
  ASSERT_TRUE(x.ok) << x.feedback;
  EXPECT_EQ(x.code, std::string("// final\n") + kKernel);
  EXPECT_EQ(x.blocks, 3);
}

TEST(Extract, LongerFencesAndIndentedFencesAreBlocks) {
  auto x = ExtractKernel(std::string("  ````cpp\n") + kKernel + "```inner```\n  ````\n");
  ASSERT_TRUE(x.ok) << x.feedback;
  EXPECT_EQ(x.code, std::string(kKernel) + "```inner```\n");
}

TEST(Extract, NoFenceTakesCodeFromItsFirstLine) {
  auto x = ExtractKernel(std::string("Sure. The code follows.\n") + kKernel);
  ASSERT_TRUE(x.ok) << x.feedback;
  EXPECT_TRUE(x.unfenced);
  EXPECT_EQ(x.code, kKernel);
}

TEST(Extract, TruncatedReplyIsAnAttemptWithFeedback) {
  std::string cut = std::string("```cpp\n") + std::string(kKernel).substr(0, 60);
  auto x = ExtractKernel(cut, "evokernel_forward", "length");
  EXPECT_FALSE(x.ok);
  EXPECT_EQ(x.failure, "truncated");
  EXPECT_NE(x.feedback.find("token limit"), std::string::npos) << x.feedback;
  // Cut without the finish reason, and no complete block: still truncated.
  auto y = ExtractKernel(cut);
  EXPECT_EQ(y.failure, "truncated");
  // A complete block followed by an unfinished afterthought: the complete one is used.
  auto z = ExtractKernel(std::string("```cpp\n") + kKernel + "```\nAlternatively:\n```cpp\n#include <immintrin.h>\n");
  ASSERT_TRUE(z.ok) << z.feedback;
  EXPECT_EQ(z.code, kKernel);
}

TEST(Extract, ProseOnlyAndEmptyAndMissingEntryPoint) {
  auto prose = ExtractKernel("I would use a blocked algorithm with AVX-512 and OpenMP.");
  EXPECT_FALSE(prose.ok);
  EXPECT_EQ(prose.failure, "no_code");
  EXPECT_NE(prose.feedback.find("```cpp"), std::string::npos);
  auto empty = ExtractKernel(" \n\t\n");
  EXPECT_EQ(empty.failure, "empty_response");
  auto no_entry = ExtractKernel("```cpp\nvoid forward(float* x) {}\n```\n");
  EXPECT_FALSE(no_entry.ok);
  EXPECT_EQ(no_entry.failure, "no_entry_point");
  EXPECT_NE(no_entry.feedback.find("evokernel_forward"), std::string::npos);
  auto mention_only = ExtractKernel("You should implement evokernel_forward with a loop.");
  EXPECT_EQ(mention_only.failure, "no_code");
}

constexpr const char* kClKernel =
    "__kernel void relu(__global const float* x, __global float* out, const int n) {\n"
    "  const int i = get_global_id(0);\n"
    "  if (i < n) out[i] = fmax(x[i], 0.0f);\n"
    "}\n"
    "//@launch relu global=(round_up(x_numel, 256)) local=(256) args=(x, out, x_numel)\n";

// An OpenCL reply: the entry point is the //@launch line (a sketch without one is skipped), and
// the feedback says how an OpenCL kernel must be sent.
TEST(Extract, OpenClKernelWithLaunchPlan) {
  const std::string cl = kClKernel;
  const std::string hint = "reply with the complete kernel file in one ```opencl fenced block";
  auto x = ExtractKernel("A first idea:\n```c\n__kernel void relu() {}\n```\nThe full file:\n```opencl\n" + cl +
                             "```\n",
                         "//@launch", "stop", hint);
  ASSERT_TRUE(x.ok) << x.feedback;
  EXPECT_EQ(x.code, cl);
  EXPECT_EQ(x.blocks, 2);
  auto raw = ExtractKernel("Here it is.\n" + cl, "//@launch", "stop", hint);
  ASSERT_TRUE(raw.ok) << raw.feedback;
  EXPECT_TRUE(raw.unfenced);
  EXPECT_EQ(raw.code, cl);
  auto no_plan = ExtractKernel("```opencl\n__kernel void relu() {}\n```\n", "//@launch", "stop", hint);
  EXPECT_EQ(no_plan.failure, "no_entry_point");
  EXPECT_NE(no_plan.feedback.find("//@launch"), std::string::npos) << no_plan.feedback;
  EXPECT_NE(no_plan.feedback.find("```opencl"), std::string::npos) << no_plan.feedback;
  EXPECT_EQ(no_plan.feedback.find("```cpp"), std::string::npos) << no_plan.feedback;
  auto cut = ExtractKernel("```opencl\n" + cl.substr(0, 60), "//@launch", "length", hint);
  EXPECT_EQ(cut.failure, "truncated");
}

// ------------------------------------------------------------------------------ templates

TEST(Template, ValuesSectionsAndStandaloneTags) {
  std::map<std::string, std::string> v = {{"a", "A"}, {"empty", ""}, {"full", "F"}};
  auto r = RenderTemplate("x {{a}} y\n{{#empty}}\nhidden {{a}}\n{{/empty}}\n{{#full}}\nshown {{full}}\n{{/full}}\nend{{#empty}} (no){{/empty}}.\n",
                          v, "t.md");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "x A y\nshown F\nend.\n");
}

TEST(Template, ErrorsNameFileAndLine) {
  std::map<std::string, std::string> v = {{"a", "A"}};
  auto unknown = RenderTemplate("ok\n{{nope}}\n", v, "draft.md");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("draft.md:2: unknown value 'nope'"), std::string::npos)
      << unknown.status().message();
  auto unclosed = RenderTemplate("{{#a}}\nx\n", v, "t.md");
  ASSERT_FALSE(unclosed.ok());
  EXPECT_NE(unclosed.status().message().find("t.md:1: section"), std::string::npos) << unclosed.status().message();
  auto mismatched = RenderTemplate("{{/a}}", v, "t.md");
  EXPECT_FALSE(mismatched.ok());
  auto open_brace = RenderTemplate("a {{ b", v, "t.md");
  EXPECT_FALSE(open_brace.ok());
}

PromptContext Context() {
  PromptContext c;
  c.backend = "cpu";
  c.task_id = "level1/19_relu";
  c.task_source = "import torch\n\nclass Model(torch.nn.Module):\n    def forward(self, x):\n        return torch.relu(x)\n";
  c.contract = "// contract\nextern \"C\" void evokernel_forward(const float* __restrict x, float* __restrict out);\n";
  c.iteration = 3;
  c.budget = 30;
  PromptItem k;
  k.id = "seed-1";
  k.kind = "knowledge";
  k.title = "Vectorise elementwise loops";
  k.content = "Use __restrict and a simple counted loop.\n";
  PromptItem t;
  t.id = "m-2";
  t.kind = "trace";
  t.title = "relu draft";
  t.task_id = "level1/12_relu";
  t.outcome = "feasible";
  t.latency_ms = 1.25;
  t.content = kKernel;
  c.items = {k, t};
  return c;
}

void ExpectGolden(const std::string& got, const std::string& name) {
  fs::path golden = testing::TestDir() / "golden" / name;
  if (std::getenv("EVOKERNEL_UPDATE_GOLDEN")) {
    ASSERT_TRUE(WriteFileAtomic(golden, got).ok());
  }
  auto want = ReadFile(golden);
  ASSERT_TRUE(want.ok()) << "missing golden file " << golden << " (EVOKERNEL_UPDATE_GOLDEN=1 writes it)";
  EXPECT_EQ(got, *want) << "rendered prompt changed; if deliberate, regenerate with EVOKERNEL_UPDATE_GOLDEN=1";
}

TEST(Prompt, DraftWithFeedbackMatchesGolden) {
  PromptContext c = Context();
  c.feedback = "correctness trial 1 of 5 (seed 77): output 'out' float32[16, 16384]: 3 of 262144 elements wrong";
  auto p = RenderPrompt(PromptStage::kDraft, c);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ExpectGolden("## system\n" + p->system + "\n## user\n" + p->user, "prompt_draft_cpu.md");
  EXPECT_EQ(p->hash.size(), 64u);
}

TEST(Prompt, RefineMatchesGoldenAndOmitsEmptySections) {
  PromptContext c = Context();
  c.items.clear();
  c.start_code = kKernel;
  c.start_ms = 2.5;
  c.baseline_ms = 2.0;
  auto p = RenderPrompt(PromptStage::kRefine, c);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ExpectGolden("## system\n" + p->system + "\n## user\n" + p->user, "prompt_refine_cpu.md");
  EXPECT_EQ(p->user.find("Experience"), std::string::npos);
  EXPECT_EQ(p->user.find("Verifier feedback"), std::string::npos);
  EXPECT_NE(p->user.find("(2.5 ms; PyTorch eager 2 ms)"), std::string::npos) << p->user;
}

TEST(Prompt, DifferentContextGivesDifferentHashAndMissingBackendIsNamed) {
  auto a = RenderPrompt(PromptStage::kDraft, Context());
  PromptContext c = Context();
  c.iteration = 4;
  auto b = RenderPrompt(PromptStage::kDraft, c);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->hash, b->hash);
  c.backend = "npu-nonexistent";
  auto missing = RenderPrompt(PromptStage::kDraft, c);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("npu-nonexistent"), std::string::npos);
}

// OpenCL prompts come from prompts/opencl and show kernels (start point, traces) and the
// contract in ```opencl fences, matching what the system prompt asks the model to send back.
TEST(Prompt, OpenClRefineMatchesGoldenAndUsesOpenClFences) {
  PromptContext c = Context();
  c.backend = "opencl";
  c.code_fence = "opencl";
  c.contract = "// contract\n__constant long x_numel = 4096L;\n";
  const std::string cl = kClKernel;
  c.items[1].content = cl;
  c.start_code = cl;
  c.start_ms = 2.5;
  c.baseline_ms = 1.0;
  auto p = RenderPrompt(PromptStage::kRefine, c);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ExpectGolden("## system\n" + p->system + "\n## user\n" + p->user, "prompt_refine_opencl.md");
  const std::string all = p->system + p->user;
  EXPECT_EQ(all.find("```cpp"), std::string::npos);
  EXPECT_NE(p->user.find("```opencl\n" + cl + "```"), std::string::npos);
  EXPECT_NE(all.find("//@launch"), std::string::npos);
  auto d = RenderPrompt(PromptStage::kDraft, c);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ((d->system + d->user).find("```cpp"), std::string::npos);
}

}  // namespace
}  // namespace evokernel
