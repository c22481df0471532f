// corespec/grid/resample.hpp - put spectra on another energy axis.
//
// Three methods:
//   linear - piecewise-linear interpolation of values at channel centres;
//   pchip  - monotone piecewise-cubic Hermite interpolation (Fritsch-Butland
//            slopes with SciPy's PchipInterpolator end conditions): no
//            overshoot, monotone data stays monotone;
//   rebin  - count-conserving rebinning: each source channel's counts are
//            spread uniformly over its bin [lower_edge, upper_edge) and
//            collected by the target bins they overlap, so totals are kept
//            (the method for EELS counts).
// Target points (or, for rebin, target bins) outside the source follow an
// explicit policy: error (range_error), zero, or hold the end value.
//
// A Resampler is planned once for a pair of axes and then applied to any
// number of spectra (every pixel of a spectrum image) without allocating
// (linear, rebin) or with one scratch buffer per call (pchip).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

#include "corespec/core/checks.hpp"
#include "corespec/core/error.hpp"
#include "corespec/core/span.hpp"
#include "corespec/grid/energy_axis.hpp"
#include "corespec/grid/spectrum.hpp"
#include "corespec/grid/spectrum_image.hpp"

namespace corespec::grid {

enum class Method { linear, pchip, rebin };
enum class OutOfRange { error, zero, hold };

struct ResampleOptions {
    Method method = Method::linear;
    OutOfRange out_of_range = OutOfRange::error;
};

namespace detail {

// SciPy's end-point slope for PCHIP (a shape-preserving three-point formula).
inline double pchip_end_slope(double h0, double h1, double m0, double m1) noexcept {
    double d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1);
    const auto sign = [](double v) { return (v > 0.0) - (v < 0.0); };
    if (sign(d) != sign(m0)) {
        d = 0.0;
    } else if (sign(m0) != sign(m1) && std::abs(d) > std::abs(3.0 * m0)) {
        d = 3.0 * m0;
    }
    return d;
}

}  // namespace detail

/// The monotone cubic (PCHIP) slope dy/dx at point k of (x, y), from y[k-1..k+1]
/// (interior) or SciPy's three-point end formula. Requires x.size() == y.size() >= 2.
template <class T>
double pchip_slope(const EnergyAxis& x, span<const T> y, std::size_t k) noexcept {
    const std::size_t n = x.size();
    auto h = [&](std::size_t i) { return x.energy(i + 1) - x.energy(i); };
    auto m = [&](std::size_t i) { return (static_cast<double>(y[i + 1]) - static_cast<double>(y[i])) / h(i); };
    if (n == 2) return m(0);
    if (k == 0) return detail::pchip_end_slope(h(0), h(1), m(0), m(1));
    if (k == n - 1) return detail::pchip_end_slope(h(n - 2), h(n - 3), m(n - 2), m(n - 3));
    const double m0 = m(k - 1), m1 = m(k);
    if (m0 * m1 <= 0.0) return 0.0;  // local extremum or flat: a zero slope keeps monotonicity
    const double w1 = 2.0 * h(k) + h(k - 1), w2 = h(k) + 2.0 * h(k - 1);
    return (w1 + w2) / (w1 / m0 + w2 / m1);  // weighted harmonic mean
}

/// PCHIP slopes at every point of (x, y); `slopes` has the size of x.
template <class T>
void pchip_slopes(const EnergyAxis& x, span<const T> y, span<double> slopes) {
    if (y.size() != x.size() || slopes.size() != x.size()) throw shape_error("pchip_slopes", {x.size()}, {y.size()});
    for (std::size_t k = 0; k < x.size(); ++k) slopes[k] = pchip_slope(x, y, k);
}

/// A resampling plan from one axis to another.
class Resampler {
public:
    Resampler(EnergyAxis from, EnergyAxis to, ResampleOptions options = {})
        : from_(std::move(from)), to_(std::move(to)), options_(options) {
        if (options_.method == Method::rebin) {
            plan_rebin();
        } else {
            plan_points();
        }
    }

    const EnergyAxis& from() const noexcept { return from_; }
    const EnergyAxis& to() const noexcept { return to_; }
    const ResampleOptions& options() const noexcept { return options_; }

    /// Resamples `in` (on from()) into `out` (on to()). Throws value_error when
    /// a channel that enters the result is not finite, shape_error on wrong sizes.
    template <class T>
    void apply(span<const T> in, span<T> out) const {
        static_assert(std::is_floating_point<T>::value,
                      "corespec::grid::Resampler: resample float or double values (convert integer counts first)");
        if (in.size() != from_.size()) throw shape_error("Resampler input", {from_.size()}, {in.size()});
        if (out.size() != to_.size()) throw shape_error("Resampler output", {to_.size()}, {out.size()});
        require_finite(in.subspan(used_first_, used_last_ - used_first_), "Resampler input (from channel " +
                                                                              std::to_string(used_first_) + ")");
        switch (options_.method) {
            case Method::linear: apply_linear(in, out); break;
            case Method::pchip: apply_pchip(in, out); break;
            case Method::rebin: apply_rebin(in, out); break;
        }
    }

    /// The same for a mutable input view.
    template <class T>
    void apply(span<T> in, span<T> out) const {
        apply(span<const T>(in), out);
    }

private:
    enum class Where : unsigned char { inside, below, above };

    struct Point {           // one target point for linear / pchip
        std::size_t segment; // source segment [segment, segment + 1]
        double t;            // position in the segment, 0..1
        Where where;
    };

    struct Overlap {         // a piece of source bin `source` inside target bin `target`
        std::size_t target;
        std::size_t source;
        double weight;       // overlap width / source bin width
    };

    // Slack for energies that differ from an axis end only by rounding.
    double tolerance() const noexcept {
        return 1e-9 * std::max(std::abs(from_.front()), std::abs(from_.back())) + 1e-12;
    }

    void out_of_range(double lo, double hi, double e) const {
        throw range_error("Resampler: target energy " + std::to_string(e) + " lies outside the source axis [" +
                          std::to_string(lo) + ", " + std::to_string(hi) +
                          "]; choose OutOfRange::zero or OutOfRange::hold to allow it");
    }

    void plan_points() {
        const double lo = from_.front(), hi = from_.back(), tol = tolerance();
        points_.resize(to_.size());
        for (std::size_t j = 0; j < to_.size(); ++j) {
            const double e = to_.energy(j);
            Point p{0, 0.0, Where::inside};
            if (e < lo - tol) {
                p.where = Where::below;
            } else if (e > hi + tol) {
                p.where = Where::above;
            } else {
                const double ec = std::clamp(e, lo, hi);
                p.segment = from_.segment(ec);
                const double x0 = from_.energy(p.segment), x1 = from_.energy(p.segment + 1);
                p.t = std::clamp((ec - x0) / (x1 - x0), 0.0, 1.0);
            }
            if (p.where != Where::inside && options_.out_of_range == OutOfRange::error) out_of_range(lo, hi, e);
            points_[j] = p;
            const std::size_t n = from_.size();
            if (p.where == Where::inside) {
                // PCHIP slopes at the segment ends reach one channel further out on each side.
                const bool cubic = options_.method == Method::pchip;
                use(cubic && p.segment > 0 ? p.segment - 1 : p.segment, std::min(n, p.segment + (cubic ? 3 : 2)));
            } else if (options_.out_of_range == OutOfRange::hold) {
                p.where == Where::below ? use(0, 1) : use(n - 1, n);
            }
        }
    }

    void plan_rebin() {
        const std::size_t n = from_.size(), m = to_.size();
        const double lo = from_.lower_edge(0), hi = from_.upper_edge(n - 1), tol = tolerance();
        if (options_.out_of_range == OutOfRange::error) {
            if (to_.lower_edge(0) < lo - tol) out_of_range(lo, hi, to_.lower_edge(0));
            if (to_.upper_edge(m - 1) > hi + tol) out_of_range(lo, hi, to_.upper_edge(m - 1));
        }
        // Sweep both sorted edge lists once.
        std::size_t i = 0;
        for (std::size_t j = 0; j < m; ++j) {
            const double a = to_.lower_edge(j), b = to_.upper_edge(j);
            while (i < n && from_.upper_edge(i) <= a) ++i;
            for (std::size_t k = i; k < n && from_.lower_edge(k) < b; ++k) {
                const double s0 = from_.lower_edge(k), s1 = from_.upper_edge(k);
                const double w = (std::min(b, s1) - std::max(a, s0)) / (s1 - s0);
                if (w > 0.0) overlaps_.push_back({j, k, w}), use(k, k + 1);
            }
            if (options_.out_of_range == OutOfRange::hold) {
                // Uncovered parts of the target bin take the end bin's count density.
                if (a < lo) overlaps_.push_back({j, 0, (std::min(b, lo) - a) / (from_.upper_edge(0) - lo)}), use(0, 1);
                if (b > hi) overlaps_.push_back({j, n - 1, (b - std::max(a, hi)) / (hi - from_.lower_edge(n - 1))}), use(n - 1, n);
            }
        }
    }

    template <class T>
    T outside_value(const Point& p, span<const T> in) const {
        if (options_.out_of_range == OutOfRange::zero) return T(0);
        return p.where == Where::below ? in[0] : in[in.size() - 1];
    }

    template <class T>
    void apply_linear(span<const T> in, span<T> out) const {
        for (std::size_t j = 0; j < points_.size(); ++j) {
            const Point& p = points_[j];
            if (p.where != Where::inside) {
                out[j] = outside_value(p, in);
                continue;
            }
            const double y0 = static_cast<double>(in[p.segment]), y1 = static_cast<double>(in[p.segment + 1]);
            out[j] = static_cast<T>(y0 + p.t * (y1 - y0));
        }
    }

    template <class T>
    void apply_pchip(span<const T> in, span<T> out) const {
        // Slopes are computed per source segment as targets reach it (no scratch buffer).
        bool have_slopes = false;
        std::size_t cached = 0;
        double d0 = 0.0, d1 = 0.0;
        for (std::size_t j = 0; j < points_.size(); ++j) {
            const Point& p = points_[j];
            if (p.where != Where::inside) {
                out[j] = outside_value(p, in);
                continue;
            }
            const std::size_t k = p.segment;
            if (!have_slopes || k != cached) {
                d0 = have_slopes && k == cached + 1 ? d1 : pchip_slope(from_, in, k);
                d1 = pchip_slope(from_, in, k + 1);
                cached = k;
                have_slopes = true;
            }
            const double h = from_.energy(k + 1) - from_.energy(k), t = p.t;
            const double t2 = t * t, t3 = t2 * t;
            // Cubic Hermite basis on [x_k, x_k+1].
            const double h00 = 2 * t3 - 3 * t2 + 1, h10 = t3 - 2 * t2 + t, h01 = -2 * t3 + 3 * t2, h11 = t3 - t2;
            out[j] = static_cast<T>(h00 * static_cast<double>(in[k]) + h10 * h * d0 +
                                    h01 * static_cast<double>(in[k + 1]) + h11 * h * d1);
        }
    }

    template <class T>
    void apply_rebin(span<const T> in, span<T> out) const {
        double sum = 0.0;  // accumulate in double so float counts keep their totals
        std::size_t current = 0;
        std::fill(out.begin(), out.end(), T(0));
        for (const Overlap& o : overlaps_) {
            if (o.target != current) {
                out[current] = static_cast<T>(sum);
                sum = 0.0;
                current = o.target;
            }
            sum += o.weight * static_cast<double>(in[o.source]);
        }
        if (!overlaps_.empty()) out[current] = static_cast<T>(sum);
    }

    // Widens [used_first_, used_last_) to hold source channels [first, last).
    void use(std::size_t first, std::size_t last) noexcept {
        if (used_first_ >= used_last_) {
            used_first_ = first, used_last_ = last;
        } else {
            used_first_ = std::min(used_first_, first), used_last_ = std::max(used_last_, last);
        }
    }

    EnergyAxis from_;
    EnergyAxis to_;
    ResampleOptions options_;
    std::size_t used_first_ = 0, used_last_ = 0;  // source channels that can enter the result
    std::vector<Point> points_;
    std::vector<Overlap> overlaps_;
};

/// `spectrum` resampled onto `to`; metadata is kept.
template <class T>
Spectrum<T> resample(const Spectrum<T>& spectrum, const EnergyAxis& to, ResampleOptions options = {}) {
    Resampler plan(spectrum.axis(), to, options);
    Spectrum<T> result(to, spectrum.metadata());
    plan.apply(span<const T>(spectrum.values()), span<T>(result.values()));
    return result;
}

/// Every pixel of `image` resampled onto `to` with one plan.
template <class T>
SpectrumImage<T> resample(const SpectrumImage<T>& image, const EnergyAxis& to, ResampleOptions options = {}) {
    Resampler plan(image.axis(), to, options);
    auto result = SpectrumImage<T>::zeros(image.navigation_shape(), to, image.metadata());
    for (std::size_t p = 0; p < image.pixel_count(); ++p) plan.apply(image.pixel(p).values, result.pixel(p).values);
    return result;
}

/// The channels of `spectrum` whose energies lie in [lo, hi]. Throws
/// range_error when fewer than two channels fall inside.
template <class T>
Spectrum<T> crop(const Spectrum<T>& spectrum, double lo, double hi) {
    const auto [first, last] = spectrum.axis().window(lo, hi);
    const auto begin = spectrum.values().begin();
    return Spectrum<T>(spectrum.axis().slice(first, last),
                       std::vector<T>(begin + static_cast<std::ptrdiff_t>(first), begin + static_cast<std::ptrdiff_t>(last)),
                       spectrum.metadata());
}

/// Every pixel of `image` cropped to [lo, hi].
template <class T>
SpectrumImage<T> crop(const SpectrumImage<T>& image, double lo, double hi) {
    const auto [first, last] = image.axis().window(lo, hi);
    auto result = SpectrumImage<T>::zeros(image.navigation_shape(), image.axis().slice(first, last), image.metadata());
    for (std::size_t p = 0; p < image.pixel_count(); ++p) {
        auto src = image.pixel(p).values;
        std::copy(src.begin() + static_cast<std::ptrdiff_t>(first), src.begin() + static_cast<std::ptrdiff_t>(last),
                  result.pixel(p).values.begin());
    }
    return result;
}

}  // namespace corespec::grid
