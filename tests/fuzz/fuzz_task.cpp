// Fuzz target: task parsing and shape overrides, as `evokernel eval|tasks|evolve` use them:
// `--set NAME=VALUE` (ParseOverride), the suite manifest suite.toml (LoadSuite, LoadSuites) and
// task resolution by id and by path with overrides merged in (ResolveTask). No Python runs:
// the task files are empty stubs that nothing executes.
//
// Input: the lines before a line "%%" are --set assignments, one per line; what follows it is
// suite.toml (no manifest when empty). Without a "%%" line the whole input is suite.toml.
// Checked: nothing throws; every loaded task is in its suite; what the oracle and the run
// record are given (the task's JSON, dumped) can be serialised.

#include <cstdint>
#include <fstream>

#include "fuzz/fuzz_util.h"
#include "task/task.h"

namespace evokernel::fuzz {
namespace {
namespace fs = std::filesystem;

constexpr const char* kStems[] = {"19_relu", "1_matmul", "a"};

struct Tree {
  fs::path tasks;  // the tasks directory
  fs::path suite;  // tasks/level1, holding the stubs and the manifest under test
};

const Tree& GetTree() {
  static const Tree tree = [] {
    Tree t{PrivateDir() / "tasks", PrivateDir() / "tasks" / "level1"};
    std::error_code ec;
    fs::create_directories(t.suite, ec);
    if (ec) Die("cannot create " + t.suite.string());
    for (const char* stem : kStems) std::ofstream(t.suite / (std::string(stem) + ".py")) << "# stub\n";
    return t;
  }();
  return tree;
}

void WriteManifest(const fs::path& file, std::string_view text) {
  std::error_code ec;
  if (text.empty()) {
    fs::remove(file, ec);
    return;
  }
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!out) Die("cannot write " + file.string());
}

// What the product does with a resolved task: the oracle gets its overrides as JSON on its
// command line, the run record stores the whole reference.
void Use(const TaskRef& ref) {
  (void)ref.overrides.dump();
  (void)ref.ToJson().dump(2);
}

}  // namespace
}  // namespace evokernel::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace evokernel;
  using namespace evokernel::fuzz;
  const Tree& tree = GetTree();
  const Split in = SplitAtLine(AsText(data, size), "%%");

  nlohmann::json overrides = nlohmann::json::object();
  std::string_view sets = in.before;
  while (!sets.empty()) {
    size_t nl = sets.find('\n');
    std::string_view line = sets.substr(0, nl);
    sets = nl == std::string_view::npos ? std::string_view() : sets.substr(nl + 1);
    Status st = ParseOverride(line, overrides);
    Note("--set: " + (st.ok() ? std::string("ok") : st.ToString()));
    EVK_FUZZ_CHECK(st.ok() || !st.message().empty(), "an error without a message");
  }
  EVK_FUZZ_CHECK(overrides.is_object(), overrides.type_name());

  WriteManifest(tree.suite / "suite.toml", in.after);
  auto suite = LoadSuite(tree.suite);
  Note("suite: " + (suite.ok() ? std::to_string(suite->tasks.size()) + " task(s)" : suite.status().ToString()));
  if (suite.ok()) {
    EVK_FUZZ_CHECK(suite->tasks.size() == std::size(kStems), "a stub task is missing");
    for (const auto& t : suite->tasks) {
      EVK_FUZZ_CHECK(t.id.starts_with(suite->name + "/"), t.id);
      Use(t);
    }
  } else {
    EVK_FUZZ_CHECK(!suite.status().message().empty(), "an error without a message");
  }
  // By id (through LoadSuites over the tasks directory) and by path (the file's suite).
  for (const std::string& id : {std::string("a"), (tree.suite / "19_relu.py").string()}) {
    auto ref = ResolveTask(id, tree.tasks, overrides);
    Note("resolve " + id + ": " + (ref.ok() ? ref->ToJson().dump() : ref.status().ToString()));
    if (!ref.ok()) continue;
    for (const auto& [k, v] : overrides.items())
      EVK_FUZZ_CHECK(ref->overrides.contains(k) && ref->overrides[k] == v, "override " + k + " was not merged");
    Use(*ref);
  }
  return 0;
}
