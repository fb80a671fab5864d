// The CPU C++ backend: kernels are C++17 translation units built by g++ into a shared object.
//
// The contract header is force-included into the kernel (-include), so a definition whose
// signature differs from the contract is a compile error ("conflicting declaration of C
// function"), not a silent ABI mismatch at run time. A generated header, force-included after
// the contract (so the kernel's macros cannot touch it), defines evokernel_entry(void* const*
// args), which the runner calls with the argument array; linking with --no-undefined makes a
// missing evokernel_forward a build error. One translation unit: one compiler front end.
//
// Parsing <immintrin.h> and the common standard headers is most of a compile (0.4 of 0.5 s
// here). With g++, they are precompiled once per compiler, flags and CPU into the user cache
// (CacheDir()/pch) and force-included first; kernels still include what they use (the
// anti-cheat preprocessing pass loads the precompiled header without expanding it, so a
// kernel's own text is what it scans).
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>

#include "backend/backend.h"
#include "backend/build_pipeline.h"
#include "common/fs.h"
#include "common/subprocess.h"

namespace evokernel {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kHeaderName = "evokernel_task.h";
constexpr const char* kKernelName = "kernel.cpp";
constexpr const char* kEntryName = "evokernel_entry.h";
constexpr int kAbiVersion = 1;


// Headers precompiled for kernels: the standard library parts and intrinsics kernels use.
constexpr const char* kPchName = "evokernel_pch.h";
constexpr const char* kPchText =
    "// evokernel: headers precompiled for CPU kernels (force-included first).\n"
    "#include <immintrin.h>\n#include <omp.h>\n#include <cfloat>\n#include <climits>\n"
    "#include <cmath>\n#include <cstddef>\n#include <cstdint>\n#include <cstdlib>\n"
    "#include <cstring>\n";

// The compile flags that a precompiled header must share with the kernel's compile.
const std::vector<std::string>& PchFlags() {
  static const std::vector<std::string> flags = {"-std=c++17", "-O3", "-march=native", "-fopenmp", "-fPIC"};
  return flags;
}

// The kernel's compile and link flags: the above, linked into a shared object.
const std::vector<std::string>& Flags() {
  static const std::vector<std::string> flags = [] {
    std::vector<std::string> f = PchFlags();
    f.insert(f.end(), {"-shared", "-Wl,--no-undefined"});
    return f;
  }();
  return flags;
}

// `cxx` with the precompiled header's flags, then `args`.
std::vector<std::string> PchCommand(const std::string& cxx, std::vector<std::string> args) {
  std::vector<std::string> argv = {cxx};
  argv.insert(argv.end(), PchFlags().begin(), PchFlags().end());
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::string Compiler() {
  const char* c = std::getenv("EVOKERNEL_CXX");
  return (c && *c) ? c : "g++";
}

// First line of `<cxx> --version`, computed once.
const std::string& CompilerVersion() {
  static const std::string v = [] {
    SpawnOptions so;
    so.argv = {Compiler(), "--version"};
    auto r = RunCommand(so, std::chrono::seconds(30));
    if (!r.ok() || !r->exit.ok()) return std::string();
    return r->out.substr(0, r->out.find('\n'));
  }();
  return v;
}

// -march=native depends on the machine: the cache key includes the CPU model and flags.
const std::string& CpuIdentity() {
  static const std::string id = [] {
    std::ifstream in("/proc/cpuinfo");
    std::string line, model, flags;
    while (std::getline(in, line)) {
      if (model.empty() && line.rfind("model name", 0) == 0) model = line.substr(line.find(':') + 2);
      if (flags.empty() && line.rfind("flags", 0) == 0) flags = line;
      if (!model.empty() && !flags.empty()) break;
    }
    return model + " / flags " + Sha256Hex(flags).substr(0, 12);
  }();
  return id;
}

// The compiler's system include directories (`-v` of an empty preprocessing run), once.
const std::vector<std::string>& SystemIncludeDirs() {
  static const std::vector<std::string> dirs = [] {
    std::vector<std::string> d;
    auto r = RunTool({Compiler(), "-std=c++17", "-E", "-x", "c++", "-v", "/dev/null"}, "/", std::chrono::seconds(30));
    if (!r.ok()) return d;
    std::istringstream in(r->err);
    bool on = false;
    for (std::string l; std::getline(in, l);) {
      if (l.find("#include <...> search starts here:") != std::string::npos) { on = true; continue; }
      if (l.find("End of search list.") != std::string::npos) break;
      if (!on) continue;
      size_t a = l.find_first_not_of(' ');
      if (a == std::string::npos) continue;
      std::error_code ec;
      fs::path canon = fs::weakly_canonical(l.substr(a), ec);
      d.push_back(ec ? l.substr(a) : canon.string());
      if (!ec && canon.string() != l.substr(a)) d.push_back(l.substr(a));
    }
    return d;
  }();
  return dirs;
}

struct Pch {
  std::optional<fs::path> header;  // force-include this (its .gch lies beside it)
  std::string id;                  // enters the build hash
  std::string note;                // why there is none, or where it is
};

// Builds the precompiled header once per compiler, flags and CPU (atomically published, so
// concurrent processes agree), and checks that the compiler really uses it. Any failure means
// compiling without it: slower, never different.
Pch BuildPch(const std::string& cxx, const std::string& version, const std::string& cpu) {
  Pch p;
  if (const char* off = std::getenv("EVOKERNEL_NO_PCH"); off && *off && std::string(off) != "0") {
    p.note = "disabled by EVOKERNEL_NO_PCH";
    return p;
  }
  if (version.find("g++") == std::string::npos && version.find("GCC") == std::string::npos) {
    p.note = "not g++: no precompiled header";
    return p;
  }
  const std::vector<std::string>& flags = PchFlags();
  std::string key = version + "\n" + cpu + "\n" + kPchText;
  for (const auto& f : flags) key += f + " ";
  const std::string id = Sha256Hex(key).substr(0, 24);
  // A pure function of compiler, CPU and flags, so it may live apart from the build cache
  // (the tests give every process a private build cache but share one of these).
  const char* pch_root = std::getenv("EVOKERNEL_PCH_DIR");
  const fs::path final_dir = (pch_root && *pch_root ? fs::path(pch_root) : CacheDir() / "pch") / id;
  std::error_code ec;
  const std::string header = (final_dir / kPchName).string();
  auto usable = [&]() -> bool {
    // -H lists the headers used; "! <path>.gch" means the precompiled one was taken.
    auto r = RunTool(PchCommand(cxx, {"-H", "-fsyntax-only", "-include", header, "-x", "c++", "/dev/null"}),
                     final_dir.parent_path(), std::chrono::seconds(60));
    return r.ok() && r->exit.ok() && r->err.find("! " + header + ".gch") != std::string::npos;
  };
  if (!fs::exists(final_dir / (std::string(kPchName) + ".gch"), ec)) {
    fs::create_directories(final_dir.parent_path(), ec);
    auto tmp = MakeTempDir("pch-", final_dir.parent_path());
    if (!tmp.ok()) {
      p.note = "cannot create " + final_dir.parent_path().string() + ": " + tmp.status().message();
      return p;
    }
    ScopedDir cleanup(*tmp);
    if (!WriteFileAtomic(*tmp / kPchName, kPchText).ok()) {
      p.note = "cannot write the precompiled header's source";
      return p;
    }
    auto r = RunTool(PchCommand(cxx, {"-x", "c++-header", kPchName, "-o", std::string(kPchName) + ".gch"}), *tmp,
                     std::chrono::seconds(120));
    if (!r.ok() || !r->exit.ok()) {
      p.note = "building the precompiled header failed: " + (r.ok() ? r->err.substr(0, 500) : r.status().message());
      return p;
    }
    fs::rename(*tmp, final_dir, ec);  // if another process won the race, its copy is used
  }
  if (!usable()) {
    p.note = "the compiler does not accept the precompiled header in " + final_dir.string();
    return p;
  }
  p.header = header;
  p.id = id;
  p.note = p.header->string();
  return p;
}

bool IsCppKeyword(const std::string& s) {
  static const std::set<std::string> kw = {
      "alignas", "alignof", "and", "asm", "auto", "bool", "break", "case", "catch", "char",
      "class", "const", "constexpr", "continue", "default", "delete", "do", "double", "else",
      "enum", "explicit", "export", "extern", "false", "float", "for", "friend", "goto", "if",
      "inline", "int", "long", "mutable", "namespace", "new", "not", "operator", "or",
      "private", "protected", "public", "register", "return", "short", "signed", "sizeof",
      "static", "struct", "switch", "template", "this", "throw", "true", "try", "typedef",
      "typeid", "typename", "union", "unsigned", "using", "virtual", "void", "volatile",
      "while", "xor", "int64_t", "int32_t", "uint8_t", "size_t", "std"};
  return kw.count(s) > 0;
}

bool IsIdentifier(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return !IsCppKeyword(s);
}

std::string NumberLiteral(const nlohmann::json& v) {
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  // Shortest literal that reads back as the same double.
  double d = v.get<double>();
  std::string s;
  for (int precision = 6; precision <= 17; ++precision) {
    std::ostringstream ss;
    ss.precision(precision);
    ss << d;
    s = ss.str();
    if (std::strtod(s.c_str(), nullptr) == d) break;
  }
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

// `inline constexpr <type> name = value;` for numbers, bools and flat numeric lists; nullopt
// for anything else (strings, nested lists), which stays a comment.
std::optional<std::string> ConstantDecl(const std::string& name, const nlohmann::json& v) {
  if (!IsIdentifier(name)) return std::nullopt;
  if (v.is_boolean()) return "inline constexpr bool " + name + " = " + NumberLiteral(v) + ";";
  if (v.is_number_integer()) return "inline constexpr int64_t " + name + " = " + NumberLiteral(v) + ";";
  if (v.is_number()) return "inline constexpr double " + name + " = " + NumberLiteral(v) + ";";
  if (v.is_array() && !v.empty()) {
    bool all_int = true, all_num = true;
    for (const auto& e : v) {
      all_int = all_int && e.is_number_integer();
      all_num = all_num && e.is_number() && !e.is_boolean();
    }
    if (!all_num) return std::nullopt;
    std::string s = std::string("inline constexpr ") + (all_int ? "int64_t " : "double ") + name +
                    "[] = {";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + NumberLiteral(v[i]);
    return s + "};";
  }
  return std::nullopt;
}

// Python spelling of a JSON value (True/False/None, tuples as lists), for comments.
std::string PythonLiteral(const nlohmann::json& v) {
  if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
  if (v.is_null()) return "None";
  if (v.is_array()) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + PythonLiteral(v[i]);
    return s + "]";
  }
  return v.dump();
}

std::string ParamType(const TaskArg& a) {
  std::string t(DTypeCType(a.dtype));
  return a.role == ArgRole::kOutput ? t + "*" : "const " + t + "*";
}

// The entry point's declaration; `multiline` puts one argument per line (for the header).
std::string Signature(const TaskSpec& spec, bool multiline) {
  std::string s = "extern \"C\" void evokernel_forward(";
  for (size_t i = 0; i < spec.args.size(); ++i) {
    s += (i ? (multiline ? ",\n    " : ", ") : (multiline ? "\n    " : "")) + ParamType(spec.args[i]) +
         (multiline ? " __restrict " : " ") + spec.args[i].name;
  }
  return s + ")";
}

class CpuBackend final : public Backend {
 public:
  std::string_view name() const override { return "cpu"; }

  std::string Contract(const TaskSpec& spec) const override {
    std::ostringstream h;
    h << "// evokernel kernel contract (ABI v" << kAbiVersion << ", backend: cpu)\n";
    h << "// Task: " << spec.ref.id;
    if (!spec.doc.empty()) h << " -- " << spec.doc.substr(0, spec.doc.find('\n'));
    h << "\n//\n";
    h << "// Implement evokernel_forward (declared at the end of this header) in C++17. It is built\n"
         "// with: g++ -std=c++17 -O3 -march=native -fopenmp -fPIC -shared. This header is\n"
         "// force-included; OpenMP and SIMD intrinsics (<immintrin.h>) are allowed.\n//\n";
    h << "// Arguments, in order:\n";
    size_t w = 4;
    for (const auto& a : spec.args) w = std::max(w, a.name.size());
    for (const auto& a : spec.args) {
      std::string role(ArgRoleName(a.role));
      h << "//   " << a.name << std::string(w - a.name.size() + 2, ' ') << role
        << std::string(8 - role.size(), ' ') << DTypeName(a.dtype) << " " << ShapeString(a.shape)
        << (a.shape.empty() ? " (0-dim: one element)" : "") << "  (" << a.source << ")\n";
    }
    h << "//\n"
         "// All tensors are contiguous, row-major (C order), 64-byte aligned and non-overlapping.\n"
         "// Inputs and parameters are read-only. Every element of every output must be written:\n"
         "// outputs hold garbage on entry. Return only when all work is finished, and keep no\n"
         "// state between calls. The number of threads available is omp_get_max_threads().\n";
    if (!spec.init_inputs.empty()) {
      h << "// The PyTorch module was built as Model(";
      for (size_t i = 0; i < spec.init_inputs.size(); ++i) h << (i ? ", " : "") << PythonLiteral(spec.init_inputs[i]);
      h << ").\n";
    }
    h << "\n#pragma once\n#include <cstddef>\n#include <cstdint>\n\nnamespace evokernel_task {\n";
    std::set<std::string> used;
    for (const auto& a : spec.args) used.insert(a.name);
    if (!spec.constants.empty()) h << "// Module-level constants of the task file\n";
    for (const auto& [k, v] : spec.constants.items()) {
      auto decl = ConstantDecl(k, v);
      if (decl && !used.count(k)) {
        h << *decl << "\n";
        used.insert(k);
      } else {
        h << "// " << k << " = " << v.dump() << "\n";
      }
    }
    if (!spec.scalar_args.empty()) h << "// Non-tensor forward() arguments (fixed for this task)\n";
    for (const auto& s : spec.scalar_args) {
      std::string n = s.value("name", "");
      auto decl = ConstantDecl(n, s["value"]);
      if (decl && !used.count(n)) {
        h << *decl << "\n";
        used.insert(n);
      } else {
        h << "// " << n << " = " << s["value"].dump() << "\n";
      }
    }
    h << "// Argument shapes\n";
    for (const auto& a : spec.args) {
      h << "inline constexpr int64_t " << a.name << "_shape[] = {";
      for (size_t i = 0; i < a.shape.size(); ++i) h << (i ? ", " : "") << a.shape[i];
      if (a.shape.empty()) h << "1";  // 0-dim tensor: one element
      h << "};\n";
      h << "inline constexpr int64_t " << a.name << "_numel = " << NumElements(a.shape) << ";\n";
    }
    h << "}  // namespace evokernel_task\n\n";
    h << Signature(spec, true) << ";\n";
    return h.str();
  }

  const SourceLanguage& language() const override {
    static const SourceLanguage lang{"C++17", ".cpp", {"cpp", "c++", "cxx", "c"}, "evokernel_forward", kKernelName,
                                     "reply with the complete kernel source in one ```cpp fenced block that defines "
                                     "extern \"C\" evokernel_forward as declared in the contract header"};
    return lang;
  }

  std::string_view device() const override { return "cpu"; }

  Result<std::string> BuildKey() const override {
    const std::string& version = CompilerVersion();
    if (version.empty())
      return Unavailable("C++ compiler '" + Compiler() + "' not found or not working (install g++ with "
                         "scripts/install-deps.sh, or set EVOKERNEL_CXX)");
    std::string flags;
    for (const auto& f : Flags()) flags += f + " ";
    const Pch& pch = Precompiled();
    // "rules:vN" changes whenever the anti-cheat rules or scanner do: cached verdicts of an
    // older scanner are not reused.
    return "cpu\n" + version + "\n" + CpuIdentity() + "\n" + flags + "\n" + (pch.header ? "pch:" + pch.id + "\n" : "") +
           "rules:v3\nabi:" + std::to_string(kAbiVersion) + "\n";
  }

  Status Stage(const TaskSpec& spec, std::string_view source, const fs::path& dir) const override {
    EVK_RETURN_IF_ERROR(WriteFileAtomic(dir / kHeaderName, Contract(spec)));
    EVK_RETURN_IF_ERROR(WriteFileAtomic(dir / kKernelName, source));
    return WriteFileAtomic(dir / kEntryName, EntrySource(spec));
  }

  Status CheckSource(const TaskSpec&, std::string_view source, const fs::path& dir, CheckReport& report) const override {
    // Directives in the raw text (line markers, computed or absolute includes, forbidden
    // headers), forbidden names in the preprocessed kernel (macros expanded), and every file the
    // preprocessor entered. A kernel that includes a file outside the system headers (to have
    // its lines quoted back in compiler errors) is refused before anything is compiled.
    ScanDirectives(source, report, {kHeaderName});
    // With the precompiled header (loaded, not expanded: -fpch-preprocess) the pass skips
    // re-reading <immintrin.h>; the kernel's own text and macros are expanded either way.
    const Pch& pch = Precompiled();
    std::vector<std::string> argv = PchCommand(Compiler(), {"-E"});
    if (pch.header) argv.insert(argv.end(), {"-fpch-preprocess", "-include", pch.header->string()});
    argv.insert(argv.end(), {"-I.", "-include", kHeaderName, kKernelName});
    ResourceLimits limits;
    limits.cpu_seconds = 60;
    EVK_ASSIGN_OR_RETURN(auto pr, RunTool(argv, dir, std::chrono::seconds(60), limits, size_t{256} << 20));
    // A preprocessing error is a compile error: the compiler reports it in Compile.
    if (pr.exit.ok()) {
      std::vector<std::string> included;
      ScanPreprocessed(pr.out, kKernelName, source, report, &included);
      std::vector<std::string> generated = {kHeaderName};
      if (pch.header) generated.push_back(pch.header->string());
      CheckIncludedFiles(included, SystemIncludeDirs(), generated, report);
    }
    return Status::Ok();
  }

  Result<CompileOutput> Compile(const TaskSpec& spec, const fs::path& dir, const BuildOptions& options) const override {
    CompileOutput c;
    const Pch& pch = Precompiled();
    std::vector<std::string> argv = {Compiler()};
    for (const auto& f : Flags()) argv.push_back(f);
    if (pch.header) {
      argv.push_back("-include");
      argv.push_back(pch.header->string());
    }
    for (const char* a : {"-I.", "-include", kHeaderName, "-include", kEntryName, kKernelName, "-o", "kernel.so"})
      argv.push_back(a);
    ResourceLimits limits;
    limits.cpu_seconds = static_cast<uint64_t>(options.timeout.count()) + 5;
    limits.address_space_bytes = uint64_t{8} << 30;
    limits.file_size_bytes = uint64_t{512} << 20;
    for (size_t i = 0; i < argv.size(); ++i) c.command += (i ? " " : "") + argv[i];
    auto start = Clock::now();
    EVK_ASSIGN_OR_RETURN(auto cr, RunTool(argv, dir, options.timeout, limits));
    c.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::string log = cr.err + cr.out;
    if (cr.timed_out) {
      c.timed_out = true;
      c.feedback = "compilation did not finish within " + std::to_string(options.timeout.count()) +
                   " s (runaway templates or constexpr evaluation?)";
      c.log = TrimCompilerOutput(log, dir.string(), 400, 64000);
      return c;
    }
    std::error_code ec;
    c.ok = cr.exit.ok() && fs::exists(dir / "kernel.so", ec);
    if (!c.ok) {
      c.feedback = TrimCompilerOutput(log, dir.string(), 40, 4000, kKernelName);
      if (log.find("undefined reference to `evokernel_forward'") != std::string::npos)
        c.feedback += "hint: the kernel must define " + Signature(spec, false) + " exactly as declared in " +
                      kHeaderName + "\n";
      if (!cr.exit.exited) c.feedback = "compiler " + cr.exit.Describe() + "\n" + c.feedback;
    } else {
      c.artifact = "kernel.so";
      if (!log.empty()) c.feedback = TrimCompilerOutput(log, dir.string(), 10, 1500, kKernelName);
    }
    // Private paths are stripped from the stored log too.
    c.log = TrimCompilerOutput(log, dir.string(), 400, 64000, kKernelName);
    return c;
  }

  Status CheckArtifact(const fs::path& dir, const CompileOutput& compiled, CheckReport& report) const override {
    // What the object imports and links.
    return ScanObject(dir / compiled.artifact, report);
  }

  Result<PeaksProbe> Peaks(int threads) const override {
    return PeaksProbe{"cpu:" + CpuModelName() + ":" + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)),
                      {HelperExecutable("evokernel-peaks", "EVOKERNEL_PEAKS").string(), "--threads",
                       std::to_string(std::max(threads, 1))}};
  }

  nlohmann::json Toolchain() const override {
    std::string flags;
    for (const auto& f : Flags()) flags += (flags.empty() ? "" : " ") + f;
    const Pch& pch = Precompiled();
    return {{"compiler", CompilerVersion()}, {"flags", flags}, {"cpu", CpuIdentity()},
            {"abi_version", kAbiVersion}, {"precompiled_header", pch.note}};
  }

 private:
  // Built on first use, once per process (thread-safe static initialisation).
  static const Pch& Precompiled() {
    static const Pch pch = BuildPch(Compiler(), CompilerVersion(), CpuIdentity());
    return pch;
  }

  static std::string EntrySource(const TaskSpec& spec) {
    std::ostringstream s;
    s << "// Generated by evokernel: the runner calls evokernel_entry with the argument array.\n"
      << "#pragma once\n#include \"" << kHeaderName << "\"\n"
      << "extern \"C\" int evokernel_abi_version() { return " << kAbiVersion << "; }\n"
      << "extern \"C\" int evokernel_num_args() { return " << spec.args.size() << "; }\n"
      << "extern \"C\" void evokernel_entry(void* const* args) {\n  evokernel_forward(";
    for (size_t i = 0; i < spec.args.size(); ++i) {
      s << (i ? ",\n      " : "") << "static_cast<" << ParamType(spec.args[i]) << ">(args[" << i << "])";
    }
    s << ");\n}\n";
    return s.str();
  }
};

}  // namespace

std::unique_ptr<Backend> NewCpuBackend() { return std::make_unique<CpuBackend>(); }

}  // namespace evokernel
