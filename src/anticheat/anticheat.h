// Static anti-cheat rules for kernel source and built objects (C and C++ kernels).
//
// A kernel must compute its outputs itself, in-process, from its arguments: no calls into the
// reference library or any library that does the work (torch, BLAS, oneDNN, Eigen, ...), no
// processes, network, files, environment, dynamic loading, raw system calls, clocks or threads
// outside OpenMP. These layers enforce this before the kernel ever runs:
//
//  1. ScanDirectives: the raw source's preprocessor directives, read the way the preprocessor
//     reads them (line splices, comments, %: digraphs): no line markers or #line (they change
//     what the compiler attributes to which file), no system_header pragma, no computed or
//     absolute or parent-relative #include, and no forbidden header by name (ScanIncludes).
//  2. ScanPreprocessed: the translation unit after the preprocessor, so macros, token pasting
//     and aliases cannot hide a forbidden name. Which text is the kernel's is decided by the
//     include structure the preprocessor reports (entering and leaving files), not by the file
//     names in line markers: the main file's text is scanned wherever #line claims it is. The
//     lexer knows C++ literals (digit separators, raw strings, prefixes), so no literal hides
//     code. Every file the kernel pulled in is listed for CheckIncludedFiles.
//  3. ScanObject: the shared object's imported symbols (nm -D), fully demangled and checked by
//     namespace, the libraries it needs (DT_NEEDED), its disassembly (no system-call or
//     time-stamp instructions, whatever produced them), and its segments (nothing writable
//     and executable, no executable stack, no text relocations).
//
// Findings name the rule, the symbol and, for source findings, the kernel line. The runtime
// sandbox (src/runner) is the backstop for anything that evades these layers.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace evokernel {

struct Finding {
  std::string rule;    // "process", "network", "file", "environment", "dynamic_loading",
                       // "syscall", "reference_library", "clock", "threads", "load_time_code",
                       // "library", "preprocessor", "include", "memory"
  std::string symbol;  // the offending name, include or library
  int line = 0;        // kernel.cpp line (0 for object findings)
  std::string excerpt; // the source line, trimmed
  std::string message; // one line for a model
};

struct CheckReport {
  std::vector<Finding> findings;
  bool ok() const { return findings.empty(); }
  // All findings, one per line, ending with what to do instead.
  // `kernel_file` names the kernel in source findings ("kernel.cpp:3: ...").
  std::string Feedback(std::string_view kernel_file = "kernel.cpp") const;
  nlohmann::json ToJson() const;
};

// Forbidden #include directives in the raw source (torch, BLAS, oneDNN, Eigen, sockets, ...).
void ScanIncludes(std::string_view source, CheckReport& report);

// Preprocessor directives of the raw source (layer 1); includes ScanIncludes. `allowed_quoted`
// are the only names a kernel may #include "in quotes" (the contract header).
void ScanDirectives(std::string_view source, CheckReport& report,
                    const std::vector<std::string>& allowed_quoted = {"evokernel_task.h"});

// Forbidden identifiers in the text of the main file of a preprocessed translation unit (the
// file the compiler was given: `kernel_file`). `source` is the original text, for excerpts.
// `included` (optional) receives every file the preprocessor entered.
void ScanPreprocessed(std::string_view preprocessed, std::string_view kernel_file,
                      std::string_view source, CheckReport& report,
                      std::vector<std::string>* included = nullptr);

// Files a kernel's translation unit entered must lie in one of `allowed_dirs` (the compiler's
// system include directories) or be one of `generated` (the build's own headers), and must
// not be a forbidden library's header.
void CheckIncludedFiles(const std::vector<std::string>& included, const std::vector<std::string>& allowed_dirs,
                        const std::vector<std::string>& generated, CheckReport& report);

// Imported symbols, needed libraries, disassembly and segments of a built shared object.
// Errors only when the binary tools (nm, readelf, objdump) cannot run.
Status ScanObject(const std::filesystem::path& shared_object, CheckReport& report);

// ---- OpenCL C kernels (src/backend/opencl) ----
//
// OpenCL C runs on the device with its arguments only, so the rules are stricter than for C++:
//  1. ScanOpenClDirectives: no #include at all (every built-in is available without one), no
//     line markers, #line or system_header pragma, and only the extensions on
//     AllowedOpenClExtensions() (no `all`, nothing that reaches host memory).
//  2. ScanOpenClPreprocessed: the C rules on the preprocessed kernel (no declared libc calls,
//     clocks, assembly, constructors, ...), plus printf (output flooding) and OpenCL 2.x device
//     enqueue and SVM names.
//  3. ScanDeviceObject: each object the OpenCL driver compiled from the kernel (PoCL's
//     work-group functions): no imports beyond libm/memory built-ins, no load-time code, no
//     writable data (state kept between calls), and the disassembly and segment checks.

const std::vector<std::string>& AllowedOpenClExtensions();
void ScanOpenClDirectives(std::string_view source, CheckReport& report);
void ScanOpenClPreprocessed(std::string_view preprocessed, std::string_view kernel_file, std::string_view source,
                            CheckReport& report);
Status ScanDeviceObject(const std::filesystem::path& object, CheckReport& report);

// The rule an identifier or symbol name falls under, or "" when it is allowed.
std::string ForbiddenRule(std::string_view name);

}  // namespace evokernel
