// `evokernel evolve`: runs the agent over task suites with an LLM endpoint (see
// evolve_cmd.cpp, agent/agent.h and docs/agent.md).
#pragma once

#include <memory>

namespace CLI {
class App;
}

namespace evokernel {

class EvolveCommand {
 public:
  // Registers `evolve` on `app`; the result holds the parsed options and must outlive parsing.
  static std::unique_ptr<EvolveCommand> Add(CLI::App& app);
  virtual ~EvolveCommand() = default;
  virtual bool parsed() const = 0;
  // Exit code: 0 the run finished, 1 it stopped early (a budget or Ctrl-C; resumable),
  // 2 it could not run (configuration, unreachable model, broken bank).
  virtual int Run() = 0;
};

}  // namespace evokernel
