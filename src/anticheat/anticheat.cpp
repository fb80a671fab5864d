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
    add("environment", "kernels may not read or change the environment",
        {"getenv", "secure_getenv", "setenv", "putenv", "unsetenv", "clearenv", "environ",
         "__environ"});
    add("dynamic_loading", "kernels may not load code at run time",
        {"dlopen", "dlmopen", "dlsym", "dlvsym", "dladdr", "dlinfo", "dl_iterate_phdr"});
    add("syscall", "kernels may not issue raw system calls or inline assembly (intrinsics are fine)",
        {"syscall", "asm", "__asm", "__asm__"});
    add("clock", "kernels may not read clocks or timers (no behaviour may depend on timing)",
        {"clock_gettime", "gettimeofday", "chrono", "rdtsc", "__rdtsc", "__rdtscp", "_rdtsc",
         "omp_get_wtime", "omp_get_wtick", "timespec_get", "getrusage", "times", "alarm",
         "setitimer", "timer_create"});
    add("threads", "parallelise with OpenMP only; threads outside OpenMP may outlive the call",
        {"thread", "jthread", "async", "pthread_create", "pthread_detach", "detach",
         "thrd_create", "signal", "sigaction", "sigprocmask", "pthread_kill", "setjmp",
         "longjmp", "sigsetjmp", "siglongjmp"});
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

void ScanIncludes(std::string_view source, CheckReport& report) {
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
  };
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
    for (const auto& [needle, rule] : bad) {
      bool match = needle.back() == '/' || needle.find('.') != std::string::npos
                       ? header.find(needle) != std::string::npos
                       : header == needle || header.find(needle) == 0;
      if (match) {
        AddFinding(report, rule, "#include <" + header + ">", line, Trim(l));
        break;
      }
    }
  }
}

namespace {
// "# <digits> " at the start of a preprocessed line.
bool IsLineMarker(std::string_view s) {
  size_t k = 1;
  while (k < s.size() && s[k] == ' ') ++k;
  size_t digits = k;
  while (k < s.size() && s[k] >= '0' && s[k] <= '9') ++k;
  return k > digits && k > 1 && s[1] == ' ';
}
}  // namespace

void ScanPreprocessed(std::string_view pp, std::string_view kernel_file, std::string_view source,
                      CheckReport& report) {
  bool in_kernel = false;
  int line = 1;
  size_t i = 0;
  const size_t n = pp.size();
  bool at_line_start = true;
  while (i < n) {
    char c = pp[i];
    if (at_line_start && c == '#' && IsLineMarker(pp.substr(i, 24))) {
      // Line marker: # <line> "<file>" [flags]. Other directives the preprocessor keeps
      // (#pragma, #ident) are source lines: counted and scanned like code, so neither shifts
      // the line numbers nor (with a quoted string, `#pragma message("x")`) hides the rest
      // of the kernel.
      size_t end = pp.find('\n', i);
      std::string_view marker = pp.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i);
      size_t q1 = marker.find('"');
      size_t q2 = q1 == std::string_view::npos ? q1 : marker.find('"', q1 + 1);
      if (q1 != std::string_view::npos && q2 != std::string_view::npos) {
        std::string_view file = marker.substr(q1 + 1, q2 - q1 - 1);
        in_kernel = file == kernel_file;
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
      // Skip string and character literals (raw strings are rare in kernels; treated alike).
      char q = c;
      ++i;
      while (i < n && pp[i] != q && pp[i] != '\n') i += pp[i] == '\\' ? 2 : 1;
      ++i;
      continue;
    }
    if (IsIdentStart(c)) {
      size_t s = i;
      while (i < n && IsIdentChar(pp[i])) ++i;
      if (!in_kernel) continue;
      std::string_view ident = pp.substr(s, i - s);
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
      if ((ident == "times" || ident == "wait" || ident == "signal" || ident == "exit" ||
           ident == "system" || ident == "kill" || ident == "send" || ident == "bind" ||
           ident == "listen" || ident == "connect" || ident == "accept" || ident == "recv") &&
          (!called || member))
        continue;
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
  return Status::Ok();
}

}  // namespace evokernel
