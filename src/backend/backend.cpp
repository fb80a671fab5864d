#include "backend/backend.h"

#include <unistd.h>

#include <sstream>

#include "common/fs.h"

namespace evokernel {
namespace fs = std::filesystem;

fs::path RunnerPath() { return HelperExecutable("evokernel-runner", "EVOKERNEL_RUNNER"); }

namespace {

// The file a diagnostic line is located in: "kernel.cpp:3:5: error: ..." -> "kernel.cpp";
// "In file included from x.h:2," -> "x.h"; "" when the line names no location.
std::string DiagnosticFile(const std::string& l) {
  std::string s = l;
  for (const char* prefix : {"In file included from ", "                 from "})
    if (s.rfind(prefix, 0) == 0) s = s.substr(std::string(prefix).size());
  size_t colon = s.find(':');
  if (colon == std::string::npos || colon == 0) return "";
  size_t k = colon + 1;
  if (k >= s.size() || !std::isdigit(static_cast<unsigned char>(s[k]))) return "";
  return s.substr(0, colon);
}

}  // namespace

std::string TrimCompilerOutput(std::string_view raw, std::string_view build_dir,
                               size_t max_lines, size_t max_chars, std::string_view kernel_file) {
  std::string text(raw);
  // Private paths mean nothing to a model: "/tmp/x/kernel.cpp:3:5" -> "kernel.cpp:3:5".
  if (!build_dir.empty()) {
    std::string prefix = std::string(build_dir) + "/";
    for (size_t p; (p = text.find(prefix)) != std::string::npos;) text.erase(p, prefix.size());
  }
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);

  auto is_error = [](const std::string& l) {
    return l.find("error:") != std::string::npos || l.find("undefined reference") != std::string::npos ||
           l.find("Error ") != std::string::npos || l.find("fatal error") != std::string::npos;
  };
  auto is_context = [](const std::string& l) {
    // g++/clang source excerpts: "   12 |   x = y;" and caret lines "      |   ^~~".
    return l.find(" | ") != std::string::npos || (l.size() > 2 && l.find(" |") != std::string::npos &&
                                                  l.find_first_not_of(" 0123456789|") == std::string::npos);
  };
  // Source excerpts are quoted only from the kernel's own file: a diagnostic located anywhere
  // else (a system header, or a file the kernel tried to include to read it) keeps its message
  // line but not the text of that file.
  auto quotable = [&](const std::string& diag) {
    if (kernel_file.empty()) return true;
    std::string f = DiagnosticFile(diag);
    return f.empty() || f == kernel_file;
  };
  std::vector<std::string> kept;
  size_t errors = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!is_error(lines[i])) continue;
    ++errors;
    if (kept.size() >= max_lines) continue;
    kept.push_back(lines[i]);
    bool quote = quotable(lines[i]);
    size_t notes = 0;
    for (size_t j = i + 1; j < lines.size() && kept.size() < max_lines; ++j) {
      if (is_context(lines[j])) {
        if (quote) kept.push_back(lines[j]);
      } else if (lines[j].find("note:") != std::string::npos && notes < 2) {
        kept.push_back(lines[j]);
        quote = quotable(lines[j]);
        ++notes;
      } else {
        break;
      }
    }
  }
  if (kept.empty()) {
    // No recognisable error line: show the tail, which is where the failure usually is
    // (source excerpts of other files are dropped there too).
    size_t from = lines.size() > max_lines ? lines.size() - max_lines : 0;
    bool quote = true;
    for (size_t i = from; i < lines.size(); ++i) {
      if (is_context(lines[i])) {
        if (quote) kept.push_back(lines[i]);
        continue;
      }
      if (!DiagnosticFile(lines[i]).empty()) quote = quotable(lines[i]);
      kept.push_back(lines[i]);
    }
  }
  std::string out;
  for (const auto& l : kept) out += l + "\n";
  if (out.size() > max_chars) out = out.substr(0, max_chars) + "\n[... truncated]\n";
  if (errors > 0) out += "(" + std::to_string(errors) + " error line(s) in total)\n";
  return out;
}

}  // namespace evokernel
