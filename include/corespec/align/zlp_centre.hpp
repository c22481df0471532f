// corespec/align/zlp_centre.hpp - where the zero-loss peak is, next to the
// alignment that uses it (align/zero_loss.hpp). HyperSpy 1.7.3's
// estimate_zero_loss_peak_centre (ZlpMethod::maximum: the energy of the
// maximum channel) and two sub-channel refinements: a parabola through the
// top three channels, or through their logarithms (exact for a Gaussian).
// prep/low_loss.hpp keeps the prep:: names (prep::zlp_centre, ...).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/core/numeric/hyperspy_axis.hpp"
#include "corespec/grid/energy_axis.hpp"
#include "corespec/grid/spectrum.hpp"
#include "corespec/grid/spectrum_image.hpp"
#include "corespec/prep/eels_background.hpp"  // prep::parallel_ranges

namespace corespec::align {


enum class ZlpMethod {
    maximum,   ///< energy of the maximum channel (HyperSpy)
    parabola,  ///< vertex of the parabola through the maximum and its neighbours
    gaussian,  ///< vertex of the parabola through the logs (exact for a Gaussian peak)
};

struct ZlpOptions {
    ZlpMethod method = ZlpMethod::maximum;
    /// Search only [lo, hi] (HyperSpy's signal_range); the whole axis when empty.
    std::optional<std::pair<double, double>> range;
};

namespace detail {

inline std::pair<std::size_t, std::size_t> zlp_search_range(const grid::EnergyAxis& axis, const ZlpOptions& o) {
    if (!o.range) return {0, axis.size()};
    numeric::require_window_inside(axis, o.range->first, o.range->second, "zlp_centre");
    // isig[lo:hi] with HyperSpy's value2index on both ends (end exclusive).
    const auto a = numeric::hyperspy_value2index(axis, o.range->first), b = numeric::hyperspy_value2index(axis, o.range->second);
    const std::size_t lo = static_cast<std::size_t>(std::max<std::ptrdiff_t>(a, 0));
    const std::size_t hi = static_cast<std::size_t>(std::min<std::ptrdiff_t>(b, std::ptrdiff_t(axis.size())));
    if (hi <= lo) throw range_error("zlp_centre: the search range holds no channel");
    return {lo, hi};
}

}  // namespace detail

/// ZLP centre (eV) of one spectrum; NaN when the searched channels hold a
/// NaN/Inf, or are all equal (a flat spectrum has no peak to stand behind).
/// Throws range_error for a range outside the axis.
template <class T>
double zlp_centre(grid::SpectrumView<const T> s, const ZlpOptions& o = {}) {
    const auto [lo, hi] = detail::zlp_search_range(*s.axis, o);
    std::size_t best = lo, lowest = lo;
    for (std::size_t i = lo; i < hi; ++i) {
        if (!std::isfinite(static_cast<double>(s.values[i]))) return std::numeric_limits<double>::quiet_NaN();
        if (s.values[i] > s.values[best]) best = i;
        if (s.values[i] < s.values[lowest]) lowest = i;
    }
    if (!(s.values[best] > s.values[lowest])) return std::numeric_limits<double>::quiet_NaN();
    const double e = s.axis->energy(best);
    if (o.method == ZlpMethod::maximum || best == lo || best + 1 >= hi) return e;
    double ym = static_cast<double>(s.values[best - 1]), y0 = static_cast<double>(s.values[best]),
           yp = static_cast<double>(s.values[best + 1]);
    if (o.method == ZlpMethod::gaussian) {
        if (!(ym > 0.0 && y0 > 0.0 && yp > 0.0)) return e;
        ym = std::log(ym);
        y0 = std::log(y0);
        yp = std::log(yp);
    }
    const double den = ym - 2.0 * y0 + yp;
    if (!(den < 0.0)) return e;
    const double delta = std::clamp(0.5 * (ym - yp) / den, -0.5, 0.5);
    const double h = delta >= 0 ? s.axis->energy(best + 1) - e : e - s.axis->energy(best - 1);
    return e + delta * h;
}

/// ZLP centre (eV) of one spectrum.
template <class T>
double zlp_centre(const grid::Spectrum<T>& s, const ZlpOptions& o = {}) {
    return zlp_centre(s.view(), o);
}

/// ZLP centre of every pixel (navigation order), over `threads` std::threads.
template <class T>
std::vector<double> zlp_centres(const grid::SpectrumImage<T>& image, const ZlpOptions& o = {}, unsigned threads = 1) {
    std::vector<double> c(image.pixel_count());
    detail::zlp_search_range(image.axis(), o);  // throws for a bad range before any thread starts
    prep::parallel_ranges(c.size(), threads, [&](std::size_t b, std::size_t e) {
        for (std::size_t p = b; p < e; ++p) c[p] = zlp_centre(grid::SpectrumView<const T>(image.pixel(p)), o);
    });
    return c;
}

}  // namespace corespec::align
