#include "anticheat/anticheat.h"

#include <gtest/gtest.h>

#include "common/fs.h"
#include "common/subprocess.h"

namespace evokernel {
namespace {

CheckReport ScanKernel(const std::string& src) {
  // A preprocessed stand-in: line markers attribute the text to kernel.cpp.
  std::string pp = "# 1 \"kernel.cpp\"\n" + src;
  CheckReport r;
  ScanIncludes(src, r);
  ScanPreprocessed(pp, "kernel.cpp", src, r);
  return r;
}

TEST(Anticheat, FindsForbiddenCallsWithLines) {
  auto r = ScanKernel("int a;\nvoid f() { auto p = fopen(\"x\", \"r\"); }\nvoid g() { system(\"ls\"); }\n");
  ASSERT_EQ(r.findings.size(), 2u);
  EXPECT_EQ(r.findings[0].symbol, "fopen");
  EXPECT_EQ(r.findings[0].rule, "file");
  EXPECT_EQ(r.findings[0].line, 2);
  EXPECT_EQ(r.findings[1].symbol, "system");
  EXPECT_EQ(r.findings[1].line, 3);
  EXPECT_NE(r.Feedback().find("kernel.cpp:2: 'fopen' (file)"), std::string::npos) << r.Feedback();
}

// Directives the preprocessor keeps (#pragma) are source lines: they count for the line
// numbers, and a quoted string in one is not taken for a file name that ends the kernel.
TEST(Anticheat, PragmaLinesCountAndDoNotHideTheRest) {
  auto r = ScanKernel("void f(float* o) {\n#pragma omp parallel for\n  for (int i = 0; i < 4; ++i) o[i] = 0;\n"
                      "  system(\"ls\");\n}\n#pragma message(\"x\")\nvoid g() { fork(); }\n");
  ASSERT_EQ(r.findings.size(), 2u) << r.Feedback();
  EXPECT_EQ(r.findings[0].symbol, "system");
  EXPECT_EQ(r.findings[0].line, 4);
  EXPECT_EQ(r.findings[1].symbol, "fork");
  EXPECT_EQ(r.findings[1].line, 7);
}

TEST(Anticheat, IgnoresSystemHeadersStringsAndOrdinaryNames) {
  std::string pp =
      "# 1 \"/usr/include/stdio.h\"\nextern FILE* fopen(const char*, const char*);\nint read(int);\n"
      "# 3 \"kernel.cpp\"\n"
      "const char* msg = \"do not fopen or fork here\";\n"
      "struct Reader { int read() { return 1; } int at; };\n"
      "int f(Reader r, int reader, int times_two, int system_size) { return r.read() + r.at + reader + times_two + system_size; }\n"
      "int g(float* thread_local_sum) { return thread_local_sum != nullptr; }\n";
  CheckReport r;
  ScanPreprocessed(pp, "kernel.cpp", "", r);
  EXPECT_TRUE(r.ok()) << r.Feedback();
}

TEST(Anticheat, NamespacesOfReferenceLibrariesAreForbidden) {
  auto r = ScanKernel("void f() { at::Tensor t; Eigen::MatrixXf m; }\n");
  ASSERT_EQ(r.findings.size(), 2u);
  EXPECT_EQ(r.findings[0].rule, "reference_library");
}

TEST(Anticheat, LoadTimeAttributesAreFoundButOrdinaryNamesAreNot) {
  EXPECT_FALSE(ScanKernel("__attribute__((constructor)) static void f() {}\n").ok());
  EXPECT_FALSE(ScanKernel("[[gnu::constructor]] static void f() {}\n").ok());
  EXPECT_FALSE(ScanKernel("__attribute__((used, destructor)) static void f() {}\n").ok());
  EXPECT_TRUE(ScanKernel("struct S { int constructor_calls; };\n").ok());
}

TEST(Anticheat, ForbiddenIncludesAreNamed) {
  CheckReport r;
  ScanIncludes("#include <cblas.h>\n#include <vector>\n#  include \"torch/torch.h\"\n#include <immintrin.h>\n", r);
  ASSERT_EQ(r.findings.size(), 2u);
  EXPECT_EQ(r.findings[0].line, 1);
  EXPECT_EQ(r.findings[1].line, 3);
}

TEST(Anticheat, FortranBlasAndPrefixes) {
  EXPECT_EQ(ForbiddenRule("sgemm_"), "reference_library");
  EXPECT_EQ(ForbiddenRule("cblas_dgemm"), "reference_library");
  EXPECT_EQ(ForbiddenRule("dnnl_sgemm"), "reference_library");
  EXPECT_EQ(ForbiddenRule("sgemm"), "");
  EXPECT_EQ(ForbiddenRule("omp_get_max_threads"), "");
  EXPECT_EQ(ForbiddenRule("omp_get_wtime"), "clock");
}

// Layer 2: what a built object imports and links, whatever the source looked like.
TEST(Anticheat, ObjectScanFindsImportsAndLibraries) {
  auto dir = MakeTempDir("evk-anticheat-");
  ASSERT_TRUE(dir.ok());
  ScopedDir cleanup(*dir);
  std::string src = *dir / "k.cpp";
  ASSERT_TRUE(WriteFileAtomic(src,
      "#include <cstdio>\n"
      "extern \"C\" void cblas_sgemm();\n"
      "extern \"C\" void f() { std::fclose(std::fopen(\"x\", \"r\")); cblas_sgemm(); }\n").ok());
  SpawnOptions so;
  so.argv = {"g++", "-shared", "-fPIC", src, "-o", (*dir / "k.so").string(), "-L/usr/lib/x86_64-linux-gnu/openblas-pthread", "-lblas"};
  auto c = RunCommand(so, std::chrono::seconds(60));
  ASSERT_TRUE(c.ok() && c->exit.ok()) << (c.ok() ? c->err : c.status().ToString());
  CheckReport r;
  ASSERT_TRUE(ScanObject(*dir / "k.so", r).ok());
  std::string all;
  for (const auto& f : r.findings) all += f.symbol + " ";
  EXPECT_NE(all.find("fopen"), std::string::npos) << all;
  EXPECT_NE(all.find("cblas_sgemm"), std::string::npos) << all;
  EXPECT_NE(all.find("libblas.so.3"), std::string::npos) << all;
}

}  // namespace
}  // namespace evokernel
