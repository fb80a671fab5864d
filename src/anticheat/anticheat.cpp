#include "anticheat/anticheat.h"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

#include "common/subprocess.h"

namespace evokernel {
namespace {

struct Rule {
  const char* rule;
  const char* advice;
};

// Exact identifiers.
const std::map<std::string, Rule, std::less<>>& Exact() {
  static const auto* m = [] {
    auto* r = new std::map<std::string, Rule, std::less<>>();
    auto add = [&](const char* rule, const char* advice, std::initializer_list<const char*> names) {
      for (const char* n : names) (*r)[n] = Rule{rule, advice};
    };
    add("process", "kernels may not start or signal processes",
        {"fork", "vfork", "clone", "clone3", "execve", "execveat", "execv", "execvp", "execvpe",
         "execl", "execlp", "execle", "system", "popen", "pclose", "posix_spawn", "posix_spawnp",
         "kill", "killpg", "tgkill", "ptrace", "daemon", "setsid", "setpgid", "prctl", "wait",
         "waitpid", "wait3", "wait4", "waitid", "_exit", "_Exit", "exit", "quick_exit", "abort_handler_s"});
    add("network", "kernels may not use the network",
        {"socket", "socketpair", "connect", "bind", "listen", "accept", "accept4", "send", "sendto",
         "sendmsg", "recv", "recvfrom", "recvmsg", "getaddrinfo", "gethostbyname", "inet_pton",
         "inet_addr", "curl_easy_init", "curl_easy_perform"});
    add("file", "kernels may not touch files or file descriptors",
        {"fopen", "fopen64", "freopen", "fdopen", "open", "open64", "openat", "openat2", "creat",
         "read", "write", "pread", "pwrite", "readv", "writev", "close", "dup", "dup2", "dup3",
         "fcntl", "ioctl", "lseek", "remove", "unlink", "unlinkat", "rename", "renameat", "mkdir",
         "rmdir", "opendir", "readdir", "scandir", "stat", "lstat", "fstat", "access", "chdir",
         "chmod", "chown", "truncate", "ftruncate", "symlink", "link", "mkfifo", "pipe", "pipe2",
         "ifstream", "ofstream", "fstream", "filebuf", "basic_ifstream", "basic_ofstream",
         "basic_fstream", "filesystem", "tmpfile", "mkstemp", "mmap", "mmap64", "shm_open",
         "memfd_create", "sendfile", "splice"});
    add("memory", "kernels may not change memory protection or read other processes' memory",
        {"mprotect", "pkey_mprotect", "pkey_alloc", "process_vm_readv", "process_vm_writev", "mseal",
         "remap_file_pages", "personality"});
    add("preprocessor", "kernels may not change how the compiler attributes their text",
        {"system_header"});
    add("environment", "kernels may not read or change the environment",
        {"getenv", "secure_getenv", "setenv", "putenv", "unsetenv", "clearenv", "environ",
         "__environ"});
    add("dynamic_loading", "kernels may not load code at run time",
        {"dlopen", "dlmopen", "dlsym", "dlvsym", "dladdr", "dlinfo", "dl_iterate_phdr", "getauxval",
         "_r_debug", "_dl_debug_state", "link_map", "__libc_dlopen_mode", "__libc_dlsym"});
    add("syscall", "kernels may not issue raw system calls or inline assembly (intrinsics are fine)",
        {"syscall", "asm", "__asm", "__asm__"});
    add("clock", "kernels may not read clocks or timers (no behaviour may depend on timing)",
        {"clock_gettime", "gettimeofday", "chrono", "rdtsc", "__rdtsc", "__rdtscp", "_rdtsc",
         "omp_get_wtime", "omp_get_wtick", "timespec_get", "getrusage", "times", "alarm",
         "setitimer", "timer_create", "__builtin_ia32_rdtsc", "__builtin_ia32_rdtscp",
         "__builtin_readcyclecounter", "__builtin_ia32_rdpid", "_rdtscp", "clock", "time"});
    add("threads", "parallelise with OpenMP only; threads outside OpenMP may outlive the call",
        {"thread", "jthread", "async", "pthread_create", "pthread_detach", "detach",
         "thrd_create", "signal", "sigaction", "sigprocmask", "pthread_kill", "setjmp",
         "longjmp", "sigsetjmp", "siglongjmp", "omp_pause_resource", "omp_pause_resource_all",
         "setpriority", "nice", "sched_setaffinity", "sched_setscheduler", "sched_setparam",
         "pthread_setaffinity_np", "pthread_setschedparam", "setrlimit", "prlimit", "prlimit64"});
    add("load_time_code", "no code may run when the library is loaded",
        {"constructor", "destructor", "init_priority"});
    add("reference_library", "compute the result yourself; calls into libraries that do the work are not allowed",
        {"torch", "at", "c10", "aten", "Eigen", "cblas", "openblas_set_num_threads", "mkl",
         "dnnl", "oneapi", "cudnn", "cublas", "xla", "blis"});
    return r;
  }();
  return *m;
}

// Prefixes (BLAS/LAPACK and vendor libraries).
const std::vector<std::pair<std::string, Rule>>& Prefixes() {
  static const std::vector<std::pair<std::string, Rule>> p = {
      {"cblas_", {"reference_library", "BLAS is not allowed; compute the result yourself"}},
      {"lapacke_", {"reference_library", "LAPACK is not allowed"}},
      {"LAPACKE_", {"reference_library", "LAPACK is not allowed"}},
      {"mkl_", {"reference_library", "MKL is not allowed"}},
      {"dnnl_", {"reference_library", "oneDNN is not allowed"}},
      {"openblas_", {"reference_library", "OpenBLAS is not allowed"}},
      {"cublas", {"reference_library", "cuBLAS is not allowed"}},
      {"cudnn", {"reference_library", "cuDNN is not allowed"}},
      {"pthread_create", {"threads", "parallelise with OpenMP only"}},
  };
  return p;
}

// Fortran BLAS/LAPACK symbols: sgemm_, dgemv_, ...
bool IsFortranBlas(std::string_view s) {
  if (s.size() < 4 || s.size() > 8 || s.back() != '_') return false;
  static const std::set<std::string, std::less<>> names = {
      "sgemm_", "dgemm_", "cgemm_", "zgemm_", "sgemv_", "dgemv_", "saxpy_", "daxpy_", "sdot_",
      "ddot_", "ssyrk_", "dsyrk_", "strsm_", "dtrsm_", "sgetrf_", "dgetrf_", "sgesv_", "dgesv_",
      "sscal_", "dscal_", "snrm2_", "dnrm2_", "sger_", "dger_", "ssymm_", "dsymm_"};
  return names.count(s) > 0;
}

const Rule* Lookup(std::string_view name) {
  auto it = Exact().find(name);
  if (it != Exact().end()) return &it->second;
  for (const auto& [prefix, rule] : Prefixes())
    if (name.substr(0, prefix.size()) == prefix) return &rule;
  static const Rule kBlas{"reference_library", "BLAS/LAPACK is not allowed; compute the result yourself"};
  if (IsFortranBlas(name)) return &kBlas;
  return nullptr;
}

std::string Trim(std::string_view s) {
  size_t a = s.find_first_not_of(" \t\r");
  if (a == std::string_view::npos) return "";
  size_t b = s.find_last_not_of(" \t\r");
  std::string out(s.substr(a, b - a + 1));
  if (out.size() > 160) out = out.substr(0, 157) + "...";
  return out;
}

std::string LineOf(std::string_view source, int line) {
  int cur = 1;
  size_t start = 0;
  while (cur < line) {
    size_t nl = source.find('\n', start);
    if (nl == std::string_view::npos) return "";
    start = nl + 1;
    ++cur;
  }
  size_t end = source.find('\n', start);
  return Trim(source.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
}

bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

void AddFinding(CheckReport& report, const Rule& r, std::string symbol, int line, std::string excerpt) {
  // One finding per (symbol, line).
  for (const auto& f : report.findings)
    if (f.symbol == symbol && f.line == line) return;
  Finding f;
  f.rule = r.rule;
  f.symbol = std::move(symbol);
  f.line = line;
  f.excerpt = std::move(excerpt);
  f.message = r.advice;
  report.findings.push_back(std::move(f));
}

}  // namespace

std::string ForbiddenRule(std::string_view name) {
  const Rule* r = Lookup(name);
  return r ? r->rule : "";
}

std::string CheckReport::Feedback(std::string_view kernel_file) const {
  std::ostringstream s;
  s << "anti-cheat check failed (" << findings.size() << " finding" << (findings.size() == 1 ? "" : "s") << "):\n";
  for (const auto& f : findings) {
    if (f.line > 0)
      s << kernel_file << ":" << f.line << ": '" << f.symbol << "' (" << f.rule << "): " << f.message
        << "\n    " << f.excerpt << "\n";
    else
      s << "built object: '" << f.symbol << "' (" << f.rule << "): " << f.message << "\n";
  }
  s << "A kernel computes its outputs itself, in this process, from its arguments only.\n";
  return s.str();
}

nlohmann::json CheckReport::ToJson() const {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& f : findings)
    a.push_back({{"rule", f.rule}, {"symbol", f.symbol}, {"line", f.line}, {"excerpt", f.excerpt}, {"message", f.message}});
  return a;
}

namespace {

// Headers of libraries that do the work, or give access a kernel may not have.
const std::vector<std::pair<std::string, Rule>>& ForbiddenHeaders() {
  static const std::vector<std::pair<std::string, Rule>> bad = {
      {"torch/", {"reference_library", "PyTorch is the reference; a kernel may not call it"}},
      {"ATen/", {"reference_library", "PyTorch is the reference; a kernel may not call it"}},
      {"c10/", {"reference_library", "PyTorch is the reference; a kernel may not call it"}},
      {"cblas", {"reference_library", "BLAS is not allowed; compute the result yourself"}},
      {"openblas", {"reference_library", "BLAS is not allowed"}},
      {"lapack", {"reference_library", "LAPACK is not allowed"}},
      {"mkl", {"reference_library", "MKL is not allowed"}},
      {"dnnl", {"reference_library", "oneDNN is not allowed"}},
      {"oneapi/", {"reference_library", "oneDNN/oneAPI libraries are not allowed"}},
      {"Eigen/", {"reference_library", "Eigen is not allowed"}},
      {"eigen3/", {"reference_library", "Eigen is not allowed"}},
      {"sys/socket.h", {"network", "kernels may not use the network"}},
      {"netinet/", {"network", "kernels may not use the network"}},
      {"arpa/", {"network", "kernels may not use the network"}},
      {"netdb.h", {"network", "kernels may not use the network"}},
      {"curl/", {"network", "kernels may not use the network"}},
      {"dlfcn.h", {"dynamic_loading", "kernels may not load code at run time"}},
      {"fstream", {"file", "kernels may not touch files"}},
      {"filesystem", {"file", "kernels may not touch files"}},
      {"thread", {"threads", "parallelise with OpenMP only"}},
      {"future", {"threads", "parallelise with OpenMP only"}},
      {"chrono", {"clock", "kernels may not read clocks"}},
      {"sys/syscall.h", {"syscall", "kernels may not issue raw system calls"}},
      {"spawn.h", {"process", "kernels may not start processes"}},
      {"sys/wait.h", {"process", "kernels may not start processes"}},
      {"sys/mman.h", {"file", "kernels may not map files or memory directly"}},
      {"sys/auxv.h", {"dynamic_loading", "kernels may not read the auxiliary vector"}},
      {"link.h", {"dynamic_loading", "kernels may not walk the loaded libraries"}},
  };
  return bad;
}

// The rule a header name (as written in #include, or a path relative to an include
// directory) falls under, or nullptr.
const Rule* ForbiddenHeader(const std::string& header) {
  for (const auto& [needle, rule] : ForbiddenHeaders()) {
    bool match = needle.back() == '/' || needle.find('.') != std::string::npos
                     ? header.find(needle) != std::string::npos
                     : header == needle || header.find(needle) == 0;
    if (match) return &rule;
  }
  return nullptr;
}

}  // namespace

void ScanIncludes(std::string_view source, CheckReport& report) {
  std::istringstream in{std::string(source)};
  int line = 0;
  for (std::string l; std::getline(in, l);) {
    ++line;
    size_t p = l.find_first_not_of(" \t");
    if (p == std::string::npos || l[p] != '#') continue;
    size_t inc = l.find("include", p);
    if (inc == std::string::npos) continue;
    size_t open = l.find_first_of("<\"", inc);
    if (open == std::string::npos) continue;
    size_t close = l.find_first_of(">\"", open + 1);
    std::string header = l.substr(open + 1, close == std::string::npos ? std::string::npos : close - open - 1);
    if (const Rule* rule = ForbiddenHeader(header)) AddFinding(report, *rule, "#include <" + header + ">", line, Trim(l));
  }
}

void ScanDirectives(std::string_view source, CheckReport& report, const std::vector<std::string>& allowed_quoted) {
  ScanIncludes(source, report);
  // Translation phases 2 and 3, as far as directives need them: line splices removed,
  // comments replaced by a space; each character remembers its original line.
  std::string text;
  std::vector<int> line_of;
  {
    int line = 1;
    for (size_t i = 0; i < source.size(); ++i) {
      if (source[i] == '\\') {
        size_t j = i + 1;
        while (j < source.size() && (source[j] == ' ' || source[j] == '\t' || source[j] == '\r')) ++j;
        if (j < source.size() && source[j] == '\n') {  // a splice
          i = j;
          ++line;
          continue;
        }
      }
      text.push_back(source[i]);
      line_of.push_back(line);
      if (source[i] == '\n') ++line;
    }
  }
  std::string code;
  std::vector<int> code_line;
  for (size_t i = 0; i < text.size();) {
    char c = text[i];
    if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
      while (i < text.size() && text[i] != '\n') ++i;
      code.push_back(' ');
      code_line.push_back(line_of[std::min(i, line_of.size() - 1)]);
      continue;
    }
    if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
      size_t end = text.find("*/", i + 2);
      size_t stop = end == std::string::npos ? text.size() : end + 2;
      code.push_back(' ');
      code_line.push_back(line_of[i]);
      for (size_t k = i; k < stop; ++k)  // keep the newlines a block comment spans
        if (text[k] == '\n') {
          code.push_back('\n');
          code_line.push_back(line_of[k]);
        }
      i = stop;
      continue;
    }
    if (c == '"' || c == '\'') {  // literals: copied, but a comment marker inside is not one
      char q = c;
      code.push_back(c);
      code_line.push_back(line_of[i]);
      ++i;
      while (i < text.size() && text[i] != q && text[i] != '\n') {
        if (text[i] == '\\' && i + 1 < text.size()) {
          code.push_back(text[i]);
          code_line.push_back(line_of[i]);
          ++i;
        }
        code.push_back(text[i]);
        code_line.push_back(line_of[i]);
        ++i;
      }
      continue;
    }
    code.push_back(c);
    code_line.push_back(line_of[i]);
    ++i;
  }
  static const Rule kLine{"preprocessor", "line directives and line markers are not allowed in a kernel"};
  static const Rule kPragma{"preprocessor", "this pragma is not allowed in a kernel"};
  static const Rule kInclude{"include", "a kernel may include only standard and system headers, by name "
                                        "(#include <name>), and the contract header (#include \"evokernel_task.h\")"};
  // Each logical line.
  for (size_t start = 0; start < code.size();) {
    size_t end = code.find('\n', start);
    if (end == std::string::npos) end = code.size();
    std::string l = code.substr(start, end - start);
    const int line = code_line[start];
    const std::string excerpt = LineOf(source, line);
    start = end + 1;
    size_t p = l.find_first_not_of(" \t\r\f\v");
    if (p == std::string::npos) continue;
    if (l[p] == '#') ++p;
    else if (l.compare(p, 2, "%:") == 0) p += 2;
    else continue;
    while (p < l.size() && (l[p] == ' ' || l[p] == '\t')) ++p;
    if (p < l.size() && std::isdigit(static_cast<unsigned char>(l[p]))) {
      AddFinding(report, kLine, "# " + l.substr(p, 8), line, excerpt);
      continue;
    }
    size_t q = p;
    while (q < l.size() && IsIdentChar(l[q])) ++q;
    const std::string name = l.substr(p, q - p);
    std::string rest = l.substr(q);
    if (name == "line") {
      AddFinding(report, kLine, "#line", line, excerpt);
    } else if (name == "pragma") {
      if (rest.find("system_header") != std::string::npos || rest.find("dependency") != std::string::npos)
        AddFinding(report, kPragma, "#pragma" + rest.substr(0, 40), line, excerpt);
    } else if (name == "include_next" || name == "import" || name == "embed") {
      AddFinding(report, kInclude, "#" + name, line, excerpt);
    } else if (name == "include") {
      size_t a = rest.find_first_not_of(" \t");
      if (a == std::string::npos || (rest[a] != '<' && rest[a] != '"')) {
        AddFinding(report, kInclude, "#include (computed)", line, excerpt);
        continue;
      }
      char close = rest[a] == '<' ? '>' : '"';
      size_t b = rest.find(close, a + 1);
      std::string header = rest.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
      bool bad = header.empty() || header[0] == '/' || header.find("..") != std::string::npos ||
                 header.find('\\') != std::string::npos || header.find("//") != std::string::npos;
      if (close == '"' && std::find(allowed_quoted.begin(), allowed_quoted.end(), header) == allowed_quoted.end())
        bad = true;
      if (bad) AddFinding(report, kInclude, "#include " + std::string(1, rest[a]) + header + std::string(1, close), line, excerpt);
    }
  }
}

namespace {

// "# <digits> ..." at the start of a preprocessed line.
bool IsLineMarker(std::string_view s) {
  size_t k = 1;
  while (k < s.size() && s[k] == ' ') ++k;
  size_t digits = k;
  while (k < s.size() && s[k] >= '0' && s[k] <= '9') ++k;
  return k > digits && k > 1 && s[1] == ' ';
}

// Skips a string or character literal starting at pp[i] (the opening quote); returns the
// index after it. Raw strings (`raw`) end at )delimiter"; others at the closing quote or the
// end of the line. `newlines` counts the lines a raw string spans.
size_t SkipLiteral(std::string_view pp, size_t i, bool raw, int& newlines) {
  const size_t n = pp.size();
  if (raw) {
    size_t open = pp.find('(', i + 1);
    if (open == std::string_view::npos || open - i - 1 > 16) return i + 1;
    std::string closing = ")" + std::string(pp.substr(i + 1, open - i - 1)) + "\"";
    size_t end = pp.find(closing, open + 1);
    size_t stop = end == std::string_view::npos ? n : end + closing.size();
    for (size_t k = i; k < stop; ++k) newlines += pp[k] == '\n';
    return stop;
  }
  const char q = pp[i];
  ++i;
  while (i < n && pp[i] != q && pp[i] != '\n') i += pp[i] == '\\' ? 2 : 1;
  return std::min(n, i + 1);
}

}  // namespace

void ScanPreprocessed(std::string_view pp, std::string_view kernel_file, std::string_view source,
                      CheckReport& report, std::vector<std::string>* included) {
  (void)kernel_file;  // the main file is whatever the compiler was given, whatever its markers say
  // The include structure: one frame per file being read, entered on flag 1, left on flag 2.
  // Only the bottom frame can be the kernel's text (the compiler's <built-in> and
  // <command-line> pseudo-files aside); a marker without those flags is a line change within
  // the current file, and never changes whose text it is.
  std::vector<bool> frames = {true};
  bool in_kernel = true;
  int line = 1;
  size_t i = 0;
  const size_t n = pp.size();
  bool at_line_start = true;
  while (i < n) {
    char c = pp[i];
    if (at_line_start && c == '#' && IsLineMarker(pp.substr(i, 24))) {
      size_t end = pp.find('\n', i);
      std::string_view marker = pp.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i);
      size_t q1 = marker.find('"');
      size_t q2 = q1 == std::string_view::npos ? q1 : marker.find('"', q1 + 1);
      if (q1 != std::string_view::npos && q2 != std::string_view::npos) {
        std::string_view file = marker.substr(q1 + 1, q2 - q1 - 1);
        std::istringstream flags{std::string(marker.substr(q2 + 1))};
        bool enter = false, leave = false;
        for (int f; flags >> f;) {
          enter = enter || f == 1;
          leave = leave || f == 2;
        }
        if (enter) {
          frames.push_back(false);
          if (included) included->emplace_back(file);
        } else if (leave) {
          if (frames.size() > 1) frames.pop_back();
          if (frames.size() == 1) frames.back() = !(file.size() > 1 && file[0] == '<');
        } else if (frames.size() == 1) {
          frames.back() = !(file.size() > 1 && file[0] == '<');
        }
        in_kernel = frames.size() == 1 && frames.back();
        line = std::atoi(std::string(marker.substr(1, q1 - 1)).c_str());
      }
      i = end == std::string_view::npos ? n : end + 1;
      at_line_start = true;
      continue;
    }
    if (c == '\n') {
      ++line;
      ++i;
      at_line_start = true;
      continue;
    }
    if (c != ' ' && c != '\t') at_line_start = false;
    if (c == '"' || c == '\'') {
      int nl = 0;
      i = SkipLiteral(pp, i, false, nl);
      continue;
    }
    // pp-numbers, with C++14 digit separators: 1'000'000, 0x1'00, 1e+5, .5f.
    if (std::isdigit(static_cast<unsigned char>(c)) ||
        (c == '.' && i + 1 < n && std::isdigit(static_cast<unsigned char>(pp[i + 1])))) {
      ++i;
      while (i < n) {
        char d = pp[i];
        if (IsIdentChar(d) || d == '.') {
          ++i;
        } else if (d == '\'' && i + 1 < n && IsIdentChar(pp[i + 1])) {
          i += 2;
        } else if ((d == '+' || d == '-') && (pp[i - 1] == 'e' || pp[i - 1] == 'E' || pp[i - 1] == 'p' || pp[i - 1] == 'P')) {
          ++i;
        } else {
          break;
        }
      }
      continue;
    }
    if (IsIdentStart(c)) {
      size_t s = i;
      while (i < n && IsIdentChar(pp[i])) ++i;
      std::string_view ident = pp.substr(s, i - s);
      // Literal prefixes: L"", u8'', R"d(...)d", LR"(...)", ...
      if (i < n && (pp[i] == '"' || pp[i] == '\'')) {
        static const std::set<std::string, std::less<>> kPrefixes = {"L", "u", "U", "u8", "R", "LR", "uR", "UR", "u8R"};
        if (kPrefixes.count(ident)) {
          int nl = 0;
          i = SkipLiteral(pp, i, pp[i] == '"' && ident.back() == 'R', nl);
          line += nl;
          continue;
        }
      }
      if (!in_kernel) continue;
      const Rule* r = Lookup(ident);
      if (!r) continue;
      // Names that are forbidden only when used as the library's: `at`, `torch`, `c10`,
      // `Eigen` as namespaces (followed by ::), `thread`/`async`/`detach`/`signal` and the
      // file descriptor calls only when called or qualified.
      size_t k = i;
      while (k < n && (pp[k] == ' ' || pp[k] == '\t')) ++k;
      bool qualified_next = k + 1 < n && pp[k] == ':' && pp[k + 1] == ':';
      bool called = k < n && pp[k] == '(';
      size_t b = s;
      while (b > 0 && (pp[b - 1] == ' ' || pp[b - 1] == '\t')) --b;
      bool after_scope = b >= 2 && pp[b - 1] == ':' && pp[b - 2] == ':';
      bool member = b >= 1 && (pp[b - 1] == '.' || (b >= 2 && pp[b - 1] == '>' && pp[b - 2] == '-'));
      // `int read(` declares a function named read; `return read(` calls one.
      if (b >= 1 && IsIdentChar(pp[b - 1])) {
        size_t a = b;
        while (a > 0 && IsIdentChar(pp[a - 1])) --a;
        std::string_view prev = pp.substr(a, b - a);
        if (prev != "return" && prev != "else" && prev != "do" && prev != "case" && prev != "throw")
          called = false;
      }
      std::string_view rule = r->rule;
      if (rule == "reference_library" && (ident == "at" || ident == "torch" || ident == "c10" ||
                                          ident == "aten" || ident == "Eigen" || ident == "xla"))
        if (!qualified_next) continue;
      if (rule == "threads" && (ident == "thread" || ident == "jthread" || ident == "async"))
        if (!(after_scope || qualified_next)) continue;
      if (ident == "detach" && !(member && called)) continue;
      if (rule == "file" && (ident == "read" || ident == "write" || ident == "close" ||
                             ident == "link" || ident == "access" || ident == "stat" ||
                             ident == "remove" || ident == "rename" || ident == "truncate" ||
                             ident == "open" || ident == "pipe" || ident == "splice"))
        if (!called || member) continue;
      if ((ident == "times" || ident == "clock" || ident == "time" || ident == "nice" || ident == "wait" ||
           ident == "signal" || ident == "exit" ||
           ident == "system" || ident == "kill" || ident == "send" || ident == "bind" ||
           ident == "listen" || ident == "connect" || ident == "accept" || ident == "recv") &&
          (!called || member))
        continue;
      if (ident == "link_map" && member) continue;
      // Attributes: __attribute__((constructor)), [[gnu::constructor]], init_priority(101).
      bool in_attribute = b >= 1 && (pp[b - 1] == '(' || pp[b - 1] == ',');
      if ((ident == "constructor" || ident == "destructor" || ident == "init_priority") &&
          !(in_attribute || after_scope || called))
        continue;
      AddFinding(report, *r, std::string(ident), line, LineOf(source, line));
    } else {
      ++i;
    }
  }
}

void CheckIncludedFiles(const std::vector<std::string>& included, const std::vector<std::string>& allowed_dirs,
                        const std::vector<std::string>& generated, CheckReport& report) {
  static const Rule kOutside{"include", "a kernel may include only standard and system headers"};
  for (const auto& raw : included) {
    if (raw.empty() || raw[0] == '<') continue;
    std::string f = raw;
    while (f.rfind("./", 0) == 0) f = f.substr(2);
    if (std::find(generated.begin(), generated.end(), f) != generated.end()) continue;
    // Lexically normalised: no "." or ".." components, no doubled slashes.
    std::string norm;
    {
      std::vector<std::string> parts;
      std::istringstream ps(f);
      for (std::string part; std::getline(ps, part, '/');) {
        if (part.empty() || part == ".") continue;
        if (part == "..") {
          if (!parts.empty()) parts.pop_back();
          continue;
        }
        parts.push_back(part);
      }
      for (const auto& part : parts) norm += "/" + part;
    }
    std::string rel;
    if (f[0] == '/') {
      for (const auto& d : allowed_dirs) {
        std::string dir = d.back() == '/' ? d : d + "/";
        if (norm.rfind(dir, 0) == 0) {
          rel = norm.substr(dir.size());
          break;
        }
      }
    }
    if (rel.empty()) {
      AddFinding(report, kOutside, raw, 0, "");
      continue;
    }
    // Library headers, wherever they are and however they were reached (standard headers
    // that merely share a name with a forbidden one, like <bits/chrono.h>, are the
    // identifier scan's business).
    const std::string base = rel.substr(rel.rfind('/') == std::string::npos ? 0 : rel.rfind('/') + 1);
    for (const std::string& name : {rel, base}) {
      const Rule* r = ForbiddenHeader(name);
      if (!r) continue;
      std::string_view rule = r->rule;
      if (rule != "reference_library" && rule != "network" && rule != "dynamic_loading") continue;
      AddFinding(report, *r, "#include <" + rel + ">", 0, "");
      break;
    }
  }
}

namespace {

// A reference library's namespace qualifying a name anywhere in a demangled symbol: "at::" in
// "at::native::add" or "std::vector<at::Tensor>", but not in "std::vector<int>::at".
const char* ReferenceNamespace(const std::string& d) {
  static const char* kNamespaces[] = {"at", "c10", "torch", "caffe2", "aten", "Eigen", "dnnl", "mkl", "xla", "cv", "cublas", "cudnn"};
  for (const char* ns : kNamespaces) {
    const std::string needle = std::string(ns) + "::";
    for (size_t p = d.find(needle); p != std::string::npos; p = d.find(needle, p + 1)) {
      char before = p == 0 ? ' ' : d[p - 1];
      if (!IsIdentChar(before) && before != ':') return ns;
    }
  }
  return nullptr;
}

// Instructions no compiler emits for computing code: system calls and time stamps. Found in
// the disassembly of every executable section, whatever put them there (inline assembly,
// bytes emitted as data in a code section). With `fp_control`, also the instructions that load
// the FP control state (MXCSR, x87 control word or environment): device code runs in driver
// threads whose FP environment the runner does not check after each call, so a change of
// rounding or flush-to-zero there must be refused before it runs.
Status ScanDisassembly(const std::filesystem::path& so, CheckReport& report, bool fp_control = false) {
  SpawnOptions od;
  od.argv = {"objdump", "-d", "--no-show-raw-insn", "-w", so.string()};
  auto r = RunCommand(od, std::chrono::seconds(60), "", size_t{64} << 20);
  if (!r.ok() || !r->exit.ok()) return Unavailable("cannot disassemble " + so.string() + " with objdump (install binutils)");
  static const Rule kSys{"syscall", "kernels may not issue system calls (no inline assembly, no syscall instruction)"};
  static const Rule kClock{"clock", "kernels may not read time-stamp counters"};
  static const Rule kFp{"fp_environment",
                        "kernels may not change the floating-point environment (rounding, flush-to-zero, denormals)"};
  static const std::set<std::string> kFpLoads = {"ldmxcsr", "vldmxcsr", "fldcw", "fldenv", "frstor", "fnrstor",
                                                 "fxrstor", "fxrstor64", "xrstor", "xrstor64", "xrstors", "xrstors64"};
  std::istringstream in(r->out);
  std::string function = "?";
  for (std::string l; std::getline(in, l);) {
    // "0000000000001139 <evokernel_forward>:"
    if (!l.empty() && l.back() == ':' && l.find('<') != std::string::npos) {
      size_t a = l.find('<'), b = l.rfind('>');
      if (b != std::string::npos && b > a) function = l.substr(a + 1, b - a - 1);
      continue;
    }
    // "    1145:\tsyscall" (AT&T syntax, raw bytes not shown)
    size_t tab = l.find(":\t");
    if (tab == std::string::npos) continue;
    std::istringstream is(l.substr(tab + 2));
    std::string mnemonic, operand;
    is >> mnemonic >> operand;
    if (mnemonic == "syscall" || mnemonic == "sysenter" || (mnemonic == "int" && operand == "$0x80"))
      AddFinding(report, kSys, mnemonic + " instruction in " + function, 0, "");
    else if (mnemonic == "rdtsc" || mnemonic == "rdtscp" || mnemonic == "rdpid" || mnemonic == "rdpmc")
      AddFinding(report, kClock, mnemonic + " instruction in " + function, 0, "");
    else if (fp_control && kFpLoads.count(mnemonic))
      AddFinding(report, kFp, mnemonic + " instruction in " + function, 0, "");
  }
  return Status::Ok();
}

// Segments: nothing both writable and executable, no executable stack, no text relocations.
Status ScanSegments(const std::filesystem::path& so, CheckReport& report) {
  SpawnOptions re;
  re.argv = {"readelf", "-lWd", so.string()};
  auto r = RunCommand(re, std::chrono::seconds(30));
  if (!r.ok() || !r->exit.ok()) return Unavailable("cannot read " + so.string() + " with readelf (install binutils)");
  static const Rule kMem{"memory", "kernels may not have writable code, an executable stack or text relocations"};
  std::istringstream in(r->out);
  for (std::string l; std::getline(in, l);) {
    std::istringstream ls(l);
    std::string type;
    ls >> type;
    if (type == "LOAD" || type == "GNU_STACK") {
      // "  LOAD  0x... 0x... 0x... 0x... 0x... RWE 0x1000": the flags are the second-to-last field.
      std::vector<std::string> fields;
      for (std::string f; ls >> f;) fields.push_back(f);
      std::string flags;
      for (const auto& f : fields)
        if (f.find_first_not_of("RWE") == std::string::npos) flags += f;
      if (type == "LOAD" && flags.find('W') != std::string::npos && flags.find('E') != std::string::npos)
        AddFinding(report, kMem, "writable and executable segment", 0, "");
      if (type == "GNU_STACK" && flags.find('E') != std::string::npos)
        AddFinding(report, kMem, "executable stack", 0, "");
    }
    if (l.find("(TEXTREL)") != std::string::npos || (l.find("(FLAGS)") != std::string::npos && l.find("TEXTREL") != std::string::npos))
      AddFinding(report, kMem, "text relocations", 0, "");
  }
  // Data placed in a code section (bytes a disassembler shows as data, but which can be
  // jumped to): compilers put constants in .rodata, never in executable sections.
  SpawnOptions sec;
  sec.argv = {"readelf", "-SWs", so.string()};
  auto sr = RunCommand(sec, std::chrono::seconds(30), "", size_t{16} << 20);
  if (!sr.ok() || !sr->exit.ok()) return Unavailable("cannot read " + so.string() + " with readelf (install binutils)");
  std::set<std::string> exec_sections;  // section indices
  std::istringstream sin(sr->out);
  for (std::string l; std::getline(sin, l);) {
    // "  [ 9] .text  PROGBITS  0000000000001040 001040 0000c5 00  AX  0   0 16"
    size_t lb = l.find('['), rb = l.find(']');
    if (lb != std::string::npos && rb != std::string::npos && rb < 8) {
      std::string idx = l.substr(lb + 1, rb - lb - 1);
      idx.erase(0, idx.find_first_not_of(' '));
      std::istringstream ls(l.substr(rb + 1));
      std::vector<std::string> f;
      for (std::string x; ls >> x;) f.push_back(x);
      // name type address offset size entsize flags link info align
      if (f.size() >= 7 && f[6].find('X') != std::string::npos && f[6].find_first_not_of("WAXMSILOGTCxoEDlp") == std::string::npos)
        exec_sections.insert(idx);
      continue;
    }
    // "    27: 0000000000001102     3 OBJECT  LOCAL  DEFAULT    9 _ZL4code"
    std::istringstream ls(l);
    std::vector<std::string> f;
    for (std::string x; ls >> x;) f.push_back(x);
    if (f.size() >= 8 && f[3] == "OBJECT" && exec_sections.count(f[6])) {
      std::string name = f[7];
      int status = 0;
      char* dem = abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status);
      if (status == 0 && dem) name = dem;
      std::free(dem);
      AddFinding(report, Rule{"syscall", "kernels may not place data in code sections (machine code as data)"},
                 "data '" + name + "' in an executable section", 0, "");
    }
  }
  return Status::Ok();
}

}  // namespace

const std::vector<std::string>& AllowedOpenClExtensions() {
  static const std::vector<std::string> ext = {
      "cl_khr_fp64",
      "cl_khr_fp16",
      "cl_khr_int64_base_atomics",
      "cl_khr_int64_extended_atomics",
      "cl_khr_global_int32_base_atomics",
      "cl_khr_global_int32_extended_atomics",
      "cl_khr_local_int32_base_atomics",
      "cl_khr_local_int32_extended_atomics",
      "cl_khr_byte_addressable_store"};
  return ext;
}

void ScanOpenClDirectives(std::string_view source, CheckReport& report) {
  // Line markers, #line and system_header pragmas, as for C++; includes are refused below.
  CheckReport generic;
  ScanDirectives(source, generic, {});
  for (auto& f : generic.findings)
    if (f.rule != "include") report.findings.push_back(std::move(f));
  static const Rule kInclude{"include", "OpenCL kernels include nothing: every built-in function is available as is"};
  static const Rule kExt{"extension", "enable only the extensions evokernel allows (fp64, fp16, atomics)"};
  std::istringstream in{std::string(source)};
  int line = 0;
  for (std::string l; std::getline(in, l);) {
    ++line;
    std::string t = Trim(l);
    if (t.empty() || (t[0] != '#' && t.rfind("%:", 0) != 0)) continue;
    t = Trim(t.substr(t[0] == '#' ? 1 : 2));
    if (t.rfind("include", 0) == 0 || t.rfind("import", 0) == 0) {
      AddFinding(report, kInclude, Trim(t.substr(t.rfind("include", 0) == 0 ? 7 : 6)), line, Trim(l));
      continue;
    }
    if (t.rfind("pragma", 0) != 0) continue;
    std::istringstream ps(t.substr(6));
    std::string w1, w2, name;
    ps >> w1 >> w2 >> name;
    if (w1 != "OPENCL" || w2 != "EXTENSION") continue;
    if (!name.empty() && name.back() == ':') name.pop_back();
    const auto& ok = AllowedOpenClExtensions();
    if (std::find(ok.begin(), ok.end(), name) == ok.end()) AddFinding(report, kExt, name, line, Trim(l));
  }
}

void ScanOpenClPreprocessed(std::string_view pp, std::string_view kernel_file, std::string_view source,
                            CheckReport& report) {
  ScanPreprocessed(pp, kernel_file, source, report);
  static const Rule kPrint{"output", "OpenCL kernels may not print (printf floods the verifier's output)"};
  static const Rule kEnqueue{"device_enqueue", "OpenCL kernels may not enqueue work or use shared virtual memory"};
  static const std::map<std::string_view, const Rule*> kNames = {
      {"printf", &kPrint},
      {"enqueue_kernel", &kEnqueue},
      {"enqueue_marker", &kEnqueue},
      {"get_default_queue", &kEnqueue},
      {"ndrange_1D", &kEnqueue},
      {"ndrange_2D", &kEnqueue},
      {"ndrange_3D", &kEnqueue},
      {"queue_t", &kEnqueue},
      {"clk_event_t", &kEnqueue},
      {"svm", &kEnqueue}};
  // The kernel's own lines only: the preprocessed text is scanned line by line after the last
  // line marker of the main file (a kernel has no includes: they are refused).
  int line = 1;
  bool main_file = true;
  size_t i = 0;
  const size_t n = pp.size();
  bool at_line_start = true;
  while (i < n) {
    char c = pp[i];
    if (at_line_start && c == '#' && IsLineMarker(pp.substr(i, 24))) {
      size_t end = pp.find('\n', i);
      std::string_view marker = pp.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i);
      size_t q1 = marker.find('"');
      if (q1 != std::string_view::npos) {
        line = std::atoi(std::string(marker.substr(1, q1 - 1)).c_str());
        std::string_view file = marker.substr(q1 + 1);
        main_file = !(file.size() > 1 && file[0] == '<');
      }
      i = end == std::string_view::npos ? n : end + 1;
      continue;
    }
    if (c == '\n') {
      ++line;
      ++i;
      at_line_start = true;
      continue;
    }
    if (c != ' ' && c != '\t') at_line_start = false;
    if (c == '"' || c == '\'') {
      int nl = 0;
      i = SkipLiteral(pp, i, false, nl);
      line += nl;
      continue;
    }
    if (IsIdentStart(c)) {
      size_t s = i;
      while (i < n && IsIdentChar(pp[i])) ++i;
      std::string_view ident = pp.substr(s, i - s);
      if (!main_file) continue;
      auto it = kNames.find(ident);
      if (it == kNames.end() && ident.find("svm") != std::string_view::npos &&
          (ident.rfind("clSVM", 0) == 0 || ident.rfind("svm_", 0) == 0))
        it = kNames.find("svm");
      if (it != kNames.end()) AddFinding(report, *it->second, std::string(ident), line, LineOf(source, line));
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      while (i < n && (IsIdentChar(pp[i]) || pp[i] == '.')) ++i;
      continue;
    }
    ++i;
  }
}

Status ScanDeviceObject(const std::filesystem::path& so, CheckReport& report) {
  // Imports: a device kernel computes with built-ins compiled into it; the C library's memory
  // and math functions are the only outside code it may reach.
  static const std::set<std::string, std::less<>> kAllowed = {
      "memcpy", "memset", "memmove", "memcmp", "__memcpy_chk", "__memset_chk",
      "sinf", "cosf", "tanf", "expf", "exp2f", "logf", "log2f", "log10f", "powf", "sqrtf", "fmaf", "fmodf",
      "floorf", "ceilf", "roundf", "truncf", "tanhf", "sinhf", "coshf", "atanf", "atan2f", "asinf", "acosf",
      "erff", "erfcf", "expm1f", "log1pf", "ldexpf", "frexpf", "cbrtf", "hypotf", "fminf", "fmaxf",
      "sin", "cos", "tan", "exp", "exp2", "log", "log2", "log10", "pow", "sqrt", "fma", "fmod", "floor", "ceil",
      "round", "trunc", "tanh", "sinh", "cosh", "atan", "atan2", "asin", "acos", "erf", "erfc", "expm1", "log1p",
      "ldexp", "frexp", "cbrt", "hypot", "fmin", "fmax", "__errno_location", "__stack_chk_fail"};
  SpawnOptions nm;
  nm.argv = {"nm", "-D", "--undefined-only", so.string()};
  auto r = RunCommand(nm, std::chrono::seconds(30));
  if (!r.ok() || !r->exit.ok()) return Unavailable("cannot list symbols of " + so.string() + " with nm (install binutils)");
  static const Rule kImport{"library", "device kernels compute with OpenCL built-ins only; no other code may be called"};
  std::istringstream in(r->out);
  for (std::string l; std::getline(in, l);) {
    std::istringstream ls(l);
    std::string kind, sym;
    ls >> kind >> sym;
    if (sym.empty()) continue;
    std::string base = sym.substr(0, sym.find('@'));
    if (kind == "w" && (base == "__cxa_finalize" || base == "__gmon_start__" || base == "_ITM_registerTMCloneTable" ||
                        base == "_ITM_deregisterTMCloneTable"))
      continue;
    if (kAllowed.count(base)) continue;
    const Rule* rule = Lookup(base);
    AddFinding(report, rule ? *rule : kImport, base, 0, "");
  }
  // Sections: no load-time code, and no writable data (a kernel keeps nothing between calls).
  SpawnOptions sec;
  sec.argv = {"readelf", "-SW", so.string()};
  auto sr = RunCommand(sec, std::chrono::seconds(30));
  if (!sr.ok() || !sr->exit.ok()) return Unavailable("cannot read " + so.string() + " with readelf (install binutils)");
  static const Rule kLoad{"load_time_code", "no code may run when the kernel is loaded"};
  static const Rule kState{"memory", "device kernels may not keep writable data between calls (no program-scope or static variables outside __constant)"};
  std::istringstream sin(sr->out);
  for (std::string l; std::getline(sin, l);) {
    size_t rb = l.find(']');
    if (l.find('[') == std::string::npos || rb == std::string::npos || rb > 8) continue;
    std::istringstream ls(l.substr(rb + 1));
    std::vector<std::string> f;
    for (std::string x; ls >> x;) f.push_back(x);
    if (f.size() < 7) continue;
    const std::string& name = f[0];
    const uint64_t size = std::strtoull(f[4].c_str(), nullptr, 16);
    if (size == 0) continue;
    if (name == ".init_array" || name == ".fini_array" || name == ".ctors" || name == ".dtors" || name == ".preinit_array")
      AddFinding(report, kLoad, name + " section", 0, "");
    const bool writable = f[6].find('W') != std::string::npos;
    if (writable && (name == ".data" || name == ".bss" || name.rfind(".data.", 0) == 0 || name.rfind(".bss.", 0) == 0 ||
                     name == ".tdata" || name == ".tbss"))
      AddFinding(report, kState, name + " section of " + std::to_string(size) + " bytes", 0, "");
  }
  EVK_RETURN_IF_ERROR(ScanDisassembly(so, report, /*fp_control=*/true));
  return ScanSegments(so, report);
}

Status ScanObject(const std::filesystem::path& so, CheckReport& report) {
  SpawnOptions nm;
  nm.argv = {"nm", "-D", "--undefined-only", so.string()};
  auto r = RunCommand(nm, std::chrono::seconds(30));
  if (!r.ok() || !r->exit.ok())
    return Unavailable("cannot list symbols of " + so.string() + " with nm (install binutils)");
  std::istringstream in(r->out);
  for (std::string l; std::getline(in, l);) {
    // "                 U fopen@GLIBC_2.2.5"
    std::istringstream ls(l);
    std::string kind, sym;
    ls >> kind >> sym;
    if (sym.empty()) continue;
    std::string base = sym.substr(0, sym.find('@'));
    std::string shown = base;
    int status = 0;
    char* dem = abi::__cxa_demangle(base.c_str(), nullptr, nullptr, &status);
    std::vector<std::string> names = {base};
    if (status == 0 && dem) {
      shown = dem;
      // Check each identifier of the demangled name: std::thread::_M_start_thread -> thread.
      std::string d = dem;
      std::string cur;
      for (char ch : d + " ") {
        if (IsIdentChar(ch)) cur += ch;
        else if (!cur.empty()) { names.push_back(cur); cur.clear(); }
      }
    }
    std::free(dem);
    // Whatever the demangled name's shape (templates, weak references, nested names), a
    // reference library's namespace anywhere in it counts: at::, c10::, torch::, ...
    if (const char* ns = ReferenceNamespace(shown)) {
      AddFinding(report, Rule{"reference_library", "compute the result yourself; calls into libraries that do the work are not allowed"},
                 shown + " (" + ns + ")", 0, "");
      continue;
    }
    for (const auto& name : names) {
      // Demangled std:: names legitimately contain `at` (vector::at) and similar; only the
      // raw symbol and namespace-qualified library names count.
      if (name != base && (name == "at" || name == "open" || name == "close" || name == "read" ||
                           name == "write" || name == "exit" || name == "wait" || name == "detach" ||
                           name == "times" || name == "signal"))
        continue;
      const Rule* rule = Lookup(name);
      if (!rule) continue;
      if (name != base && std::string_view(rule->rule) == "reference_library" &&
          shown.find(name + "::") == std::string::npos)
        continue;
      AddFinding(report, *rule, shown, 0, "");
      break;
    }
  }
  SpawnOptions re;
  re.argv = {"readelf", "-d", so.string()};
  auto d = RunCommand(re, std::chrono::seconds(30));
  if (!d.ok() || !d->exit.ok()) return Unavailable("cannot read " + so.string() + " with readelf (install binutils)");
  static const std::set<std::string> allowed = {"libstdc++.so.6", "libm.so.6", "libgomp.so.1",
                                                "libgcc_s.so.1", "libc.so.6", "ld-linux-x86-64.so.2",
                                                "libmvec.so.1"};
  std::istringstream din(d->out);
  for (std::string l; std::getline(din, l);) {
    if (l.find("(NEEDED)") == std::string::npos) continue;
    size_t a = l.find('['), b = l.find(']');
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string lib = l.substr(a + 1, b - a - 1);
    if (!allowed.count(lib))
      AddFinding(report, Rule{"library", "kernels may link only the C/C++ runtime, libm and OpenMP"},
                 lib, 0, "");
  }
  EVK_RETURN_IF_ERROR(ScanDisassembly(so, report));
  return ScanSegments(so, report);
}

}  // namespace evokernel
