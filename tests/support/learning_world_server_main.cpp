// learning_world_server: the scripted endpoint of the end-to-end learning benchmark
// (bench/learning.sh). NOT A MODEL: see support/learning_world.h for the hidden world it plays.
//
//   learning_world_server --task ID ... --kernels DIR --seed S --bank BANK --port-file PORT
//                         [--log ANSWERS.jsonl] [--world-out WORLD.json] [--tasks-dir DIR]
//
// Loads each task (its signature as evokernel computes it), reads DIR/<level>__<name>/naive.cpp
// and fast.cpp (the shipped reference kernels), builds the world for the seed, inserts its items
// into BANK, writes the port to PORT once listening, and answers OpenAI/Anthropic requests until
// SIGTERM or SIGINT. Each answer is one JSON line in ANSWERS (task, iteration, items seen, P, draw,
// verdict); WORLD gets the parameters, the look-alike pairs and every item's hidden effects.
// Exit code 2 on bad input (unknown task, missing kernel, unwritable bank).
#include <signal.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>

#include "common/fs.h"
#include "memory/memory.h"
#include "support/learning_world.h"
#include "support/scripted_llm_server.h"
#include "task/oracle.h"
#include "task/task.h"

namespace {
namespace fs = std::filesystem;
using namespace evokernel;

int Fail(const std::string& what) {
  std::cerr << "learning_world_server: " << what << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Scripted learning world for bench/learning.sh (not a model): answers evokernel's prompts from the "
               "hidden helpfulness of the memory items they show"};
  std::vector<std::string> task_ids;
  std::string kernels_dir, bank, port_file, log_file, world_out, tasks_dir;
  testing::WorldParams params;
  app.add_option("--task", task_ids, "Task id (repeatable)")->required();
  app.add_option("--kernels", kernels_dir, "Directory of the shipped reference kernels (tests/kernels)")
      ->required()
      ->check(CLI::ExistingDirectory);
  app.add_option("--seed", params.seed, "World seed")->default_val(1);
  app.add_option("--bank", bank, "Bank to put the world's items in")->required();
  app.add_option("--port-file", port_file, "Where to write the port once listening")->required();
  app.add_option("--log", log_file, "Append one JSON line per answer");
  app.add_option("--world-out", world_out, "Write the world (parameters, pairs, hidden effects) as JSON");
  app.add_option("--tasks-dir", tasks_dir, "Directory of task suites (default: evokernel's)");
  app.add_option("--pass", params.pass, "Pass over the tasks (a new draw of luck per pass)")
      ->default_val(1)
      ->check(CLI::Range(1, 1000));
  app.add_option("--base", params.base, "P(correct) with nothing useful shown")->default_val(params.base);
  app.add_option("--own-items", params.own_items, "Advice items per category")->default_val(params.own_items);
  app.add_option("--cross-items", params.cross_items, "Cross items per ordered look-alike pair")
      ->default_val(params.cross_items);
  CLI11_PARSE(app, argc, argv);

  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  std::vector<testing::WorldTask> tasks;
  for (const auto& id : task_ids) {
    auto ref = ResolveTask(id, tasks_dir.empty() ? DefaultTasksDir() : fs::path(tasks_dir));
    if (!ref.ok()) return Fail(ref.status().ToString());
    auto oracle = Oracle::Start(*ref, {});
    if (!oracle.ok()) return Fail(oracle.status().ToString());
    auto spec = (*oracle)->Describe();
    if (!spec.ok()) return Fail(spec.status().ToString());
    testing::WorldTask t;
    t.id = ref->id;
    t.signature = memory::SignatureFromSpec(*spec, params.backend);
    std::string dir_name = t.id;
    std::replace(dir_name.begin(), dir_name.end(), '/', '_');
    dir_name.insert(dir_name.find('_'), "_");
    fs::path dir = fs::path(kernels_dir) / dir_name;
    auto naive = ReadFile(dir / "naive.cpp");
    if (!naive.ok()) return Fail("task " + t.id + ": no reference kernel: " + naive.status().ToString());
    t.correct_code = *naive;
    if (auto fast = ReadFile(dir / "fast.cpp"); fast.ok()) t.fast_code = *fast;
    tasks.push_back(std::move(t));
  }
  auto world = testing::LearningWorld::Build(std::move(tasks), params);
  if (!world.ok()) return Fail(world.status().ToString());

  {
    auto store = memory::OpenStore(bank);
    if (!store.ok()) return Fail(store.status().ToString());
    auto added = (*store)->InsertMany(world->items(), /*skip_existing=*/true);
    if (!added.ok()) return Fail(added.status().ToString());
  }
  if (!world_out.empty()) {
    nlohmann::json j = {{"params", params.ToJson()}, {"pairs", world->pairs()}, {"items", nlohmann::json::array()}};
    for (const auto& it : world->items()) {
      std::string marker = it.id.substr(it.id.find('-') + 1);
      nlohmann::json effects = nlohmann::json::object();
      for (const auto& c : it.signature.Categories())
        if (double e = world->Effect(marker, c); e != 0) effects[c] = e;
      j["items"].push_back({{"id", it.id}, {"title", it.title}, {"category", it.signature.category}, {"effects", effects}});
    }
    if (Status st = WriteFileAtomic(world_out, j.dump(2) + "\n"); !st.ok()) return Fail(st.ToString());
  }

  std::ofstream log;
  if (!log_file.empty()) {
    log.open(log_file, std::ios::app);
    if (!log) return Fail("cannot open " + log_file);
  }
  const testing::LearningWorld& w = *world;
  auto server = testing::ScriptedLlmServer::Start({});
  if (!server.ok()) return Fail(server.status().ToString());
  (*server)->SetResponder([&](const nlohmann::json& body) -> std::optional<testing::ScriptStep> {
    auto a = w.Answer(testing::PromptText(body));
    if (!a.ok()) return testing::ScriptStep::Error(400, a.status().message());
    if (log.is_open()) log << a->ToJson().dump() << "\n" << std::flush;
    return testing::ScriptStep::Text(a->text);
  });
  if (Status st = WriteFileAtomic(port_file, std::to_string((*server)->port()) + "\n"); !st.ok())
    return Fail(st.ToString());
  std::cerr << "learning_world_server: " << w.items().size() << " world items in " << bank << ", listening on "
            << (*server)->url() << " (scripted, not a model)\n";
  int sig = 0;
  sigwait(&stop, &sig);
  (*server)->Stop();
  std::cerr << "learning_world_server: stopped after " << (*server)->RequestCount() << " request(s)\n";
  return 0;
}
