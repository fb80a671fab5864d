// `evokernel report`: metrics and reports of evolve runs (see report_cmd.cpp, report/report.h
// and docs/reports.md).
#pragma once

#include <memory>

namespace CLI {
class App;
}

namespace evokernel {

class ReportCommand {
 public:
  // Registers the `report` subcommand on `app`. The returned object holds the parsed options and
  // must outlive app.parse().
  static std::unique_ptr<ReportCommand> Add(CLI::App& app);
  virtual ~ReportCommand() = default;

  // Whether `report` was on the command line.
  virtual bool parsed() const = 0;
  // Writes the report; returns the exit code (0 success, 2 failure with a message on stderr).
  virtual int Run() = 0;
};

}  // namespace evokernel
