// A small SVG plotting library for the self-contained HTML report: line charts, bar charts
// (linear or log scale) and heat maps, rendered as inline <svg> elements with no scripts, fonts
// or external references. Output is deterministic (fixed-precision coordinates) so reports can
// be golden-tested.
//
// Markup contract (what tests and readers can rely on):
//   <svg class="plot" id=ID data-kind="line|bar|heatmap" ...>
//   line:    data-series=S data-points=P; one <polyline class="line"> per series with >= 2
//            points and one <circle class="point" data-series=I> per point
//   bar:     data-bars=B; one <rect class="bar ..."> per bar (log scale: data-scale="log")
//   heatmap: data-rows=R data-cols=C; one <rect class="cell"> per cell
// Every mark has a <title> child (the browser's tooltip) naming its value.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace evokernel::report::svg {

// Escapes &, <, >, " and ' for HTML/XML text and attribute values.
std::string Escape(std::string_view s);

// The i-th colour of the palette (cycles).
std::string_view Color(size_t i);

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in order
  bool dashed = false;
};

struct LineChart {
  std::string id, title, x_label, y_label;
  std::optional<double> x_min, x_max, y_min, y_max;  // unset: from the data
  bool y_percent = false;       // y in [0, 1] shown as 0%..100%
  bool integer_x = false;       // x ticks at integers only
  std::optional<double> y_ref;  // a dotted horizontal reference line
  std::vector<Series> series;
};
std::string RenderLineChart(const LineChart& chart);

struct Bar {
  std::string label;  // x-axis label (shown when there are few bars) and tooltip
  double value = 0;   // > 0 on a log scale
  std::string css_class;  // extra class ("faster", "slower", "untrusted")
  std::string tooltip;    // default: "label: value"
};

struct BarChart {
  std::string id, title, y_label;
  bool log_y = false;
  std::optional<double> ref_line;  // e.g. 1x on a speedup chart
  std::vector<Bar> bars;
};
std::string RenderBarChart(const BarChart& chart);

struct HeatMap {
  std::string id, title, row_title, col_title;
  std::vector<std::string> rows, cols;
  std::vector<std::vector<double>> values;       // [row][col], colour intensity (0: blank)
  std::vector<std::vector<std::string>> labels;  // [row][col], text in the cell ("" none)
  std::vector<std::vector<std::string>> tooltips;
};
std::string RenderHeatMap(const HeatMap& map);

// "Nice" tick positions covering [lo, hi] (about `target` of them) for a linear axis, and
// 1-2-5 or decade ticks for a log axis (lo > 0).
std::vector<double> LinearTicks(double lo, double hi, int target = 5);
std::vector<double> LogTicks(double lo, double hi);

}  // namespace evokernel::report::svg
