// Static anti-cheat rules for kernel source and built objects.
//
// A kernel must compute its outputs itself, in-process, from its arguments: no calls into the
// reference library or any library that does the work (torch, BLAS, oneDNN, Eigen, ...), no
// processes, network, files, environment, dynamic loading, raw system calls, clocks or threads
// outside OpenMP. Two layers enforce this before the kernel ever runs:
//
//  1. ScanPreprocessed: the kernel translation unit after the preprocessor, so macros, token
//     pasting and aliases cannot hide a forbidden name. Only tokens that line markers attribute
//     to the kernel file are scanned (system headers legitimately mention these names); string
//     literals and character literals are skipped. Forbidden #includes are found in the raw
//     source by ScanIncludes, because the preprocessor replaces them.
//  2. ScanObject: the shared object's imported symbols (nm -D --undefined-only) and the
//     libraries it needs (DT_NEEDED), which catches whatever slipped through (e.g. a call
//     spelled through a function pointer cast of a libstdc++ wrapper).
//
// Findings name the rule, the symbol and, for source findings, the kernel line. The runtime
// sandbox (src/runner) is the backstop for anything that evades both layers.
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
                       // "library"
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

// Forbidden identifiers in the preprocessed translation unit, restricted to lines that the
// preprocessor's line markers attribute to `kernel_file` (a file name as given to the
// compiler). `source` is the original text, used for excerpts.
void ScanPreprocessed(std::string_view preprocessed, std::string_view kernel_file,
                      std::string_view source, CheckReport& report);

// Imported symbols and needed libraries of a built shared object. Errors only when the binary
// tools (nm, readelf) cannot run.
Status ScanObject(const std::filesystem::path& shared_object, CheckReport& report);

// The rule an identifier or symbol name falls under, or "" when it is allowed.
std::string ForbiddenRule(std::string_view name);

}  // namespace evokernel
