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
      "# 1 \"kernel.cpp\"\n# 1 \"/usr/include/stdio.h\" 1 3\nextern FILE* fopen(const char*, const char*);\nint read(int);\n"
      "# 3 \"kernel.cpp\" 2\n"
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

// --- Directives, read as the preprocessor reads them -------------------------------------

std::vector<std::string> Rules(const CheckReport& r) {
  std::vector<std::string> v;
  for (const auto& f : r.findings) v.push_back(f.rule + ":" + f.symbol);
  return v;
}

TEST(Anticheat, LineDirectivesAreRefusedHoweverSpelled) {
  for (const char* src : {"#line 1 \"evokernel_task.h\"\nint x;\n", "# 7 \"/usr/include/stdio.h\" 1 3\nint x;\n",
                          "%:line 3\nint x;\n", "#\\\nline 3\nint x;\n", "  # /* comment */ line 3 \"a.h\"\n",
                          "#pragma GCC system_header\n", "#pragma GCC dependency \"/etc/shadow\"\n"}) {
    CheckReport r;
    ScanDirectives(src, r);
    ASSERT_FALSE(r.ok()) << src;
    EXPECT_EQ(r.findings[0].rule, "preprocessor") << src;
  }
  // Inside a comment or a string, it is not a directive.
  CheckReport clean;
  ScanDirectives("// #line 1 \"x\"\n/*\n#line 2\n*/\nconst char* s = \"#line 3\";\n#pragma omp parallel for\n", clean);
  EXPECT_TRUE(clean.ok()) << clean.Feedback();
}

TEST(Anticheat, OnlySystemHeadersByNameMayBeIncluded) {
  for (const char* src : {"#include \"/proc/self/environ\"\n", "#include </etc/passwd>\n", "#include <../../etc/passwd>\n",
                          "#include <sys/../../../etc/shadow>\n", "#define P </etc/passwd>\n#include P\n",
                          "#include \"kernel.cpp\"\n", "#include_next <cmath>\n", "#\\\ninclude \"/etc/hostname\"\n"}) {
    CheckReport r;
    ScanDirectives(src, r);
    ASSERT_FALSE(r.ok()) << src;
    EXPECT_EQ(r.findings[0].rule, "include") << src;
  }
  CheckReport clean;
  ScanDirectives("#include <cmath>\n#include <immintrin.h>\n#include \"evokernel_task.h\"\n", clean);
  EXPECT_TRUE(clean.ok()) << clean.Feedback();
  // What the preprocessor really entered, normalised, against the system directories.
  CheckReport inc;
  CheckIncludedFiles({"/usr/include/c++/12/vector", "./evokernel_task.h", "/usr/include/../../etc/passwd",
                      "/proc/self/environ", "/usr/include/x86_64-linux-gnu/cblas.h", "<command-line>"},
                     {"/usr/include/c++/12", "/usr/include"}, {"evokernel_task.h"}, inc);
  ASSERT_EQ(inc.findings.size(), 3u) << inc.Feedback();
  EXPECT_EQ(inc.findings[0].rule, "include");
  EXPECT_EQ(inc.findings[1].rule, "include");
  EXPECT_EQ(inc.findings[2].rule, "reference_library");
}

// --- The preprocessed text: attribution and literals --------------------------------------

TEST(Anticheat, RenamingTheFileInLineMarkersDoesNotHideTheKernel) {
  // What g++ -E prints for a kernel whose #line renamed it (had the directive got through):
  // markers without enter/leave flags are line changes within the same file.
  std::string pp =
      "# 0 \"kernel.cpp\"\n# 0 \"<built-in>\"\n# 0 \"<command-line>\"\n# 1 \"./evokernel_task.h\" 1\n"
      "inline int helper_in_contract() { return 0; }\n# 0 \"<command-line>\" 2\n# 1 \"kernel.cpp\"\n"
      "#include_marker\n# 1 \"evokernel_task.h\"\nint f() { return system(\"x\"); }\n"
      "# 1 \"/usr/include/stdio.h\"\nint g() { return fork(); }\n";
  CheckReport r;
  std::vector<std::string> included;
  ScanPreprocessed(pp, "kernel.cpp", "", r, &included);
  auto rules = Rules(r);
  EXPECT_NE(std::find(rules.begin(), rules.end(), "process:system"), rules.end()) << r.Feedback();
  EXPECT_NE(std::find(rules.begin(), rules.end(), "process:fork"), rules.end()) << r.Feedback();
  EXPECT_EQ(included, std::vector<std::string>{"./evokernel_task.h"});
}

TEST(Anticheat, LiteralsHideNoCode) {
  // A C++14 digit separator is not a character literal; a raw string ends where it ends.
  for (const char* code : {"int n = 1'000'000; void f() { system(\"ls\"); } int m = 0x1'F;\n",
                           "auto s = R\"x( \" )x\"; void f() { system(\"ls\"); }\n",
                           "auto s = u8R\"(\n\")\"; void f() { system(\"ls\"); }\n",
                           "double d = 1e+5'0; void f() { system(\"ls\"); }\n"}) {
    auto r = ScanKernel(code);
    auto rules = Rules(r);
    EXPECT_NE(std::find(rules.begin(), rules.end(), "process:system"), rules.end()) << code << r.Feedback();
  }
  // And a string really is skipped.
  EXPECT_TRUE(ScanKernel("const char* s = R\"(system(\"ls\"))\"; char c = '\\'';\n").ok());
}

TEST(Anticheat, ClockAndLoaderBuiltinsAreForbidden) {
  for (const char* code : {"unsigned long long t = __builtin_ia32_rdtsc();\n", "auto v = getauxval(33);\n",
                           "void f() { omp_pause_resource_all(0); }\n", "void f() { setpriority(0, 0, 19); }\n",
                           "void f(void* p) { mprotect(p, 4096, 7); }\n"}) {
    EXPECT_FALSE(ScanKernel(code).ok()) << code;
  }
  EXPECT_TRUE(ScanKernel("int time_steps = 3; struct S { int clock; } s; int f() { return s.clock + time_steps; }\n").ok());
}

// --- The object: what it imports, what its code contains --------------------------------

std::filesystem::path BuildObject(const std::filesystem::path& dir, const std::string& name, const std::string& src,
                                  std::vector<std::string> extra = {}) {
  auto cpp = dir / (name + ".cpp");
  EXPECT_TRUE(WriteFileAtomic(cpp, src).ok());
  SpawnOptions so;
  so.argv = {"g++", "-O2", "-shared", "-fPIC", cpp.string(), "-o", (dir / (name + ".so")).string()};
  so.argv.insert(so.argv.end(), extra.begin(), extra.end());
  auto c = RunCommand(so, std::chrono::seconds(60));
  EXPECT_TRUE(c.ok() && c->exit.ok()) << (c.ok() ? c->err : c.status().ToString());
  return dir / (name + ".so");
}

TEST(Anticheat, ObjectScanSeesInstructionsNamespacesAndSegments) {
  auto dir = MakeTempDir("evk-anticheat-");
  ASSERT_TRUE(dir.ok());
  ScopedDir cleanup(*dir);
  struct Case {
    const char* name;
    const char* src;
    std::vector<std::string> flags;
    const char* rule;
  } cases[] = {
      {"asm", "extern \"C\" long f() { long r; asm volatile(\"syscall\" : \"=a\"(r) : \"a\"(39) : \"rcx\", \"r11\"); return r; }\n", {}, "syscall"},
      {"bytes", "__attribute__((section(\".text\"))) const unsigned char code[] = {0x0f, 0x05, 0xc3};\n"
                "extern \"C\" long f() { return reinterpret_cast<long (*)()>(code)(); }\n", {}, "syscall"},
      {"tsc", "extern \"C\" unsigned long long f() { return __builtin_ia32_rdtsc(); }\n", {}, "clock"},
      {"weak_at", "namespace at { namespace native { __attribute__((weak)) float add(float, float); } }\n"
                  "extern \"C\" float f(float a) { return at::native::add ? at::native::add(a, a) : a; }\n", {}, "reference_library"},
      {"execstack", "extern \"C\" int f() { return 1; }\n", {"-Wl,-z,execstack"}, "memory"},
  };
  for (const auto& c : cases) {
    auto so = BuildObject(*dir, c.name, c.src, c.flags);
    CheckReport r;
    ASSERT_TRUE(ScanObject(so, r).ok());
    bool found = false;
    for (const auto& f : r.findings) found = found || f.rule == c.rule;
    EXPECT_TRUE(found) << c.name << ": " << r.Feedback();
  }
  // An honest object: vector code, libm, OpenMP-free.
  auto ok = BuildObject(*dir, "honest", "#include <cmath>\n#include <vector>\nextern \"C\" float f(const float* x, int n) {"
                                        " std::vector<float> v(x, x + n); float s = 0; for (float e : v) s += std::exp(e); return s; }\n");
  CheckReport r;
  ASSERT_TRUE(ScanObject(ok, r).ok());
  EXPECT_TRUE(r.ok()) << r.Feedback();
}

}  // namespace
}  // namespace evokernel
