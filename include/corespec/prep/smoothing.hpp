// corespec/prep/smoothing.hpp - Savitzky-Golay smoothing / differentiation
// (scipy.signal.savgol_filter, mode='interp') and the numerical derivative
// on non-uniform grids (numpy.gradient).
//
//   SavitzkyGolay sg{11, 3};          // window 11, cubic
//   auto smooth = sg(spectrum.view()); // uniform axis: delta = axis step
//   auto dmu = gradient(energy, mu);   // any ascending grid
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

#include "corespec/core/checks.hpp"
#include "corespec/core/error.hpp"
#include "corespec/core/span.hpp"
#include "corespec/grid/spectrum.hpp"
#include "corespec/prep/detail/numeric.hpp"  // numeric:: names, and the old prep::detail ones

namespace corespec::prep {

/// Savitzky-Golay filter with scipy.signal.savgol_filter semantics in
/// mode 'interp': interior points from the centred window, the first and
/// last window/2 points from the polynomial fitted to the first / last
/// window. `window` odd and >= 1, 0 <= order < window, 0 <= deriv (a
/// derivative above `order` is zero), delta > 0 the sample spacing (eV).
struct SavitzkyGolay {
    int window = 5;
    int order = 2;
    int deriv = 0;
    double delta = 1.0;

    void validate() const {
        if (window < 1 || window % 2 == 0)
            throw value_error("SavitzkyGolay: window must be odd and >= 1, got " + std::to_string(window));
        if (order < 0 || order >= window)
            throw value_error("SavitzkyGolay: order must be in [0, window), got " + std::to_string(order));
        if (deriv < 0) throw value_error("SavitzkyGolay: negative derivative order");
        if (!(delta > 0.0) || !std::isfinite(delta)) throw value_error("SavitzkyGolay: delta must be > 0");
    }

    /// Filters `in` into `out` (same size, may not alias). Throws
    /// value_error (parameters, non-finite input, fewer samples than the
    /// window), shape_error (sizes differ).
    template <class T>
    void apply(span<const T> in, span<T> out) const {
        validate();
        if (in.size() != out.size()) throw shape_error("SavitzkyGolay", {in.size()}, {out.size()});
        require_finite(in, "SavitzkyGolay input");
        const auto n = in.size();
        const auto w = static_cast<std::size_t>(window);
        if (n < w)
            throw value_error("SavitzkyGolay: " + std::to_string(n) + " samples, fewer than the window (" +
                              std::to_string(window) + ")");
        numeric::savgol_filter(in.data(), n, w, static_cast<std::size_t>(order), static_cast<std::size_t>(deriv), delta,
                              out.data());
    }

    /// The same on values sampled on `axis`: delta is the axis step
    /// (this->delta is ignored). The filter needs uniform spacing, and says so
    /// in its signature: an EnergyAxis does not compile (convert with
    /// EnergyAxis::as_uniform(), which checks at run time).
    template <class T>
    void apply(const grid::UniformAxis& axis, span<const T> in, span<T> out) const {
        SavitzkyGolay copy = *this;
        copy.delta = axis.scale();
        copy.apply(in, out);
    }
    template <class Axis, class T, class = std::enable_if_t<std::is_same<Axis, grid::EnergyAxis>::value>>
    void apply(const Axis&, span<const T>, span<T>) const {
        static_assert(!std::is_same<Axis, grid::EnergyAxis>::value,
                      "corespec::prep::SavitzkyGolay: needs a grid::UniformAxis (uniform spacing); "
                      "an EnergyAxis may be explicit: pass axis.as_uniform(), which checks at run time");
    }

    template <class T>
    std::vector<T> operator()(span<const T> in) const {
        std::vector<T> out(in.size());
        apply(in, span<T>(out));
        return out;
    }

    /// On a spectrum with a uniform axis; delta is taken from the axis
    /// (this->delta is ignored). Throws value_error for an explicit axis.
    template <class T>
    std::vector<std::remove_const_t<T>> operator()(const grid::SpectrumView<T>& s) const {
        using V = std::remove_const_t<T>;
        SavitzkyGolay copy = *this;
        copy.delta = s.axis->as_uniform().scale();
        return copy(span<const V>(s.values.data(), s.values.size()));
    }
};

/// d values / d x on any strictly increasing grid, as numpy.gradient(values,
/// x, edge_order): second-order central differences inside (exact for
/// quadratics on non-uniform grids), first- (edge_order 1, numpy's default)
/// or second-order (edge_order 2) one-sided differences at the ends.
/// Throws value_error (non-finite, not strictly increasing, fewer than
/// edge_order + 1 points, edge_order not 1 or 2), shape_error.
template <class T>
std::vector<T> gradient(span<const double> x, span<const T> values, int edge_order = 1) {
    if (x.size() != values.size()) throw shape_error("gradient", {x.size()}, {values.size()});
    if (edge_order != 1 && edge_order != 2) throw value_error("gradient: edge_order must be 1 or 2");
    const std::size_t n = x.size();
    if (n < static_cast<std::size_t>(edge_order) + 1)
        throw value_error("gradient: needs at least " + std::to_string(edge_order + 1) + " points");
    require_finite(x, "gradient x");
    require_finite(values, "gradient values");
    for (std::size_t i = 1; i < n; ++i)
        if (!(x[i] > x[i - 1])) throw value_error("gradient: x must be strictly increasing (index " + std::to_string(i) + ")");
    const auto f = [&](std::size_t i) { return static_cast<double>(values[i]); };
    std::vector<T> g(n);
    for (std::size_t i = 1; i + 1 < n; ++i) {
        const double d1 = x[i] - x[i - 1], d2 = x[i + 1] - x[i];
        const double a = -d2 / (d1 * (d1 + d2)), b = (d2 - d1) / (d1 * d2), c = d1 / (d2 * (d1 + d2));
        g[i] = static_cast<T>(a * f(i - 1) + b * f(i) + c * f(i + 1));
    }
    if (edge_order == 1) {
        g[0] = static_cast<T>((f(1) - f(0)) / (x[1] - x[0]));
        g[n - 1] = static_cast<T>((f(n - 1) - f(n - 2)) / (x[n - 1] - x[n - 2]));
    } else {
        double d1 = x[1] - x[0], d2 = x[2] - x[1];
        g[0] = static_cast<T>(-(2 * d1 + d2) / (d1 * (d1 + d2)) * f(0) + (d1 + d2) / (d1 * d2) * f(1) -
                              d1 / (d2 * (d1 + d2)) * f(2));
        d1 = x[n - 2] - x[n - 3];
        d2 = x[n - 1] - x[n - 2];
        g[n - 1] = static_cast<T>(d2 / (d1 * (d1 + d2)) * f(n - 3) - (d2 + d1) / (d1 * d2) * f(n - 2) +
                                  (2 * d2 + d1) / (d2 * (d1 + d2)) * f(n - 1));
    }
    return g;
}

/// gradient on a spectrum's axis (uniform or explicit).
template <class T>
std::vector<std::remove_const_t<T>> gradient(const grid::SpectrumView<T>& s, int edge_order = 1) {
    using V = std::remove_const_t<T>;
    const auto e = s.axis->energies();
    return gradient(span<const double>(e), span<const V>(s.values.data(), s.values.size()), edge_order);
}

}  // namespace corespec::prep
