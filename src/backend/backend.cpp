#include "backend/backend.h"

#include <unistd.h>

#include <sstream>

#include "common/fs.h"

namespace evokernel {
namespace fs = std::filesystem;

std::unique_ptr<Backend> NewCpuBackend();  // cpu_backend.cpp

std::vector<std::string> BackendNames() { return {"cpu"}; }

Result<std::unique_ptr<Backend>> MakeBackend(std::string_view name) {
  if (name == "cpu") return NewCpuBackend();
  std::string known;
  for (const auto& n : BackendNames()) known += (known.empty() ? "" : ", ") + n;
  return InvalidArgument("unknown backend '" + std::string(name) + "' (available: " + known +
                         "; OpenCL and CUDA are planned)");
}

fs::path RunnerPath() { return HelperExecutable("evokernel-runner", "EVOKERNEL_RUNNER"); }

std::string TrimCompilerOutput(std::string_view raw, std::string_view build_dir,
                               size_t max_lines, size_t max_chars) {
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
    // g++ source excerpts: "   12 |   x = y;" and caret lines "      |   ^~~".
    return l.find(" | ") != std::string::npos || (l.size() > 2 && l.find(" |") != std::string::npos &&
                                                  l.find_first_not_of(" 0123456789|") == std::string::npos);
  };
  std::vector<std::string> kept;
  size_t errors = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!is_error(lines[i])) continue;
    ++errors;
    if (kept.size() >= max_lines) continue;
    kept.push_back(lines[i]);
    size_t notes = 0;
    for (size_t j = i + 1; j < lines.size() && kept.size() < max_lines; ++j) {
      if (is_context(lines[j])) {
        kept.push_back(lines[j]);
      } else if (lines[j].find("note:") != std::string::npos && notes < 2) {
        kept.push_back(lines[j]);
        ++notes;
      } else {
        break;
      }
    }
  }
  if (kept.empty()) {
    // No recognisable error line: show the tail, which is where the failure usually is.
    size_t from = lines.size() > max_lines ? lines.size() - max_lines : 0;
    kept.assign(lines.begin() + static_cast<std::ptrdiff_t>(from), lines.end());
  }
  std::string out;
  for (const auto& l : kept) out += l + "\n";
  if (out.size() > max_chars) out = out.substr(0, max_chars) + "\n[... truncated]\n";
  if (errors > 0) out += "(" + std::to_string(errors) + " error line(s) in total)\n";
  return out;
}

}  // namespace evokernel
