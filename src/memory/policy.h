// Retrieval policies: which recalled items the model is shown (method.md, "Retrieval").
//
//   value       epsilon-greedy on the stage's Q within the recalled pool (the method)
//   similarity  the N most similar items; start point = best latency (the ablation baseline)
//   random      N items uniformly from the pool; start point uniformly
//   none        no memory at all (no knowledge either); start point = best latency
//
// Context = knowledge slots + N experience slots:
//   * knowledge slots (MemoryConfig::knowledge_slots): backend API notes picked by exact operator
//     name or category (KnowledgeLookup), not by value, as in the paper's upgraded system. The
//     slot budget is separate from N so API notes never crowd out experience. Used by value,
//     similarity and random alike, so ablations differ only in how experience is chosen.
//   * experience slots: summaries, code traces and best practices from a pool of K = lambda * N
//     recalled by similarity, chosen by the policy.
//
// Everything here is deterministic given the rng state (its own uniform draws, not
// std::*_distribution, so a seed reproduces across standard libraries). Thread-compatible.
#pragma once

#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "memory/memory.h"
#include "memory/values.h"

namespace evokernel::memory {

enum class RetrievalPolicy { kValue, kSimilarity, kRandom, kNone };
std::string_view RetrievalPolicyName(RetrievalPolicy p);  // "value", "similarity", ...
Result<RetrievalPolicy> ParseRetrievalPolicy(std::string_view name);

// The value a selection at `stage` uses: q_draft, q_refine, or for kAny their mean.
double StageValue(const MemoryItem& item, Stage stage);

// Chooses up to config.n items from `pool`, in the order chosen.
//   value: for each slot, with probability epsilon a uniformly random remaining item, else the
//          remaining item with the highest value (ties: higher similarity, then earlier in the
//          pool); the value is ScopedValue (values.h) for the task's `state` under
//          config.value_scope, which for scope item or an empty state is StageValue;
//   similarity: the n most similar (ties: earlier in the pool); random: n uniformly without
//   replacement; none: nothing.
std::vector<ScoredItem> SelectContext(std::vector<ScoredItem> pool, Stage stage, RetrievalPolicy policy,
                                      const MemoryConfig& config, std::mt19937_64& rng,
                                      std::string_view state = {});

// Index of the start point for refining among a task's feasible variants; nullopt when empty.
//   value: epsilon-greedy on the refining value, ScopedValue(kRefine, state) (q_refine under
//          scope item; ties: lower latency, then earlier);
//   similarity and none: lowest latency_ms (variants without a latency last);
//   random: uniform.
std::optional<size_t> ChooseStartPoint(const std::vector<MemoryItem>& feasible_variants,
                                       RetrievalPolicy policy, const MemoryConfig& config,
                                       std::mt19937_64& rng, std::string_view state = {});

// Knowledge notes for a task, by lookup: a note qualifies when one of its operators equals a
// task operator (2 points) or that operator's family ("conv" for "conv2d", 1 point), or one of
// its categories equals the task's category. A general note (no operators and no categories,
// e.g. the kernel ABI) qualifies for every task with 0 points. Notes of another stage (neither
// `stage` nor any) are skipped. Ranked by points, then category match, then fewer listed
// operators (the more specific note), then id; at most `max_items`.
std::vector<MemoryItem> KnowledgeLookup(const std::vector<MemoryItem>& knowledge,
                                        const TaskSignature& task, Stage stage, int max_items);

// The same over the bank's knowledge items of `backend`.
Result<std::vector<MemoryItem>> KnowledgeLookup(MemoryStore& store, const TaskSignature& task,
                                                std::string_view backend, Stage stage, int max_items);

// A task's feasible variants (code traces with outcome "feasible") and the chosen start point;
// `state` is the task's (StateOf).
Result<std::optional<MemoryItem>> ChooseStartPoint(MemoryStore& store, std::string_view task_id,
                                                   std::string_view backend, RetrievalPolicy policy,
                                                   const MemoryConfig& config, std::mt19937_64& rng,
                                                   std::string_view state = {});

struct RetrievedContext {
  std::vector<MemoryItem> knowledge;    // knowledge slots
  std::vector<ScoredItem> experience;   // the N selected items
  size_t pool_size = 0;                 // how many items the policy chose from

  // Ids of every item shown (knowledge and experience): the items the step's reward updates.
  std::vector<std::string> ids() const;
};

// One retrieval step: knowledge lookup, recall of K = lambda * N non-knowledge items of
// `backend` for `stage`, plus (when refining from `start_point`) the start point's children as
// pool members with similarity 1 (they descend from it), then selection by `policy` with values
// resolved for the task's state (StateOf(task), config.value_scope). The start point itself is
// never part of the context (it is shown as the code to improve).
Result<RetrievedContext> RetrieveContext(MemoryStore& store, const TaskSignature& task,
                                         std::string_view backend, Stage stage,
                                         RetrievalPolicy policy, const MemoryConfig& config,
                                         std::mt19937_64& rng,
                                         const MemoryItem* start_point = nullptr);

}  // namespace evokernel::memory
