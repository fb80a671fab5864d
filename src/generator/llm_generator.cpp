#include "generator/llm_generator.h"

#include <algorithm>

#include <fmt/format.h>

#include "memory/policy.h"
#include "memory/seed.h"

namespace evokernel {
namespace fs = std::filesystem;
namespace mem = memory;

namespace {

class LlmGenerator : public Generator {
 public:
  LlmGenerator(Method method, Provider& provider, std::string backend, fs::path prompts_dir)
      : method_(method), provider_(provider), backend_(std::move(backend)), prompts_dir_(std::move(prompts_dir)) {}

  Method method() const override { return method_; }

  Traits traits() const override {
    Traits t;
    t.uses_bank = method_ == Method::kEvoKernel;
    t.refines = method_ != Method::kPassK;
    t.feedback = method_ != Method::kPassK;  // pass@k: independent samples
    return t;
  }

  // pass@k's one demonstration: the best-matching knowledge note, read from the shipped notes
  // (pass@k never reads the bank).
  Result<std::vector<PromptItem>> FixedContext(const mem::TaskSignature& sig) override {
    std::vector<PromptItem> out;
    if (method_ != Method::kPassK) return out;
    fs::path dir = mem::DefaultKnowledgeDir(backend_);
    std::vector<mem::MemoryItem> notes;
    std::error_code ec;
    for (const auto& f : fs::recursive_directory_iterator(dir, ec)) {
      if (f.path().extension() != ".md") continue;
      auto note = mem::ParseNote(f.path(), fs::relative(f.path(), dir), backend_);
      if (!note.ok()) return note.status();
      notes.push_back(std::move(*note));
    }
    std::sort(notes.begin(), notes.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    for (const auto& m : mem::KnowledgeLookup(notes, sig, mem::Stage::kDraft, 1)) out.push_back(ToPromptItem(m));
    return out;
  }

  Result<Proposal> Propose(const ProposalRequest& rq) override {
    const bool refining = rq.stage == mem::Stage::kRefine;
    PromptContext pc;
    pc.backend = rq.backend;
    pc.task_id = rq.task_id;
    pc.task_source = rq.task_source;
    pc.contract = rq.contract;
    if (!rq.language.fences.empty()) pc.code_fence = rq.language.fences[0];
    pc.items = rq.context;
    pc.start_code = rq.start_code;
    pc.start_ms = rq.start_ms;
    pc.baseline_ms = rq.baseline_ms;
    pc.feedback = rq.feedback;
    pc.iteration = rq.iteration;
    pc.budget = rq.budget;
    EVK_ASSIGN_OR_RETURN(RenderedPrompt prompt,
                         RenderPrompt(refining ? PromptStage::kRefine : PromptStage::kDraft, pc, prompts_dir_));

    ChatRequest req;
    req.system = prompt.system;
    req.messages = {{"user", prompt.user}};
    req.task_id = rq.task_id;
    req.phase = std::string(mem::StageName(rq.stage));
    req.sample_index = rq.iteration;  // every iteration is its own sample (and its own cache entry)
    req.cancel = rq.cancel;           // Ctrl-C interrupts a long generation
    EVK_ASSIGN_OR_RETURN(ChatResponse reply, provider_.Complete(req));

    Proposal p;
    p.prompt_hash = prompt.hash;
    p.kernel = ExtractKernel(reply.text, rq.language.entry_point, reply.finish_reason, rq.language.reply_hint);
    if (reply.oversized) {
      // Cut at max_reply_bytes by the provider: whatever code it holds is incomplete. An
      // infeasible attempt (stored cut), not a fault of the run.
      p.kernel.ok = false;
      p.kernel.code.clear();
      p.kernel.failure = "reply_too_large";
      p.kernel.feedback = fmt::format(
          "your reply was longer than {} bytes and was cut there; answer with one complete kernel in a single "
          "code block, without repeating it or adding long explanations",
          provider_.config().max_reply_bytes);
    }
    p.reply = std::move(reply);
    return p;
  }

 private:
  Method method_;
  Provider& provider_;
  std::string backend_;
  fs::path prompts_dir_;
};

}  // namespace

std::unique_ptr<Generator> MakeLlmGenerator(Method method, Provider& provider, std::string backend,
                                            fs::path prompts_dir) {
  return std::make_unique<LlmGenerator>(method, provider, std::move(backend), std::move(prompts_dir));
}

}  // namespace evokernel
