// Run records: events survive, replay rebuilds progress, torn lines are skipped, one owner.
#include "agent/run_record.h"
#include "agent/agent.h"

#include <fstream>

#include <gtest/gtest.h>

#include "common/fs.h"

namespace evokernel {
namespace {
namespace fs = std::filesystem;

struct TempRuns {
  TempRuns() : dir(*MakeTempDir("evokernel-runs-test-")), cleanup(dir) {}
  fs::path dir;
  ScopedDir cleanup;
};

nlohmann::json Iter(const std::string& task, int i, bool feasible, std::optional<double> ms, const std::string& fb,
                    double cost = 0.01) {
  nlohmann::json e = {{"type", "iteration"}, {"task", task},        {"iteration", i},   {"feasible", feasible},
                      {"feedback", fb},      {"input_tokens", 100}, {"output_tokens", 50}, {"cost_usd", cost},
                      {"item_id", "m-" + std::to_string(i)}};
  if (ms) e["latency_ms"] = *ms;
  return e;
}

TEST(RunRecord, EventsReplayIntoProgress) {
  TempRuns t;
  {
    auto r = RunRecord::Create(t.dir, "run1", {{"method", "evokernel"}});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE((*r)->Append({{"type", "run_started"}}).ok());
    ASSERT_TRUE((*r)->Append(Iter("level1/19_relu", 1, false, std::nullopt, "wrong answer at [0, 3]")).ok());
    ASSERT_TRUE((*r)->Append(Iter("level1/19_relu", 2, true, 3.0, "")).ok());
    ASSERT_TRUE((*r)->Append(Iter("level1/19_relu", 3, true, 1.5, "")).ok());
    ASSERT_TRUE((*r)->Append(Iter("level1/19_relu", 4, false, std::nullopt, "compile error")).ok());
    ASSERT_TRUE((*r)->Append({{"type", "session_end"}, {"wall_seconds", 12.5}}).ok());
    auto path = (*r)->SaveAttempt("level1/19_relu", 4, "int x;\n", ".cpp");
    ASSERT_TRUE(path.ok());
    EXPECT_EQ(*path, "attempts/level1__19_relu/004.cpp");
    ASSERT_TRUE((*r)->SaveBest("level1/19_relu", "best;\n", {{"median_ms", 1.5}}, ".cpp").ok());
    // Another backend's kernels keep its extension.
    auto cl = (*r)->SaveAttempt("level1/19_relu", 5, "__kernel void k() {}\n", ".cl");
    ASSERT_TRUE(cl.ok());
    EXPECT_EQ(*cl, "attempts/level1__19_relu/005.cl");
    ASSERT_TRUE((*r)->SaveBest("level1/19_relu", "k;\n", {{"median_ms", 1.0}}, ".cl").ok());
    EXPECT_TRUE(fs::exists((*r)->BestKernelPath("level1/19_relu", ".cl")));
    EXPECT_EQ((*r)->BestKernelPath("level1/19_relu", ".cl").filename(), "kernel.cl");
    EXPECT_EQ((*r)->TaskState("level1/19_relu").iterations, 4);
    EXPECT_TRUE((*r)->progress().tasks.empty()) << "progress() is the state at open";
  }
  auto again = RunRecord::Open(t.dir, "run1");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  const RunProgress& rp = (*again)->progress();
  const TaskProgress& p = rp.tasks.at("level1/19_relu");
  EXPECT_EQ(p.iterations, 4);
  EXPECT_TRUE(p.feasible);
  EXPECT_EQ(p.first_feasible_iteration, 2);
  EXPECT_DOUBLE_EQ(*p.first_feasible_ms, 3.0);
  EXPECT_DOUBLE_EQ(*p.best_ms, 1.5);
  EXPECT_EQ(p.best_item, "m-3");
  EXPECT_EQ(p.last_feedback, "compile error");
  EXPECT_DOUBLE_EQ(rp.cost_usd, 0.04);
  EXPECT_DOUBLE_EQ(rp.input_tokens, 400);
  EXPECT_DOUBLE_EQ(rp.wall_seconds, 12.5);
  EXPECT_EQ(rp.sessions, 1);
  EXPECT_EQ((*again)->config()["method"], "evokernel");
  EXPECT_EQ(*ReadFile(t.dir / "run1" / "best" / "level1__19_relu" / "kernel.cpp"), "best;\n");
}

TEST(RunRecord, TornLastLineIsSkipped) {
  TempRuns t;
  {
    auto r = RunRecord::Create(t.dir, "run2", nlohmann::json::object());
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE((*r)->Append(Iter("a", 1, true, 2.0, "")).ok());
  }
  std::ofstream(t.dir / "run2" / "events.jsonl", std::ios::app) << "{\"type\": \"iteration\", \"task\": \"a\", \"itera";
  auto p = RunRecord::Replay(t.dir / "run2");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->tasks.at("a").iterations, 1);
  EXPECT_EQ(p->ignored_lines, 1);
}

// Resuming repairs a torn last line (the next event starts on a line of its own) but refuses a
// damaged line before the end and events that belong to another run.
TEST(RunRecord, ResumeRepairsATornTailAndRefusesDamageOrForeignEvents) {
  TempRuns t;
  {
    auto r = RunRecord::Create(t.dir, "run5", nlohmann::json::object());
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE((*r)->Append({{"type", "run_started"}, {"run", "run5"}}).ok());
    ASSERT_TRUE((*r)->Append(Iter("a", 1, true, 2.0, "")).ok());
  }
  const fs::path events = t.dir / "run5" / "events.jsonl";
  std::ofstream(events, std::ios::app) << "{\"type\": \"iteration\", \"task\": \"a\", \"itera";
  {
    auto r = RunRecord::Open(t.dir, "run5");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE((*r)->Append(Iter("a", 2, true, 1.0, "")).ok());
  }
  auto p = RunRecord::Replay(t.dir / "run5");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->tasks.at("a").iterations, 2);
  EXPECT_EQ(p->ignored_lines, 0) << "the torn fragment was cut, not glued to the next event";

  // Garbage in the middle: refused, naming the line.
  std::string text = *ReadFile(events);
  ASSERT_TRUE(WriteFileAtomic(events, text.substr(0, text.find('\n') + 1) + "garbage\n" + text.substr(text.find('\n') + 1)).ok());
  auto damaged = RunRecord::Open(t.dir, "run5");
  ASSERT_FALSE(damaged.ok());
  EXPECT_NE(damaged.status().message().find("events.jsonl:2: not an event"), std::string::npos) << damaged.status().message();

  // Another run's events copied in: refused.
  ASSERT_TRUE(WriteFileAtomic(events, nlohmann::json({{"type", "run_started"}, {"run", "other-run"}}).dump() + "\n").ok());
  auto foreign = RunRecord::Open(t.dir, "run5");
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.status().message().find("belong to run 'other-run', not to 'run5'"), std::string::npos)
      << foreign.status().message();
}

TEST(RunRecord, OnlyAnUnterminatedLastLineIsTornAndResumeEndsAWholeOne) {
  TempRuns t;
  {
    auto r = RunRecord::Create(t.dir, "run7", nlohmann::json::object());
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE((*r)->Append(Iter("a", 1, true, 2.0, "")).ok());
  }
  const fs::path events = t.dir / "run7" / "events.jsonl";
  const std::string good = *ReadFile(events);
  // A complete last line that does not parse is damage, not a tear: resuming past it would
  // bury it mid-file and make the run unreadable at the next resume.
  ASSERT_TRUE(WriteFileAtomic(events, good + "{\"type\":ation\"}\n").ok());
  auto damaged = RunRecord::Open(t.dir, "run7");
  ASSERT_FALSE(damaged.ok());
  EXPECT_NE(damaged.status().message().find("events.jsonl:2: not an event"), std::string::npos)
      << damaged.status().message();
  // A whole event whose newline was not written yet (a crash between the two): kept, and its
  // line is ended, so the next event does not glue onto it.
  ASSERT_TRUE(WriteFileAtomic(events, good + Iter("a", 2, true, 1.0, "").dump()).ok());
  {
    auto r = RunRecord::Open(t.dir, "run7");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ((*r)->progress().tasks.at("a").iterations, 2);
    ASSERT_TRUE((*r)->Append(Iter("a", 3, true, 0.5, "")).ok());
  }
  auto p = RunRecord::Replay(t.dir / "run7");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->tasks.at("a").iterations, 3);
  EXPECT_EQ(p->ignored_lines, 0);
}

TEST(RunRecord, MistypedFieldsAreDamageNamedByLineAndField) {
  TempRuns t;
  {
    auto r = RunRecord::Create(t.dir, "run6", nlohmann::json::object());
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE((*r)->Append({{"type", "run_started"}, {"run", "run6"}}).ok());
  }
  const fs::path events = t.dir / "run6" / "events.jsonl";
  const std::string good = *ReadFile(events);
  // Each of these, as the second line (or the last), used to escape replay as an exception.
  const std::vector<std::pair<nlohmann::json, std::string>> cases = {
      {{{"type", "iteration"}, {"task", "a"}, {"iteration", "three"}}, "field 'iteration': expected an integer, got string"},
      {{{"type", "iteration"}, {"task", "a"}, {"iteration", 1.5}}, "field 'iteration': expected an integer, got number"},
      {{{"type", "iteration"}, {"task", "a"}, {"iteration", -2}}, "field 'iteration': -2 is outside"},
      {{{"type", "iteration"}, {"task", 7}, {"iteration", 1}}, "field 'task': expected a string, got number"},
      {{{"type", 3}}, "field 'type': expected a string, got number"},
      {{{"type", "iteration"}, {"task", "a"}, {"iteration", 1}, {"feasible", "yes"}}, "field 'feasible'"},
      {{{"type", "iteration"}, {"task", "a"}, {"iteration", 1}, {"cost_usd", "free"}}, "field 'cost_usd': expected a number"},
      {{{"type", "session_end"}, {"wall_seconds", nullptr}}, "field 'wall_seconds'"},
      {{{"type", "task_error"}, {"task", "a"}, {"error", {1, 2}}}, "field 'error'"},
  };
  for (const auto& [event, message] : cases) {
    for (bool last : {false, true}) {
      std::string text = good + event.dump() + "\n";
      if (!last) text += nlohmann::json({{"type", "session_end"}, {"wall_seconds", 1.0}}).dump() + "\n";
      ASSERT_TRUE(WriteFileAtomic(events, text).ok());
      auto r = RunRecord::Open(t.dir, "run6");
      ASSERT_FALSE(r.ok()) << event.dump();
      EXPECT_NE(r.status().message().find("events.jsonl:2: " + message), std::string::npos) << r.status().message();
      EXPECT_FALSE(RunRecord::Replay(t.dir / "run6").ok());
    }
  }
}

TEST(RunRecord, OneOwnerAtATimeAndClearErrors) {
  TempRuns t;
  auto r = RunRecord::Create(t.dir, "run3", nlohmann::json::object());
  ASSERT_TRUE(r.ok());
  auto second = RunRecord::Open(t.dir, "run3");
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("in use"), std::string::npos) << second.status().message();
  auto dup = RunRecord::Create(t.dir, "run3", nlohmann::json::object());
  EXPECT_FALSE(dup.ok());
  auto missing = RunRecord::Open(t.dir, "no-such-run");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  r->reset();
  auto reopened = RunRecord::Open(t.dir, (t.dir / "run3").string());  // a path works too
  EXPECT_TRUE(reopened.ok()) << reopened.status().ToString();
}

TEST(RunRecord, IdsAndDirectoryNames) {
  std::string id = NewRunId();
  EXPECT_EQ(id.size(), std::string("20261121-071530-3fa2").size()) << id;
  EXPECT_NE(NewRunId(), NewRunId());
  EXPECT_EQ(TaskDirName("level2/23_matmul swish"), "level2__23_matmul_swish");
}

// A refinement replaces the best kernel only when it is faster by more than the uncertainty of
// its median: a gain inside the timing noise is not a new best.
TEST(NewBest, GainMustExceedTheMediansUncertainty) {
  Summary s;
  s.n = 16;
  s.median = 9.9e6;  // 9.9 ms
  s.p25 = 9.5e6;
  s.p75 = 10.3e6;  // IQR 0.8 ms: standard error of the median about 0.19 ms
  EXPECT_TRUE(BeatsBest(s, std::nullopt)) << "the first timed kernel is the best";
  EXPECT_FALSE(BeatsBest(s, 10.0)) << "0.1 ms faster, within the noise";
  EXPECT_FALSE(BeatsBest(s, 9.8)) << "slower";
  EXPECT_TRUE(BeatsBest(s, 11.0)) << "1.1 ms faster, well outside the noise";
  s.p25 = s.p75 = s.median;  // no spread at all
  EXPECT_TRUE(BeatsBest(s, 10.0));
}

}  // namespace
}  // namespace evokernel
