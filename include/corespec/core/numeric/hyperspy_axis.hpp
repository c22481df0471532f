// corespec/core/numeric/hyperspy_axis.hpp - HyperSpy 1.7.3's energy -> channel rules.
//
// HyperSpy's results depend on which channel an energy maps to, and its rule
// is not plain rounding: UniformDataAxis.value2index truncates
// (v - offset) / scale at 1e-12 channel, then rounds half towards zero for
// v >= 0 and half away from zero for v < 0 (or floors / ceils, its
// `rounding=math.floor / math.ceil`). value_range_to_indices keeps the axis
// ends when a limit falls outside the axis. Reproducing both exactly is what
// makes window sums (and so A, r, I0, thresholds, crops) identical, and what
// a user needs to reproduce HyperSpy's windows:
//
//   auto i = numeric::hyperspy_value2index(axis, 532.0);             // -1 / size() outside
//   auto [i1, i2] = numeric::hyperspy_value_range_to_indices(axis, 490.0, 511.0);
//
// Shared by prep/ and align/.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <utility>

#include "corespec/core/error.hpp"
#include "corespec/grid/energy_axis.hpp"

namespace corespec::numeric {

/// HyperSpy value2index's `rounding`: round (its default), math.floor, math.ceil.
enum class IndexRounding { round, floor, ceil };

namespace detail {

// The index from a fractional channel position f of the value v, -1 / size
// when it falls outside [0, size).
inline std::ptrdiff_t hyperspy_index(double f, double v, std::size_t size, IndexRounding rounding) noexcept {
    const double t = std::trunc(f * 1e12) / 1e12;
    double index;
    switch (rounding) {
        case IndexRounding::floor: index = std::floor(t); break;
        case IndexRounding::ceil: index = std::ceil(t); break;
        default:
            // HyperSpy picks the rounding by the sign of the value, not of the index.
            index = v >= 0.0 ? (t >= 0.0 ? std::ceil(t - 0.5) : std::floor(t + 0.5))
                             : (t >= 0.0 ? std::floor(t + 0.5) : std::ceil(t - 0.5));
    }
    if (index < 0.0) return -1;
    if (index >= static_cast<double>(size)) return static_cast<std::ptrdiff_t>(size);
    return static_cast<std::ptrdiff_t>(index);
}

}  // namespace detail

/// HyperSpy's value2index on a uniform axis. Returns -1 / size() when the
/// index lies outside the axis (HyperSpy raises there) or v is not finite.
inline std::ptrdiff_t hyperspy_value2index(const grid::UniformAxis& axis, double v,
                                           IndexRounding rounding = IndexRounding::round) noexcept {
    if (!std::isfinite(v)) return -1;
    return detail::hyperspy_index(axis.fractional_index(v), v, axis.size(), rounding);
}

/// HyperSpy's value2index on any axis. Non-uniform axes: the nearest centre
/// (numba_closest_index_round), the last centre <= v (floor) or the first
/// centre >= v (ceil). Returns -1 / size() outside the axis.
inline std::ptrdiff_t hyperspy_value2index(const grid::EnergyAxis& axis, double v,
                                           IndexRounding rounding = IndexRounding::round) noexcept {
    if (!std::isfinite(v)) return -1;
    if (axis.is_uniform()) return detail::hyperspy_index(axis.fractional_index(v), v, axis.size(), rounding);
    const std::size_t n = axis.size();
    if (rounding == IndexRounding::round) {
        // the nearest centre (ties: the upper one)
        const std::ptrdiff_t i = axis.index(v);
        if (i < 0 || i >= static_cast<std::ptrdiff_t>(n)) return i;
        std::size_t best = static_cast<std::size_t>(i);
        for (std::size_t j : {best > 0 ? best - 1 : best, best + 1 < n ? best + 1 : best})
            if (std::abs(axis.energy(j) - v) < std::abs(axis.energy(best) - v)) best = j;
        return static_cast<std::ptrdiff_t>(best);
    }
    // first centre > v
    std::size_t lo = 0, hi = n;
    while (lo < hi) {
        const std::size_t mid = lo + (hi - lo) / 2;
        if (axis.energy(mid) <= v) lo = mid + 1;
        else hi = mid;
    }
    const std::size_t above = lo;  // energy(above - 1) <= v < energy(above)
    if (rounding == IndexRounding::floor) return above == 0 ? -1 : static_cast<std::ptrdiff_t>(above - 1);
    if (above > 0 && axis.energy(above - 1) == v) return static_cast<std::ptrdiff_t>(above - 1);
    return static_cast<std::ptrdiff_t>(above);  // ceil; size() beyond the last centre
}

/// HyperSpy's value_range_to_indices(lo, hi) on an increasing axis: a limit
/// outside the axis keeps the axis end. Throws value_error when lo > hi.
inline std::pair<std::size_t, std::size_t> hyperspy_value_range_to_indices(const grid::EnergyAxis& axis, double lo,
                                                                           double hi) {
    if (!(lo <= hi))
        throw value_error("window: need lo <= hi, got [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    std::size_t i1 = 0, i2 = axis.size() - 1;
    if (axis.front() < lo && lo <= axis.back()) i1 = static_cast<std::size_t>(hyperspy_value2index(axis, lo));
    if (axis.back() > hi && hi >= axis.front()) i2 = static_cast<std::size_t>(hyperspy_value2index(axis, hi));
    return {i1, i2};
}

/// Checks that [lo, hi] is finite, ordered and inside the axis (within half a
/// channel); throws value_error / range_error naming `what` otherwise.
inline void require_window_inside(const grid::EnergyAxis& axis, double lo, double hi, const std::string& what) {
    if (!(std::isfinite(lo) && std::isfinite(hi) && lo < hi))
        throw value_error(what + ": window needs finite lo < hi, got [" + std::to_string(lo) + ", " +
                          std::to_string(hi) + "]");
    if (lo < axis.lower_edge(0) || hi > axis.upper_edge(axis.size() - 1))
        throw range_error(what + ": window [" + std::to_string(lo) + ", " + std::to_string(hi) +
                          "] is not inside the energy axis [" + std::to_string(axis.front()) + ", " +
                          std::to_string(axis.back()) + "]");
}

}  // namespace corespec::numeric
