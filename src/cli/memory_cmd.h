// `evokernel memory stats|list|show|export|import|prune|seed`: inspect and maintain a memory
// bank (see memory_cmd.cpp and docs/memory.md).
#pragma once

#include <memory>

namespace CLI {
class App;
}

namespace evokernel {

class MemoryCommand {
 public:
  // Registers the `memory` subcommand and its subcommands on `app`. The returned object holds
  // the parsed options and must outlive app.parse().
  static std::unique_ptr<MemoryCommand> Add(CLI::App& app);
  virtual ~MemoryCommand() = default;

  // Whether `memory` was on the command line.
  virtual bool parsed() const = 0;
  // Runs the parsed subcommand; returns the exit code (0 success, 2 failure).
  virtual int Run() = 0;
};

}  // namespace evokernel
