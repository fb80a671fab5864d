// Report writers: one or more runs' metrics (metrics.h) as Markdown (the paper's tables), JSON
// (everything, machine-readable), CSV (one row per task per run) or one self-contained HTML file
// (inline CSS and SVG plots, no scripts or external resources). docs/reports.md explains how to
// read each and defines every metric.
//
//   LoadRun (run_data.h) x N --BuildReport--> Report --Render(format)--> text
//
// A report of one run shows that run; a comparison (two or more runs, `--compare`) adds the
// ablation table (method/retrieval x level x CR/Acc, fast_1, median speedup) and plots the runs
// against each other. Every format carries each run's environment stamp.
//
// Output is deterministic for given records (golden-tested): no clocks, no absolute paths.
// Thread safety: pure functions.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "report/metrics.h"
#include "report/run_data.h"

namespace evokernel::report {

enum class Format { kMarkdown, kJson, kCsv, kHtml };
// "md" (or "markdown"), "json", "csv", "html"; an error names the accepted values.
Result<Format> ParseFormat(std::string_view name);
std::string_view FormatName(Format f);
// From a file name's extension (.md, .json, .csv, .html, .htm); nullopt for anything else.
std::optional<Format> FormatFromPath(const std::filesystem::path& path);

struct RunReport {
  RunData run;
  std::vector<TaskMetrics> tasks;
  GroupMetrics overall;
  std::vector<GroupMetrics> by_level, by_category;
  MemoryAnalysis memory;
};

struct Report {
  MetricsOptions options;
  bool compare = false;
  std::vector<RunReport> runs;
  std::vector<GroupMetrics> by_method;  // every run's tasks grouped by method label
  std::vector<int> levels;              // levels present in any run, ascending
  std::vector<std::string> warnings;    // differences that make a comparison unfair
};

// Computes everything a report shows. `bank` (may be null) supplies memory items' provenance
// and current values. `compare` needs at least two runs.
Result<Report> BuildReport(std::vector<RunData> runs, const MetricsOptions& options, memory::MemoryStore* bank,
                           bool compare);

std::string RenderMarkdown(const Report& report);
std::string RenderJson(const Report& report);
std::string RenderCsv(const Report& report);
std::string RenderHtml(const Report& report);
std::string Render(const Report& report, Format format);

}  // namespace evokernel::report
