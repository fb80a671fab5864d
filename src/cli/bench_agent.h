// `evokernel bench retrieval` (see bench_agent.cpp): a SIMULATION of the drafting loop that
// shows whether value-driven retrieval learns which memory items help.
#pragma once

#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace evokernel {

struct BenchRetrievalArgs {
  int seeds = 5;
  int categories = 8;
  int tasks_per_category = 5;
  int items_per_category = 30;
  int cross_items = 4;  // per category: help it, mislead the next one
  std::string scopes = "item,category,neighbourhood";
  int budget = 30;
  std::string policies = "value,similarity,random,none";
  bool json = false;
};

CLI::App* AddBenchRetrieval(CLI::App* bench, BenchRetrievalArgs& args);
int RunBenchRetrieval(const BenchRetrievalArgs& args);

}  // namespace evokernel
