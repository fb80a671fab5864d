// `evokernel evolve` end to end against the scripted loopback LLM server: a run that drafts a
// wrong kernel, repairs it from the verifier's feedback, refines it faster, and then gets a
// useless reply; the values of the memory items shown move the right way; a run killed with
// SIGKILL resumes with nothing lost or repeated; no endpoint configured says what to set.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "agent/agent.h"
#include "backend/registry.h"
#include "memory/memory.h"
#include "support/scripted_llm_server.h"
#include "test_util.h"

namespace evokernel {
namespace {
namespace fs = std::filesystem;
using testing::KernelsDir;
using testing::MatchRule;
using testing::RunCli;
using testing::ScriptedLlmServer;
using testing::ScriptStep;

std::string Kernel(const std::string& name) {
  auto s = ReadFile(KernelsDir() / "level1__12_relu" / name);
  EXPECT_TRUE(s.ok()) << name;
  return s.ok() ? *s : "";
}

std::string Reply(const std::string& code) { return "Here is the kernel.\n\n```cpp\n" + code + "```\n"; }

struct Sandbox {
  Sandbox() : dir(*MakeTempDir("evokernel-agent-test-")), cleanup(dir) {}
  std::map<std::string, std::string> Env(const ScriptedLlmServer& server) const {
    return {{"EVOKERNEL_BASE_URL", server.openai_base_url()},
            {"EVOKERNEL_MODEL", "scripted-model"},
            {"EVOKERNEL_MEMORY", (dir / "bank.sqlite").string()},
            {"EVOKERNEL_RUNS_DIR", (dir / "runs").string()}};
  }
  fs::path RunDir() const {
    for (const auto& d : fs::directory_iterator(dir / "runs")) return d.path();
    return {};
  }
  fs::path dir;
  ScopedDir cleanup;
};

std::vector<nlohmann::json> Iterations(const fs::path& run_dir) {
  std::vector<nlohmann::json> out;
  std::ifstream in(run_dir / "events.jsonl");
  for (std::string line; std::getline(in, line);) {
    auto e = nlohmann::json::parse(line, nullptr, false);
    if (e.is_object() && e.value("type", "") == "iteration") out.push_back(e);
  }
  return out;
}

nlohmann::json ShowItem(const Sandbox& sb, const std::string& id) {
  auto r = RunCli({"memory", "show", id, "--json", "--bank", (sb.dir / "bank.sqlite").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.json;
}

TEST(Evolve, DraftsRepairsRefinesAndLearns) {
  auto server = ScriptedLlmServer::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  // Refining prompts get the fast kernel once; a draft prompt carrying a wrong-answer feedback
  // gets a correct but slow kernel (several times slower on any machine); the first draft is
  // wrong; anything else is prose.
  MatchRule refine{"Start point: a verified kernel", "last_user", 1, ScriptStep::Text(Reply(Kernel("fast.cpp")))};
  MatchRule repair{"previous attempt[\\s\\S]{0,600}elements wrong", "last_user", -1,
                   ScriptStep::Text(Reply(Kernel("ok_strided.cpp")))};
  (*server)->AddRule(refine);
  (*server)->AddRule(repair);
  (*server)->Push(ScriptStep::Text(Reply(Kernel("wrong_answer.cpp"))));
  (*server)->SetDefault(ScriptStep::Text("I would vectorise it, but I will not write code today."));

  Sandbox sb;
  auto r = RunCli({"evolve", "--task", "level1/12_relu", "--budget", "4", "--no-llm-cache", "--json",
                   "--timing-budget", "0.1"},
                  600, sb.Env(**server));
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(r.json["feasible_tasks"], 1) << r.out;
  EXPECT_EQ(r.json["iterations"], 4);
  fs::path run = sb.RunDir();
  auto its = Iterations(run);
  ASSERT_EQ(its.size(), 4u) << r.err;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(its[i]["iteration"], i + 1);
  EXPECT_EQ(its[0]["outcome"], "correctness/wrong_answer");
  EXPECT_EQ(its[0]["stage"], "draft");
  EXPECT_EQ(its[0]["reward"], -1.0);
  EXPECT_EQ(its[1]["outcome"], "feasible") << its[1]["feedback"];
  EXPECT_EQ(its[1]["stage"], "draft");
  EXPECT_EQ(its[1]["reward"], 1.0);
  EXPECT_EQ(its[2]["outcome"], "feasible") << its[2]["feedback"];
  EXPECT_EQ(its[2]["stage"], "refine");
  EXPECT_EQ(its[2]["start_point"], its[1]["item_id"]);
  EXPECT_LT(its[2]["latency_ms"].get<double>(), its[1]["latency_ms"].get<double>());
  EXPECT_GT(its[2]["reward"].get<double>(), 0) << "faster than the best so far";
  EXPECT_TRUE(its[2]["new_best"].get<bool>());
  // The refining step was timed alternately with the best (the strided kernel) in the same
  // evaluation, and that paired comparison decided the new best; drafts have none.
  ASSERT_TRUE(its[2]["vs_best"].is_object()) << its[2].dump();
  EXPECT_EQ(its[2]["vs_best"]["verdict"], "faster") << its[2]["vs_best"].dump();
  EXPECT_LT(its[2]["vs_best"]["ratio_hi"].get<double>(), 1.0);
  EXPECT_TRUE(its[1]["vs_best"].is_null());
  EXPECT_EQ(its[3]["outcome"], "extract/no_code");
  EXPECT_EQ(its[3]["reward"], -1.0);
  EXPECT_LT(its[3]["normalised_reward"].get<double>(), 0);
  for (const auto& e : its) {
    EXPECT_EQ(e["model"], "scripted-model");
    EXPECT_GT(e["input_tokens"].get<int64_t>(), 0);
    EXPECT_EQ(e["prompt_hash"].get<std::string>().size(), 64u);
  }
  // The repair prompt carried the feedback of the wrong answer.
  auto reqs = (*server)->Requests();
  ASSERT_EQ(reqs.size(), 4u);
  EXPECT_NE(reqs[1].body.find("elements wrong"), std::string::npos);
  EXPECT_EQ(reqs[0].body.find("previous attempt"), std::string::npos);
  // The step after the refinement was told how the paired comparison came out.
  EXPECT_NE(reqs[3].body.find("Timed alternately with the best kernel so far"), std::string::npos);

  // The best kernel is the fast one, with its verifier result.
  auto best = ReadFile(run / "best" / "level1__12_relu" / "kernel.cpp");
  ASSERT_TRUE(best.ok());
  EXPECT_EQ(*best, Kernel("fast.cpp"));
  auto best_json = nlohmann::json::parse(*ReadFile(run / "best" / "level1__12_relu" / "result.json"));
  EXPECT_TRUE(best_json["feasible"].get<bool>());
  EXPECT_EQ(best_json["iteration"], 3);

  // Values: the wrong draft's trace was shown at iteration 2, which succeeded: Q_draft +0.2.
  // Items shown at both iterations 1 (-1) and 2 (+1): 0 -> -0.2 -> 0.04.
  std::set<std::string> used1, used2;
  for (const auto& id : its[0]["items_used"]) used1.insert(id.get<std::string>());
  for (const auto& id : its[1]["items_used"]) used2.insert(id.get<std::string>());
  ASSERT_FALSE(used1.empty()) << "the first draft was shown seed knowledge";
  const std::string trace1 = its[0]["item_id"];
  ASSERT_TRUE(used2.count(trace1)) << "iteration 2 recalls iteration 1's trace of the same task";
  EXPECT_NEAR(ShowItem(sb, trace1)["q_draft"].get<double>(), 0.2, 1e-9);
  for (const auto& id : used1) {
    auto item = ShowItem(sb, id);
    if (used2.count(id)) {
      EXPECT_NEAR(item["q_draft"].get<double>(), 0.04, 1e-9) << id;
      EXPECT_EQ(item["visits_draft"], 2) << id;
    } else {
      EXPECT_NEAR(item["q_draft"].get<double>(), -0.2, 1e-9) << id;
    }
  }
  // The start point of the failed refinement lost refining value.
  auto start4 = ShowItem(sb, its[3]["start_point"].get<std::string>());
  EXPECT_LT(start4["q_refine"].get<double>(), 0);
  EXPECT_GE(start4["visits_refine"].get<int>(), 1);
}

TEST(Evolve, ResumesAfterKillWithNothingLostOrRepeated) {
  auto server = ScriptedLlmServer::Start();
  ASSERT_TRUE(server.ok());
  ScriptStep slow = ScriptStep::Text(Reply(Kernel("naive.cpp")));
  slow.delay_ms = 1500;
  (*server)->SetDefault(slow);
  Sandbox sb;
  testing::UsePrivateCache();
  SpawnOptions so;
  so.argv = {EVOKERNEL_BIN, "evolve", "--task", "level1/12_relu", "--budget", "3", "--no-llm-cache", "--quiet",
             "--timing-budget", "0.1"};
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    env[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
  }
  for (const auto& [k, v] : sb.Env(**server)) env[k] = v;
  so.env = env;
  so.pipe_stdin = false;
  auto proc = Subprocess::Spawn(so);
  ASSERT_TRUE(proc.ok()) << proc.status().ToString();
  // Kill it (and its process group) as soon as one iteration is on record.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  fs::path run;
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(sb.dir / "runs")) run = sb.RunDir();
    if (!run.empty() && Iterations(run).size() >= 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(run.empty());
  ASSERT_GE(Iterations(run).size(), 1u);
  auto killed = (*proc)->Kill();
  EXPECT_FALSE(killed.exited);
  size_t before = Iterations(run).size();
  ASSERT_LT(before, 3u) << "killed too late to test resuming";

  auto r = RunCli({"evolve", "--resume", run.filename().string(), "--no-llm-cache", "--json"}, 600, sb.Env(**server));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto its = Iterations(run);
  ASSERT_EQ(its.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(its[i]["iteration"], i + 1) << "each iteration exactly once";
  // The bank holds exactly one trace per iteration of this run.
  auto list = RunCli({"memory", "list", "--json", "--kind", "trace", "--bank", (sb.dir / "bank.sqlite").string()});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  ASSERT_TRUE(list.json.is_array()) << list.out;
  std::set<std::string> ids;
  for (const auto& item : list.json) ids.insert(item["id"].get<std::string>());
  EXPECT_EQ(ids.size(), 3u) << list.out.substr(0, 2000);
  for (const auto& e : its) EXPECT_TRUE(ids.count(e["item_id"].get<std::string>())) << e["item_id"];
  // The resumed session is recorded.
  auto events = ReadFile(run / "events.jsonl");
  EXPECT_NE(events->find("\"resumed\""), std::string::npos);
}

// A reply beyond max_reply_bytes is cut by the provider; the agent records it as an infeasible
// attempt (stored cut, tokens counted from the kept text, not the megabytes sent) and goes on.
TEST(Evolve, OversizedReplyIsAnInfeasibleAttemptStoredCut) {
  auto server = ScriptedLlmServer::Start();
  ASSERT_TRUE(server.ok());
  ScriptStep huge = ScriptStep::Text("");
  huge.oversized_bytes = 3 << 20;  // 3 MiB of filler
  (*server)->Push(huge);
  (*server)->SetDefault(ScriptStep::Text(Reply(Kernel("naive.cpp"))));
  Sandbox sb;
  auto env = sb.Env(**server);
  env["EVOKERNEL_MAX_REPLY_BYTES"] = "65536";
  auto r = RunCli({"evolve", "--task", "level1/12_relu", "--budget", "2", "--no-llm-cache", "--json",
                   "--timing-budget", "0.05"},
                  600, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto its = Iterations(sb.RunDir());
  ASSERT_EQ(its.size(), 2u);
  EXPECT_EQ(its[0]["outcome"], "extract/reply_too_large");
  EXPECT_TRUE(its[0]["reply_oversized"].get<bool>());
  EXPECT_NE(its[0]["feedback"].get<std::string>().find("65536 bytes"), std::string::npos) << its[0]["feedback"];
  EXPECT_LE(its[0]["output_tokens"].get<int64_t>(), 65536 / 4 + 1) << "counted from the kept text";
  EXPECT_GT(its[0]["output_tokens"].get<int64_t>(), 0);
  auto attempt = ReadFile(sb.RunDir() / its[0]["attempt"].get<std::string>());
  ASSERT_TRUE(attempt.ok());
  EXPECT_LE(attempt->size(), 65536u);
  EXPECT_GT(attempt->size(), 60000u) << "stored cut, not dropped";
  EXPECT_EQ(its[1]["outcome"], "feasible") << its[1]["feedback"];
  EXPECT_FALSE(its[1]["reply_oversized"].get<bool>());
}

// Crash consistency: the run is killed (SIGKILL, via $EVOKERNEL_CRASH_AT) right after each
// durable write of its second iteration (a refining step that sets a new best), then resumed.
// Whatever the point, the events, the attempt files, the bank's traces and summaries, the
// visit counts, the reward normaliser and the best kernel must all describe the same kernels,
// exactly once per iteration.
class CrashConsistency : public ::testing::TestWithParam<std::string> {};

TEST_P(CrashConsistency, ResumeLeavesRecordsAndBankInAgreement) {
  auto server = ScriptedLlmServer::Start();
  ASSERT_TRUE(server.ok());
  // Drafts get a slow kernel, refinements the fast one (usually a new best at iteration 2).
  (*server)->AddRule({"Start point: a verified kernel", "last_user", -1, ScriptStep::Text(Reply(Kernel("fast.cpp")))});
  (*server)->SetDefault(ScriptStep::Text(Reply(Kernel("ok_strided.cpp"))));
  Sandbox sb;
  const std::vector<std::string> args = {"evolve", "--task", "level1/12_relu", "--budget", "3", "--no-llm-cache",
                                         "--json", "--timing-budget", "0.1"};
  auto env = sb.Env(**server);
  env["EVOKERNEL_CRASH_AT"] = GetParam();
  auto crashed = RunCli(args, 600, env);
  ASSERT_EQ(crashed.exit_code, 128 + SIGKILL) << "the crash point " << GetParam() << " was not reached\n"
                                               << crashed.err;
  fs::path run = sb.RunDir();
  ASSERT_LT(Iterations(run).size(), 3u);
  EXPECT_EQ(fs::exists(run / "pending" / "level1__12_relu.json"),
            GetParam().rfind("attempt", 0) != 0)
      << "after the attempt file nothing of the iteration is written; from the pending outcome on, it is";
  auto r = RunCli({"evolve", "--resume", run.filename().string(), "--no-llm-cache", "--json"}, 600, sb.Env(**server));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(run / "pending" / "level1__12_relu.json")) << "the pending outcome was applied";

  auto its = Iterations(run);
  ASSERT_EQ(its.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(its[i]["iteration"], i + 1) << "each iteration exactly once";
  EXPECT_EQ(its[1]["stage"], "refine");

  auto store = memory::OpenSqliteStore(sb.dir / "bank.sqlite");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  memory::ListFilter traces;
  traces.kind = memory::ItemKind::kTrace;
  auto bank_traces = (*store)->List(traces);
  ASSERT_TRUE(bank_traces.ok());
  ASSERT_EQ(bank_traces->size(), 3u) << "one trace per iteration, none from a redo";
  std::map<std::string, int> visits_draft, visits_refine;  // what the events say was shown
  int refine_steps = 0, new_bests = 0;
  std::string last_best_attempt;
  for (const auto& e : its) {
    // The event, its attempt file and the bank's trace describe one kernel.
    auto trace = (*store)->Get(e["item_id"].get<std::string>());
    ASSERT_TRUE(trace.ok()) << e["item_id"];
    auto attempt = ReadFile(run / e["attempt"].get<std::string>());
    ASSERT_TRUE(attempt.ok());
    EXPECT_EQ(trace->content, *attempt) << "iteration " << e["iteration"];
    EXPECT_EQ(trace->outcome, e["outcome"].get<std::string>());
    ASSERT_EQ(trace->latency_ms.has_value(), !e["latency_ms"].is_null());
    if (trace->latency_ms) {
      EXPECT_DOUBLE_EQ(*trace->latency_ms, e["latency_ms"].get<double>());
    }
    const bool refine = e["stage"] == "refine";
    refine_steps += refine;
    auto& visits = refine ? visits_refine : visits_draft;
    for (const auto& id : e["items_used"]) ++visits[id.get<std::string>()];
    if (refine && !e["start_point"].is_null()) {
      bool shown = false;
      for (const auto& id : e["items_used"]) shown |= id == e["start_point"];
      if (!shown) ++visits[e["start_point"].get<std::string>()];
    }
    if (e["new_best"].get<bool>()) {
      ++new_bests;
      last_best_attempt = e["attempt"].get<std::string>();
    }
  }
  // Visit counts in the bank agree with the events (no update applied twice or lost).
  for (const auto& [id, n] : visits_draft) {
    auto item = (*store)->Get(id);
    ASSERT_TRUE(item.ok()) << id;
    EXPECT_EQ(item->visits_draft, n) << id;
  }
  for (const auto& [id, n] : visits_refine) {
    auto item = (*store)->Get(id);
    ASSERT_TRUE(item.ok()) << id;
    EXPECT_EQ(item->visits_refine, n) << id;
  }
  // One summary per new best, each pointing at its iteration's trace.
  memory::ListFilter summaries;
  summaries.kind = memory::ItemKind::kSummary;
  auto bank_summaries = (*store)->List(summaries);
  ASSERT_TRUE(bank_summaries.ok());
  EXPECT_EQ(static_cast<int>(bank_summaries->size()), new_bests);
  for (const auto& s : *bank_summaries) {
    bool found = false;
    for (const auto& e : its) found |= e["item_id"] == s.parent_id && e["new_best"].get<bool>();
    EXPECT_TRUE(found) << s.id << " summarises " << s.parent_id;
  }
  // Each refining reward entered the normaliser once.
  auto norm = (*store)->LoadNormaliser(memory::Stage::kRefine);
  ASSERT_TRUE(norm.ok());
  EXPECT_EQ(norm->count, refine_steps);
  // The best kernel is the last new best's attempt.
  ASSERT_FALSE(last_best_attempt.empty());
  EXPECT_EQ(*ReadFile(run / "best" / "level1__12_relu" / "kernel.cpp"), *ReadFile(run / last_best_attempt));
  auto best_json = nlohmann::json::parse(*ReadFile(run / "best" / "level1__12_relu" / "result.json"));
  EXPECT_EQ("attempts/level1__12_relu/" + fmt::format("{:03d}.cpp", best_json["iteration"].get<int>()),
            last_best_attempt);
}

// Each durable write of an iteration, at its arrival in iteration 2 (the normaliser is written
// by refining steps only, so its first arrival is iteration 2), except the best kernel: whether
// the refinement beats the draft depends on the machine's load, so it is killed at iteration
// 1's (a first feasible kernel is always saved).
INSTANTIATE_TEST_SUITE_P(EveryDurableWrite, CrashConsistency,
                         ::testing::Values("attempt:2", "pending:2", "normaliser:1", "commit:2", "best:1",
                                           "event:2"),
                         [](const auto& info) { return info.param.substr(0, info.param.find(':')); });

// The same loop on the OpenCL backend (PoCL): OpenCL prompts and seed notes, replies in
// ```opencl blocks, the verifier's OpenCL path, attempts and the best kernel saved as .cl.
TEST(Evolve, OpenClBackendDraftsRepairsAndRefines) {
  auto server = ScriptedLlmServer::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto cl = [](const std::string& name) { return "Kernel file:\n\n```opencl\n" + Kernel(name) + "```\n"; };
  (*server)->AddRule({"Start point: a verified kernel", "last_user", 1, ScriptStep::Text(cl("fast.cl"))});
  (*server)->AddRule({"previous attempt[\\s\\S]{0,600}elements wrong", "last_user", -1, ScriptStep::Text(cl("naive.cl"))});
  (*server)->Push(ScriptStep::Text(cl("wrong_answer.cl")));
  (*server)->SetDefault(ScriptStep::Text("No kernel this time."));
  Sandbox sb;
  auto r = RunCli({"evolve", "--backend", "opencl", "--task", "level1/12_relu", "--budget", "3", "--no-llm-cache",
                   "--json", "--timing-budget", "0.1"},
                  600, sb.Env(**server));
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(r.json["feasible_tasks"], 1) << r.out;
  fs::path run = sb.RunDir();
  auto its = Iterations(run);
  ASSERT_EQ(its.size(), 3u) << r.err;
  EXPECT_EQ(its[0]["outcome"], "correctness/wrong_answer") << its[0]["feedback"];
  EXPECT_EQ(its[1]["outcome"], "feasible") << its[1]["feedback"];
  EXPECT_EQ(its[2]["stage"], "refine");
  EXPECT_EQ(its[2]["outcome"], "feasible") << its[2]["feedback"];
  EXPECT_LT(its[2]["latency_ms"].get<double>(), its[1]["latency_ms"].get<double>());
  EXPECT_TRUE(its[2]["new_best"].get<bool>());
  EXPECT_FALSE(its[0]["items_used"].empty()) << "the OpenCL seed notes were recalled";
  // Prompts were the OpenCL ones: the launch-plan rules, kernels in opencl fences.
  auto reqs = (*server)->Requests();
  ASSERT_EQ(reqs.size(), 3u);
  for (const auto& q : reqs) {
    EXPECT_NE(q.body.find("//@launch"), std::string::npos);
    EXPECT_EQ(q.body.find("```cpp"), std::string::npos);
    EXPECT_EQ(q.body.find("evokernel_forward"), std::string::npos);
  }
  EXPECT_NE(reqs[2].body.find("```opencl"), std::string::npos);
  // Records carry the OpenCL extension.
  auto best = ReadFile(run / "best" / "level1__12_relu" / "kernel.cl");
  ASSERT_TRUE(best.ok()) << "no best kernel.cl in " << run;
  EXPECT_EQ(*best, Kernel("fast.cl"));
  EXPECT_FALSE(fs::exists(run / "best" / "level1__12_relu" / "kernel.cpp"));
  int cl_attempts = 0;
  for (const auto& f : fs::recursive_directory_iterator(run))
    if (f.path().extension() == ".cl" && f.path().string().find("attempt") != std::string::npos) ++cl_attempts;
  EXPECT_EQ(cl_attempts, 3);
}

// A task that cannot be loaded (a syntax error in its file) is skipped, but the run exits
// non-zero and names it with the reason; the other tasks of the run still go on.
TEST(Evolve, BrokenTaskFileFailsTheRunAndIsNamed) {
  auto server = ScriptedLlmServer::Start();
  ASSERT_TRUE(server.ok());
  (*server)->SetDefault(ScriptStep::Text(Reply(Kernel("naive.cpp"))));
  Sandbox sb;
  const std::string bad = (testing::FixturesDir() / "bad_syntax.py").string();
  auto r = RunCli({"evolve", "--task", bad, "--task", "level1/12_relu", "--budget", "1", "--no-llm-cache", "--json",
                   "--timing-budget", "0.1"},
                  600, sb.Env(**server));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("could not be loaded"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bad_syntax.py:5"), std::string::npos) << r.err;
  ASSERT_TRUE(r.json.is_object()) << r.out;
  EXPECT_EQ(r.json["task_errors"].size(), 1u) << r.out;
  EXPECT_EQ(r.json["feasible_tasks"], 1) << "the good task still ran";
}

TEST(Evolve, PassKSamplesIndependentlyWithOneDemonstrationAndNoBank) {
  auto server = ScriptedLlmServer::Start();
  ASSERT_TRUE(server.ok());
  (*server)->Push(ScriptStep::Text(Reply(Kernel("wrong_answer.cpp"))));
  (*server)->SetDefault(ScriptStep::Text(Reply(Kernel("naive.cpp"))));
  Sandbox sb;
  auto r = RunCli({"evolve", "--task", "level1/12_relu", "--budget", "3", "--method", "passk", "--no-llm-cache",
                   "--timing-budget", "0.1"},
                  600, sb.Env(**server));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto its = Iterations(sb.RunDir());
  ASSERT_EQ(its.size(), 3u);
  EXPECT_EQ(its[0]["outcome"], "correctness/wrong_answer");
  for (const auto& e : its) {
    EXPECT_EQ(e["stage"], "draft") << "pass@k never refines";
    EXPECT_EQ(e["method"], "passk");
    // Each prompt shows one demonstration, and the record says which (no value is updated:
    // there is no bank).
    ASSERT_EQ(e["items_used"].size(), 1u) << e.dump();
    EXPECT_FALSE(e["items_used"][0].get<std::string>().empty());
    EXPECT_EQ(e["items_used"], its[0]["items_used"]);
    EXPECT_EQ(e["item_id"], "");
  }
  EXPECT_EQ(its[1]["outcome"], "feasible");
  auto reqs = (*server)->Requests();
  ASSERT_EQ(reqs.size(), 3u);
  for (const auto& q : reqs) {
    EXPECT_EQ(q.body.find("previous attempt"), std::string::npos) << "independent samples get no feedback";
    EXPECT_NE(q.body.find("knowledge:"), std::string::npos) << "one demonstration is shown";
  }
  EXPECT_FALSE(fs::exists(sb.dir / "bank.sqlite")) << "pass@k neither reads nor writes the bank";
}

TEST(Evolve, DraftOnlyStopsEachTaskAtItsFirstFeasibleKernel) {
  auto server = ScriptedLlmServer::Start();
  ASSERT_TRUE(server.ok());
  (*server)->Push(ScriptStep::Text(Reply(Kernel("wrong_answer.cpp"))));
  (*server)->SetDefault(ScriptStep::Text(Reply(Kernel("naive.cpp"))));
  Sandbox sb;
  auto r = RunCli({"evolve", "--task", "level1/12_relu", "--budget", "5", "--draft-only", "--no-llm-cache",
                   "--timing-budget", "0.1"},
                  600, sb.Env(**server));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("(drafting only)"), std::string::npos) << r.err;
  auto its = Iterations(sb.RunDir());
  ASSERT_EQ(its.size(), 2u) << "a wrong draft, then the feasible one ends the task";
  EXPECT_EQ(its[0]["outcome"], "correctness/wrong_answer");
  EXPECT_EQ(its[1]["outcome"], "feasible");
  for (const auto& e : its) EXPECT_EQ(e["stage"], "draft");
  EXPECT_EQ((*server)->RequestCount(), 2u);
  std::ifstream in(sb.RunDir() / "events.jsonl");
  std::string done_reason;
  for (std::string line; std::getline(in, line);) {
    auto e = nlohmann::json::parse(line, nullptr, false);
    if (e.is_object() && e.value("type", "") == "task_done") done_reason = e.value("reason", "");
  }
  EXPECT_EQ(done_reason, "feasible");
  auto cfg = nlohmann::json::parse(*ReadFile(sb.RunDir() / "config.json"));
  EXPECT_EQ(cfg["draft_only"], true) << cfg.dump();

  // Resuming it with a larger budget and without the flag keeps it drafting-only: nothing to do.
  auto again = RunCli({"evolve", "--resume", sb.RunDir().string(), "--budget", "8", "--no-llm-cache"}, 600,
                      sb.Env(**server));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(Iterations(sb.RunDir()).size(), 2u);
  EXPECT_EQ((*server)->RequestCount(), 2u);
}

TEST(Evolve, RefineMethodRepairsThenHillClimbsFromItsOwnBest) {
  auto server = ScriptedLlmServer::Start();
  ASSERT_TRUE(server.ok());
  (*server)->AddRule({"Start point: a verified kernel", "last_user", 1, ScriptStep::Text(Reply(Kernel("fast.cpp")))});
  (*server)->AddRule({"previous attempt[\\s\\S]{0,600}elements wrong", "last_user", -1,
                      ScriptStep::Text(Reply(Kernel("ok_strided.cpp")))});
  (*server)->Push(ScriptStep::Text(Reply(Kernel("wrong_answer.cpp"))));
  (*server)->SetDefault(ScriptStep::Text("no code"));
  Sandbox sb;
  auto r = RunCli({"evolve", "--task", "level1/12_relu", "--budget", "3", "--method", "refine", "--no-llm-cache",
                   "--timing-budget", "0.1"},
                  600, sb.Env(**server));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto its = Iterations(sb.RunDir());
  ASSERT_EQ(its.size(), 3u);
  EXPECT_EQ(its[0]["outcome"], "correctness/wrong_answer");
  EXPECT_EQ(its[1]["outcome"], "feasible");
  EXPECT_EQ(its[2]["stage"], "refine");
  EXPECT_EQ(its[2]["outcome"], "feasible");
  EXPECT_TRUE(its[2]["new_best"].get<bool>());
  auto reqs = (*server)->Requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_NE(reqs[2].body.find("evokernel_forward"), std::string::npos);
  EXPECT_EQ(reqs[2].body.find("knowledge:"), std::string::npos) << "no shared memory is shown";
  EXPECT_FALSE(fs::exists(sb.dir / "bank.sqlite"));
}

TEST(Evolve, TokenBudgetStopsTheRunAndResumeContinuesIt) {
  auto server = ScriptedLlmServer::Start();
  ASSERT_TRUE(server.ok());
  ScriptStep wrong = ScriptStep::Text(Reply(Kernel("wrong_answer.cpp")));
  wrong.usage = std::make_pair(int64_t{1000}, int64_t{500});
  (*server)->SetDefault(wrong);
  Sandbox sb;
  auto r = RunCli({"evolve", "--task", "level1/12_relu", "--budget", "4", "--no-llm-cache", "--max-tokens", "2500",
                   "--json", "--value-scope", "item"},
                  600, sb.Env(**server));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(r.json["stopped_by_budget"].get<bool>()) << r.out;
  EXPECT_NE(r.json["stop_reason"].get<std::string>().find("token budget"), std::string::npos);
  auto run = sb.RunDir();
  EXPECT_EQ(Iterations(run).size(), 2u) << "1500 tokens per call: the third call would pass 2500";
  // The value scope is part of the run's config; every update also learns the value of the items
  // shown in the task's category (whatever the scope ranks by), which `memory show` reports.
  EXPECT_EQ(nlohmann::json::parse(*ReadFile(run / "config.json"))["memory"]["value_scope"], "item");
  const auto shown = Iterations(run)[0]["items_used"];
  ASSERT_FALSE(shown.empty());
  const auto item = ShowItem(sb, shown[0].get<std::string>());
  ASSERT_TRUE(item.contains("state_values")) << item.dump();
  EXPECT_EQ(item["state_values"][0]["state"], "activation");
  EXPECT_EQ(item["state_values"][0]["stage"], "draft");
  EXPECT_EQ(item["state_values"][0]["visits"], item["visits_draft"]);
  EXPECT_EQ(item["state_values"][0]["q"], item["q_draft"]) << "one category: the same value as the global one";
  auto text = RunCli({"memory", "show", shown[0].get<std::string>(), "--bank", (sb.dir / "bank.sqlite").string()});
  EXPECT_NE(text.out.find("Q by state"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("activation"), std::string::npos) << text.out;
  // Flags that would change what the run learns from are not applied on resume, and said so;
  // the same value as recorded is not mentioned.
  auto again = RunCli({"evolve", "--resume", run.string(), "--no-llm-cache", "--json", "--method", "passk",
                       "--context-size", "3", "--seed", "1", "--value-scope", "neighbourhood"},
                      600, sb.Env(**server));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("ignored on resume: --method passk (the run uses evokernel)"), std::string::npos)
      << again.err;
  EXPECT_NE(again.err.find("ignored on resume: --value-scope neighbourhood (the run uses item)"), std::string::npos)
      << again.err;
  EXPECT_NE(again.err.find("ignored on resume: --context-size 3"), std::string::npos) << again.err;
  EXPECT_EQ(again.err.find("--seed"), std::string::npos) << again.err;
  auto its = Iterations(run);
  ASSERT_EQ(its.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(its[i]["iteration"], i + 1);
}

TEST(Evolve, WithoutAModelSaysWhatToConfigure) {
  Sandbox sb;
  // Leftovers of a killed evokernel on this host (a runner directory of a dead pid) are swept
  // when evolve starts, even when it then stops for want of a model.
  fs::create_directories(sb.dir / "tmp");
  auto mine = MakeOwnedTempDir("evokernel-run-", sb.dir / "tmp");
  ASSERT_TRUE(mine.ok());
  pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  std::string dead_name = mine->filename().string();
  const std::string me = "." + std::to_string(getpid()) + "-";
  dead_name.replace(dead_name.find(me), me.size(), "." + std::to_string(child) + "-");
  fs::create_directories(sb.dir / "tmp" / dead_name);
  // A method that needs a model, asked for by name, with none configured.
  auto r = RunCli({"evolve", "--method", "evokernel", "--task", "level1/12_relu", "--budget", "1"}, 60,
                  {{"EVOKERNEL_BASE_URL", ""}, {"EVOKERNEL_MODEL", ""}, {"EVOKERNEL_RUNS_DIR", (sb.dir / "runs").string()},
                   {"EVOKERNEL_CONFIG", ""}, {"TMPDIR", (sb.dir / "tmp").string()}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("EVOKERNEL_MODEL"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(sb.dir / "tmp" / dead_name)) << "a dead process's directory was swept";
  EXPECT_TRUE(fs::exists(*mine)) << "a live process's directory is kept";
  EXPECT_NE(r.err.find("left behind by evokernel processes that died"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(sb.dir / "runs")) << "no run is created without a model";
}

// The graph recipe compiles forward()'s statements: a GEMM with its epilogue (level2), a
// convolution with batch-statistics BatchNorm and a residual, a pooling, attention with a
// causal mask built from torch.ones / triu / masked_fill, and a cumsum over a torch.cat of
// narrowed views. Each first draft is correct on the verifier's fresh and hidden inputs.
TEST(Evolve, BuiltinGraphRecipeDraftsCorrectKernelsForFusedTasks) {
  Sandbox sb;
  std::vector<std::string> args = {"evolve", "--method", "builtin", "--budget", "1", "--json", "--timing-budget", "0.1"};
  for (const char* t : {"level2/17_gemm_sigmoid_sum", "level2/14_conv2d_batchnorm_relu_residual", "level1/35_maxpool2d",
                        "level1/73_causal_attention", "level1/70_exclusive_cumsum"}) {
    args.push_back("--task");
    args.push_back(t);
  }
  auto r = RunCli(args, 900, {{"EVOKERNEL_RUNS_DIR", (sb.dir / "runs").string()}, {"EVOKERNEL_BASE_URL", ""},
                              {"EVOKERNEL_MEMORY", (sb.dir / "bank.sqlite").string()}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto its = Iterations(sb.RunDir());
  ASSERT_EQ(its.size(), 5u);
  for (const auto& e : its) {
    EXPECT_EQ(e["outcome"], "feasible") << e["task"] << ": " << e["feedback"];
    auto code = ReadFile(sb.RunDir() / e["attempt"].get<std::string>());
    ASSERT_TRUE(code.ok());
    EXPECT_EQ(code->rfind("// evokernel-builtin recipe=graph ", 0), 0u) << *code;
  }
  EXPECT_EQ(r.json["feasible_tasks"], 5) << r.out;
}

TEST(Evolve, WithoutAModelOrAMethodTheBuiltInGeneratorRunsAndSaysSo) {
  Sandbox sb;
  const std::map<std::string, std::string> env = {{"EVOKERNEL_BASE_URL", ""},
                                                  {"EVOKERNEL_MODEL", ""},
                                                  {"EVOKERNEL_PROVIDER", ""},
                                                  {"EVOKERNEL_CONFIG", ""},
                                                  {"EVOKERNEL_MEMORY", (sb.dir / "bank.sqlite").string()},
                                                  {"EVOKERNEL_RUNS_DIR", (sb.dir / "runs").string()}};
  auto r = RunCli({"evolve", "--task", "level1/12_relu", "--budget", "1", "--json", "--timing-budget", "0.1"}, 600, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("no LLM endpoint is configured"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("using the built-in generator (--method builtin)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("model none (built-in generator)"), std::string::npos) << r.err;
  EXPECT_EQ(r.json["feasible_tasks"], 1) << r.out;
  auto cfg = ReadFile(sb.RunDir() / "config.json");
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(nlohmann::json::parse(*cfg)["method"], "builtin");
  // A model named anywhere (here only the model's name, no URL) is a configuration: evolve
  // uses it and says what is missing rather than quietly running without it.
  auto env2 = env;
  env2["EVOKERNEL_MODEL"] = "m";
  auto m = RunCli({"evolve", "--task", "level1/12_relu", "--budget", "1"}, 60, env2);
  EXPECT_EQ(m.exit_code, 2) << m.err;
  EXPECT_NE(m.err.find("no base URL is configured"), std::string::npos) << m.err;
  EXPECT_EQ(m.err.find("built-in generator"), std::string::npos) << m.err;
}

TEST(Evolve, UnreachableEndpointFailsWithResumeHint) {
  Sandbox sb;
  // A port nothing listens on (bind and release one).
  auto server = ScriptedLlmServer::Start();
  ASSERT_TRUE(server.ok());
  std::string url = (*server)->openai_base_url();
  (*server)->Stop();
  auto env = std::map<std::string, std::string>{{"EVOKERNEL_BASE_URL", url},
                                                {"EVOKERNEL_MODEL", "m"},
                                                {"EVOKERNEL_MEMORY", (sb.dir / "bank.sqlite").string()},
                                                {"EVOKERNEL_RUNS_DIR", (sb.dir / "runs").string()}};
  auto cfg = sb.dir / "fast-fail.toml";
  std::ofstream(cfg) << "[provider]\nmax_retries = 1\nbackoff_base_s = 0.01\nconnect_timeout_s = 2\n";
  auto r = RunCli({"evolve", "--task", "level1/12_relu", "--budget", "2", "--no-llm-cache", "--config", cfg.string()},
                  120, env);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("127.0.0.1"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace evokernel

namespace evokernel {
namespace {

// The loop is written once around a Generator (generator/generator.h): a generator that is no
// model at all (it proposes the repository's ReLU kernels from a list) drives Evolve directly,
// with no provider, and gets the same verification, bank commits, paired comparison with the
// best, records and feedback as the LLM methods.
class ListGenerator : public Generator {
 public:
  explicit ListGenerator(std::vector<std::string> kernels) : kernels_(std::move(kernels)) {}
  Method method() const override { return Method::kEvoKernel; }
  Traits traits() const override { return {}; }
  Result<Proposal> Propose(const ProposalRequest& rq) override {
    requests.push_back(rq);
    Proposal p;
    p.kernel.ok = true;
    p.kernel.code = kernels_[std::min(requests.size(), kernels_.size()) - 1];
    p.reply.text = p.kernel.code;
    p.reply.model = "test-list-generator";
    p.prompt_hash = Sha256Hex(p.kernel.code);
    return p;
  }
  std::vector<ProposalRequest> requests;

 private:
  std::vector<std::string> kernels_;
};

TEST(Generators, TheLoopRunsAnyGeneratorWithoutAProvider) {
  Sandbox sb;
  ListGenerator gen({Kernel("ok_strided.cpp"), Kernel("fast.cpp"), Kernel("fast.cpp")});
  EvolveConfig cfg;
  cfg.budget = 3;
  cfg.bank = sb.dir / "bank.sqlite";
  cfg.verify.timing_budget_s = 0.1;
  auto backend = MakeBackend("cpu");
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  auto task = ResolveTask("level1/12_relu", DefaultTasksDir());
  ASSERT_TRUE(task.ok()) << task.status().ToString();
  auto record = RunRecord::Create(sb.dir / "runs", "generator-test", cfg.ToJson());
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  auto summary = Evolve({*task}, cfg, **backend, gen, **record);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->feasible_tasks, 1);
  EXPECT_EQ(summary->iterations, 3);

  auto its = Iterations(sb.RunDir());
  ASSERT_EQ(its.size(), 3u);
  for (const auto& e : its) {
    EXPECT_EQ(e["model"], "test-list-generator");
    EXPECT_EQ(e["method"], "evokernel");
    EXPECT_EQ(e["outcome"], "feasible") << e["feedback"];
    EXPECT_FALSE(e["item_id"].get<std::string>().empty()) << "every attempt is a trace in the bank";
  }
  EXPECT_EQ(its[0]["stage"], "draft");
  EXPECT_EQ(its[1]["stage"], "refine");
  EXPECT_EQ(its[1]["start_point"], its[0]["item_id"]);
  ASSERT_TRUE(its[1]["vs_best"].is_object()) << its[1].dump();
  EXPECT_EQ(its[1]["vs_best"]["verdict"], "faster");
  EXPECT_TRUE(its[1]["new_best"].get<bool>());
  // The third proposal is the best kernel itself: not compared with itself.
  EXPECT_TRUE(its[2]["vs_best"].is_null());

  // What the generator was given: the draft had no start point; the refinement started from
  // the draft, and the step after it was told how the paired comparison came out.
  ASSERT_EQ(gen.requests.size(), 3u);
  EXPECT_EQ(gen.requests[0].stage, memory::Stage::kDraft);
  EXPECT_TRUE(gen.requests[0].start_code.empty());
  EXPECT_EQ(gen.requests[1].stage, memory::Stage::kRefine);
  EXPECT_EQ(gen.requests[1].start_code, Kernel("ok_strided.cpp"));
  EXPECT_EQ(gen.requests[1].task_id, "level1/12_relu");
  EXPECT_NE(gen.requests[1].contract.find("evokernel_forward"), std::string::npos);
  EXPECT_EQ(gen.requests[1].language.extension, ".cpp");
  EXPECT_NE(gen.requests[2].feedback.find("Timed alternately with the best kernel so far"), std::string::npos)
      << gen.requests[2].feedback;
  bool recalled_draft = false;
  for (const auto& item : gen.requests[1].context) recalled_draft |= item.id == its[0]["item_id"];
  EXPECT_FALSE(recalled_draft) << "the start point is never in its own context";

  // A generator of another method than the run's is refused before anything runs.
  EvolveConfig passk = cfg;
  passk.method = Method::kPassK;
  auto record2 = RunRecord::Create(sb.dir / "runs2", "generator-test-2", passk.ToJson());
  ASSERT_TRUE(record2.ok());
  auto refused = Evolve({*task}, passk, **backend, gen, **record2);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("method passk"), std::string::npos) << refused.status().message();
  EXPECT_EQ(gen.requests.size(), 3u);
}

// `--method builtin` needs no model endpoint: the built-in generator writes the ReLU from
// its elementwise recipe (feasible, then one knob changed per refining step, each compared
// with the best in the same evaluation), and says plainly that it has no recipe for a matmul.
// Nothing is presented as a model's: the model is "builtin", with no tokens or cost.
TEST(Evolve, BuiltinGeneratorRunsWithoutAModelAndSaysWhatItCannotDo) {
  Sandbox sb;
  auto r = RunCli({"evolve", "--method", "builtin", "--task", "level1/12_relu", "--task", "level3/06_gru_unrolled",
                   "--budget", "3", "--json", "--timing-budget", "0.1"},
                  600, {{"EVOKERNEL_RUNS_DIR", (sb.dir / "runs").string()}, {"EVOKERNEL_BASE_URL", ""},
                        {"EVOKERNEL_MEMORY", (sb.dir / "bank.sqlite").string()}});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(r.json["feasible_tasks"], 1) << r.out;
  EXPECT_NE(r.err.find("model none (built-in generator)"), std::string::npos) << r.err;
  auto its = Iterations(sb.RunDir());
  ASSERT_EQ(its.size(), 6u);
  std::set<std::string> codes;
  for (const auto& e : its) {
    EXPECT_EQ(e["method"], "builtin");
    EXPECT_EQ(e["model"], "builtin");
    EXPECT_EQ(e["input_tokens"], 0);
    EXPECT_EQ(e["output_tokens"], 0);
    EXPECT_EQ(e["cost_usd"], 0.0);
    if (e["task"] == "level3/06_gru_unrolled") {
      EXPECT_EQ(e["outcome"], "extract/unsupported");
      const std::string fb = e["feedback"].get<std::string>();
      EXPECT_NE(fb.find("no recipe for this task (elementwise: the task has parameters"), std::string::npos) << fb;
      EXPECT_NE(fb.find("; reduction: "), std::string::npos) << fb;
      EXPECT_NE(fb.find("; graph: forward() has a statement the graph recipe does not read: b, t, _ = x.shape"),
                std::string::npos)
          << fb;
      continue;
    }
    EXPECT_EQ(e["outcome"], "feasible") << e["feedback"];
    auto code = ReadFile(sb.RunDir() / e["attempt"].get<std::string>());
    ASSERT_TRUE(code.ok());
    EXPECT_EQ(code->rfind("// evokernel-builtin recipe=elementwise ", 0), 0u) << *code;
    codes.insert(*code);
  }
  EXPECT_EQ(codes.size(), 3u) << "each refining step tries a setting not tried before";
  const auto& relu2 = its[1]["task"] == "level1/12_relu" ? its[1] : its[4];
  EXPECT_EQ(relu2["stage"], "refine");
  EXPECT_TRUE(relu2["vs_best"].is_object()) << relu2.dump();
  EXPECT_TRUE(fs::exists(sb.dir / "bank.sqlite")) << "the built-in generator's attempts are experiences in the bank";

  // A sigmoid calls exp: its first refining step tries the recipe's fast_math knob (inline
  // approximations the compiler vectorises instead of scalar libm calls). The verifier finds
  // it correct within the task's tolerance, and several times faster in the paired comparison.
  Sandbox sig;
  auto s = RunCli({"evolve", "--method", "builtin", "--task", "level1/14_sigmoid", "--budget", "2", "--timing-budget",
                   "0.1"},
                  600, {{"EVOKERNEL_RUNS_DIR", (sig.dir / "runs").string()}, {"EVOKERNEL_BASE_URL", ""},
                        {"EVOKERNEL_MEMORY", (sig.dir / "bank.sqlite").string()}});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  auto sits = Iterations(sig.RunDir());
  ASSERT_EQ(sits.size(), 2u);
  auto first = ReadFile(sig.RunDir() / sits[0]["attempt"].get<std::string>());
  auto second = ReadFile(sig.RunDir() / sits[1]["attempt"].get<std::string>());
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->substr(0, first->find('\n')), "// evokernel-builtin recipe=elementwise block=0 fast_math=0 parallel=1 simd=1");
  EXPECT_EQ(second->substr(0, second->find('\n')), "// evokernel-builtin recipe=elementwise block=0 fast_math=1 parallel=1 simd=1");
  EXPECT_EQ(sits[1]["outcome"], "feasible") << sits[1]["feedback"];
  ASSERT_TRUE(sits[1]["vs_best"].is_object()) << sits[1].dump();
  EXPECT_EQ(sits[1]["vs_best"]["verdict"], "faster") << sits[1]["vs_best"].dump();
  EXPECT_TRUE(sits[1]["new_best"].get<bool>());

  // The bank now holds the sigmoid's kernels: recipe instances with their outcomes. A swish
  // (same recipe, same category) drafts from the one retrieval ranks first: its first kernel
  // takes that kernel's setting, says which experience it came from, and the experience is
  // recorded as used (so the draft's reward updates its value).
  auto w = RunCli({"evolve", "--method", "builtin", "--task", "level1/19_swish", "--budget", "1", "--timing-budget",
                   "0.1", "--epsilon", "0"},
                  600, {{"EVOKERNEL_RUNS_DIR", (sig.dir / "runs2").string()}, {"EVOKERNEL_BASE_URL", ""},
                        {"EVOKERNEL_MEMORY", (sig.dir / "bank.sqlite").string()}});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  std::vector<nlohmann::json> wits;
  for (const auto& d : fs::directory_iterator(sig.dir / "runs2")) wits = Iterations(d.path());
  ASSERT_EQ(wits.size(), 1u);
  EXPECT_EQ(wits[0]["outcome"], "feasible") << wits[0]["feedback"];
  fs::path wrun = fs::directory_iterator(sig.dir / "runs2")->path();
  auto wcode = ReadFile(wrun / wits[0]["attempt"].get<std::string>());
  ASSERT_TRUE(wcode.ok());
  const std::string second_line = wcode->substr(wcode->find('\n') + 1, wcode->find('\n', wcode->find('\n') + 1) - wcode->find('\n') - 1);
  ASSERT_EQ(second_line.rfind("// the setting from experience t-", 0), 0u) << *wcode;
  const std::string guide = second_line.substr(std::string("// the setting from experience ").size(),
                                               second_line.find(' ', 31) - 31);
  const auto& used = wits[0]["items_used"];
  EXPECT_NE(std::find(used.begin(), used.end(), guide), used.end()) << guide << " in " << used.dump();
  auto shown = ShowItem(sig, guide);
  const std::string guide_code = shown.value("content", "");
  EXPECT_EQ(guide_code.substr(0, guide_code.find('\n')), wcode->substr(0, wcode->find('\n')))
      << "the draft's setting is the guide's";
}

TEST(BenchRetrieval, IsLabelledASimulationAndReportsEveryPolicy) {
  auto r = testing::RunCli({"bench", "retrieval", "--seeds", "1", "--categories", "2", "--tasks-per-category", "2",
                            "--items-per-category", "6", "--budget", "3", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.json["simulation"].get<std::string>().find("no LLM"), std::string::npos);
  for (const char* p : {"value/item", "value/category", "value/neighbourhood", "similarity", "random", "none"}) {
    ASSERT_TRUE(r.json["correct_by_iteration"].contains(p)) << p;
    const auto& c = r.json["correct_by_iteration"][p]["mean"];
    ASSERT_EQ(c.size(), 3u) << p;
    for (size_t t = 1; t < c.size(); ++t) EXPECT_GE(c[t].get<double>(), c[t - 1].get<double>()) << p;
  }
  auto bad = testing::RunCli({"bench", "retrieval", "--policies", "value,psychic"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("psychic"), std::string::npos);
  auto bad_scope = testing::RunCli({"bench", "retrieval", "--scopes", "item,galaxy"});
  EXPECT_EQ(bad_scope.exit_code, 2);
  EXPECT_NE(bad_scope.err.find("galaxy"), std::string::npos) << bad_scope.err;
}

}  // namespace
}  // namespace evokernel
