// The OpenCL backend: kernels are OpenCL C 1.2 programs with a launch plan (`//@launch` lines,
// plan_parser.h), run on an OpenCL device (PoCL's CPU device here, any ICD elsewhere). No
// model-written host code runs: the plan is resolved here against the task into plan.json, and
// the runner's OpenCL device (src/runner/devices/opencl_device.cpp) only follows it.
//
// Build: the task's names are prepended to the kernel as __constant values (the contract's
// prelude), followed by `#line 1 "kernel.cl"` so diagnostics point at the kernel's own lines.
// evokernel-clc (clc_main.cpp) builds the program for the device, checks the plan against the
// built kernels (names, argument kinds, work-group sizes, local memory) and writes the program
// binary; with PoCL the binary carries the compiled work-group functions for every local size
// of the plan, so nothing is compiled or linked inside the sandbox.
//
// Anti-cheat (anticheat.h, OpenCL section): directives in the raw text, forbidden names in the
// preprocessed text, and every object the driver compiled (imports, load-time code, writable
// data, disassembly).
#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "backend/backend.h"
#include "backend/build_pipeline.h"
#include "backend/opencl/plan_parser.h"
#include "common/fs.h"
#include "common/strings.h"
#include "common/subprocess.h"

namespace evokernel {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kKernelName = "kernel.cl";
constexpr const char* kPreludeName = "evokernel_task.cl";
constexpr const char* kProgramName = "program.cl";  // prelude + kernel, what is built
constexpr const char* kPlanName = "plan.json";
constexpr const char* kPoclCache = "pocl-cache";
constexpr int kAbiVersion = 1;

fs::path ClcPath() { return HelperExecutable("evokernel-clc", "EVOKERNEL_CLC"); }

// EVOKERNEL_OPENCL_DEVICE=PLATFORM:DEVICE (default 0:0).
std::pair<int, int> DeviceSelection() {
  int p = 0, d = 0;
  if (const char* s = std::getenv("EVOKERNEL_OPENCL_DEVICE"); s && *s) std::sscanf(s, "%d:%d", &p, &d);
  return {p, d};
}

std::string DeviceArg() {
  auto [p, d] = DeviceSelection();
  return std::to_string(p) + ":" + std::to_string(d);
}

// `evokernel-clc info`, once per process. Empty with the reason in *error when it fails.
const nlohmann::json& DeviceInfo(std::string* error = nullptr) {
  static std::string err;
  static const nlohmann::json info = [] {
    SpawnOptions so;
    so.argv = {ClcPath().string(), "info", "--device", DeviceArg()};
    auto r = RunCommand(so, std::chrono::seconds(60));
    if (!r.ok()) {
      err = r.status().message();
      return nlohmann::json();
    }
    if (!r->exit.ok()) {
      err = Trim(r->err);
      return nlohmann::json();
    }
    try {
      return nlohmann::json::parse(r->out);
    } catch (const std::exception& e) {
      err = std::string("evokernel-clc info printed malformed JSON: ") + e.what();
      return nlohmann::json();
    }
  }();
  if (error) *error = err;
  return info;
}

std::string CType(DType t) {
  switch (t) {
    case DType::kFloat32: return "float";
    case DType::kFloat64: return "double";
    case DType::kInt64: return "long";
    case DType::kInt32: return "int";
    case DType::kBool:
    case DType::kUInt8: return "uchar";
  }
  return "uchar";
}

std::string FloatLiteral(double v) {
  std::ostringstream o;
  o.precision(9);
  o << v;
  std::string s = o.str();
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  if (s == "inf") return "INFINITY";
  if (s == "-inf") return "-INFINITY";
  if (s == "nan") return "NAN";
  return s + "f";
}

// Names an OpenCL C program cannot declare (keywords, types, common built-ins): a task constant
// with such a name is usable in the plan only.
bool Reserved(const std::string& n) {
  static const std::set<std::string> kReserved = {
      "kernel", "global", "local", "constant", "private", "read_only", "write_only", "read_write", "half",
      "bool", "char", "uchar", "short", "ushort", "int", "uint", "long", "ulong", "float", "double", "size_t",
      "ptrdiff_t", "intptr_t", "uintptr_t", "void", "event_t", "sampler_t", "image2d_t", "image3d_t", "min", "max",
      "clamp", "sign", "step", "mix", "dot", "cross", "length", "distance", "normalize", "abs", "exp", "log", "pow",
      "sqrt", "fma", "mad", "sin", "cos", "tan", "floor", "ceil", "round", "select", "any", "all", "signed",
      "unsigned", "struct", "union", "enum", "typedef", "static", "extern", "const", "restrict", "volatile",
      "inline", "if", "else", "for", "while", "do", "switch", "case", "default", "break", "continue", "return",
      "goto", "sizeof"};
  return kReserved.count(n) > 0;
}

// The task's names as __constant values, in a stable order.
std::string Prelude(const TaskSpec& spec) {
  std::ostringstream p;
  p << "// evokernel: the task's names (contract ABI v" << kAbiVersion << ", backend: opencl)\n";
  for (const auto& [name, v] : opencl::PlanNames(spec)) {
    if (Reserved(name)) continue;
    if (v.is_int) p << "__constant long " << name << " = " << v.i << "L;\n";
    else p << "__constant float " << name << " = " << FloatLiteral(v.f) << ";\n";
  }
  return p.str();
}

// Adds the kernel's own source line under each diagnostic that names it ("kernel.cl:12:5: ..."),
// since the OpenCL driver's log quotes none.
std::string QuoteKernelLines(const std::string& log, std::string_view source) {
  std::vector<std::string> lines;
  {
    std::istringstream in{std::string(source)};
    for (std::string l; std::getline(in, l);) lines.push_back(l);
  }
  std::ostringstream out;
  std::istringstream in(log);
  const std::string key = std::string(kKernelName) + ":";
  for (std::string l; std::getline(in, l);) {
    out << l << "\n";
    size_t p = l.find(key);
    if (p == std::string::npos) continue;
    int n = std::atoi(l.c_str() + p + key.size());
    if (n >= 1 && static_cast<size_t>(n) <= lines.size())
      out << "  " << n << " | " << lines[static_cast<size_t>(n) - 1] << "\n";
  }
  return out.str();
}

class OpenClBackend final : public Backend {
 public:
  std::string_view name() const override { return "opencl"; }

  const SourceLanguage& language() const override {
    static const SourceLanguage lang{"OpenCL C 1.2 with a launch plan", ".cl", {"opencl", "cl", "c"}, "//@launch",
                                     kKernelName,
                                     "reply with the complete kernel file in one ```opencl fenced block: the __kernel "
                                     "functions and one //@launch line per launch (see the contract)"};
    return lang;
  }

  std::string_view device() const override { return "opencl"; }

  std::string Contract(const TaskSpec& spec) const override {
    std::ostringstream h;
    h << "// evokernel kernel contract (ABI v" << kAbiVersion << ", backend: opencl)\n";
    h << "// Task: " << spec.ref.id;
    if (!spec.doc.empty()) h << " -- " << spec.doc.substr(0, spec.doc.find('\n'));
    h << "\n//\n"
         "// Write OpenCL C 1.2 __kernel functions and a launch plan: one `//@launch` line per kernel\n"
         "// launch, run in the order written on one in-order queue. No host code: evokernel uploads\n"
         "// the inputs, launches exactly what the plan says, and reads the outputs back. Built with\n"
         "// clBuildProgram(\"-cl-std=CL1.2\"); the declarations at the end of this contract are\n"
         "// prepended to the kernel.\n//\n";
    h << "// Arguments (pass them by name in args=( ); each is a buffer):\n";
    size_t w = 4;
    for (const auto& a : spec.args) w = std::max(w, a.name.size());
    for (const auto& a : spec.args) {
      std::string role(ArgRoleName(a.role));
      const bool out = a.role == ArgRole::kOutput;
      h << "//   " << a.name << std::string(w - a.name.size() + 2, ' ') << role << std::string(8 - role.size(), ' ')
        << DTypeName(a.dtype) << " " << ShapeString(a.shape) << "  -> __global " << (out ? "" : "const ") << CType(a.dtype)
        << "*\n";
    }
    h << "//\n"
         "// Launch plan lines (expressions use + - * / %, min, max, ceil_div, round_up and the names\n"
         "// declared below):\n"
         "//   //@launch KERNEL global=(G0[, G1[, G2]]) local=(L0[, L1[, L2]]) args=(ARG, ...)\n"
         "//       ARG: an argument name above; a scratch buffer name; local(TYPE, COUNT) for a __local\n"
         "//       pointer; an integer expression for an int parameter; long(E); float(E).\n"
         "//       Each global size must be a multiple of its local size: use round_up(n, L) and guard\n"
         "//       the extra work-items with an if.\n"
         "//   //@buffer NAME TYPE COUNT      a __global scratch buffer (garbage on entry to every call)\n"
         "//   //@options -cl-mad-enable ...  allowed: ";
    for (size_t i = 0; i < opencl::AllowedBuildOptions().size(); ++i)
      h << (i ? " " : "") << opencl::AllowedBuildOptions()[i];
    h << "\n//\n"
         "// Rules: inputs are read-only. Every element of every output must be written: outputs hold\n"
         "// garbage on entry. Keep no state between calls. No printf, no #include (every built-in is\n"
         "// available), only the fp64/fp16/atomics extensions.\n";
    if (!spec.init_inputs.empty()) {
      h << "// The PyTorch module was built as Model(";
      for (size_t i = 0; i < spec.init_inputs.size(); ++i) h << (i ? ", " : "") << spec.init_inputs[i].dump();
      h << ").\n";
    }
    h << "\n" << Prelude(spec);
    return h.str();
  }

  Result<std::string> BuildKey() const override {
    std::string err;
    const nlohmann::json& info = DeviceInfo(&err);
    if (info.is_null())
      return Unavailable("no OpenCL device: " + err +
                         " (install ocl-icd-libopencl1 and pocl-opencl-icd with scripts/install-deps.sh, or set "
                         "EVOKERNEL_OPENCL_DEVICE=PLATFORM:DEVICE)");
    // "rules:vN" changes whenever the OpenCL anti-cheat rules or the plan checks do.
    return "opencl\n" + info.dump() + "\nselected:" + DeviceArg() + "\nrules:v2\nabi:" + std::to_string(kAbiVersion) + "\n";
  }

  Status Stage(const TaskSpec& spec, std::string_view source, const fs::path& dir) const override {
    EVK_RETURN_IF_ERROR(WriteFileAtomic(dir / kKernelName, source));
    const std::string prelude = Prelude(spec);
    EVK_RETURN_IF_ERROR(WriteFileAtomic(dir / kPreludeName, prelude));
    return WriteFileAtomic(dir / kProgramName,
                           prelude + "#line 1 \"" + kKernelName + "\"\n" + std::string(source) + "\n");
  }

  Status CheckSource(const TaskSpec&, std::string_view source, const fs::path& dir, CheckReport& report) const override {
    ScanOpenClDirectives(source, report);
    // The kernel's text with macros expanded (the C preprocessor reads OpenCL C the same way).
    std::vector<std::string> argv = {"g++",        "-E",
                                     "-x",         "c",
                                     "-nostdinc",  "-undef",
                                     "-D__OPENCL_VERSION__=120", "-D__OPENCL_C_VERSION__=120",
                                     "-DCL_VERSION_1_0=100",     "-DCL_VERSION_1_1=110",
                                     "-DCL_VERSION_1_2=120",     "-D__ENDIAN_LITTLE__=1",
                                     "-D__kernel_exec(X,typen)=__kernel", kKernelName};
    ResourceLimits limits;
    limits.cpu_seconds = 30;
    EVK_ASSIGN_OR_RETURN(auto pr, RunTool(argv, dir, std::chrono::seconds(30), limits, size_t{64} << 20));
    // A preprocessing error is a build error: the OpenCL compiler reports it in Compile.
    if (pr.exit.ok()) ScanOpenClPreprocessed(pr.out, kKernelName, source, report);
    return Status::Ok();
  }

  Result<CompileOutput> Compile(const TaskSpec& spec, const fs::path& dir, const BuildOptions& options) const override {
    CompileOutput c;
    EVK_ASSIGN_OR_RETURN(std::string source, ReadFile(dir / kKernelName));
    auto plan = opencl::ResolvePlan(source, spec, kKernelName);
    if (!plan.ok()) {
      c.feedback = QuoteKernelLines(plan.status().message(), source);
      c.log = c.feedback;
      c.command = "(launch plan)";
      return c;
    }
    auto [platform, device] = DeviceSelection();
    plan->platform = platform;
    plan->device = device;
    // PoCL compiles one work-group function per local size into a binary, specialised for
    // grids narrower than 65535 work-items or not. A local size needed with both grid kinds
    // takes a second binary (a program variant, built apart).
    std::vector<std::string> specs;  // per variant: POCL_BINARY_SPECIALIZE_WG
    {
      std::vector<std::map<std::string, bool>> chosen;  // per variant: local size -> small grid
      for (auto& l : plan->launches) {
        std::string key;
        for (size_t d = 0; d < 3; ++d) key += (d ? "-" : "") + std::to_string(d < l.local.size() ? l.local[d] : 1);
        const bool small = *std::max_element(l.global.begin(), l.global.end()) < 65535;
        size_t v = 0;
        for (; v < chosen.size(); ++v) {
          auto it = chosen[v].find(key);
          if (it == chosen[v].end()) {
            chosen[v][key] = small;
            break;
          }
          if (it->second == small) break;
        }
        if (v == chosen.size()) chosen.push_back({{key, small}});
        l.variant = static_cast<int>(v);
      }
      for (const auto& m : chosen) {
        std::string list;
        for (const auto& [key, small] : m) list += (list.empty() ? "" : ",") + key + "-goffs0" + (small ? "-smallgrid" : "");
        specs.push_back(list);
      }
      plan->variants = static_cast<int>(specs.size());
    }
    nlohmann::json pj = plan->ToJson();
    // For the compiler tool's checks: the contract's names and element types.
    std::vector<std::string> names, dtypes;
    for (const auto& a : spec.args) {
      names.push_back(a.name);
      dtypes.emplace_back(DTypeName(a.dtype));
    }
    pj["arg_names"] = names;
    pj["arg_dtypes"] = dtypes;
    EVK_RETURN_IF_ERROR(WriteFileAtomic(dir / kPlanName, pj.dump(2)));
    c.command = "evokernel-clc build (clBuildProgram -cl-std=CL1.2 -cl-kernel-arg-info" +
                (plan->options.empty() ? "" : " " + plan->options) + ")";
    ResourceLimits limits;
    limits.cpu_seconds = static_cast<uint64_t>(options.timeout.count()) + 5;
    limits.address_space_bytes = uint64_t{16} << 30;  // LLVM maps generously
    limits.file_size_bytes = uint64_t{512} << 20;
    auto start = Clock::now();
    CommandResult cr;
    std::string log;
    for (size_t v = 0; v < specs.size(); ++v) {
      std::vector<std::string> argv = {ClcPath().string(), "build",       "--device",      DeviceArg(),
                                       "--source",         kProgramName,  "--plan",        kPlanName,
                                       "--out",            LaunchPlan::VariantFile(static_cast<int>(v)),
                                       "--kernel-file",    kKernelName,   "--cache-dir",   (dir / kPoclCache).string(),
                                       "--specialize",     specs[v],      "--variant",     std::to_string(v)};
      EVK_ASSIGN_OR_RETURN(cr, RunTool(argv, dir, options.timeout, limits));
      if (v == 0) log = cr.err + cr.out;  // later variants repeat the same diagnostics
      if (cr.timed_out || !cr.exit.ok()) {
        if (v > 0) log = cr.err + cr.out;
        break;
      }
    }
    c.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (cr.timed_out) {
      c.timed_out = true;
      c.feedback = "the OpenCL build did not finish within " + std::to_string(options.timeout.count()) + " s";
      c.log = TrimCompilerOutput(log, dir.string(), 400, 64000, kKernelName);
      return c;
    }
    std::error_code ec;
    if (cr.exit.exited && cr.exit.exit_code == 2) {
      // The tool itself could not work: not the kernel's fault.
      return Unavailable("evokernel-clc failed: " + Trim(log).substr(0, 2000));
    }
    if (cr.exit.ok()) {
      // The tool said it succeeded: every program binary must be there. If one is missing the
      // tool failed, not the kernel, and nothing may be cached as the kernel's verdict.
      for (size_t v = 0; v < specs.size(); ++v)
        if (!fs::exists(dir / LaunchPlan::VariantFile(static_cast<int>(v)), ec))
          return Internal("evokernel-clc reported success but wrote no " +
                          LaunchPlan::VariantFile(static_cast<int>(v)) + "; its output: " + Trim(log).substr(0, 2000));
    }
    c.ok = cr.exit.ok();
    const std::string quoted = QuoteKernelLines(TrimCompilerOutput(log, dir.string(), 40, 4000, kKernelName), source);
    if (!c.ok) {
      c.feedback = quoted.empty() ? "the OpenCL build failed (" + cr.exit.Describe() + ")" : quoted;
      if (!cr.exit.exited) c.feedback = "the OpenCL compiler " + cr.exit.Describe() + "\n" + c.feedback;
    } else {
      c.artifact = LaunchPlan::VariantFile(0);  // the others lie next to it
      c.feedback = quoted;
    }
    c.log = TrimCompilerOutput(log, dir.string(), 400, 64000, kKernelName);
    return c;
  }

  Status CheckArtifact(const fs::path& dir, const CompileOutput&, CheckReport& report) const override {
    // Every object the driver compiled from the kernel (PoCL: one per kernel and local size).
    std::error_code ec;
    int objects = 0;
    for (auto it = fs::recursive_directory_iterator(dir / kPoclCache, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (!it->is_regular_file() || it->path().extension() != ".so") continue;
      ++objects;
      EVK_RETURN_IF_ERROR(ScanDeviceObject(it->path(), report));
    }
    // A driver that keeps no objects on disk (objects == 0) leaves nothing to inspect here; the
    // source rules and the runtime sandbox still apply (docs/backends.md).
    (void)objects;
    return Status::Ok();
  }

  Result<PeaksProbe> Peaks(int threads) const override {
    std::string err;
    const nlohmann::json& info = DeviceInfo(&err);
    if (info.is_null()) return Unavailable("no OpenCL device: " + err);
    return PeaksProbe{"opencl:" + info.value("platform_version", std::string()) + ":" + info.value("device", std::string()) +
                          ":" + info.value("driver_version", std::string()),
                      {ClcPath().string(), "peaks", "--threads", std::to_string(std::max(threads, 1)), "--device",
                       DeviceArg()}};
  }

  nlohmann::json Toolchain() const override {
    nlohmann::json t = DeviceInfo();
    if (t.is_null()) t = nlohmann::json::object();
    t["compiler"] = "evokernel-clc (" + t.value("platform_version", std::string("OpenCL")) + ")";
    t["flags"] = "-cl-std=CL1.2";
    t["abi_version"] = kAbiVersion;
    t["selected_device"] = DeviceArg();
    return t;
  }
};

}  // namespace

std::unique_ptr<Backend> NewOpenClBackend() { return std::make_unique<OpenClBackend>(); }

}  // namespace evokernel
