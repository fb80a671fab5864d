// The CPU backend: contract rendering (golden), builds, the build cache and compiler feedback.
#include "backend/backend.h"
#include "backend/build_pipeline.h"
#include "backend/registry.h"

#include <fstream>

#include <gtest/gtest.h>

#include "common/fs.h"
#include "test_util.h"

namespace evokernel {
namespace {
namespace fs = std::filesystem;

TaskSpec ConvSpec() {
  TaskSpec s;
  s.ref.id = "golden/conv_relu";
  s.doc = "Conv2d followed by ReLU.\nSecond line is not shown.";
  s.args = {{"x", ArgRole::kInput, DType::kFloat32, {2, 3, 8, 8}, "forward argument 0"},
            {"conv_weight", ArgRole::kParam, DType::kFloat32, {4, 3, 3, 3}, "conv.weight"},
            {"conv_bias", ArgRole::kParam, DType::kFloat32, {4}, "conv.bias"},
            {"out", ArgRole::kOutput, DType::kFloat32, {2, 4, 6, 6}, "forward() output 0"}};
  s.constants = {{"batch_size", 2}, {"kernel_size", {3, 3}}, {"eps", 1e-5}, {"bias", true},
                 {"mode", "zeros"}, {"class", 1}};
  s.scalar_args = nlohmann::json::array({{{"name", "alpha"}, {"value", 0.5}}});
  s.init_inputs = {3, 4, 3};
  return s;
}

class CpuBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = MakeBackend("cpu");
    ASSERT_TRUE(b.ok());
    backend_ = std::move(b).value();
    auto d = MakeTempDir("evk-build-cache-");
    ASSERT_TRUE(d.ok());
    cache_ = std::make_unique<ScopedDir>(*d);
    opts_.cache_dir = *d;
  }
  BuildResult Build(const std::string& src) {
    auto r = evokernel::Build(*backend_, ConvSpec(), src, opts_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : BuildResult{};
  }
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<ScopedDir> cache_;
  BuildOptions opts_;
};

// Golden test: the contract is what models are shown; any change must be deliberate.
// Regenerate with EVOKERNEL_UPDATE_GOLDEN=1.
TEST_F(CpuBackendTest, ContractMatchesGolden) {
  std::string got = backend_->Contract(ConvSpec());
  fs::path golden = testing::TestDir() / "golden" / "contract_cpu.h";
  if (std::getenv("EVOKERNEL_UPDATE_GOLDEN")) {
    ASSERT_TRUE(WriteFileAtomic(golden, got).ok());
  }
  auto want = ReadFile(golden);
  ASSERT_TRUE(want.ok()) << "missing golden file " << golden;
  EXPECT_EQ(got, *want);
}

TEST_F(CpuBackendTest, ContractDeclaresConstantsAndSkipsInvalidNames) {
  std::string h = backend_->Contract(ConvSpec());
  EXPECT_NE(h.find("inline constexpr int64_t batch_size = 2;"), std::string::npos);
  EXPECT_NE(h.find("inline constexpr int64_t kernel_size[] = {3, 3};"), std::string::npos);
  EXPECT_NE(h.find("inline constexpr double alpha = 0.5;"), std::string::npos);
  EXPECT_NE(h.find("// mode = \"zeros\""), std::string::npos);  // strings stay comments
  EXPECT_NE(h.find("// class = 1"), std::string::npos);         // keywords stay comments
  EXPECT_EQ(h.find("Second line"), std::string::npos);
}

TEST_F(CpuBackendTest, BuildsAndCaches) {
  std::string src = "extern \"C\" void evokernel_forward(const float* x, const float* w, const float* b, float* out) {"
                    " for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = b[0]; }\n";
  BuildResult first = Build(src);
  ASSERT_TRUE(first.ok) << first.feedback << first.log;
  EXPECT_FALSE(first.cached);
  EXPECT_TRUE(fs::exists(first.artifact));
  BuildResult second = Build(src);
  EXPECT_TRUE(second.ok);
  EXPECT_TRUE(second.cached);
  EXPECT_EQ(first.hash, second.hash);
  EXPECT_EQ(first.artifact, second.artifact);
  BuildResult other = Build(src + "// changed\n");
  EXPECT_NE(other.hash, first.hash);
}

// With g++ the kernel headers are precompiled once and force-included first; a kernel that
// includes them itself still builds, and a forbidden call is still found through a macro.
TEST_F(CpuBackendTest, PrecompiledHeaderIsUsedReportedAndKeepsTheChecks) {
  nlohmann::json tc = backend_->Toolchain();
  ASSERT_TRUE(tc.contains("precompiled_header"));
  const std::string pch = tc["precompiled_header"].get<std::string>();
  if (tc["compiler"].get<std::string>().find("g++") == std::string::npos || std::getenv("EVOKERNEL_NO_PCH"))
    GTEST_SKIP() << "no precompiled header with this compiler or setting: " << pch;
  ASSERT_TRUE(fs::exists(pch + ".gch")) << pch;
  std::string src = "#include <immintrin.h>\n#include <cmath>\n"
                    "extern \"C\" void evokernel_forward(const float* x, const float* w, const float* b, float* out) {"
                    " for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::sqrt(std::fabs(b[0])); }\n";
  BuildResult r = Build(src);
  ASSERT_TRUE(r.ok) << r.feedback << r.log;
  EXPECT_NE(r.command.find("-include " + pch + " "), std::string::npos) << r.command;
  std::string cheat = "#include <cstdlib>\n#define RUN(c) std::system(c)\n"
                      "extern \"C\" void evokernel_forward(const float* x, const float* w, const float* b, float* out) {"
                      " RUN(\"true\"); for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = 0; }\n";
  BuildResult c = Build(cheat);
  EXPECT_TRUE(c.check_failed) << c.feedback;
  EXPECT_NE(c.feedback.find("system"), std::string::npos) << c.feedback;
}

TEST_F(CpuBackendTest, CompileErrorFeedbackIsTrimmedAndPathFree) {
  std::string src = "extern \"C\" void evokernel_forward(const float* x, const float* w, const float* b, float* out) {\n"
                    "  int y = undeclared_thing + 1;\n"
                    "}\n";
  BuildResult r = Build(src);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.feedback.find("kernel.cpp:2"), std::string::npos) << r.feedback;
  EXPECT_NE(r.feedback.find("undeclared_thing"), std::string::npos) << r.feedback;
  EXPECT_EQ(r.feedback.find("/tmp"), std::string::npos) << r.feedback;
  EXPECT_EQ(r.feedback.find(cache_->path().string()), std::string::npos) << r.feedback;
  // Failures are cached too: the same broken source is not recompiled.
  BuildResult again = Build(src);
  EXPECT_FALSE(again.ok);
  EXPECT_TRUE(again.cached);
  EXPECT_EQ(again.feedback, r.feedback);
}

TEST_F(CpuBackendTest, WrongSignatureIsACompileError) {
  std::string src = "extern \"C\" void evokernel_forward(const float* x, float* out) { out[0] = x[0]; }\n";
  BuildResult r = Build(src);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.feedback.find("conflicting declaration"), std::string::npos) << r.feedback;
}

TEST_F(CpuBackendTest, MissingEntryPointGetsAHint) {
  BuildResult r = Build("int helper() { return 1; }\n");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.feedback.find("undefined reference"), std::string::npos) << r.feedback;
  EXPECT_NE(r.feedback.find("hint: the kernel must define"), std::string::npos) << r.feedback;
}

TEST(Backend, UnknownBackendListsAvailableOnes) {
  auto b = MakeBackend("tpu");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(b.status().message().find("available: cpu"), std::string::npos);
}

TEST(TrimCompilerOutput, KeepsErrorsWithContextAndCountsThem) {
  std::string raw =
      "/tmp/b/kernel.cpp: In function 'void f()':\n"
      "/tmp/b/kernel.cpp:3:5: error: 'x' was not declared in this scope\n"
      "    3 |     x = 1;\n"
      "      |     ^\n"
      "/tmp/b/kernel.cpp:4:1: warning: unused variable\n"
      "/tmp/b/kernel.cpp:9:2: error: expected ';'\n";
  std::string t = TrimCompilerOutput(raw, "/tmp/b");
  EXPECT_NE(t.find("kernel.cpp:3:5: error: 'x' was not declared"), std::string::npos) << t;
  EXPECT_NE(t.find("    3 |     x = 1;"), std::string::npos) << t;
  EXPECT_EQ(t.find("warning"), std::string::npos) << t;
  EXPECT_EQ(t.find("/tmp/b"), std::string::npos) << t;
  EXPECT_NE(t.find("(2 error line(s) in total)"), std::string::npos) << t;
}

TEST(TrimCompilerOutput, CapsLength) {
  std::string raw;
  for (int i = 0; i < 500; ++i) raw += "k.cpp:" + std::to_string(i) + ":1: error: something long and repetitive here\n";
  std::string t = TrimCompilerOutput(raw, "", 40, 4000);
  EXPECT_LE(t.size(), 4100u);
  EXPECT_NE(t.find("(500 error line(s) in total)"), std::string::npos);
}

}  // namespace
}  // namespace evokernel

namespace evokernel {
namespace {

// A backend that only records what the pipeline asks of it: the pipeline, not the backend,
// runs the anti-cheat stage, caches and publishes.
class RecordingBackend final : public Backend {
 public:
  mutable std::vector<std::string> calls;
  bool flag_source = false;
  bool flag_artifact = false;
  std::string_view name() const override { return "recording"; }
  const SourceLanguage& language() const override {
    static const SourceLanguage l{"Text", ".txt", {"text"}, "main", "kernel.txt", "reply with the text"};
    return l;
  }
  std::string_view device() const override { return "cpu"; }
  std::string Contract(const TaskSpec& s) const override { return "contract of " + s.ref.id; }
  Result<std::string> BuildKey() const override { return std::string("recording-v1"); }
  Status Stage(const TaskSpec&, std::string_view source, const fs::path& dir) const override {
    calls.push_back("stage");
    return WriteFileAtomic(dir / "kernel.txt", source);
  }
  Status CheckSource(const TaskSpec&, std::string_view, const fs::path&, CheckReport& r) const override {
    calls.push_back("check_source");
    if (flag_source) r.findings.push_back({"process", "system", 3, "system(x)", "no"});
    return Status::Ok();
  }
  Result<CompileOutput> Compile(const TaskSpec&, const fs::path& dir, const BuildOptions&) const override {
    calls.push_back("compile");
    CompileOutput c;
    c.ok = WriteFileAtomic(dir / "artifact.bin", "built").ok();
    c.artifact = "artifact.bin";
    return c;
  }
  Status CheckArtifact(const fs::path&, const CompileOutput&, CheckReport& r) const override {
    calls.push_back("check_artifact");
    if (flag_artifact) r.findings.push_back({"library", "libblas.so.3", 0, "", "no"});
    return Status::Ok();
  }
  nlohmann::json Toolchain() const override { return {{"compiler", "none"}}; }
  Result<PeaksProbe> Peaks(int) const override { return Unavailable("a recording backend has no device"); }
};

TEST(BuildPipeline, RunsTheAntiCheatStageAroundEveryBackendsCompile) {
  auto d = MakeTempDir("evk-pipeline-");
  ASSERT_TRUE(d.ok());
  ScopedDir cleanup(*d);
  BuildOptions o;
  o.cache_dir = *d;
  TaskSpec spec;
  spec.ref.id = "t/1";
  RecordingBackend b;
  auto ok = Build(b, spec, "clean", o);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(ok->ok);
  EXPECT_EQ(b.calls, (std::vector<std::string>{"stage", "check_source", "compile", "check_artifact"}));
  EXPECT_EQ(ok->artifact.filename(), "artifact.bin");
  // Cached: nothing of the backend runs again.
  b.calls.clear();
  auto again = Build(b, spec, "clean", o);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->cached);
  EXPECT_TRUE(b.calls.empty());
  // A source finding stops the build before compiling, naming the backend's kernel file.
  b.flag_source = true;
  auto refused = Build(b, spec, "system(x)", o);
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->ok);
  EXPECT_TRUE(refused->check_failed);
  EXPECT_EQ(b.calls, (std::vector<std::string>{"stage", "check_source"}));
  EXPECT_NE(refused->feedback.find("kernel.txt:3: 'system'"), std::string::npos) << refused->feedback;
  // An artifact finding refuses the build after compiling; no artifact is handed out.
  b.flag_source = false;
  b.flag_artifact = true;
  b.calls.clear();
  auto linked = Build(b, spec, "links blas", o);
  ASSERT_TRUE(linked.ok());
  EXPECT_FALSE(linked->ok);
  EXPECT_TRUE(linked->check_failed);
  EXPECT_TRUE(linked->artifact.empty());
  // Only --no-static-check skips the stage, and the key differs, so verdicts never mix.
  b.calls.clear();
  o.static_check = false;
  auto unchecked = Build(b, spec, "links blas", o);
  ASSERT_TRUE(unchecked.ok());
  EXPECT_TRUE(unchecked->ok);
  EXPECT_EQ(b.calls, (std::vector<std::string>{"stage", "compile"}));
  EXPECT_NE(unchecked->hash, linked->hash);
}

TEST(TrimCompilerOutput, QuotesOnlyTheKernelsOwnLines) {
  // A kernel that includes a file to have its lines quoted back: the diagnostics are kept,
  // the file's text is not.
  std::string raw =
      "In file included from /tmp/b/kernel.cpp:1:\n"
      "/etc/secret.conf:1:1: error: 'api_key' does not name a type\n"
      "    1 | api_key = sk-THE-SECRET\n"
      "      | ^~~~~~~\n"
      "/tmp/b/kernel.cpp:3:5: error: 'x' was not declared in this scope\n"
      "    3 |     x = 1;\n"
      "      |     ^\n";
  std::string t = TrimCompilerOutput(raw, "/tmp/b", 40, 4000, "kernel.cpp");
  EXPECT_EQ(t.find("sk-THE-SECRET"), std::string::npos) << t;
  EXPECT_NE(t.find("    3 |     x = 1;"), std::string::npos) << t;
  EXPECT_NE(t.find("kernel.cpp:3:5: error"), std::string::npos) << t;
}

}  // namespace
}  // namespace evokernel
