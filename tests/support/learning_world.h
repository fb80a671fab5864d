// LearningWorld: the hidden world behind the end-to-end learning benchmark (bench/learning.sh).
// It is NOT A MODEL and never part of evokernel: a scripted endpoint (tests/support) answers the
// real `evokernel evolve` loop, and whether its draft is correct depends on which memory items
// the prompt shows, through a hidden helpfulness that evokernel cannot see. The verifier, the
// bank, the values and the records are evokernel's own; only the model is replaced.
//
// The world, for one seed:
//   - per category of the run's tasks, `own_items` advice items (draft-stage summaries with the
//     signature of the category's first task): `own_helpful` of them help its tasks (+help),
//     `own_misleading` mislead them (mislead), the rest do nothing. Items of one category are
//     near-identical to recall, so similarity cannot tell the helpful ones apart.
//   - categories are paired at random into look-alikes (A, B); per ordered pair, `cross_items`
//     items with both categories and both operator sets, which help A (+cross_help) and mislead
//     B (cross_mislead): the failure seen in real runs, an item whose value rises in one category
//     and is then shown to another.
//   - the run's own traces: a correct kernel of another task of the same category helps
//     (+trace_help); a correct kernel of the same task (from an earlier pass on the bank) is
//     nearly the answer (+reuse); a failed attempt at the same task misleads (decoy).
// P(correct) = clamp(base + sum of the effects of the items shown, 0.02, 0.95), drawn with
// u = hash(seed, pass, task, iteration), so for one seed and pass every policy meets the same luck and differs
// only in what it shows. A correct draft is the task's shipped reference kernel; a wrong one is
// that kernel with a line that fails to compile. Refining prompts get the shipped fast kernel.
//
// Every reply says what it is: "Scripted learning world (not a model)", the items it saw, P and
// the draw. Items are recognised by the marker "[world item Wn]" in their text, the world's own
// kernels by their first line "// world kernel: task=ID correct|wrong|fast".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "memory/memory.h"

namespace evokernel::testing {

struct WorldTask {
  std::string id;                     // "level1/17_softmax"
  memory::TaskSignature signature;    // SignatureFromSpec of the task
  std::string correct_code;           // the shipped naive reference kernel
  std::string fast_code;              // the shipped fast kernel; empty: correct_code
};

struct WorldParams {
  uint64_t seed = 1;
  std::string backend = "cpu";
  double base = 0.05;
  int own_items = 6, own_helpful = 1, own_misleading = 1;
  double help = 0.35, mislead = -0.15;
  int cross_items = 2;  // per ordered pair of look-alike categories
  double cross_help = 0.3, cross_mislead = -0.25;
  double trace_help = 0.2;  // a correct kernel of another task of the same category
  double decoy = -0.1;      // a failed attempt at the same task
  double reuse = 0.6;       // a correct kernel of the same task (an earlier pass's): copy it
  int pass = 1;  // the run's pass over the tasks (bench/learning.sh PASSES): a new draw per pass
  nlohmann::json ToJson() const;
};

struct WorldAnswer {
  std::string task_id, category, stage;  // stage: "draft" | "refine"
  int iteration = 0;
  std::vector<std::string> seen;  // world items ("W12") and kernels ("kernel:ID:correct") shown
  double p = 0, u = 0;
  bool correct = false;
  std::string text;  // the reply
  nlohmann::json ToJson() const;  // everything but the text
};

class LearningWorld {
 public:
  // Errors: no tasks, a task without a category or correct code, a duplicate task id, counts
  // that do not fit (own_helpful + own_misleading > own_items, negative counts).
  static Result<LearningWorld> Build(std::vector<WorldTask> tasks, const WorldParams& params);

  // The items to put in the bank before the run (ids "world-Wn", draft stage, Q at 0).
  const std::vector<memory::MemoryItem>& items() const { return items_; }
  // The look-alike pairs (A, B): cross items of (A, B) help A and mislead B, and the other way.
  const std::vector<std::pair<std::string, std::string>>& pairs() const { return pairs_; }
  // Hidden effect of world item `marker` ("W12") on tasks of `category`; 0 when none.
  double Effect(const std::string& marker, const std::string& category) const;
  // The answer to a prompt (the system text and messages joined). kInvalidArgument when the
  // prompt names no task of this world or has no iteration line.
  Result<WorldAnswer> Answer(const std::string& prompt) const;

 private:
  WorldParams params_;
  std::map<std::string, WorldTask> tasks_;
  std::vector<memory::MemoryItem> items_;
  std::vector<std::pair<std::string, std::string>> pairs_;
  std::map<std::string, std::map<std::string, double>> effects_;  // marker -> category -> effect
};

}  // namespace evokernel::testing
