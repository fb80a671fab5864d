#include "report/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

namespace evokernel::report::svg {
namespace {

constexpr double kWidth = 680, kHeight = 300;
constexpr double kLeft = 64, kRight = 16, kTop = 34, kBottom = 46;

// Coordinates with one decimal: deterministic and small.
std::string C(double v) { return fmt::format("{:.1f}", v); }

std::string TickLabel(double v, bool percent) {
  if (percent) return fmt::format("{:g}%", std::round(v * 1000) / 10);
  if (v != 0 && (std::fabs(v) >= 1e5 || std::fabs(v) < 1e-3)) return fmt::format("{:.0e}", v);
  return fmt::format("{:g}", std::round(v * 1e6) / 1e6);
}

std::string Header(const std::string& id, const std::string& kind, const std::string& title, double w, double h,
                   const std::string& extra) {
  return fmt::format(
      "<svg class=\"plot\" id=\"{}\" data-kind=\"{}\"{} viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\" "
      "role=\"img\" aria-label=\"{}\">\n<title>{}</title>\n"
      "<text class=\"plot-title\" x=\"{}\" y=\"20\" text-anchor=\"middle\">{}</text>\n",
      Escape(id), kind, extra, C(w), C(h), C(w), C(h), Escape(title), Escape(title), C(w / 2), Escape(title));
}

// Axes frame, ticks, grid and labels of a plot area.
struct Frame {
  double x0, y0, x1, y1;  // plot area in pixels (y0 top)
  double xlo, xhi, ylo, yhi;
  bool log_y = false;

  double X(double x) const { return xhi == xlo ? (x0 + x1) / 2 : x0 + (x - xlo) / (xhi - xlo) * (x1 - x0); }
  double Y(double y) const {
    if (log_y) {
      double l = std::log10(std::max(y, 1e-300)), a = std::log10(ylo), b = std::log10(yhi);
      return b == a ? (y0 + y1) / 2 : y1 - (l - a) / (b - a) * (y1 - y0);
    }
    return yhi == ylo ? (y0 + y1) / 2 : y1 - (y - ylo) / (yhi - ylo) * (y1 - y0);
  }
};

std::string YAxis(const Frame& f, const std::vector<double>& ticks, bool percent, const std::string& label) {
  std::string s = "<g class=\"axis y-axis\">\n";
  for (double t : ticks) {
    double y = f.Y(t);
    s += fmt::format("<line class=\"grid\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>", C(f.x0), C(y), C(f.x1), C(y));
    s += fmt::format("<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", C(f.x0 - 6), C(y + 4),
                     Escape(TickLabel(t, percent)));
  }
  s += fmt::format("<line class=\"axis-line\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\n", C(f.x0), C(f.y0), C(f.x0),
                   C(f.y1));
  s += fmt::format("<text class=\"axis-label\" transform=\"translate(14 {}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                   C((f.y0 + f.y1) / 2), Escape(label));
  return s + "</g>\n";
}

std::string XAxis(const Frame& f, const std::vector<double>& ticks, const std::string& label) {
  std::string s = "<g class=\"axis x-axis\">\n";
  for (double t : ticks) {
    double x = f.X(t);
    s += fmt::format("<line class=\"tick-mark\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>", C(x), C(f.y1), C(x),
                     C(f.y1 + 4));
    s += fmt::format("<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", C(x), C(f.y1 + 16),
                     Escape(TickLabel(t, false)));
  }
  s += fmt::format("<line class=\"axis-line\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\n", C(f.x0), C(f.y1), C(f.x1),
                   C(f.y1));
  if (!label.empty())
    s += fmt::format("<text class=\"axis-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                     C((f.x0 + f.x1) / 2), C(f.y1 + 36), Escape(label));
  return s + "</g>\n";
}

std::string NoData(const Frame& f) {
  return fmt::format("<text class=\"no-data\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">no data</text>\n",
                     C((f.x0 + f.x1) / 2), C((f.y0 + f.y1) / 2));
}

}  // namespace

std::string Escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string_view Color(size_t i) {
  static constexpr std::string_view kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                                  "#9467bd", "#8c564b", "#e377c2", "#17becf"};
  return kPalette[i % (sizeof kPalette / sizeof kPalette[0])];
}

std::vector<double> LinearTicks(double lo, double hi, int target) {
  if (!(hi > lo)) return {lo};
  double raw = (hi - lo) / std::max(target, 1);
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> out;
  // k * step rounded to 12 digits: 3 * 0.2 is 0.6, not 0.6000000000000001.
  for (double k = std::ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k += 1)
    out.push_back(k == 0 ? 0.0 : std::strtod(fmt::format("{:.12g}", k * step).c_str(), nullptr));
  return out;
}

std::vector<double> LogTicks(double lo, double hi) {
  std::vector<double> out;
  if (!(lo > 0) || !(hi >= lo)) return out;
  const int a = static_cast<int>(std::floor(std::log10(lo) + 1e-9));
  const int b = static_cast<int>(std::ceil(std::log10(hi) - 1e-9));
  const bool dense = b - a <= 2;
  for (int e = a; e <= b; ++e)
    for (double m : dense ? std::vector<double>{1, 2, 5} : std::vector<double>{1}) {
      double t = m * std::pow(10.0, e);
      if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9)) out.push_back(t);
    }
  return out;
}

std::string RenderLineChart(const LineChart& ch) {
  size_t points = 0;
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (const auto& s : ch.series)
    for (const auto& [x, y] : s.points) {
      ++points;
      xlo = std::min(xlo, x);
      xhi = std::max(xhi, x);
      ylo = std::min(ylo, y);
      yhi = std::max(yhi, y);
    }
  if (points == 0) xlo = ylo = 0, xhi = yhi = 1;
  if (ch.y_ref) ylo = std::min(ylo, *ch.y_ref), yhi = std::max(yhi, *ch.y_ref);
  xlo = ch.x_min.value_or(xlo);
  xhi = ch.x_max.value_or(xhi);
  ylo = ch.y_min.value_or(ylo);
  yhi = ch.y_max.value_or(yhi);
  if (xhi <= xlo) xhi = xlo + 1;
  if (yhi <= ylo) {
    ylo -= 0.5;
    yhi += 0.5;
  }
  if (!ch.y_min && !ch.y_max) {  // round the y range out to ticks
    auto t = LinearTicks(ylo, yhi);
    double step = t.size() > 1 ? t[1] - t[0] : 1;
    ylo = std::floor(ylo / step + 1e-9) * step;
    yhi = std::ceil(yhi / step - 1e-9) * step;
  }
  const double legend_w = ch.series.size() > 1 ? 200 : 0;
  Frame f{kLeft, kTop, kWidth - kRight - legend_w, kHeight - kBottom, xlo, xhi, ylo, yhi};

  std::string s = Header(ch.id, "line", ch.title, kWidth, kHeight,
                         fmt::format(" data-series=\"{}\" data-points=\"{}\"", ch.series.size(), points));
  s += YAxis(f, LinearTicks(ylo, yhi), ch.y_percent, ch.y_label);
  std::vector<double> xt = LinearTicks(xlo, xhi, 8);
  if (ch.integer_x) {
    std::vector<double> ints;
    for (double t : xt)
      if (t == std::round(t)) ints.push_back(t);
    if (ints.empty()) ints.push_back(std::ceil(xlo));
    xt = ints;
  }
  s += XAxis(f, xt, ch.x_label);
  if (ch.y_ref)
    s += fmt::format("<line class=\"ref-line\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\n", C(f.x0), C(f.Y(*ch.y_ref)),
                     C(f.x1), C(f.Y(*ch.y_ref)));
  if (points == 0) s += NoData(f);
  for (size_t i = 0; i < ch.series.size(); ++i) {
    const Series& se = ch.series[i];
    const std::string color(Color(i));
    s += fmt::format("<g class=\"series\" data-series=\"{}\" data-name=\"{}\">\n", i, Escape(se.name));
    if (se.points.size() >= 2) {
      std::string pts;
      for (const auto& [x, y] : se.points) {
        if (!pts.empty()) pts += ' ';
        pts += fmt::format("{},{}", C(f.X(x)), C(f.Y(y)));
      }
      s += fmt::format("<polyline class=\"line\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} points=\"{}\"/>\n",
                       color, se.dashed ? " stroke-dasharray=\"6 4\"" : "", pts);
    }
    for (const auto& [x, y] : se.points)
      s += fmt::format(
          "<circle class=\"point\" data-series=\"{}\" cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"{}\"><title>{}: {} = {}</title></circle>\n",
          i, C(f.X(x)), C(f.Y(y)), color, Escape(se.name), Escape(TickLabel(x, false)),
          Escape(ch.y_percent ? fmt::format("{:.1f}%", y * 100) : fmt::format("{:.4g}", y)));
    s += "</g>\n";
  }
  if (legend_w > 0) {
    s += "<g class=\"legend\">\n";
    for (size_t i = 0; i < ch.series.size(); ++i) {
      double y = kTop + 8 + 18 * static_cast<double>(i);
      double x = kWidth - kRight - legend_w + 12;
      s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"3\"{}/>", C(x), C(y),
                       C(x + 18), C(y), Color(i), ch.series[i].dashed ? " stroke-dasharray=\"6 4\"" : "");
      std::string name = ch.series[i].name.size() > 28 ? ch.series[i].name.substr(0, 27) + "…" : ch.series[i].name;
      s += fmt::format("<text class=\"legend-label\" x=\"{}\" y=\"{}\">{}</text>\n", C(x + 24), C(y + 4), Escape(name));
    }
    s += "</g>\n";
  }
  return s + "</svg>\n";
}

std::string RenderBarChart(const BarChart& ch) {
  std::vector<double> vals;
  for (const auto& b : ch.bars)
    if (!ch.log_y || b.value > 0) vals.push_back(b.value);
  double ylo, yhi;
  if (vals.empty()) {
    ylo = ch.log_y ? 0.1 : 0;
    yhi = ch.log_y ? 10 : 1;
  } else {
    ylo = *std::min_element(vals.begin(), vals.end());
    yhi = *std::max_element(vals.begin(), vals.end());
  }
  if (ch.ref_line) ylo = std::min(ylo, *ch.ref_line), yhi = std::max(yhi, *ch.ref_line);
  if (ch.log_y) {  // whole 1-2-5 steps around the data
    auto down = [](double v) {
      double e = std::pow(10.0, std::floor(std::log10(v) + 1e-9));
      for (double m : {5.0, 2.0, 1.0})
        if (m * e <= v * (1 + 1e-9)) return m * e;
      return e;
    };
    auto up = [](double v) {
      double e = std::pow(10.0, std::floor(std::log10(v) + 1e-9));
      for (double m : {1.0, 2.0, 5.0, 10.0})
        if (m * e >= v * (1 - 1e-9)) return m * e;
      return 10 * e;
    };
    ylo = down(ylo);
    yhi = up(yhi);
    if (yhi <= ylo) yhi = ylo * 2;
  } else {
    ylo = std::min(ylo, 0.0);
    auto t = LinearTicks(ylo, yhi);
    double step = t.size() > 1 ? t[1] - t[0] : 1;
    yhi = std::max(std::ceil(yhi / step - 1e-9) * step, ylo + step);
  }
  const bool labels = !ch.bars.empty() && ch.bars.size() <= 24;
  const double bottom = labels ? 110 : kBottom;
  const double height = kHeight + (labels ? bottom - kBottom : 0);
  Frame f{kLeft, kTop, kWidth - kRight, height - bottom, 0, 1, ylo, yhi, ch.log_y};

  std::string s = Header(ch.id, "bar", ch.title, kWidth, height,
                         fmt::format(" data-bars=\"{}\" data-scale=\"{}\"", ch.bars.size(), ch.log_y ? "log" : "linear"));
  s += YAxis(f, ch.log_y ? LogTicks(ylo, yhi) : LinearTicks(ylo, yhi), false, ch.y_label);
  s += fmt::format("<line class=\"axis-line\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\n", C(f.x0), C(f.y1), C(f.x1),
                   C(f.y1));
  if (ch.bars.empty()) s += NoData(f);
  const double n = static_cast<double>(std::max<size_t>(ch.bars.size(), 1));
  const double slot = (f.x1 - f.x0) / n;
  const double width = std::max(1.0, slot * 0.8);
  // Bars grow from the reference line on a log scale (above: faster, below: slower), from 0 otherwise.
  const double base = ch.log_y ? f.Y(ch.ref_line.value_or(ylo)) : f.Y(0);
  s += "<g class=\"bars\">\n";
  for (size_t i = 0; i < ch.bars.size(); ++i) {
    const Bar& b = ch.bars[i];
    double x = f.x0 + slot * static_cast<double>(i) + (slot - width) / 2;
    double y = ch.log_y && b.value <= 0 ? base : f.Y(b.value);
    double top = std::min(y, base), h = std::max(std::fabs(base - y), 1.0);
    std::string tip = b.tooltip.empty() ? fmt::format("{}: {:.3g}", b.label, b.value) : b.tooltip;
    s += fmt::format("<rect class=\"bar{}{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}</title></rect>\n",
                     b.css_class.empty() ? "" : " ", Escape(b.css_class), C(x), C(top), C(width), C(h), Escape(tip));
    if (labels) {
      std::string label = b.label.size() > 18 ? "…" + b.label.substr(b.label.size() - 17) : b.label;
      double lx = x + width / 2;
      s += fmt::format("<text class=\"bar-label\" transform=\"translate({} {}) rotate(-40)\" text-anchor=\"end\">{}</text>\n",
                       C(lx + 3), C(f.y1 + 12), Escape(label));
    }
  }
  s += "</g>\n";
  if (ch.ref_line)
    s += fmt::format("<line class=\"ref-line\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\n", C(f.x0),
                     C(f.Y(*ch.ref_line)), C(f.x1), C(f.Y(*ch.ref_line)));
  return s + "</svg>\n";
}

std::string RenderHeatMap(const HeatMap& hm) {
  size_t longest_row = 0, longest_col = 0;
  for (const auto& r : hm.rows) longest_row = std::max(longest_row, r.size());
  for (const auto& c : hm.cols) longest_col = std::max(longest_col, c.size());
  const double left = std::min(40.0 + 6.5 * static_cast<double>(longest_row), 260.0);
  const double top = std::min(50.0 + 5.0 * static_cast<double>(longest_col), 220.0);
  const double nc = static_cast<double>(std::max<size_t>(hm.cols.size(), 1));
  const double nr = static_cast<double>(std::max<size_t>(hm.rows.size(), 1));
  const double cell = std::clamp((kWidth - left - kRight) / nc, 14.0, 56.0);
  const double w = std::max(kWidth, left + cell * nc + kRight);
  const double h = top + cell * nr + 40;
  double vmax = 0;
  for (const auto& row : hm.values)
    for (double v : row) vmax = std::max(vmax, v);

  std::string s = Header(hm.id, "heatmap", hm.title, w, h,
                         fmt::format(" data-rows=\"{}\" data-cols=\"{}\"", hm.rows.size(), hm.cols.size()));
  if (hm.rows.empty() || hm.cols.empty()) {
    s += fmt::format("<text class=\"no-data\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">no cross-task use</text>\n",
                     C(w / 2), C(h / 2));
    return s + "</svg>\n";
  }
  s += fmt::format("<text class=\"axis-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                   C(left + cell * nc / 2), C(h - 12), Escape(hm.col_title));
  s += fmt::format("<text class=\"axis-label\" transform=\"translate(14 {}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                   C(top + cell * nr / 2), Escape(hm.row_title));
  for (size_t c = 0; c < hm.cols.size(); ++c)
    s += fmt::format("<text class=\"col-label\" transform=\"translate({} {}) rotate(-40)\">{}</text>\n",
                     C(left + cell * (static_cast<double>(c) + 0.5)), C(top - 6), Escape(hm.cols[c]));
  for (size_t r = 0; r < hm.rows.size(); ++r) {
    s += fmt::format("<text class=\"row-label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", C(left - 6),
                     C(top + cell * (static_cast<double>(r) + 0.5) + 4), Escape(hm.rows[r]));
    for (size_t c = 0; c < hm.cols.size(); ++c) {
      double v = r < hm.values.size() && c < hm.values[r].size() ? hm.values[r][c] : 0;
      std::string label = r < hm.labels.size() && c < hm.labels[r].size() ? hm.labels[r][c] : "";
      // Intensity by value; a labelled cell of value 0 (shown, never helpful) gets a faint tint.
      double alpha = vmax > 0 && v > 0 ? 0.2 + 0.8 * v / vmax : (label.empty() ? 0 : 0.06);
      std::string tip = r < hm.tooltips.size() && c < hm.tooltips[r].size() ? hm.tooltips[r][c] : label;
      double x = left + cell * static_cast<double>(c), y = top + cell * static_cast<double>(r);
      s += fmt::format(
          "<rect class=\"cell\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#2ca02c\" fill-opacity=\"{:.2f}\" stroke=\"#d5dae1\">"
          "<title>{}</title></rect>",
          C(x), C(y), C(cell), C(cell), alpha, Escape(tip.empty() ? "none" : tip));
      if (!label.empty())
        s += fmt::format("<text class=\"cell-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>", C(x + cell / 2),
                         C(y + cell / 2 + 4), Escape(label));
      s += "\n";
    }
  }
  return s + "</svg>\n";
}

}  // namespace evokernel::report::svg
