// Generators: what proposes a kernel.
//
// The agent's loop (agent/agent.h) is written once for every way of proposing kernels: it
// picks the stage, retrieves context and a start point, verifies what it gets, computes the
// rewards, commits to the memory bank, records the run, reports progress, enforces budgets and
// resumes. A Generator only proposes: one kernel for (task, stage, context, start point, last
// feedback). What it wants from the loop it declares in its Traits, so the loop never asks
// which generator it is running.
//
// The LLM generators (llm_generator.h) render a prompt from templates, call the provider and
// extract the kernel from the reply. They are the agent's three methods:
//   evokernel  shown what the shared bank retrieves; learns in the bank (the method)
//   passk      independent samples, each shown one demonstration; no feedback, no refining
//   refine     repair from feedback, then hill-climbing from its own best; no bank
// The built-in generator (builtin/builtin_generator.h) needs no model: parametric recipes per
// operator family, their knobs searched by refining (method builtin).
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backend/backend.h"
#include "common/status.h"
#include "generator/extract.h"
#include "generator/prompt.h"
#include "memory/memory.h"
#include "provider/provider.h"
#include "task/task.h"

namespace evokernel {

enum class Method { kEvoKernel, kPassK, kRefine, kBuiltin };
std::string_view MethodName(Method m);
Result<Method> ParseMethod(std::string_view name);

// What the loop gives a generator for one proposal.
struct ProposalRequest {
  std::string backend;
  std::string task_id;
  std::string task_source;  // the PyTorch reference, unchanged
  std::string contract;     // the backend's ABI header for the task
  SourceLanguage language;  // of the backend's kernels: fences, entry point, reply hint
  memory::TaskSignature signature;
  const TaskSpec* spec = nullptr;  // the task's contract: arguments, shapes, constants
  memory::Stage stage = memory::Stage::kDraft;
  // Shown with the request: knowledge first, then experience (retrieved from the bank, or the
  // generator's own FixedContext).
  std::vector<PromptItem> context;
  // Refining: the kernel to improve and its latency; and PyTorch eager's latency.
  std::string start_code;
  std::optional<double> start_ms, baseline_ms;
  std::string feedback;  // the verifier's on the previous attempt ("" when none, or not wanted)
  int iteration = 1, budget = 1;
  const std::atomic<bool>* cancel = nullptr;  // set while the run is being interrupted
};

// One proposal. No kernel (kernel.ok false, with a failure and feedback) is an infeasible
// attempt of the generator, recorded like any other; the loop then stores `reply.text`.
struct Proposal {
  Extraction kernel;
  // What was produced, with its accounting: a model's reply, tokens and cost; the model
  // that answered, the request's hash (cache key) and endpoint.
  ChatResponse reply;
  std::string prompt_hash;  // SHA-256 of what the generator was shown
};

class Generator {
 public:
  struct Traits {
    // Retrieval, start points, values and traces in the shared memory bank. Without it the
    // context is the generator's FixedContext, and refining starts from the task's own best.
    bool uses_bank = true;
    bool refines = true;  // a task with a feasible kernel goes on to refining
    bool feedback = true;  // the verifier's feedback reaches the next proposal
  };

  virtual ~Generator() = default;
  virtual Method method() const = 0;
  virtual Traits traits() const = 0;
  // Shown with every proposal for a task when the generator does not use the bank (pass@k's
  // demonstration); empty by default.
  virtual Result<std::vector<PromptItem>> FixedContext(const memory::TaskSignature& signature) {
    (void)signature;
    return std::vector<PromptItem>{};
  }
  // One kernel. A non-OK status is a fault of the service behind the generator (an endpoint
  // that stayed unreachable after its retries, or an interrupted call): the run stops and can
  // be resumed. A bad proposal is not an error: it is returned without a kernel.
  virtual Result<Proposal> Propose(const ProposalRequest& request) = 0;
};

}  // namespace evokernel
