// corespec/report/figures.hpp - the report's figures as standalone SVG 1.1
// strings (no script, no external reference, no element ids, so several can
// be inlined into one HTML page):
//
//   parity_svg(truth, pred, sd, "Ni fraction")     predicted vs true, +-1 sd bars, y = x, R² and MAE
//   roc_svg(labels, scores, "O vacancy")            one ROC curve, AUC in the legend
//   roc_svg({{"O_K", l, s1}, {"multimodal", l, s2}}, "O vacancy")   several curves
//   confusion_svg(labels, predicted, "antisite")    counts, shaded by the share of the true class
//   map_svg(values, rows, cols, "Ni fraction")      per-pixel map (row-major), colour bar, NaN masked
//   attribution_svg(spectrum, attr, layout, "...")  explain::attribution_svg for std::vector data
//
// Bad input (size mismatches, non-finite truth, one-class labels for a ROC
// curve) throws what report/metrics.hpp throws; text is XML-escaped.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/explain/svg.hpp"
#include "corespec/report/metrics.hpp"

namespace corespec::report {

/// One named ROC series (labels 0 / 1 and their scores).
struct RocSeries {
    std::string name;
    std::vector<double> labels;
    std::vector<double> scores;
};

namespace detail {

using explain::detail::fmt;
using explain::detail::nice_ticks;
using explain::detail::xml_escape;

/// Viridis at 9 stops, linearly interpolated; t in [0, 1].
inline std::string sequential(double t) {
    static const unsigned char stops[9][3] = {{68, 1, 84},    {71, 44, 122},  {59, 81, 139},  {44, 113, 142}, {33, 145, 140},
                                              {39, 173, 129}, {92, 200, 99},  {170, 220, 50}, {253, 231, 37}};
    t = std::isfinite(t) ? std::clamp(t, 0.0, 1.0) : 0.0;
    const double x = t * 8;
    const int i = std::min(7, static_cast<int>(x));
    const double f = x - i;
    char buf[16];
    std::snprintf(buf, sizeof buf, "#%02x%02x%02x", static_cast<int>(stops[i][0] + f * (stops[i + 1][0] - stops[i][0]) + 0.5),
                  static_cast<int>(stops[i][1] + f * (stops[i + 1][1] - stops[i][1]) + 0.5),
                  static_cast<int>(stops[i][2] + f * (stops[i + 1][2] - stops[i][2]) + 0.5));
    return buf;
}

/// Distinct line colours for several series (Okabe-Ito, colour-blind safe).
inline const char* series_colour(std::size_t k) {
    static const char* colours[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442"};
    return colours[k % 8];
}

inline void open_svg(std::ostringstream& s, double width, double height) {
    s << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << fmt(width, 6) << "\" height=\"" << fmt(height, 6) << "\" viewBox=\"0 0 "
      << fmt(width, 6) << ' ' << fmt(height, 6) << "\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
}

inline void title_text(std::ostringstream& s, double width, const std::string& title) {
    if (!title.empty())
        s << "<text x=\"" << fmt(width / 2, 6) << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">" << xml_escape(title)
          << "</text>\n";
}

/// A square frame [x0, x0 + side] x [y0, y0 + side] with ticks for data
/// ranges [lo, hi] on both axes, and the axis labels.
struct Frame {
    double x0, y0, side, lo_x, hi_x, lo_y, hi_y;
    double x(double v) const { return x0 + (v - lo_x) / (hi_x - lo_x) * side; }
    double y(double v) const { return y0 + side - (v - lo_y) / (hi_y - lo_y) * side; }
};

inline void draw_frame(std::ostringstream& s, const Frame& f, const std::string& xlabel, const std::string& ylabel) {
    s << "<rect x=\"" << fmt(f.x0, 6) << "\" y=\"" << fmt(f.y0, 6) << "\" width=\"" << fmt(f.side, 6) << "\" height=\"" << fmt(f.side, 6)
      << "\" fill=\"none\" stroke=\"#444\"/>\n";
    for (double t : nice_ticks(f.lo_x, f.hi_x, 5))
        s << "<line x1=\"" << fmt(f.x(t), 6) << "\" x2=\"" << fmt(f.x(t), 6) << "\" y1=\"" << fmt(f.y0 + f.side, 6) << "\" y2=\""
          << fmt(f.y0 + f.side + 4, 6) << "\" stroke=\"#444\"/><text x=\"" << fmt(f.x(t), 6) << "\" y=\"" << fmt(f.y0 + f.side + 16, 6)
          << "\" text-anchor=\"middle\" font-size=\"10\">" << fmt(t, 3) << "</text>\n";
    for (double t : nice_ticks(f.lo_y, f.hi_y, 5))
        s << "<line x1=\"" << fmt(f.x0 - 4, 6) << "\" x2=\"" << fmt(f.x0, 6) << "\" y1=\"" << fmt(f.y(t), 6) << "\" y2=\"" << fmt(f.y(t), 6)
          << "\" stroke=\"#444\"/><text x=\"" << fmt(f.x0 - 6, 6) << "\" y=\"" << fmt(f.y(t) + 4, 6)
          << "\" text-anchor=\"end\" font-size=\"10\">" << fmt(t, 3) << "</text>\n";
    s << "<text x=\"" << fmt(f.x0 + f.side / 2, 6) << "\" y=\"" << fmt(f.y0 + f.side + 34, 6) << "\" text-anchor=\"middle\">"
      << xml_escape(xlabel) << "</text>\n";
    const double cy = f.y0 + f.side / 2;
    s << "<text x=\"16\" y=\"" << fmt(cy, 6) << "\" transform=\"rotate(-90 16 " << fmt(cy, 6) << ")\" text-anchor=\"middle\">"
      << xml_escape(ylabel) << "</text>\n";
}

}  // namespace detail

/// Predicted against true values with +-1 sd error bars (`sd` empty: none),
/// the line y = x, and R², MAE and n in the caption under the plot.
inline std::string parity_svg(const std::vector<double>& truth, const std::vector<double>& pred, const std::vector<double>& sd,
                              const std::string& title) {
    using detail::fmt;
    const double r2 = r2_score(truth, pred), mae = mean_absolute_error(truth, pred);
    if (!sd.empty()) {
        if (sd.size() != truth.size()) throw shape_error("report::parity_svg sd", {truth.size()}, {sd.size()});
        detail::require_finite(sd, "parity_svg", "sd");
    }
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (std::size_t i = 0; i < truth.size(); ++i) {
        const double e = sd.empty() ? 0.0 : std::abs(sd[i]);
        lo = std::min({lo, truth[i], pred[i] - e});
        hi = std::max({hi, truth[i], pred[i] + e});
    }
    if (!(hi > lo)) lo -= 0.5, hi += 0.5;
    const double pad = 0.05 * (hi - lo);
    const double width = 460, height = 500;
    const detail::Frame f{70, 40, 360, lo - pad, hi + pad, lo - pad, hi + pad};
    std::ostringstream s;
    detail::open_svg(s, width, height);
    detail::title_text(s, width, title);
    detail::draw_frame(s, f, "true", "predicted");
    s << "<line x1=\"" << fmt(f.x(f.lo_x), 6) << "\" y1=\"" << fmt(f.y(f.lo_y), 6) << "\" x2=\"" << fmt(f.x(f.hi_x), 6) << "\" y2=\""
      << fmt(f.y(f.hi_y), 6) << "\" stroke=\"#888\" stroke-dasharray=\"5 4\"/>\n";
    for (std::size_t i = 0; i < truth.size(); ++i) {
        if (!sd.empty())
            s << "<line x1=\"" << fmt(f.x(truth[i]), 6) << "\" x2=\"" << fmt(f.x(truth[i]), 6) << "\" y1=\"" << fmt(f.y(pred[i] - std::abs(sd[i])), 6)
              << "\" y2=\"" << fmt(f.y(pred[i] + std::abs(sd[i])), 6) << "\" stroke=\"#0072b2\" stroke-opacity=\"0.45\"/>\n";
        s << "<circle cx=\"" << fmt(f.x(truth[i]), 6) << "\" cy=\"" << fmt(f.y(pred[i]), 6)
          << "\" r=\"2.8\" fill=\"#0072b2\" fill-opacity=\"0.75\"/>\n";
    }
    s << "<text x=\"" << fmt(width / 2, 6) << "\" y=\"" << fmt(height - 14, 6) << "\" text-anchor=\"middle\">R\xc2\xb2 = " << fmt(r2, 3)
      << ", MAE = " << fmt(mae, 3) << ", n = " << truth.size() << (sd.empty() ? "" : ", bars: \xc2\xb1" "1 sd") << "</text>\n</svg>\n";
    return s.str();
}

/// ROC curves of several named series on one plot (the chance line
/// dashed); the legend gives each name with its AUC.
inline std::string roc_svg(const std::vector<RocSeries>& series, const std::string& title) {
    using detail::fmt;
    if (series.empty()) throw value_error("report::roc_svg: no series");
    const double legend_h = 18.0 * static_cast<double>(series.size());
    const double width = 460, height = 460 + legend_h;
    const detail::Frame f{70, 40, 360, 0, 1, 0, 1};
    std::ostringstream s;
    detail::open_svg(s, width, height);
    detail::title_text(s, width, title);
    detail::draw_frame(s, f, "false positive rate", "true positive rate");
    s << "<line x1=\"" << fmt(f.x(0), 6) << "\" y1=\"" << fmt(f.y(0), 6) << "\" x2=\"" << fmt(f.x(1), 6) << "\" y2=\"" << fmt(f.y(1), 6)
      << "\" stroke=\"#aaa\" stroke-dasharray=\"5 4\"/>\n";
    for (std::size_t k = 0; k < series.size(); ++k) {
        const RocCurve c = roc_curve(series[k].labels, series[k].scores);
        const double auc = roc_auc(series[k].labels, series[k].scores);
        s << "<polyline fill=\"none\" stroke=\"" << detail::series_colour(k) << "\" stroke-width=\"1.8\" points=\"";
        for (std::size_t i = 0; i < c.fpr.size(); ++i) s << fmt(f.x(c.fpr[i]), 6) << ',' << fmt(f.y(c.tpr[i]), 6) << ' ';
        s << "\"/>\n";
        const double ly = f.y0 + f.side + 52 + 18.0 * static_cast<double>(k);
        s << "<line x1=\"" << fmt(f.x0, 6) << "\" x2=\"" << fmt(f.x0 + 24, 6) << "\" y1=\"" << fmt(ly - 4, 6) << "\" y2=\"" << fmt(ly - 4, 6)
          << "\" stroke=\"" << detail::series_colour(k) << "\" stroke-width=\"2.5\"/><text x=\"" << fmt(f.x0 + 30, 6) << "\" y=\"" << fmt(ly, 6)
          << "\">" << detail::xml_escape(series[k].name.empty() ? std::string("model") : series[k].name) << " (AUC = " << fmt(auc, 3)
          << ")</text>\n";
    }
    s << "</svg>\n";
    return s.str();
}

/// One ROC curve.
inline std::string roc_svg(const std::vector<double>& labels, const std::vector<double>& scores, const std::string& title) {
    return roc_svg(std::vector<RocSeries>{{"", labels, scores}}, title);
}

/// The confusion matrix of true and predicted classes (any class values;
/// `class_names`, when given, names them in ascending order of value): the
/// count in each cell, shaded by its share of the true class's samples.
inline std::string confusion_svg(const std::vector<double>& labels, const std::vector<double>& predicted, const std::string& title,
                                 const std::vector<std::string>& class_names = {}) {
    using detail::fmt;
    const Confusion c = confusion_matrix(labels, predicted);
    const std::size_t k = c.classes.size();
    if (!class_names.empty() && class_names.size() != k)
        throw shape_error("report::confusion_svg class_names", {k}, {class_names.size()});
    const auto name = [&](std::size_t i) { return class_names.empty() ? fmt(c.classes[i], 6) : class_names[i]; };
    const double cell = std::clamp(320.0 / static_cast<double>(k), 28.0, 90.0);
    const double x0 = 110, y0 = 60, side = cell * static_cast<double>(k);
    const double width = std::max(x0 + side + 30, 440.0), height = y0 + side + 60;
    std::ostringstream s;
    detail::open_svg(s, width, height);
    detail::title_text(s, width, title);
    for (std::size_t t = 0; t < k; ++t) {
        std::size_t row_total = 0;
        for (std::size_t p = 0; p < k; ++p) row_total += c.counts[t][p];
        for (std::size_t p = 0; p < k; ++p) {
            const double share = row_total ? static_cast<double>(c.counts[t][p]) / static_cast<double>(row_total) : 0.0;
            const double x = x0 + cell * static_cast<double>(p), y = y0 + cell * static_cast<double>(t);
            s << "<rect x=\"" << fmt(x, 6) << "\" y=\"" << fmt(y, 6) << "\" width=\"" << fmt(cell, 6) << "\" height=\"" << fmt(cell, 6)
              << "\" fill=\"" << explain::detail::diverging(share) << "\" stroke=\"#444\"/>\n"
              << "<text x=\"" << fmt(x + cell / 2, 6) << "\" y=\"" << fmt(y + cell / 2 + 5, 6) << "\" text-anchor=\"middle\" font-size=\"14\""
              << (share > 0.6 ? " fill=\"white\"" : "") << '>' << c.counts[t][p] << "</text>\n";
        }
        s << "<text x=\"" << fmt(x0 - 6, 6) << "\" y=\"" << fmt(y0 + cell * (static_cast<double>(t) + 0.5) + 4, 6) << "\" text-anchor=\"end\">"
          << detail::xml_escape(name(t)) << "</text>\n";
        s << "<text x=\"" << fmt(x0 + cell * (static_cast<double>(t) + 0.5), 6) << "\" y=\"" << fmt(y0 - 6, 6) << "\" text-anchor=\"middle\">"
          << detail::xml_escape(name(t)) << "</text>\n";
    }
    s << "<text x=\"" << fmt(width / 2, 6) << "\" y=\"" << fmt(y0 + side + 24, 6) << "\" text-anchor=\"middle\">predicted (columns), true (rows); accuracy "
      << fmt(accuracy(labels, predicted), 3) << "</text>\n</svg>\n";
    return s.str();
}

/// A fixed colour-bar range for map_svg (lo < hi, both finite).
struct ValueRange {
    double lo = 0, hi = 1;
};

/// A per-pixel map of `values` (row-major, rows x cols) with a colour bar
/// from the finite minimum to the maximum, or over `range` when given (so
/// that maps of a series share one scale, and a map of one value is drawn
/// at its place on it; values outside take the end colours); NaN / Inf
/// pixels are drawn grey with a cross and counted as masked in the caption.
/// `value_label` names the quantity on the colour bar. Throws shape_error
/// when values.size() != rows * cols, value_error for an empty map or a
/// range that is not finite with lo < hi.
inline std::string map_svg(const std::vector<double>& values, std::size_t rows, std::size_t cols, const std::string& title,
                           const std::string& value_label = "", std::optional<ValueRange> range = std::nullopt) {
    using detail::fmt;
    if (rows == 0 || cols == 0) throw value_error("report::map_svg: the map needs at least one row and one column");
    if (values.size() != rows * cols) throw shape_error("report::map_svg values", {rows, cols}, {values.size()});
    if (range && !(std::isfinite(range->lo) && std::isfinite(range->hi) && range->lo < range->hi))
        throw value_error("report::map_svg: the value range must be finite with lo < hi (got " + fmt(range->lo, 6) + " .. " +
                          fmt(range->hi, 6) + ")");
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    std::size_t masked = 0;
    for (double v : values)
        if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
        else ++masked;
    const bool any = masked < values.size();
    if (range) lo = range->lo, hi = range->hi;
    if (!any && !range) lo = 0, hi = 1;
    if (!(hi > lo)) hi = lo + (lo == 0 ? 1.0 : std::abs(lo) * 1e-6);
    const double cell = std::clamp(460.0 / static_cast<double>(std::max(rows, cols)), 3.0, 28.0);
    const double x0 = 20, y0 = title.empty() ? 14 : 40, mw = cell * static_cast<double>(cols), mh = cell * static_cast<double>(rows);
    const double bar_h = std::max(mh, 120.0), width = x0 + mw + 110, height = y0 + std::max(mh, bar_h) + 46;
    std::ostringstream s;
    detail::open_svg(s, width, height);
    detail::title_text(s, width, title);
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c) {
            const double v = values[r * cols + c], x = x0 + cell * static_cast<double>(c), y = y0 + cell * static_cast<double>(r);
            if (std::isfinite(v)) {
                s << "<rect x=\"" << fmt(x, 6) << "\" y=\"" << fmt(y, 6) << "\" width=\"" << fmt(cell + 0.3, 6) << "\" height=\"" << fmt(cell + 0.3, 6)
                  << "\" fill=\"" << detail::sequential((v - lo) / (hi - lo)) << "\"/>\n";
            } else {
                s << "<rect x=\"" << fmt(x, 6) << "\" y=\"" << fmt(y, 6) << "\" width=\"" << fmt(cell, 6) << "\" height=\"" << fmt(cell, 6)
                  << "\" fill=\"#d9d9d9\"/><path d=\"M" << fmt(x, 6) << ' ' << fmt(y, 6) << "L" << fmt(x + cell, 6) << ' ' << fmt(y + cell, 6) << "M"
                  << fmt(x + cell, 6) << ' ' << fmt(y, 6) << "L" << fmt(x, 6) << ' ' << fmt(y + cell, 6) << "\" stroke=\"#777\" stroke-width=\"0.8\"/>\n";
            }
        }
    s << "<rect x=\"" << fmt(x0, 6) << "\" y=\"" << fmt(y0, 6) << "\" width=\"" << fmt(mw, 6) << "\" height=\"" << fmt(mh, 6)
      << "\" fill=\"none\" stroke=\"#444\"/>\n";
    // Colour bar, top = maximum.
    const double bx = x0 + mw + 24, bw = 14;
    for (int k = 0; k < 32; ++k)
        s << "<rect x=\"" << fmt(bx, 6) << "\" y=\"" << fmt(y0 + bar_h * k / 32, 6) << "\" width=\"" << fmt(bw, 6) << "\" height=\""
          << fmt(bar_h / 32 + 0.3, 6) << "\" fill=\"" << detail::sequential(1.0 - (k + 0.5) / 32) << "\"/>\n";
    s << "<rect x=\"" << fmt(bx, 6) << "\" y=\"" << fmt(y0, 6) << "\" width=\"" << fmt(bw, 6) << "\" height=\"" << fmt(bar_h, 6)
      << "\" fill=\"none\" stroke=\"#444\"/>\n"
      << "<text x=\"" << fmt(bx + bw + 4, 6) << "\" y=\"" << fmt(y0 + 9, 6) << "\" font-size=\"10\">" << (any || range ? fmt(hi, 3) : "-") << "</text>"
      << "<text x=\"" << fmt(bx + bw + 4, 6) << "\" y=\"" << fmt(y0 + bar_h, 6) << "\" font-size=\"10\">" << (any || range ? fmt(lo, 3) : "-") << "</text>\n";
    s << "<text x=\"" << fmt(x0, 6) << "\" y=\"" << fmt(y0 + std::max(mh, bar_h) + 20, 6) << "\" font-size=\"11\">" << rows << " x " << cols << " px"
      << (value_label.empty() ? std::string() : ", " + detail::xml_escape(value_label));
    if (masked) s << "; " << masked << " masked (grey, crossed: no value)";
    s << "</text>\n</svg>\n";
    return s.str();
}

/// explain::attribution_svg for std::vector data: each modality's spectrum
/// with its attribution strip under it (one colour scale for all).
inline std::string attribution_svg(const std::vector<double>& spectrum, const std::vector<double>& attributions,
                                   const fusion::FeatureLayout& layout, const std::string& title,
                                   const std::vector<unsigned char>& present = {}) {
    if (attributions.size() != layout.size()) throw shape_error("report::attribution_svg attributions", {layout.size()}, {attributions.size()});
    explain::SvgOptions o;
    o.title = title;
    o.present = present;
    return explain::attribution_svg(span<const double>(spectrum), span<const double>(attributions), layout, o);
}

}  // namespace corespec::report
