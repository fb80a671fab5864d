// Fuzz target: replaying a run's record (`evokernel evolve --resume RUN`, `evokernel report RUN`):
// RunRecord::Open and RunRecord::Replay in agent/run_record.cpp read events.jsonl, one JSON event
// per line, written by evokernel but possibly torn by a crash, edited or damaged.
//
// Input: the events file of a run directory in this process's private directory (its
// config.json is "{}"). Checked: nothing throws; a refusal names events.jsonl and a line; an
// accepted record replays the same progress through Replay and through Open (which may cut a
// torn last line and must then replay to the same progress again), with no negative counts.

#include <cstdint>

#include "agent/run_record.h"
#include "fuzz/fuzz_util.h"

namespace evokernel::fuzz {
namespace {
namespace fs = std::filesystem;

struct Totals {
  int tasks = 0, iterations = 0, feasible = 0, done = 0, sessions = 0;
  bool operator==(const Totals&) const = default;
};

Totals Sum(const RunProgress& p) {
  Totals t;
  t.sessions = p.sessions;
  for (const auto& [id, task] : p.tasks) {
    ++t.tasks;
    t.iterations += task.iterations;
    t.feasible += task.feasible;
    t.done += task.done;
    EVK_FUZZ_CHECK(task.iterations >= 0, "negative iterations for task " + id);
    EVK_FUZZ_CHECK(!task.feasible || task.first_feasible_iteration >= 0, "feasible without a first iteration");
  }
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fs::path run = [] {
    fs::path dir = PrivateDir() / "run-fuzz";
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (!WriteFileAtomic(dir / "config.json", "{}\n").ok()) Die("cannot write config.json");
    return dir;
  }();
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (!WriteFileAtomic(run / "events.jsonl", text).ok()) Die("cannot write events.jsonl");

  auto replayed = RunRecord::Replay(run);
  Note("replay: " + (replayed.ok() ? std::to_string(replayed->tasks.size()) + " task(s)" : replayed.status().ToString()));
  if (!replayed.ok()) {
    const std::string& msg = replayed.status().message();
    EVK_FUZZ_CHECK(msg.find("events.jsonl:") != std::string::npos, "the refusal names no line: " + msg);
    EVK_FUZZ_CHECK(!RunRecord::Open(run.parent_path(), "run-fuzz").ok(), "Open accepted what Replay refused");
    return 0;
  }
  const Totals before = Sum(*replayed);
  {
    auto opened = RunRecord::Open(run.parent_path(), "run-fuzz");
    EVK_FUZZ_CHECK(opened.ok(), opened.ok() ? "" : "Open refused what Replay accepted: " + opened.status().ToString());
    EVK_FUZZ_CHECK(Sum((*opened)->progress()) == before, "Open and Replay disagree");
  }
  auto again = RunRecord::Replay(run);  // after Open cut a torn tail, if any
  EVK_FUZZ_CHECK(again.ok(), again.ok() ? "" : "a record Open repaired does not replay: " + again.status().ToString());
  EVK_FUZZ_CHECK(Sum(*again) == before, "the repaired record replays to other progress");
  EVK_FUZZ_CHECK(again->ignored_lines == 0, "Open left a torn line");
  return 0;
}

}  // namespace evokernel::fuzz
