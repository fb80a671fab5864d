// The learning world of bench/learning.sh (tests/support/learning_world.h): its hidden effects,
// how it reads evokernel's real prompts (rendered from prompts/cpu), and the scripted server's
// responder hook that serves it.
#include <set>

#include <gtest/gtest.h>
#include <httplib.h>

#include "generator/prompt.h"
#include "support/learning_world.h"
#include "support/scripted_llm_server.h"
#include "test_util.h"

namespace evokernel::testing {
namespace {
namespace mem = memory;

WorldTask Task(const std::string& id, const std::string& category, std::vector<std::string> ops) {
  WorldTask t;
  t.id = id;
  t.signature.task_id = id;
  t.signature.category = category;
  t.signature.backend = "cpu";
  t.signature.ops = std::move(ops);
  t.correct_code = "// naive " + id + "\nvoid evokernel_forward() {}\n";
  t.fast_code = "// fast " + id + "\nvoid evokernel_forward() {}\n";
  return t;
}

std::vector<WorldTask> Tasks() {
  return {Task("level1/12_relu", "activation", {"relu"}), Task("level1/17_softmax", "activation", {"softmax"}),
          Task("level1/40_sum", "reduction", {"sum"}), Task("level1/60_mse", "loss", {"mseloss"}),
          Task("level1/01_mm", "matmul", {"matmul"})};
}

// A draft prompt rendered by evokernel's own templates, showing `items`.
std::string Prompt(const std::string& task, int iteration, const std::vector<PromptItem>& items,
                   bool refine = false) {
  PromptContext ctx;
  ctx.backend = "cpu";
  ctx.task_id = task;
  ctx.task_source = "class Model: ...";
  ctx.contract = "// contract";
  ctx.items = items;
  ctx.iteration = iteration;
  ctx.budget = 10;
  ctx.feedback = "compile error: [world item W1] quoted back in feedback is not shown experience";
  if (refine) ctx.start_code = "// world kernel: task=" + task + " correct\n";
  auto r = RenderPrompt(refine ? PromptStage::kRefine : PromptStage::kDraft, ctx,
                        TestDir().parent_path() / "prompts" / "cpu");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r->system + "\n" + r->user : "";
}

PromptItem Shown(const mem::MemoryItem& m) { return ToPromptItem(m); }

PromptItem Trace(const std::string& task, const std::string& verdict) {
  PromptItem p;
  p.id = "t-" + task;
  p.kind = "trace";
  p.title = task + " draft";
  p.task_id = task;
  p.content = "// world kernel: task=" + task + " " + verdict + "\nvoid evokernel_forward() {}\n";
  return p;
}

// The world item of `category` with hidden effect `effect` there (the first one).
const mem::MemoryItem* Find(const LearningWorld& w, const std::string& category, double effect) {
  for (const auto& it : w.items())
    if (it.signature.category == category && w.Effect(it.id.substr(6), category) == effect) return &it;
  return nullptr;
}

TEST(LearningWorld, EveryCategoryHasItsHelpfulMisleadingAndCrossItems) {
  WorldParams p;
  auto w = LearningWorld::Build(Tasks(), p);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  // 4 categories: 4 x 6 own items; 2 pairs x 2 directions x 2 cross items.
  EXPECT_EQ(w->items().size(), 4u * 6 + 2 * 2 * 2);
  ASSERT_EQ(w->pairs().size(), 2u);
  std::set<std::string> paired;
  for (const auto& [a, b] : w->pairs()) paired.insert({a, b});
  EXPECT_EQ(paired, (std::set<std::string>{"activation", "reduction", "loss", "matmul"}));
  for (const std::string c : {"activation", "reduction", "loss", "matmul"}) {
    int helpful = 0, misleading = 0, own = 0;
    for (const auto& it : w->items()) {
      EXPECT_EQ(it.kind, mem::ItemKind::kSummary);
      EXPECT_EQ(it.stage, mem::Stage::kDraft);
      EXPECT_NE(it.content.find("[world item " + it.id.substr(6) + "]"), std::string::npos);
      if (it.signature.category != c) continue;
      ++own;
      double e = w->Effect(it.id.substr(6), c);
      helpful += e == p.help;
      misleading += e == p.mislead;
    }
    EXPECT_EQ(own, 6) << c;
    EXPECT_EQ(helpful, 1) << c;
    EXPECT_EQ(misleading, 1) << c;
  }
  // A cross item of (A, B) helps A, misleads B, and does nothing elsewhere.
  const auto& [a, b] = w->pairs()[0];
  int crosses = 0;
  for (const auto& it : w->items()) {
    if (it.signature.category != a + ", " + b) continue;
    ++crosses;
    EXPECT_EQ(w->Effect(it.id.substr(6), a), p.cross_help);
    EXPECT_EQ(w->Effect(it.id.substr(6), b), p.cross_mislead);
    EXPECT_EQ(it.signature.Categories(), (std::vector<std::string>{a, b}));
    const auto& other = w->pairs()[1];
    EXPECT_EQ(w->Effect(it.id.substr(6), other.first), 0);
  }
  EXPECT_EQ(crosses, 2);

  // Seeded: the same seed builds the same world, another seed another one.
  auto same = LearningWorld::Build(Tasks(), p);
  p.seed = 2;
  auto other = LearningWorld::Build(Tasks(), p);
  ASSERT_TRUE(same.ok() && other.ok());
  std::string roles_a, roles_b, roles_c;
  for (size_t i = 0; i < w->items().size(); ++i) {
    const std::string marker = "W" + std::to_string(i + 1);
    roles_a += std::to_string(w->Effect(marker, "activation")) + w->items()[i].signature.category;
    roles_b += std::to_string(same->Effect(marker, "activation")) + same->items()[i].signature.category;
    roles_c += std::to_string(other->Effect(marker, "activation")) + other->items()[i].signature.category;
  }
  EXPECT_EQ(roles_a, roles_b);
  EXPECT_NE(roles_a, roles_c);
}

TEST(LearningWorld, ChanceOfACorrectDraftFollowsWhatThePromptShows) {
  WorldParams p;
  auto w = LearningWorld::Build(Tasks(), p);
  ASSERT_TRUE(w.ok());
  const std::string task = "level1/17_softmax";
  auto nothing = w->Answer(Prompt(task, 3, {}));
  ASSERT_TRUE(nothing.ok()) << nothing.status().ToString();
  EXPECT_EQ(nothing->task_id, task);
  EXPECT_EQ(nothing->category, "activation");
  EXPECT_EQ(nothing->stage, "draft");
  EXPECT_EQ(nothing->iteration, 3);
  EXPECT_DOUBLE_EQ(nothing->p, p.base) << "feedback text is not shown experience";
  EXPECT_TRUE(nothing->seen.empty());

  const mem::MemoryItem* helpful = Find(*w, "activation", p.help);
  const mem::MemoryItem* misleading = Find(*w, "activation", p.mislead);
  ASSERT_TRUE(helpful && misleading);
  auto helped = w->Answer(Prompt(task, 3, {Shown(*helpful)}));
  ASSERT_TRUE(helped.ok());
  EXPECT_DOUBLE_EQ(helped->p, p.base + p.help);
  EXPECT_EQ(helped->seen, std::vector<std::string>{helpful->id.substr(6)});
  EXPECT_EQ(helped->u, nothing->u) << "the draw depends on seed, task and iteration only";
  auto both = w->Answer(Prompt(task, 3, {Shown(*helpful), Shown(*misleading)}));
  ASSERT_TRUE(both.ok());
  EXPECT_NEAR(both->p, p.base + p.help + p.mislead, 1e-12);
  // Help in one category is nothing in another.
  WorldParams second = p;
  second.pass = 2;
  auto w2 = LearningWorld::Build(Tasks(), second);
  ASSERT_TRUE(w2.ok());
  EXPECT_NE(w2->Answer(Prompt(task, 3, {}))->u, nothing->u) << "a second pass draws new luck";
  auto elsewhere = w->Answer(Prompt("level1/40_sum", 3, {Shown(*helpful)}));
  ASSERT_TRUE(elsewhere.ok());
  EXPECT_DOUBLE_EQ(elsewhere->p, p.base);

  // The run's own traces: a correct kernel of the other activation task helps; a failed attempt
  // at this task misleads; a correct kernel of another category does nothing.
  auto traced = w->Answer(Prompt(task, 3, {Trace("level1/12_relu", "correct")}));
  ASSERT_TRUE(traced.ok());
  EXPECT_DOUBLE_EQ(traced->p, p.base + p.trace_help);
  EXPECT_EQ(traced->seen, std::vector<std::string>{"kernel:level1/12_relu:correct"});
  auto decoy = w->Answer(Prompt(task, 3, {Trace(task, "wrong"), Shown(*helpful)}));
  ASSERT_TRUE(decoy.ok());
  EXPECT_NEAR(decoy->p, p.base + p.help + p.decoy, 1e-12);
  auto reused = w->Answer(Prompt(task, 3, {Trace(task, "correct")}));
  ASSERT_TRUE(reused.ok());
  EXPECT_DOUBLE_EQ(reused->p, p.base + p.reuse) << "the task's own correct kernel (an earlier pass's)";
  auto unrelated = w->Answer(Prompt(task, 3, {Trace("level1/40_sum", "correct")}));
  ASSERT_TRUE(unrelated.ok());
  EXPECT_DOUBLE_EQ(unrelated->p, p.base);

  // P is clamped; the verdict is the draw against it, and the reply carries the matching kernel
  // and says it is scripted.
  std::vector<PromptItem> lots(6, Shown(*helpful));
  auto many = w->Answer(Prompt(task, 3, lots));
  ASSERT_TRUE(many.ok());
  EXPECT_DOUBLE_EQ(many->p, 0.95);
  for (const auto& a : {*nothing, *many}) {
    EXPECT_EQ(a.correct, a.u < a.p);
    EXPECT_NE(a.text.find("not a model"), std::string::npos);
    if (a.correct) {
      EXPECT_NE(a.text.find("// world kernel: task=" + task + " correct\n// naive " + task), std::string::npos);
      EXPECT_EQ(a.text.find("static_assert"), std::string::npos);
    } else {
      EXPECT_NE(a.text.find("// world kernel: task=" + task + " wrong\n"), std::string::npos);
      EXPECT_NE(a.text.find("static_assert(sizeof(float) == 0"), std::string::npos);
    }
  }
  // Over many iterations, the share of correct drafts follows P.
  int correct_base = 0, correct_helped = 0;
  for (int it = 1; it <= 400; ++it) {
    correct_base += w->Answer(Prompt(task, it, {}))->correct;
    correct_helped += w->Answer(Prompt(task, it, {Shown(*helpful)}))->correct;
  }
  EXPECT_NEAR(correct_base / 400.0, p.base, 0.04);
  EXPECT_NEAR(correct_helped / 400.0, p.base + p.help, 0.08);
}

TEST(LearningWorld, RefiningGetsTheFastKernelAndBadInputIsNamed) {
  auto w = LearningWorld::Build(Tasks(), {});
  ASSERT_TRUE(w.ok());
  auto r = w->Answer(Prompt("level1/12_relu", 4, {}, /*refine=*/true));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->stage, "refine");
  EXPECT_NE(r->text.find("// world kernel: task=level1/12_relu fast\n// fast level1/12_relu"), std::string::npos);
  EXPECT_TRUE(r->seen.empty()) << "the start point is not retrieved experience";

  auto unknown = w->Answer(Prompt("level1/99_other", 1, {}));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("level1/99_other"), std::string::npos);
  EXPECT_FALSE(w->Answer("hello").ok());

  EXPECT_FALSE(LearningWorld::Build({}, {}).ok());
  auto dup = Tasks();
  dup.push_back(dup[0]);
  auto d = LearningWorld::Build(dup, {});
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("given twice"), std::string::npos);
  WorldParams bad;
  bad.own_helpful = 5;
  bad.own_misleading = 5;
  EXPECT_FALSE(LearningWorld::Build(Tasks(), bad).ok());
  auto no_code = Tasks();
  no_code[1].correct_code.clear();
  EXPECT_FALSE(LearningWorld::Build(no_code, {}).ok());
}

TEST(ScriptedServer, ResponderAnswersBeforeTheScript) {
  auto server = ScriptedLlmServer::Start();
  ASSERT_TRUE(server.ok());
  (*server)->SetDefault(ScriptStep::Text("from the script"));
  (*server)->SetResponder([](const nlohmann::json& body) -> std::optional<ScriptStep> {
    if (PromptText(body).find("world") == std::string::npos) return std::nullopt;
    return ScriptStep::Text("from the responder");
  });
  httplib::Client cli("127.0.0.1", (*server)->port());
  auto ask = [&](const std::string& text) {
    nlohmann::json req = {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", text}}}}};
    auto res = cli.Post("/v1/chat/completions", req.dump(), "application/json");
    EXPECT_TRUE(res && res->status == 200);
    return res ? nlohmann::json::parse(res->body)["choices"][0]["message"]["content"].get<std::string>() : "";
  };
  EXPECT_EQ(ask("hello world"), "from the responder");
  EXPECT_EQ(ask("hello"), "from the script");
  auto reqs = (*server)->Requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].answered_by, "responder");
  EXPECT_EQ(reqs[1].answered_by, "default");
}

}  // namespace
}  // namespace evokernel::testing
