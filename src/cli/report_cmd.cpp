// `evokernel report`: the paper's tables and plots for evolve runs.
//
//   evokernel report RUN [--format md|json|csv|html] [-o FILE] [--bank PATH]
//   evokernel report --compare RUN_A RUN_B ... [--format ...] [-o FILE]
//
// RUN is a run id under --runs-dir ($EVOKERNEL_RUNS_DIR, else ./runs) or a path to a run
// directory. The format defaults to the extension of -o, else md. Exit codes: 0 the report was
// written, 2 it could not be (missing run, malformed records, bad option), with the reason on
// stderr.
#include "cli/report_cmd.h"

#include <iostream>

#include <CLI/CLI.hpp>

#include "agent/run_record.h"
#include "common/fs.h"
#include "memory/memory.h"
#include "report/report.h"

namespace evokernel {
namespace fs = std::filesystem;

namespace {

int Fail(const Status& st) {
  std::cerr << "evokernel: error: " << st.ToString() << "\n";
  return 2;
}

class ReportCommandImpl : public ReportCommand {
 public:
  explicit ReportCommandImpl(CLI::App& app) {
    cmd_ = app.add_subcommand("report", "Metrics, tables and plots of evolve runs (md, json, csv or html)");
    cmd_->add_option("runs", runs_, "Run id (under --runs-dir) or run directory; two or more with --compare")
        ->required();
    cmd_->add_flag("--compare", compare_,
                   "Compare the runs: ablation table method/retrieval x level x CR/Acc, fast_1, median speedup");
    cmd_->add_option("--runs-dir", runs_dir_, "Where run ids are looked up (default: $EVOKERNEL_RUNS_DIR or ./runs)")
        ->envname("EVOKERNEL_RUNS_DIR");
    cmd_->add_option("--format,-f", format_,
                     "md (tables), json (everything), csv (one row per task per run) or html (one self-contained "
                     "file with plots) (default: from the -o extension, else md)");
    cmd_->add_option("--output,-o", output_, "Write the report to this file (default: stdout)");
    cmd_->add_option("--bank", bank_,
                     "Memory bank to read items' kinds, creators and current values from (default: none; the "
                     "values are replayed from the run's events)");
    cmd_->add_flag("--include-untrusted", include_untrusted_,
                   "Count speedups the verifier flagged (review, noise) in fast_p and the speedup figures "
                   "(default: excluded and counted separately)");
  }

  bool parsed() const override { return cmd_->parsed(); }

  int Run() override {
    if (compare_ && runs_.size() < 2) return Fail(InvalidArgument("--compare needs at least two runs"));
    if (!compare_ && runs_.size() > 1)
      return Fail(InvalidArgument("several runs given; add --compare to compare them"));
    report::Format format = report::Format::kMarkdown;
    if (!format_.empty()) {
      auto f = report::ParseFormat(format_);
      if (!f.ok()) return Fail(f.status());
      format = *f;
    } else if (!output_.empty()) {
      format = report::FormatFromPath(output_).value_or(report::Format::kMarkdown);
    }

    fs::path runs_dir = runs_dir_.empty() ? DefaultRunsDir() : fs::path(runs_dir_);
    std::vector<report::RunData> runs;
    for (const auto& r : runs_) {
      auto run = report::LoadRun(runs_dir, r);
      if (!run.ok()) return Fail(run.status());
      runs.push_back(std::move(*run));
    }
    std::unique_ptr<memory::MemoryStore> bank;
    if (!bank_.empty()) {
      memory::StoreOptions so;
      so.create_if_missing = false;
      so.read_only = true;  // a report never writes to the bank
      auto b = memory::OpenStore(bank_, so);
      if (!b.ok()) return Fail(b.status().WithContext("--bank"));
      bank = std::move(*b);
    }
    report::MetricsOptions mo;
    mo.include_untrusted = include_untrusted_;
    auto rep = report::BuildReport(std::move(runs), mo, bank.get(), compare_);
    if (!rep.ok()) return Fail(rep.status());
    std::string text = report::Render(*rep, format);
    if (output_.empty()) {
      std::cout << text;
      std::cout.flush();
      if (!std::cout) return Fail(IoError("cannot write the report to stdout"));
      return 0;
    }
    Status st = WriteFileAtomic(output_, text);
    if (!st.ok()) return Fail(st);
    std::cerr << "report written to " << output_ << "\n";
    return 0;
  }

 private:
  CLI::App* cmd_ = nullptr;
  std::vector<std::string> runs_;
  bool compare_ = false, include_untrusted_ = false;
  std::string runs_dir_, format_, output_, bank_;
};

}  // namespace

std::unique_ptr<ReportCommand> ReportCommand::Add(CLI::App& app) { return std::make_unique<ReportCommandImpl>(app); }

}  // namespace evokernel
