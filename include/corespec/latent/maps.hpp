// corespec/latent/maps.hpp - per-pixel class, confidence and anomaly maps
// of a spectrum image, saved as NPY and drawn as PGM / PPM images.
//
//   auto maps = latent::analyse_image(analyser, image, 2);   // 2 threads
//   latent::save_maps(maps, "out/frame0");   // frame0_class.npy, _confidence.npy, _anomaly.npy,
//                                            // frame0_class.ppm, _confidence.pgm, _anomaly.pgm
//
// The images are minimal binary Netpbm files (one pixel per spectrum, no
// scaling), written here because nothing else in corespec draws a map yet;
// report::map_svg is meant to replace them.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/core/parallel.hpp"
#include "corespec/grid/spectrum_image.hpp"
#include "corespec/io/npy.hpp"
#include "corespec/latent/analysis.hpp"

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

inline void write_netpbm(const std::filesystem::path& path, const char* magic, std::size_t w, std::size_t h,
                         const std::vector<unsigned char>& bytes) {
    std::ofstream out(path, std::ios::binary);
    if (!out) throw io_error("cannot open '" + path.string() + "' for writing");
    out << magic << '\n' << w << ' ' << h << "\n255\n";
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw io_error("error while writing '" + path.string() + "'");
}

// Rows x columns of a navigation shape (a line scan is one row).
inline std::array<std::size_t, 2> image_size(const std::vector<std::size_t>& shape, std::size_t pixels) {
    if (shape.size() >= 2) return {shape[shape.size() - 2], pixels / std::max<std::size_t>(shape[shape.size() - 2], 1)};
    return {1, pixels};
}

}  // namespace detail

/// A grey-scale PGM of `values` (rows x columns), `lo` black, `hi` white,
/// NaN black. Throws value_error unless hi > lo; io_error when unwritable.
inline void write_pgm(const std::filesystem::path& path, const std::vector<float>& values, std::size_t rows,
                      std::size_t columns, double lo, double hi) {
    if (rows * columns != values.size()) throw shape_error("latent::write_pgm", {rows, columns}, {values.size()});
    if (!(hi > lo)) throw value_error("latent::write_pgm: the range needs hi > lo");
    std::vector<unsigned char> px(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
        const double t = std::isfinite(values[i]) ? (values[i] - lo) / (hi - lo) : 0.0;
        px[i] = static_cast<unsigned char>(std::lround(255.0 * std::clamp(t, 0.0, 1.0)));
    }
    detail::write_netpbm(path, "P5", columns, rows, px);
}

/// A colour PPM of class labels (rows x columns): a fixed palette of 10
/// colours (repeating), label -1 black.
inline void write_class_ppm(const std::filesystem::path& path, const std::vector<float>& labels, std::size_t rows,
                            std::size_t columns) {
    if (rows * columns != labels.size()) throw shape_error("latent::write_class_ppm", {rows, columns}, {labels.size()});
    static constexpr unsigned char palette[10][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40},
                                                     {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127},
                                                     {188, 189, 34}, {23, 190, 207}};
    std::vector<unsigned char> px(labels.size() * 3, 0);
    for (std::size_t i = 0; i < labels.size(); ++i) {
        if (!(labels[i] >= 0)) continue;
        const auto* c = palette[static_cast<std::size_t>(labels[i]) % 10];
        std::copy(c, c + 3, px.begin() + static_cast<std::ptrdiff_t>(3 * i));
    }
    detail::write_netpbm(path, "P6", columns, rows, px);
}

/// Writes <prefix>_class.npy, _confidence.npy, _anomaly.npy (float32, the
/// navigation shape) and <prefix>_class.ppm, _confidence.pgm (0..1) and
/// _anomaly.pgm (0 .. the largest finite score).
inline void save_maps(const ClassMaps& m, const std::string& prefix) {
    io::write_npy(prefix + "_class.npy", m.shape, m.label.data());
    io::write_npy(prefix + "_confidence.npy", m.shape, m.confidence.data());
    io::write_npy(prefix + "_anomaly.npy", m.shape, m.anomaly.data());
    const auto [rows, columns] = detail::image_size(m.shape, m.pixels());
    write_class_ppm(prefix + "_class.ppm", m.label, rows, columns);
    write_pgm(prefix + "_confidence.pgm", m.confidence, rows, columns, 0.0, 1.0);
    double top = 0;
    for (float v : m.anomaly)
        if (std::isfinite(v)) top = std::max(top, static_cast<double>(v));
    write_pgm(prefix + "_anomaly.pgm", m.anomaly, rows, columns, 0.0, top > 0 ? top : 1.0);
}

}  // namespace corespec::latent
