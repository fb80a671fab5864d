// Prompts: what the frozen model is shown at each step.
//
// Templates are files, one per stage, under <data dir>/prompts/<backend>/:
//   system.md  the system message
//   guide.md   the backend guide ({{backend_guide}})
//   draft.md   the user message while drafting (no feasible kernel yet)
//   refine.md  the user message while refining a start point
// Syntax: {{name}} inserts a value; {{#name}} ... {{/name}} keeps its text only when the value
// is non-empty. A template naming an unknown value, or with an unbalanced section, is an error
// naming file:line, so a typo never silently drops context.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "memory/memory.h"

namespace evokernel {

enum class PromptStage { kDraft, kRefine };

// One retrieved memory item as the model sees it.
struct PromptItem {
  std::string id;
  std::string kind;     // knowledge, summary, trace, best_practice
  std::string title;
  std::string content;  // text, or kernel code for traces
  std::string outcome;  // verifier verdict for traces ("feasible", "correctness/wrong_answer", ...)
  std::optional<double> latency_ms;
  std::string task_id;  // the task a trace came from
};

struct PromptContext {
  std::string backend;
  std::string task_id;
  std::string task_source;  // the PyTorch reference, unchanged
  std::string contract;     // the generated ABI header
  // Markdown fence tag of kernel code (the backend's first fence tag: "cpp", "opencl"): the
  // start point and past kernels are shown in it.
  std::string code_fence = "cpp";
  std::vector<PromptItem> items;
  // Refining: the start point and its measured latency; the eager baseline's.
  std::string start_code;
  std::optional<double> start_ms;
  std::optional<double> baseline_ms;
  std::string feedback;  // the verifier's feedback on the previous attempt (may be empty)
  int iteration = 1;
  int budget = 30;
};

struct RenderedPrompt {
  std::string system;
  std::string user;
  std::string hash;  // SHA-256 of system + user, recorded per iteration
};

// Renders a template text; `file` names it in errors.
Result<std::string> RenderTemplate(const std::string& text, const std::map<std::string, std::string>& values,
                                   const std::string& file);

// Renders the stage's prompt from the templates in `dir` (default: <data dir>/prompts/<backend>).
Result<RenderedPrompt> RenderPrompt(PromptStage stage, const PromptContext& ctx,
                                    const std::filesystem::path& dir = {});

// A memory item as prompts show it.
PromptItem ToPromptItem(const memory::MemoryItem& m);

// How one item is written into a prompt (the {{memory}} value is these, joined); traces (kernels)
// are fenced with `code_fence`.
std::string FormatPromptItem(const PromptItem& item, int index, const std::string& code_fence = "cpp");

}  // namespace evokernel
