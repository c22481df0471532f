// corespec/latent/maps.hpp - per-pixel class, confidence and anomaly maps
// of a spectrum image, saved as NPY and drawn as SVG (report::map_svg).
//
//   auto maps = latent::analyse_image(analyser, image, 2);   // 2 threads
//   latent::save_maps(maps, "out/frame0");   // frame0_class.npy, _confidence.npy, _anomaly.npy,
//                                            // frame0_class.svg, _confidence.svg, _anomaly.svg
//   latent::column_fractions(maps, 1);       // share of each column's pixels in class 1
//
// A series of maps over time (rows: frames, columns: image columns) is
// drawn the same way, e.g. the share of a class per column, frame by frame.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/core/parallel.hpp"
#include "corespec/grid/spectrum_image.hpp"
#include "corespec/io/npy.hpp"
#include "corespec/latent/analysis.hpp"
#include "corespec/report/figures.hpp"

namespace corespec::latent {

/// Maps over an image's navigation shape (row-major, like its pixels).
struct ClassMaps {
    std::vector<std::size_t> shape;  ///< navigation shape, e.g. {rows, columns}
    std::vector<float> label;        ///< class id, -1 where the spectrum failed
    std::vector<float> confidence;   ///< 0 where failed
    std::vector<float> anomaly;      ///< reconstruction MSE; NaN where failed or not scored
    std::vector<std::string> class_names;

    std::size_t pixels() const noexcept { return label.size(); }
    /// Fraction of the pixels (failed ones included in the denominator) labelled c.
    double fraction(int c) const noexcept {
        if (label.empty()) return 0.0;
        return static_cast<double>(std::count(label.begin(), label.end(), static_cast<float>(c))) /
               static_cast<double>(label.size());
    }
};

/// Analyses every pixel of `image` (on the analyser's input axis) over
/// `threads` threads, in blocks of analyser.batch() pixels (block b always
/// holds the same pixels, whatever the thread count).
template <class T>
ClassMaps analyse_image(const Analyser<T>& a, const grid::SpectrumImage<T>& image, unsigned threads = 1) {
    if (image.channel_count() != a.channels())
        throw shape_error("latent::analyse_image channels", {a.channels()}, {image.channel_count()});
    const std::size_t n = image.pixel_count(), b = a.batch(), blocks = (n + b - 1) / b;
    ClassMaps m;
    m.shape = image.navigation_shape();
    m.class_names = a.classifier().class_names();
    m.label.resize(n), m.confidence.resize(n), m.anomaly.resize(n);
    const T* data = image.data().data();
    parallel_ranges(blocks, threads, [&](std::size_t first, std::size_t last) {
        auto s = a.scratch();
        std::vector<SpectrumResult<T>> r(b);
        for (std::size_t k = first; k < last; ++k) {
            const std::size_t p0 = k * b, count = std::min(b, n - p0);
            a.process(data + p0 * a.channels(), static_cast<std::ptrdiff_t>(a.channels()), count, r.data(), s);
            for (std::size_t i = 0; i < count; ++i) {
                m.label[p0 + i] = static_cast<float>(r[i].label);
                m.confidence[p0 + i] = static_cast<float>(r[i].confidence);
                m.anomaly[p0 + i] = static_cast<float>(r[i].anomaly);
            }
        }
    });
    return m;
}

namespace detail {

// Rows x columns of a navigation shape (a line scan is one row).
inline std::array<std::size_t, 2> image_size(const std::vector<std::size_t>& shape, std::size_t pixels) {
    if (shape.size() >= 2) return {shape[shape.size() - 2], pixels / std::max<std::size_t>(shape[shape.size() - 2], 1)};
    return {1, pixels};
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    if (!out) throw io_error("cannot open '" + path.string() + "' for writing");
    out << text;
    if (!out) throw io_error("error while writing '" + path.string() + "'");
}

}  // namespace detail

/// "0 = name0, 1 = name1, ..." for a colour bar of class ids.
inline std::string class_legend(const std::vector<std::string>& class_names) {
    std::string s = "class";
    for (std::size_t c = 0; c < class_names.size(); ++c) s += (c ? ", " : ": ") + std::to_string(c) + " = " + class_names[c];
    return s;
}

/// The three maps of `m` as SVG figures (report::map_svg): the class id
/// (failed pixels masked), the confidence and the anomaly score (pixels
/// without one masked). `title` heads each ("<title>: class" ...).
struct MapFigures {
    std::string klass, confidence, anomaly;
};
inline MapFigures draw_maps(const ClassMaps& m, const std::string& title = "") {
    const auto [rows, columns] = detail::image_size(m.shape, m.pixels());
    const auto as_double = [](const std::vector<float>& v, bool negative_is_missing) {
        std::vector<double> d(v.size());
        for (std::size_t i = 0; i < v.size(); ++i)
            d[i] = negative_is_missing && v[i] < 0 ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(v[i]);
        return d;
    };
    std::vector<double> conf = as_double(m.confidence, false);
    for (std::size_t i = 0; i < conf.size(); ++i)
        if (m.label[i] < 0) conf[i] = std::numeric_limits<double>::quiet_NaN();  // failed: no vote, not "0 % sure"
    const std::string head = title.empty() ? std::string() : title + ": ";
    // The shares in the title; fixed colour scales (class ids 0 .. K-1, confidence 0 .. 1), so that maps
    // over time share one scale and a frame of one class is drawn in that class's colour.
    std::string shares;
    for (std::size_t c = 0; c < m.class_names.size(); ++c)
        shares += (c ? ", " : " (") + std::to_string(static_cast<int>(std::lround(100 * m.fraction(static_cast<int>(c))))) + " % " +
                  m.class_names[c];
    if (!shares.empty()) shares += ")";
    MapFigures f;
    const report::ValueRange ids{0.0, std::max(1.0, static_cast<double>(m.class_names.size()) - 1)};
    f.klass = report::map_svg(as_double(m.label, true), rows, columns, head + "class" + shares, class_legend(m.class_names), ids);
    f.confidence = report::map_svg(conf, rows, columns, head + "confidence", "share of the classifier's votes", report::ValueRange{0.0, 1.0});
    f.anomaly = report::map_svg(as_double(m.anomaly, false), rows, columns, head + "anomaly", "reconstruction mean squared error");
    return f;
}

/// Writes <prefix>_class.npy, _confidence.npy, _anomaly.npy (float32, the
/// navigation shape) and <prefix>_class.svg, _confidence.svg, _anomaly.svg
/// (draw_maps; the anomaly figure only when a pixel has a score). Throws
/// io_error when a file cannot be written.
inline void save_maps(const ClassMaps& m, const std::string& prefix, const std::string& title = "") {
    io::write_npy(prefix + "_class.npy", m.shape, m.label.data());
    io::write_npy(prefix + "_confidence.npy", m.shape, m.confidence.data());
    io::write_npy(prefix + "_anomaly.npy", m.shape, m.anomaly.data());
    const MapFigures f = draw_maps(m, title);
    detail::write_text(prefix + "_class.svg", f.klass);
    detail::write_text(prefix + "_confidence.svg", f.confidence);
    if (std::any_of(m.anomaly.begin(), m.anomaly.end(), [](float v) { return std::isfinite(v); }))
        detail::write_text(prefix + "_anomaly.svg", f.anomaly);
}

/// The share of each image column's pixels labelled `c` (failed pixels
/// count in the denominator): one row of a class-over-time map, in which
/// a phase front that moves across the columns shows as a slope.
inline std::vector<double> column_fractions(const ClassMaps& m, int c) {
    const auto [rows, columns] = detail::image_size(m.shape, m.pixels());
    std::vector<double> f(columns, 0.0);
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t k = 0; k < columns; ++k) f[k] += m.label[r * columns + k] == static_cast<float>(c) ? 1.0 : 0.0;
    for (double& v : f) v /= static_cast<double>(rows);
    return f;
}

}  // namespace corespec::latent
