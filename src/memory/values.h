// Values, rewards and reward normalisation (method.md, "Value update and rewards").
//
//   drafting:  r1 = +1 if the kernel is feasible, else -1                      (DraftReward)
//   refining:  r2 = -1 if infeasible, else tanh(log b - log l)                  (RefineReward)
//              b = best latency so far, l = the new latency; r2 is then PopArt-normalised
//              (r2 - mu) / sigma with running statistics that persist in the bank
//   update:    Q <- Q + alpha (r - Q) for every item of the context that was shown (and, when
//              refining, the start point), on the stage's Q        (MemoryStore::ApplyUpdates)
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "memory/memory.h"

namespace evokernel::memory {

// Which value retrieval ranks an item by: how finely the state s of Q(s, m) is resolved
// (method.md leaves it open; docs/memory.md, "Value scopes").
//   item           the item's one global value per stage (before state values existed; ablation)
//   category       its value in the task's category when it has met that category, else global
//   neighbourhood  a visit- and similarity-weighted mean of its values in the task's category and
//                  related categories, shrunk toward its global value when evidence is thin
// Every scope learns the same values (each update names the task's category); only ranking
// differs, so a bank built under one scope serves the others.
enum class ValueScope { kItem, kCategory, kNeighbourhood };
std::string_view ValueScopeName(ValueScope s);  // "item", "category", "neighbourhood"
// Also accepts "neighborhood".
Result<ValueScope> ParseValueScope(std::string_view name);

// Hyper-parameters of the memory. The paper does not publish its values; these defaults are
// evokernel's, with the reason for each. Every one is configurable.
struct MemoryConfig {
  // Step size of the Monte-Carlo update. 0.2 (a public re-implementation's value): an item's Q
  // reflects roughly its last 1/alpha = 5 uses, so a note that stops helping as the bank grows
  // loses its place within a handful of iterations, while one unlucky draft does not erase it.
  double alpha = 0.2;
  // Exploration rate of the epsilon-greedy selection. 0.1 (same source): one slot in ten goes to
  // a random pool item, so new items get visits (and values) without diluting the context.
  double epsilon = 0.1;
  // Context size N: items shown to the model per step. 4 (same source): enough for a template,
  // a failure summary and two traces while keeping prompts small.
  int n = 4;
  // Over-retrieval multiplier lambda: the recall pool is K = lambda * N. 3 (same source); the
  // paper found larger pools better (lambda = 2: 67% correct; 15x larger: 84%), so raise it when
  // the bank is large.
  int lambda = 3;
  // Q of a new item. 0: neutral between the +1/-1 drafting rewards, so an unvisited item ranks
  // above items that keep failing and below items that keep helping.
  double initial_q = 0.0;
  // PopArt decay beta: the running mean and second moment move by beta per refining reward after
  // a warm-up (1/count for the first 1/beta rewards, i.e. the exact sample mean). 0.02: a window
  // of about 50 rewards, a few tasks' worth of refining, so the scale follows the bank as it
  // matures but one task's streak does not swing it.
  double popart_beta = 0.02;
  // Floor of PopArt's sigma. 0.01: keeps the normalised reward finite while all rewards so far are
  // equal (then r - mu is 0 anyway) and caps the amplification of a tiny spread at 100x.
  double popart_sigma_floor = 1e-2;
  // Knowledge slots: API notes chosen by exact operator name or category (the paper's upgraded
  // system), shown in addition to the N value-selected items. 2: the CPU notes are short and a
  // task rarely needs more than one API note and one pattern note.
  int knowledge_slots = 2;
  // Which value ranks items (ValueScope). neighbourhood: one item's help is often specific to a
  // kind of task (a GEMM tiling note helps matmul and misleads a softmax), and a single value
  // averages those apart; the neighbourhood estimate keeps a value per category, borrows from
  // related categories, and shrinks thin evidence toward the item's global value, so one unlucky
  // draft does not bury an item that helps elsewhere. It equals `item` exactly while a bank has
  // seen one category. Measured ahead of `category` and `item` end to end (bench/learning.sh,
  // docs/measurements.md: +7.7 points of tasks with a correct draft in every seed of the first pass;
  // the simulation cannot tell the scopes apart), so it is the default; `item` stays for ablations.
  ValueScope value_scope = ValueScope::kNeighbourhood;
  // neighbourhood only: pseudo-visits of the global value in the estimate. 2: one or two
  // updates in a state are not enough to overrule what all the item's other uses say, about five
  // are (the state then holds over 70% of the weight).
  double neighbour_prior = 2.0;

  int pool_size() const { return lambda * n; }
  // kInvalidArgument naming the first bad field: alpha in (0, 1], epsilon in [0, 1], n >= 1,
  // lambda >= 1, finite initial_q, beta in (0, 1], floor > 0, knowledge_slots >= 0,
  // neighbour_prior > 0.
  Status Validate() const;
};

// Q + alpha (r - Q): the update the store applies (exposed for tests and documentation).
double UpdatedQ(double q, double reward, double alpha);

// +1 when the draft is feasible, -1 otherwise.
double DraftReward(bool feasible);

// -1 when infeasible; else tanh(log best - log latency): > 0 when faster than the best so far,
// 0 when equal, in (-1, 0) when slower. Non-positive or non-finite latencies of a feasible
// kernel give 0 (no information) rather than a reward from a broken measurement.
double RefineReward(bool feasible, double best_latency, double latency);

// PopArt-style reward normaliser: running mean and second moment with exponential decay
// `beta`, warmed up with step max(beta, 1/count) so the first rewards use exact sample
// statistics instead of a biased start at 0.
//
//   count += 1; w = max(beta, 1/count)
//   mean += w (r - mean); mean_sq += w (r^2 - mean_sq)
//   sigma = max(sqrt(max(mean_sq - mean^2, 0)), sigma_floor)
//   Normalise(r) = (r - mean) / sigma            (statistics updated first)
//
// The first reward normalises to 0 (it is its own mean). Thread-compatible. Persist state()
// with MemoryStore::SaveNormaliser and restore it by constructing from LoadNormaliser.
class PopArt {
 public:
  PopArt(double beta, double sigma_floor, NormaliserState state = {})
      : beta_(beta), floor_(sigma_floor), s_(state) {}
  explicit PopArt(const MemoryConfig& c, NormaliserState state = {})
      : PopArt(c.popart_beta, c.popart_sigma_floor, state) {}

  double Normalise(double reward);
  double mean() const { return s_.mean; }
  double sigma() const;
  const NormaliserState& state() const { return s_; }

 private:
  double beta_, floor_;
  NormaliserState s_;
};

// One update per id, all with the same stage, reward and config.alpha.
std::vector<ValueUpdate> ContextUpdates(const std::vector<std::string>& ids, Stage stage,
                                        double reward, const MemoryConfig& config);

// The coarse state s of Q(s, m) for a task: its category, trimmed (empty when it has none: then
// only the global value is learned and used).
std::string StateOf(const TaskSignature& task);

// How much an item's value in category `b` says about its value in category `a`, in [0, 1]: 1
// for the same category; else 0.5 x the Jaccard overlap of the categories' canonical words
// (split on '_', '-', ',' and spaces; convolution/conv/cnn -> conv, matmul/gemm/linear/mlp ->
// gemm, normalization/norm -> norm, pooling/pool -> pool, transformer/attention -> attention;
// "fusion", "other", "misc" carry no meaning and are dropped). So conv_fusion and convolution
// share 0.5, gemm_fusion and matmul 0.5, conv_fusion and gemm_fusion 0, an unknown name only
// itself. At most half: a related category is weaker evidence than the category itself.
double StateSimilarity(std::string_view a, std::string_view b);

// The value an item is ranked by at `stage` (kAny: the mean of draft and refine) for a task in
// `state` under config.value_scope (see ValueScope). kItem, or an empty state: q_draft /
// q_refine exactly. kCategory: the state's q when the item has met the state, else global.
// kNeighbourhood, with g the global value, (q_i, n_i) the item's value and visits in state i of
// this stage, w_i = StateSimilarity(state, i), H = (2 - alpha) / alpha (the effective sample
// size of an exponential average with step alpha; more visits add no evidence about the current
// value) and k = config.neighbour_prior:
//     (k g + sum_i w_i min(n_i, H) q_i) / (k + sum_i w_i min(n_i, H))
// An unmet state with no related one gets g; a well-visited state outweighs the global value.
double ScopedValue(const MemoryItem& item, Stage stage, std::string_view state, const MemoryConfig& config);

// Sets a new item's q_draft and q_refine to config.initial_q.
void InitValues(MemoryItem& item, const MemoryConfig& config);

}  // namespace evokernel::memory
