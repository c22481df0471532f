// corespec/explain/svg.hpp - a picture of an attribution: for each modality
// the spectrum on its energy axis and, under it, a heat strip of the
// attribution per bin (red pushes the output up, blue down, one colour scale
// shared by all modalities), with each modality's share of the total.
//
//   explain::write_attribution_svg("ig.svg", spectrum, attr, layout, {"antisite flag, IG"});
//
// Plain SVG 1.1 text, no dependency; convert with e.g. `rsvg-convert -o ig.png ig.svg`.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/core/span.hpp"
#include "corespec/explain/aggregate.hpp"
#include "corespec/fusion/feature_layout.hpp"

namespace corespec::explain {

struct SvgOptions {
    std::string title;
    std::string value_label = "intensity";  ///< y label of the spectra
    double width = 860;                     ///< px
    double panel_height = 150;              ///< px per spectrum plot
    double strip_height = 22;               ///< px per attribution strip
    /// One flag per modality of the layout (empty: all present). A missing
    /// modality (a measured pixel without that edge) is drawn as an empty
    /// panel saying so, not as the zeros that stand in for it in the input.
    std::vector<unsigned char> present{};
};

namespace detail {

inline std::string xml_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default: out += c;
        }
    }
    return out;
}

inline std::string fmt(double v, int precision = 4) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    return buf;
}

// Tick positions at 1/2/5 x 10^k covering [lo, hi] with about `target` ticks.
inline std::vector<double> nice_ticks(double lo, double hi, int target = 6) {
    std::vector<double> ticks;
    const double range = hi - lo;
    if (!(range > 0) || !std::isfinite(range)) return {lo};
    const double raw = range / target, mag = std::pow(10.0, std::floor(std::log10(raw)));
    const double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
    for (double t = std::ceil(lo / step) * step; t <= hi + 1e-9 * range; t += step) ticks.push_back(std::abs(t) < 1e-12 * step ? 0.0 : t);
    return ticks;
}

// Diverging map: -1 blue (33, 102, 172), 0 white, +1 red (178, 24, 43).
inline std::string diverging(double v) {
    v = std::max(-1.0, std::min(1.0, v));
    const double r0 = v >= 0 ? 178 : 33, g0 = v >= 0 ? 24 : 102, b0 = v >= 0 ? 43 : 172, a = std::abs(v);
    char buf[16];
    std::snprintf(buf, sizeof buf, "#%02x%02x%02x", static_cast<int>(255 + (r0 - 255) * a + 0.5), static_cast<int>(255 + (g0 - 255) * a + 0.5),
                  static_cast<int>(255 + (b0 - 255) * a + 0.5));
    return buf;
}

}  // namespace detail

/// The SVG text for one sample: `spectrum` and `attributions` both of size
/// layout.size(). Throws shape_error on size mismatches.
template <class T>
std::string attribution_svg(span<const T> spectrum, span<const T> attributions, const fusion::FeatureLayout& layout, const SvgOptions& o = {}) {
    using detail::fmt;
    if (spectrum.size() != layout.size()) throw shape_error("explain::attribution_svg spectrum", {layout.size()}, {spectrum.size()});
    if (!o.present.empty() && o.present.size() != layout.modality_count())
        throw shape_error("explain::attribution_svg present", {layout.modality_count()}, {o.present.size()});
    std::vector<ModalityAttribution> parts = per_modality(attributions, layout);
    double amax = 0;
    for (const auto& p : parts)
        for (double v : p.values) amax = std::max(amax, std::abs(v));
    const double left = 70, right = 20, plot_w = o.width - left - right;
    const double title_h = o.title.empty() ? 10 : 34, gap = 46, legend_h = 50;
    const double block = o.panel_height + 6 + o.strip_height + gap;
    const double height = title_h + block * static_cast<double>(parts.size()) + legend_h;
    std::ostringstream s;
    s << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << fmt(o.width, 6) << "\" height=\"" << fmt(height, 6) << "\" viewBox=\"0 0 "
      << fmt(o.width, 6) << ' ' << fmt(height, 6) << "\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    if (!o.title.empty())
        s << "<text x=\"" << fmt(o.width / 2, 6) << "\" y=\"22\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">"
          << detail::xml_escape(o.title) << "</text>\n";
    double y0 = title_h;
    for (const ModalityAttribution& p : parts) {
        const fusion::ModalitySlot& m = layout[layout.find(p.name)];
        const double e_lo = m.axis.lower_edge(0), e_hi = m.axis.upper_edge(m.size() - 1);
        auto xpos = [&](double e) { return left + (e - e_lo) / (e_hi - e_lo) * plot_w; };
        double v_lo = static_cast<double>(spectrum[m.offset]), v_hi = v_lo;
        for (std::size_t i = 0; i < m.size(); ++i) {
            const double v = static_cast<double>(spectrum[m.offset + i]);
            if (std::isfinite(v)) v_lo = std::min(v_lo, v), v_hi = std::max(v_hi, v);
        }
        if (!(v_hi > v_lo)) v_hi = v_lo + 1;
        const double pad = 0.05 * (v_hi - v_lo);
        v_lo -= pad, v_hi += pad;
        auto ypos = [&](double v) { return y0 + o.panel_height - (v - v_lo) / (v_hi - v_lo) * o.panel_height; };
        if (!o.present.empty() && !o.present[layout.find(p.name)]) {
            s << "<rect x=\"" << fmt(left, 6) << "\" y=\"" << fmt(y0, 6) << "\" width=\"" << fmt(plot_w, 6) << "\" height=\""
              << fmt(o.panel_height, 6) << "\" fill=\"#f2f2f2\" stroke=\"#444\"/>\n<text x=\"" << fmt(left + 6, 6) << "\" y=\""
              << fmt(y0 + 16, 6) << "\" font-weight=\"bold\">" << detail::xml_escape(p.name)
              << "  <tspan font-weight=\"normal\">(missing in this sample)</tspan></text>\n";
            y0 += block;
            continue;
        }
        // Frame, name and share.
        s << "<rect x=\"" << fmt(left, 6) << "\" y=\"" << fmt(y0, 6) << "\" width=\"" << fmt(plot_w, 6) << "\" height=\"" << fmt(o.panel_height, 6)
          << "\" fill=\"none\" stroke=\"#444\"/>\n";
        s << "<text x=\"" << fmt(left + 6, 6) << "\" y=\"" << fmt(y0 + 16, 6) << "\" font-weight=\"bold\">" << detail::xml_escape(p.name)
          << "  <tspan font-weight=\"normal\">(" << fmt(100 * p.share, 3) << " % of the attribution)</tspan></text>\n";
        s << "<text x=\"16\" y=\"" << fmt(y0 + o.panel_height / 2, 6) << "\" transform=\"rotate(-90 16 " << fmt(y0 + o.panel_height / 2, 6)
          << ")\" text-anchor=\"middle\">" << detail::xml_escape(o.value_label) << "</text>\n";
        for (double t : detail::nice_ticks(v_lo, v_hi, 4))
            s << "<line x1=\"" << fmt(left - 4, 6) << "\" x2=\"" << fmt(left, 6) << "\" y1=\"" << fmt(ypos(t), 6) << "\" y2=\"" << fmt(ypos(t), 6)
              << "\" stroke=\"#444\"/><text x=\"" << fmt(left - 6, 6) << "\" y=\"" << fmt(ypos(t) + 4, 6) << "\" text-anchor=\"end\" font-size=\"10\">"
              << fmt(t, 3) << "</text>\n";
        // Spectrum.
        s << "<polyline fill=\"none\" stroke=\"#1a1a1a\" stroke-width=\"1.3\" points=\"";
        for (std::size_t i = 0; i < m.size(); ++i) {
            const double v = static_cast<double>(spectrum[m.offset + i]);
            if (std::isfinite(v)) s << fmt(xpos(m.axis.energy(i)), 6) << ',' << fmt(ypos(v), 6) << ' ';
        }
        s << "\"/>\n";
        // Heat strip.
        const double ys = y0 + o.panel_height + 6;
        for (std::size_t i = 0; i < m.size(); ++i) {
            const double x1 = xpos(m.axis.lower_edge(i)), x2 = xpos(m.axis.upper_edge(i));
            s << "<rect x=\"" << fmt(x1, 6) << "\" y=\"" << fmt(ys, 6) << "\" width=\"" << fmt(x2 - x1 + 0.3, 6) << "\" height=\"" << fmt(o.strip_height, 6)
              << "\" fill=\"" << detail::diverging(amax > 0 ? p.values[i] / amax : 0) << "\"/>\n";
        }
        s << "<rect x=\"" << fmt(left, 6) << "\" y=\"" << fmt(ys, 6) << "\" width=\"" << fmt(plot_w, 6) << "\" height=\"" << fmt(o.strip_height, 6)
          << "\" fill=\"none\" stroke=\"#444\"/>\n";
        // Energy ticks under the strip.
        const double yt = ys + o.strip_height;
        for (double t : detail::nice_ticks(e_lo, e_hi, 8))
            s << "<line x1=\"" << fmt(xpos(t), 6) << "\" x2=\"" << fmt(xpos(t), 6) << "\" y1=\"" << fmt(yt, 6) << "\" y2=\"" << fmt(yt + 4, 6)
              << "\" stroke=\"#444\"/><text x=\"" << fmt(xpos(t), 6) << "\" y=\"" << fmt(yt + 16, 6) << "\" text-anchor=\"middle\" font-size=\"10\">"
              << fmt(t, 6) << "</text>\n";
        s << "<text x=\"" << fmt(left + plot_w, 6) << "\" y=\"" << fmt(yt + 30, 6) << "\" text-anchor=\"end\" font-size=\"11\">energy ("
          << detail::xml_escape(m.axis.units()) << ")</text>\n";
        y0 += block;
    }
    // Colour bar.
    const double bw = 240, bx = left, by = y0 + 4;
    for (int k = 0; k < 48; ++k) {
        const double v = -1 + 2 * (k + 0.5) / 48;
        s << "<rect x=\"" << fmt(bx + bw * k / 48, 6) << "\" y=\"" << fmt(by, 6) << "\" width=\"" << fmt(bw / 48 + 0.3, 6)
          << "\" height=\"12\" fill=\"" << detail::diverging(v) << "\"/>\n";
    }
    s << "<rect x=\"" << fmt(bx, 6) << "\" y=\"" << fmt(by, 6) << "\" width=\"" << fmt(bw, 6) << "\" height=\"12\" fill=\"none\" stroke=\"#444\"/>\n"
      << "<text x=\"" << fmt(bx, 6) << "\" y=\"" << fmt(by + 26, 6) << "\" font-size=\"10\">" << fmt(-amax, 3) << "</text>"
      << "<text x=\"" << fmt(bx + bw / 2, 6) << "\" y=\"" << fmt(by + 26, 6) << "\" font-size=\"10\" text-anchor=\"middle\">0</text>"
      << "<text x=\"" << fmt(bx + bw, 6) << "\" y=\"" << fmt(by + 26, 6) << "\" font-size=\"10\" text-anchor=\"end\">" << fmt(amax, 3) << "</text>\n"
      << "<text x=\"" << fmt(bx + bw + 14, 6) << "\" y=\"" << fmt(by + 10, 6) << "\" font-size=\"11\">attribution per bin (red raises the output, blue lowers it)</text>\n"
      << "</svg>\n";
    return s.str();
}

/// Writes attribution_svg(...) to `path`; throws io_error when it cannot.
template <class T>
void write_attribution_svg(const std::string& path, span<const T> spectrum, span<const T> attributions, const fusion::FeatureLayout& layout,
                           const SvgOptions& o = {}) {
    std::string text = attribution_svg(spectrum, attributions, layout, o);
    std::ofstream out(path, std::ios::binary);
    if (!out) throw io_error("explain::write_attribution_svg: cannot open '" + path + "' for writing");
    out << text;
    if (!out) throw io_error("explain::write_attribution_svg: cannot write '" + path + "'");
}

}  // namespace corespec::explain
